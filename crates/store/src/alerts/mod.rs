//! Alerting: a project's rules and when each fired ([`rules`]), the outbox that turns fired rules
//! into deliveries and sends them exactly once ([`outbox`]), and plugin settings per project and
//! per user ([`plugins`]), the past events the rule preview replays ([`preview`]), and the
//! workflow notices that share the outbox ([`notices`]).

pub mod notices;
pub mod outbox;
pub mod plugins;
pub mod preview;
pub mod recipients;
pub mod rules;
