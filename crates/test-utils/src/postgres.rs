//! A real PostgreSQL server for tests, on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sqlx::Connection;

/// The admin URL of the test server: `TEST_POSTGRES_URL`, or a private cluster started once per
/// test process with the local PostgreSQL binaries.
pub fn server_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_private_cluster(),
    })
    .clone()
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_database() -> String {
    let admin = server_url();
    let name = format!("errhound_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    replace_database(&admin, &name)
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

fn pg_bin_dir() -> PathBuf {
    for version in ["17", "16", "15", "14"] {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    panic!(
        "TEST_POSTGRES_URL is not set and no PostgreSQL binaries were found; run the tests through scripts/test.sh"
    )
}

fn start_private_cluster() -> String {
    let bin = pg_bin_dir();
    let dir = std::env::temp_dir().join(format!("errhound-test-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let as_postgres = |program: &Path, args: &[&str]| {
        // PostgreSQL refuses to run as root; run it as the `postgres` user when we are root.
        let mut command = if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status();
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let status = command.args(args).status().unwrap();
        assert!(status.success(), "{} {:?} failed", program.display(), args);
    };
    let data = dir.join("data");
    let data_str = data.to_str().unwrap();
    as_postgres(
        &bin.join("initdb"),
        &[
            "-D", data_str, "-A", "trust", "-U", "postgres", "-E", "UTF8",
        ],
    );
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
        dir.display()
    );
    let log = dir.join("log");
    as_postgres(
        &bin.join("pg_ctl"),
        &[
            "-D",
            data_str,
            "-o",
            &options,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ],
    );
    reap_when_done(&bin, &dir);
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// Stops the private cluster and removes its directory once this test process has exited: a
/// detached shell polls for the process and then runs `pg_ctl stop`, so neither servers nor
/// their data pile up run after run (a test process has no exit hook for statics).
fn reap_when_done(bin: &Path, dir: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = format!(
        "{} -D {}/data stop -m immediate",
        pg_ctl.display(),
        dir.display()
    );
    let stop = if is_root() {
        format!("runuser -u postgres -- {stop}")
    } else {
        stop
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display(),
    );
    // Detached: its own session, no inherited pipes (nextest waits on a test's pipes).
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_replaces_the_path() {
        assert_eq!(
            replace_database("postgres://u@127.0.0.1:5432/postgres?sslmode=disable", "x"),
            "postgres://u@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:1", "x"),
            "postgres://u@h:1/x"
        );
    }
}
