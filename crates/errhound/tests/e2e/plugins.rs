//! `errhound plugins list`, run as a user runs it, with the Python plugins of the notify
//! crate's test fixtures on `ERRHOUND_PLUGINS__PATH`.

use std::process::Command;

use crate::binary;

#[test]
fn plugins_list_shows_built_ins_and_the_plugin_path() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../notify/tests/it/fixtures")
        .canonicalize()
        .unwrap();
    let output = Command::new(binary())
        .args(["plugins", "list"])
        .current_dir(dir.path())
        .env("ERRHOUND_DATA_DIR", dir.path().join("data"))
        .env(
            "ERRHOUND_PLUGINS__PATH",
            format!("/nonexistent:{}", fixtures.display()),
        )
        .env("ERRHOUND_LOG__LEVEL", "error")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        lines[0],
        ["ID", "TITLE", "KIND", "VERSION", "SOURCE", "STATUS"],
        "{text}"
    );
    let row = |id: &str| {
        lines
            .iter()
            .find(|l| l[0] == id)
            .unwrap_or_else(|| panic!("no {id} in {text}"))
            .clone()
    };
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        row("mail"),
        ["mail", "Mail", "notification", version, "built-in", "ok"]
    );
    assert_eq!(row("webhooks")[2..5], ["notification", version, "built-in"]);
    for id in ["slack", "discord", "signed-chat"] {
        assert_eq!(row(id)[4], "built-in", "{text}");
    }
    assert_eq!(row("jira")[2], "issue-tracking");
    let recorder = fixtures
        .join("errhound-plugin-recorder")
        .display()
        .to_string();
    assert_eq!(
        row("recorder"),
        [
            "recorder",
            "Recorder",
            "notification",
            "1.0.0",
            recorder.as_str(),
            "ok"
        ]
    );
    assert_eq!(row("tickets")[2], "issue-tracking");
    let garbage = row("garbage");
    assert_eq!(garbage[1..4], ["-", "-", "-"]);
    assert!(
        garbage[5].starts_with("error: ") && garbage[5].contains("JSON"),
        "{text}"
    );
    // The impostor errhound-plugin-mail is not listed beside the built-in.
    assert_eq!(lines.iter().filter(|l| l[0] == "mail").count(), 1, "{text}");
}
