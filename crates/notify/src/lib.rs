//! The I/O of notifications: mail over SMTP, the notification and issue-tracking plugins
//! (built-in and external), their registry, the outbound HTTP client with its SSRF guard, and
//! secrets at rest.
//!
//! * [`Mailer::from_config`] turns `[mail]` into a [`Mailer`] (`None` when mail is not
//!   configured), cheap to clone (clones share one pool of SMTP connections);
//!   [`Mailer::send`] delivers one [`Mail`], a failure being a [`MailError`] naming the step that
//!   failed and the server as `scheme://host:port`, never the password.
//! * [`PluginRegistry`] holds every plugin, built once at start-up: the built-ins (`mail`,
//!   `webhooks`, `slack`, `discord`, `signed-chat`, `jira`, in [`plugins`]) and the external
//!   executables of `plugins.path` ([`external`], protocol in `docs/plugins.md`).
//! * [`HttpClient`] is the one outbound client of the plugins (timeouts, bounded reads, no
//!   redirects, the SSRF guard); [`ServerKey`] seals plugin secrets for the store.
#![warn(missing_docs)]

pub mod deliver;
mod error;
pub mod external;
pub mod http;
mod mailer;
pub mod plugins;
pub mod registry;
pub mod secrets;

pub use error::MailError;
pub use http::HttpClient;
pub use mailer::{Mail, MailHeaders, Mailer, SEND_TIMEOUT, STEP_TIMEOUT};
pub use registry::{Plugin, PluginEntry, PluginRegistry, PluginSource, RegistryOptions};
pub use secrets::{SecretError, ServerKey};
