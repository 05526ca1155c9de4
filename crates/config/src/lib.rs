//! Errhound's configuration.
//!
//! Sources, later ones winning: built-in defaults, the TOML file (`--config PATH`, env
//! `ERRHOUND_CONFIG`, else `./errhound.toml` when it exists), environment variables, then
//! command-line flags. Every key has an environment variable: `ERRHOUND_<KEY>` for top-level keys
//! (`ERRHOUND_DATA_DIR`, `ERRHOUND_BIND`, `ERRHOUND_DATABASE_URL`) and
//! `ERRHOUND_<SECTION>__<KEY>` inside sections (`ERRHOUND_INGEST__MAX_EVENT_BYTES`).
//!
//! Secrets ([`Secret`], and the password inside a [`SecretUrl`] such as [`DatabaseUrl`] or
//! `mail.url`) never appear in `Debug` output
//! or in `errhound config print`.
#![warn(missing_docs)]

mod mail;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use mail::{MailConfig, SmtpCredentials, SmtpSecurity, SmtpServer};
pub use secret::{DatabaseUrl, Secret, SecretUrl};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, the ingest spool and generated keys live. Created on start.
    /// Default `./errhound-data`; env `ERRHOUND_DATA_DIR`; flag `--data-dir`.
    pub data_dir: PathBuf,
    /// Address the HTTP server listens on. Default `127.0.0.1:9000`, loopback only: set
    /// `0.0.0.0:9000` to accept other machines. Env `ERRHOUND_BIND`; flag `--bind`.
    pub bind: String,
    /// The URL users and SDKs reach this server at; DSNs and links are built from it. Default
    /// `http://<bind>` (with `127.0.0.1` when bound to all interfaces). Env `ERRHOUND_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `postgres://user:password@host/db` to run on PostgreSQL; unset means the embedded SQLite
    /// database `<data_dir>/errhound.db`. Env `ERRHOUND_DATABASE_URL`; flag `--database-url`.
    pub database_url: Option<DatabaseUrl>,
    /// E-mail of the admin account created on first start. Default `admin@errhound.local`.
    /// Env `ERRHOUND_ADMIN_EMAIL`.
    pub admin_email: Option<String>,
    /// Password of the admin account created on first start; when unset a random one is
    /// generated and printed once. Env `ERRHOUND_ADMIN_PASSWORD`.
    pub admin_password: Option<Secret>,
    /// Logging.
    pub log: LogConfig,
    /// Database pools and replicas.
    pub database: DatabaseConfig,
    /// Ingest endpoint limits and admission control.
    pub ingest: IngestConfig,
    /// Event processing workers.
    pub worker: WorkerConfig,
    /// Periodic maintenance run by `serve`.
    pub tasks: TasksConfig,
    /// Outgoing e-mail (SMTP); unset means mail is not configured.
    pub mail: MailConfig,
    /// Accounts: who may create one.
    pub auth: AuthConfig,
    /// External plugins: where they are found, how long they may take.
    pub plugins: PluginsConfig,
    /// Sending notifications: outbound targets and digests.
    pub notify: NotifyConfig,
    /// Encryption of stored secrets (plugin API tokens, webhook secrets).
    pub secrets: SecretsConfig,
}

/// External plugins: executables named `errhound-plugin-<id>` that speak the JSON protocol of
/// `docs/plugins.md`, found once at start-up.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directories searched for `errhound-plugin-*` executables, separated by `:` like `PATH`.
    /// Default empty: only the built-in plugins. Env `ERRHOUND_PLUGINS__PATH`.
    pub path: String,
    /// Seconds an external plugin may take to answer one request; after that it is killed and
    /// the attempt fails (and is retried like any failed delivery). Default 10.
    /// Env `ERRHOUND_PLUGINS__TIMEOUT_S`.
    pub timeout_s: u64,
}

impl PluginsConfig {
    /// The directories of [`PluginsConfig::path`], in order, without empty entries.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.path
            .split(':')
            .map(str::trim)
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .collect()
    }
}

/// Sending notifications.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Let plugins send to loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
    /// and other non-public addresses. Default false: a webhook URL that names or resolves to
    /// such an address is refused, so project settings cannot make the server probe its own
    /// network (SSRF). Set it when your chat server or Jira is on the internal network.
    /// Env `ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS`.
    pub allow_private_targets: bool,
    /// Seconds an alert waits for others of the same project and recipient, so a burst becomes
    /// one digest instead of one message per issue. Default 30.
    /// Env `ERRHOUND_NOTIFY__DIGEST_DELAY_S`.
    pub digest_delay_s: u64,
    /// Most issues listed in one digest; more make several digests. Default 100.
    /// Env `ERRHOUND_NOTIFY__DIGEST_MAX`.
    pub digest_max: usize,
    /// Seconds a sender holds a claimed batch. A sender that dies before recording the outcome
    /// (a crash, a kill) leaves it to be resent with the same idempotency key once this runs
    /// out, so it is how late such an alert comes. Keep it above the longest send (a mail may
    /// take 60 s, an external plugin `plugins.timeout_s`): a shorter lease lets another server
    /// process resend a batch still being sent, a duplicate only a receiver that drops repeated
    /// keys hides. Default 300. Env `ERRHOUND_NOTIFY__LEASE_S`.
    pub lease_s: u64,
}

impl NotifyConfig {
    /// [`NotifyConfig::lease_s`] in milliseconds, as the outbox counts time.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease_s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// Encryption of stored secrets.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// The server key that encrypts plugin secrets in the database: 32 bytes as 64 hex digits
    /// or base64. Default unset: the key in `<data_dir>/server.key`, created (mode 0600) on the
    /// first start. Losing the key loses the stored secrets (they must be entered again); every
    /// server process of one database needs the same key. Env `ERRHOUND_SECRETS__SERVER_KEY`.
    pub server_key: Option<Secret>,
}

/// Accounts.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Anyone who reaches the server may sign up at `/auth/register/` (the login page links to
    /// it); new accounts belong to no organization until someone invites them. Default false:
    /// accounts come from invitations and `errhound user create`. Sign-up confirms the address
    /// with a mailed link, so it needs `[mail]`; without it the page stays closed (and the
    /// start-up log says so). Env `ERRHOUND_AUTH__ALLOW_REGISTRATION`.
    pub allow_registration: bool,
    /// Single sign-on providers may be on loopback, private, link-local or unique-local
    /// addresses. Default false: an organization's owner sets the identity provider's URLs, and
    /// the server must not fetch from its own network for them (SSRF); set it when the identity
    /// provider (Keycloak, Authentik, ...) is on your internal network. Env
    /// `ERRHOUND_AUTH__SSO_ALLOW_PRIVATE_IDP`.
    pub sso_allow_private_idp: bool,
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `tracing` syntax (`info`, `errhound=debug,sqlx=warn`). `RUST_LOG` wins when set.
    /// Default `info`. Env `ERRHOUND_LOG__LEVEL`.
    pub level: String,
    /// `text` for people, `json` for log shippers. Default `text`. Env `ERRHOUND_LOG__FORMAT`.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Database pools.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL read replicas for UI and API reads (ingest always uses the primary); reads
    /// fall back to the primary when no replica answers. Env `ERRHOUND_DATABASE__REPLICA_URLS`
    /// (a TOML array, e.g. `["postgres://..."]`).
    pub replica_urls: Vec<DatabaseUrl>,
    /// Connections per PostgreSQL pool, and SQLite reader connections. Default 8.
    pub max_connections: u32,
}

/// Ingest limits. Oversized requests get 413, a full backlog gets 429.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest request body as sent (compressed). Default 20 MiB (Relay's). Larger bodies are
    /// refused with 413 before they are read.
    pub max_compressed_bytes: usize,
    /// Largest request body after decompression. Default 20 MiB. Bounds what a decompression bomb
    /// can make the server allocate.
    pub max_decompressed_bytes: usize,
    /// Largest event item. Default 1 MiB (Relay's `max_event_size`).
    pub max_event_bytes: usize,
    /// Memory for request bodies and their decompression, across all requests. Default 128 MiB.
    /// Requests over the budget wait briefly, then get 503, so memory stays bounded under any
    /// load (a burst of decompression bombs holds at most this much).
    pub max_inflight_bytes: usize,
    /// Accepted events waiting for processing before ingest answers 429 with `Retry-After`.
    /// Default 200 000.
    pub max_backlog_events: u64,
    /// Bytes waiting in the spool before ingest answers 429. Default 2 GiB.
    pub max_backlog_bytes: u64,
}

/// Event processing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Events processed per database transaction. Larger batches coalesce more counter updates;
    /// smaller ones lower the delay until events are visible. Default 1000.
    pub batch_size: usize,
    /// Threads for parsing, normalizing and grouping (CPU work beside the database writer).
    /// Default: the number of CPUs.
    pub threads: usize,
    /// Milliseconds to wait for a fuller batch while events trickle in. Each batch costs one
    /// commit, so waiting a little saves much CPU and disk I/O under load; events become visible
    /// at most this much later. Default 200.
    pub linger_ms: u64,
}

/// Periodic maintenance tasks run by `serve`. Each run has a time limit; a run that fails is
/// logged and tried again next period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksConfig {
    /// Seconds between sweeps that reopen issues ignored until a time that has passed (an event
    /// for such an issue reopens it at once; the sweep handles the issues that get none).
    /// Default 60. Env `ERRHOUND_TASKS__EXPIRED_SNOOZES_SECS`.
    pub expired_snoozes_secs: u64,
    /// Seconds between sweeps that delete expired UI sessions and sign-up links (expired ones
    /// never log anyone in; the sweep only keeps the tables small). Default 3600.
    /// Env `ERRHOUND_TASKS__EXPIRED_SESSIONS_SECS`.
    pub expired_sessions_secs: u64,
    /// Seconds between runs that remove the data of deleted organizations and projects (they
    /// are hidden, and their DSN keys refused, the moment they are deleted; this only frees the
    /// space, in small batches). Default 10. Env `ERRHOUND_TASKS__PENDING_DELETIONS_SECS`.
    pub pending_deletions_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("errhound-data"),
            bind: "127.0.0.1:9000".to_owned(),
            public_url: None,
            database_url: None,
            admin_email: None,
            admin_password: None,
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            ingest: IngestConfig::default(),
            worker: WorkerConfig::default(),
            tasks: TasksConfig::default(),
            mail: MailConfig::default(),
            auth: AuthConfig::default(),
            plugins: PluginsConfig::default(),
            notify: NotifyConfig::default(),
            secrets: SecretsConfig::default(),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            path: String::new(),
            timeout_s: 10,
        }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            allow_private_targets: false,
            digest_delay_s: 30,
            digest_max: 100,
            lease_s: 300,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            replica_urls: Vec::new(),
            max_connections: 8,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_compressed_bytes: 20 << 20,
            max_decompressed_bytes: 20 << 20,
            max_event_bytes: 1 << 20,
            max_inflight_bytes: 128 << 20,
            max_backlog_events: 200_000,
            max_backlog_bytes: 2 << 30,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch_size: 1000,
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            linger_ms: 200,
        }
    }
}

impl Default for TasksConfig {
    fn default() -> Self {
        TasksConfig {
            expired_snoozes_secs: 60,
            expired_sessions_secs: 3600,
            pending_deletions_secs: 10,
        }
    }
}

/// Values from command-line flags, which override every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--bind`.
    pub bind: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `ERRHOUND_*` environment variables that the command line reads as arguments of a command
    /// (`ERRHOUND_NEW_USER_PASSWORD`), not as configuration keys: the loader skips them, where it
    /// would otherwise refuse them as unknown keys. The binary derives this list from its clap
    /// definitions.
    pub argument_env: Vec<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type; names the key and its source.
    #[error("{0}")]
    Load(#[from] Box<figment::Error>),
    /// The config file given explicitly does not exist.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The prefix of every configuration environment variable.
const ENV_PREFIX: &str = "ERRHOUND_";

/// `ERRHOUND_CONFIG` names the configuration file; it is read before the file, not a key in it.
const CONFIG_FILE_ENV: &str = "ERRHOUND_CONFIG";

/// The `ERRHOUND_*` environment variables that are configuration keys: all of them except
/// `ERRHOUND_CONFIG` and the `argument_env` variables that belong to commands.
fn config_env(argument_env: &[String]) -> Env {
    // Figment hands the filter the name without the prefix, in the case it was set in.
    let not_keys: Vec<String> = std::iter::once(CONFIG_FILE_ENV)
        .chain(argument_env.iter().map(String::as_str))
        .filter_map(|name| name.strip_prefix(ENV_PREFIX))
        .map(str::to_owned)
        .collect();
    Env::prefixed(ENV_PREFIX)
        .filter(move |key| !not_keys.iter().any(|name| key == name.as_str()))
        .split("__")
}

impl Config {
    /// Loads the configuration from the file, the environment and the flags, and validates it.
    pub fn load(config_path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from);
        let explicit = config_path.map(Path::to_path_buf).or(env_path);
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match explicit {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path)),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => {
                if Path::new("errhound.toml").exists() {
                    figment = figment.merge(Toml::file_exact("errhound.toml"));
                }
            }
        }
        figment = figment.merge(config_env(&overrides.argument_env));
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(bind) = &overrides.bind {
            figment = figment.merge(Serialized::default("bind", bind));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a configuration from TOML text alone (for tests and tooling).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.bind.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "bind must be an address like 127.0.0.1:9000, got {:?}",
                self.bind
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid(format!(
                "public_url must start with http:// or https://, got {url:?}"
            ));
        }
        if let Some(url) = &self.database_url
            && !url.is_postgres()
            && !url.expose().starts_with("sqlite:")
        {
            return invalid("database_url must be postgres://... or sqlite://...".to_owned());
        }
        let ingest = &self.ingest;
        if ingest.max_event_bytes == 0
            || ingest.max_compressed_bytes == 0
            || ingest.max_decompressed_bytes < ingest.max_event_bytes
        {
            return invalid(
                "ingest limits must be positive and max_decompressed_bytes >= max_event_bytes"
                    .to_owned(),
            );
        }
        if ingest.max_inflight_bytes
            < ingest
                .max_compressed_bytes
                .max(ingest.max_decompressed_bytes)
        {
            return invalid(
                "ingest.max_inflight_bytes must be at least max_compressed_bytes and \
                 max_decompressed_bytes"
                    .to_owned(),
            );
        }
        if self.worker.batch_size == 0 || self.worker.threads == 0 {
            return invalid("worker.batch_size and worker.threads must be positive".to_owned());
        }
        if self.tasks.expired_snoozes_secs == 0
            || self.tasks.expired_sessions_secs == 0
            || self.tasks.pending_deletions_secs == 0
        {
            return invalid("tasks periods must be at least 1 second".to_owned());
        }
        if self.plugins.timeout_s == 0 || self.notify.digest_max == 0 || self.notify.lease_s == 0 {
            return invalid(
                "plugins.timeout_s, notify.digest_max and notify.lease_s must be at least 1"
                    .to_owned(),
            );
        }
        if self
            .secrets
            .server_key
            .as_ref()
            .is_some_and(|key| key.expose().trim().is_empty())
        {
            return invalid("secrets.server_key is set but empty".to_owned());
        }
        self.mail.server().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// The address to listen on.
    pub fn bind_addr(&self) -> SocketAddr {
        self.bind
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9000)))
    }

    /// The public URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let addr = self.bind_addr();
                let host = if addr.ip().is_unspecified() {
                    "127.0.0.1".to_owned()
                } else if addr.is_ipv6() {
                    format!("[{}]", addr.ip())
                } else {
                    addr.ip().to_string()
                };
                format!("http://{host}:{}", addr.port())
            }
        }
    }

    /// The main database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("errhound.db").display()),
        }
    }

    /// The file holding the generated server key when `secrets.server_key` is not set.
    pub fn server_key_path(&self) -> PathBuf {
        self.data_dir.join("server.key")
    }

    /// The spool directory (segment files of accepted, unprocessed events).
    pub fn spool_path(&self) -> PathBuf {
        self.data_dir.join("spool")
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_local() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.bind, "127.0.0.1:9000");
        assert_eq!(config.public_url(), "http://127.0.0.1:9000");
        assert!(config.database_url().ends_with("errhound-data/errhound.db"));
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail API returns figment::Error"
    )]
    fn env_overrides_file_and_flags_override_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "errhound.toml",
                "bind = \"127.0.0.1:7000\"\n[ingest]\nmax_event_bytes = 1000\nmax_decompressed_bytes = 2000\n",
            )?;
            jail.set_env("ERRHOUND_INGEST__MAX_EVENT_BYTES", "1500");
            jail.set_env("ERRHOUND_ADMIN_PASSWORD", "123456");
            jail.set_env("ERRHOUND_DATA_DIR", "/tmp/from-env");
            jail.set_env("ERRHOUND_AUTH__ALLOW_REGISTRATION", "true");
            let config = Config::load(
                None,
                &Overrides {
                    data_dir: Some("/tmp/from-flag".into()),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:7000");
            assert_eq!(config.ingest.max_event_bytes, 1500);
            assert!(config.auth.allow_registration);
            assert_eq!(config.data_dir, PathBuf::from("/tmp/from-flag"));
            assert_eq!(
                config.admin_password.as_ref().map(Secret::expose),
                Some("123456")
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail API returns figment::Error"
    )]
    fn command_argument_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("other.toml", "bind = \"127.0.0.1:7001\"\n")?;
            jail.set_env("ERRHOUND_CONFIG", "other.toml");
            jail.set_env("ERRHOUND_NEW_USER_PASSWORD", "hunter22");
            jail.set_env("ERRHOUND_LOG__LEVEL", "debug");
            let overrides = Overrides {
                argument_env: vec!["ERRHOUND_NEW_USER_PASSWORD".to_owned()],
                ..Default::default()
            };
            let config = Config::load(None, &overrides).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:7001");
            assert_eq!(config.log.level, "debug");

            // Only the variables named as arguments are skipped: a misspelt key still fails.
            jail.set_env("ERRHOUND_LOG__LEVL", "debug");
            let err = Config::load(None, &overrides).unwrap_err().to_string();
            assert!(err.contains("levl"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail API returns figment::Error"
    )]
    fn unknown_environment_variables_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ERRHOUND_NEW_USER_PASSWORD", "hunter22");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("new_user_password"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Config::from_toml_str("[ingest]\nmax_evnt_bytes = 1\n").unwrap_err();
        assert!(err.to_string().contains("max_evnt_bytes"), "{err}");
        let err = Config::from_toml_str("bind = \"nowhere\"").unwrap_err();
        assert!(err.to_string().contains("bind"), "{err}");
        let err = Config::from_toml_str("[tasks]\nexpired_snoozes_secs = 0\n").unwrap_err();
        assert!(err.to_string().contains("tasks"), "{err}");
    }

    #[test]
    fn printing_hides_secrets() {
        let config = Config::from_toml_str(
            "admin_password = \"hunter2\"\ndatabase_url = \"postgres://app:s3cret@db.internal/errhound\"\n",
        )
        .unwrap();
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(
            printed.contains("postgres://app:********@db.internal/errhound"),
            "{printed}"
        );
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn mail_is_validated_and_its_password_hidden() {
        let config = Config::from_toml_str(
            "[mail]\nurl = \"smtp://bot:hunter2@mail.internal:587\"\nfrom = \"Errhound <e@example.com>\"\n",
        )
        .unwrap();
        let server = config.mail.server().unwrap().unwrap();
        assert_eq!(server.port, 587);
        let printed = config.to_redacted_toml();
        assert!(
            printed.contains("smtp://bot:********@mail.internal:587"),
            "{printed}"
        );
        assert!(!format!("{printed}{config:?}").contains("hunter2"));

        let err =
            Config::from_toml_str("[mail]\nurl = \"imap://bot:hunter2@mail\"\nfrom = \"e@x\"\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("mail.url") && !err.contains("hunter2"),
            "{err}"
        );
        let err = Config::from_toml_str("[mail]\nurl = \"smtp://mail\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.from"), "{err}");
        assert!(!Config::from_toml_str("").unwrap().mail.is_configured());
        assert!(!Config::from_toml_str("").unwrap().auth.allow_registration);
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail API returns figment::Error"
    )]
    fn plugin_notify_and_secret_keys_come_from_the_environment_and_the_key_is_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ERRHOUND_PLUGINS__PATH", "/opt/a:/opt/b::");
            jail.set_env("ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS", "true");
            jail.set_env("ERRHOUND_NOTIFY__DIGEST_DELAY_S", "5");
            jail.set_env("ERRHOUND_NOTIFY__LEASE_S", "7");
            jail.set_env(
                "ERRHOUND_SECRETS__SERVER_KEY",
                "00112233445566778899aabbccddeeff",
            );
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                config.plugins.dirs(),
                [PathBuf::from("/opt/a"), PathBuf::from("/opt/b")]
            );
            assert_eq!(config.plugins.timeout_s, 10);
            assert!(config.notify.allow_private_targets);
            assert_eq!(config.notify.digest_delay_s, 5);
            assert_eq!(config.notify.digest_max, 100);
            assert_eq!(config.notify.lease_ms(), 7000);
            let printed = config.to_redacted_toml();
            assert!(!printed.contains("00112233"), "{printed}");
            assert!(!format!("{config:?}").contains("00112233"));
            Ok(())
        });
        let config = Config::from_toml_str("").unwrap();
        assert!(!config.notify.allow_private_targets);
        assert!(config.plugins.dirs().is_empty());
        assert!(config.secrets.server_key.is_none());
        let err = Config::from_toml_str("[plugins]\ntimeout_s = 0\n").unwrap_err();
        assert!(err.to_string().contains("timeout_s"), "{err}");
        assert_eq!(config.notify.lease_ms(), 300_000);
        let err = Config::from_toml_str("[notify]\nlease_s = 0\n").unwrap_err();
        assert!(err.to_string().contains("lease_s"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/errhound.toml")),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }
}
