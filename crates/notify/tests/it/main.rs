//! Integration tests of the notify crate, against real servers on 127.0.0.1 started by the
//! tests: an SMTP server (aiosmtpd), HTTP receivers that check signatures, a Jira stand-in, and
//! external plugins written in Python (`fixtures/`).
#![allow(clippy::unwrap_used, reason = "tests")]

mod external;
mod http_plugins;
mod jira;
mod mail_plugin;
mod mailer;
mod secrets;
mod support;
