//! A real `errhound serve` process for end-to-end tests, on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Admin credentials every test server is started with.
pub const ADMIN_EMAIL: &str = "admin@errhound.test";
/// See [`ADMIN_EMAIL`].
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `postgres://...`; SQLite in the data directory when `None`.
    pub database_url: Option<String>,
    /// Extra environment variables (e.g. `ERRHOUND_INGEST__MAX_BACKLOG_EVENTS`).
    pub env: Vec<(String, String)>,
}

/// A running server and everything needed to talk to it.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The DSN printed at start-up.
    pub dsn: String,
    /// An API token for the admin.
    pub token: String,
    /// Project id of the DSN.
    pub project_id: u64,
    /// The DSN public key.
    pub public_key: String,
    binary: PathBuf,
    options: ServerOptions,
    port: u16,
    data_dir: tempfile::TempDir,
    child: Option<Child>,
    client: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl TestServer {
    /// Starts `binary serve` on SQLite.
    pub async fn start(binary: &Path) -> TestServer {
        TestServer::start_with(binary, ServerOptions::default()).await
    }

    /// Starts `binary serve` on `engine`: SQLite in its data directory, or a fresh database on the
    /// test PostgreSQL (see [`crate::postgres`]).
    pub async fn start_on(binary: &Path, engine: errhound_store::Engine) -> TestServer {
        let database_url = match engine {
            errhound_store::Engine::Sqlite => None,
            errhound_store::Engine::Postgres => Some(crate::postgres::fresh_database().await),
        };
        TestServer::start_with(
            binary,
            ServerOptions {
                database_url,
                ..ServerOptions::default()
            },
        )
        .await
    }

    /// Starts `binary serve` with options.
    pub async fn start_with(binary: &Path, options: ServerOptions) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = TestServer {
            base_url: String::new(),
            dsn: String::new(),
            token: String::new(),
            project_id: 0,
            public_key: String::new(),
            binary: binary.to_path_buf(),
            options,
            port: free_port(),
            data_dir,
            child: None,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        };
        server.base_url = format!("http://127.0.0.1:{}", server.port);
        server.launch().await;
        server.token = server.create_token();
        server
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env("ERRHOUND_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ERRHOUND_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ERRHOUND_LOG__LEVEL", "warn")
            // What the server is reached at, for commands that build URLs (organization tokens
            // carry it), as a deployment's configuration file would say.
            .env("ERRHOUND_BIND", format!("127.0.0.1:{}", self.port))
            // The tests' identity providers are on loopback (a deployment whose IdP is on its
            // internal network sets the same).
            .env("ERRHOUND_AUTH__SSO_ALLOW_PRIVATE_IDP", "true");
        if let Some(url) = &self.options.database_url {
            command.arg("--database-url").arg(url);
        }
        for (key, value) in &self.options.env {
            command.env(key, value);
        }
        command
    }

    /// Starts the process and waits until it is ready.
    async fn launch(&mut self) {
        let bind = format!("127.0.0.1:{}", self.port);
        let mut child = self
            .command(&["serve", "--bind", &bind])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("errhound serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let dsn = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(remaining) {
                Ok(line) => {
                    if let Some(dsn) = line.strip_prefix("DSN: ") {
                        break dsn.trim().to_owned();
                    }
                }
                Err(_) => panic!("errhound serve did not print a DSN within 60 s"),
            }
        };
        self.child = Some(child);
        let (key_part, rest) = dsn
            .trim_start_matches("http://")
            .split_once('@')
            .expect("DSN has a key");
        self.public_key = key_part.to_owned();
        self.project_id = rest
            .rsplit('/')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("DSN ends in a project id");
        self.dsn = dsn;
        let ready = format!("{}/_health?ready", self.base_url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = self.client.get(&ready).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn create_token(&self) -> String {
        self.create_token_for(ADMIN_EMAIL)
    }

    /// Runs an `errhound` command against this server's data directory; returns its output,
    /// whatever its exit status.
    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        self.command(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("errhound runs")
    }

    /// Runs an `errhound` command that must fail; returns its stderr.
    pub fn cli_fails(&self, args: &[&str]) -> String {
        let output = self.cli_output(args);
        assert!(
            !output.status.success(),
            "errhound {args:?} succeeded: {output:?}"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Runs an `errhound` command against this server's data directory; returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = self.cli_output(args);
        assert!(
            output.status.success(),
            "errhound {args:?} failed: {output:?}"
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new API token for the user with `email`.
    pub fn create_token_for(&self, email: &str) -> String {
        self.cli(&["token", "create", "--email", email])
            .lines()
            .last()
            .expect("a token line")
            .trim()
            .to_owned()
    }

    /// Creates a member of the `errhound` organization and returns an API token for them.
    pub fn create_member(&self, email: &str) -> String {
        self.create_user(email, Some("errhound"))
    }

    /// Creates a user, a member of `organization` if given, and returns an API token for them.
    pub fn create_user(&self, email: &str, organization: Option<&str>) -> String {
        let mut args = vec![
            "user",
            "create",
            "--email",
            email,
            "--password",
            "member-password-1",
        ];
        if let Some(organization) = organization {
            args.extend(["--organization", organization]);
        }
        self.cli(&args);
        self.create_token_for(email)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The server's database URL, for a test that writes rows beside the running server.
    pub fn database_url(&self) -> String {
        self.options.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir().join("errhound.db").display())
        })
    }

    /// A connection pool (one connection) to the server's database, for a test that reads or
    /// writes rows beside the running server.
    pub async fn db(&self) -> errhound_store::Db {
        errhound_store::Db::connect(&errhound_store::DbOptions {
            url: self.database_url(),
            replica_urls: vec![],
            max_connections: 1,
        })
        .await
        .expect("the server's database")
    }

    /// Kills the process with SIGKILL (no shutdown of any kind).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops with SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and data.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// The shared HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `GET /api/0/{path}` with the admin token; returns status and JSON body.
    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        let url = format!("{}/api/0/{}", self.base_url, path.trim_start_matches('/'));
        let response = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("API request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// `{method} /api/0/{path}` with a JSON body and `token` (the admin's when `None`); returns
    /// status and JSON body.
    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}/api/0/{}", self.base_url, path.trim_start_matches('/'));
        let response = self
            .client
            .request(method, url)
            .bearer_auth(token.unwrap_or(&self.token))
            .json(body)
            .send()
            .await
            .expect("API request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Creates the team `slug` in the `errhound` organization through the API; its JSON.
    pub async fn create_team(&self, slug: &str, name: &str) -> Value {
        let (status, team) = self
            .api_send(
                reqwest::Method::POST,
                "organizations/errhound/teams/",
                &serde_json::json!({"slug": slug, "name": name}),
                None,
            )
            .await;
        assert_eq!(status, 201, "creating team {slug}: {team}");
        team
    }

    /// Fails unless the `errhound` organization's audit log has each of `actions`.
    pub async fn assert_audited(&self, actions: &[&str]) {
        let events = self.audit_events().await;
        for action in actions {
            assert!(
                events.iter().any(|e| e == action),
                "{action} is not in the audit log: {events:?}"
            );
        }
    }

    /// The event names of the `errhound` organization's audit log, newest first.
    pub async fn audit_events(&self) -> Vec<String> {
        let (status, log) = self.api_get("organizations/errhound/audit-logs/").await;
        assert_eq!(status, 200, "{log}");
        log["rows"]
            .as_array()
            .expect("audit rows")
            .iter()
            .filter_map(|row| row["event"].as_str().map(str::to_owned))
            .collect()
    }

    /// `PUT /api/0/{path}` with the admin token.
    pub async fn api_put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.api_send(reqwest::Method::PUT, path, body, None).await
    }

    /// The envelope endpoint URL.
    pub fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base_url, self.project_id)
    }

    /// The `X-Sentry-Auth` header value for the DSN key.
    pub fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=errhound-tests/1.0",
            self.public_key
        )
    }

    /// The project's issues (any status), following pagination.
    pub async fn issues(&self) -> Vec<Value> {
        let (status, body) = self
            .api_get("projects/errhound/default/issues/?query=&statsPeriod=&limit=100")
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Waits until the project has processed `count` events in total (summing issue counts).
    pub async fn wait_for_events(&self, count: u64, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let issues = self.issues().await;
            let total: u64 = issues
                .iter()
                .filter_map(|i| i["count"].as_str()?.parse::<u64>().ok())
                .sum();
            if total >= count {
                return issues;
            }
            assert!(
                Instant::now() < deadline,
                "only {total} of {count} events processed within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}
