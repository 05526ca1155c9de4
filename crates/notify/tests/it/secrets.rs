//! Secrets at rest: sealing, the key file, and the settings helpers.

use std::os::unix::fs::PermissionsExt;

use errhound_config::Config;
use errhound_domain::plugin::{SettingKind, SettingSpec};
use errhound_notify::{SecretError, ServerKey};

use crate::support::settings;

#[test]
fn sealing_round_trips_and_never_repeats_a_ciphertext() {
    let key = ServerKey::generate();
    let one = key.seal("hunter2 ☕");
    let two = key.seal("hunter2 ☕");
    assert_ne!(one, two, "a fresh nonce each time");
    assert!(one.starts_with("v1.") && !one.contains("hunter2"), "{one}");
    assert_eq!(key.open(&one).unwrap().expose(), "hunter2 ☕");
    assert_eq!(key.open(&two).unwrap().expose(), "hunter2 ☕");
    assert_eq!(format!("{:?}", key.open(&one).unwrap()), "********");
}

#[test]
fn a_wrong_key_or_a_changed_byte_fails_to_open() {
    let key = ServerKey::generate();
    let sealed = key.seal("api-token");
    let err = ServerKey::generate().open(&sealed).unwrap_err();
    assert!(matches!(err, SecretError::WrongKeyOrTampered), "{err}");
    // Change each character of the payload in turn: none opens, none panics.
    let prefix = "v1.".len();
    for i in prefix..sealed.len() {
        let mut bytes = sealed.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        if tampered != sealed {
            assert!(key.open(&tampered).is_err(), "position {i}");
        }
    }
    assert!(key.open(&sealed[..sealed.len() - 4]).is_err());
}

#[test]
fn the_key_file_is_created_once_with_mode_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config::from_toml_str(&format!("data_dir = {:?}", dir.path().join("data"))).unwrap();
    let first = ServerKey::load(&config).unwrap();
    let path = config.server_key_path();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let stored = std::fs::read_to_string(&path).unwrap();
    let sealed = first.seal("webhook secret");

    let second = ServerKey::load(&config).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        stored,
        "not rewritten"
    );
    assert_eq!(second.open(&sealed).unwrap().expose(), "webhook secret");
    // No temporary files are left beside it.
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["server.key"]);

    // A configured key wins over the file, and the file's key does not open its values.
    let configured = Config::from_toml_str(&format!(
        "data_dir = {:?}\n[secrets]\nserver_key = \"{}\"\n",
        dir.path().join("data"),
        "ab".repeat(32)
    ))
    .unwrap();
    let other = ServerKey::load(&configured).unwrap();
    assert!(other.open(&sealed).is_err());
    let err = ServerKey::from_text("not a key", "secrets.server_key").unwrap_err();
    assert!(err.to_string().contains("secrets.server_key"), "{err}");
}

#[test]
fn the_settings_helpers_seal_exactly_the_secrets() {
    let specs = vec![
        SettingSpec {
            key: "urls".into(),
            label: "URLs".into(),
            kind: SettingKind::UrlList,
            required: true,
            help: String::new(),
        },
        SettingSpec {
            key: "secret".into(),
            label: "Secret".into(),
            kind: SettingKind::Secret,
            required: false,
            help: String::new(),
        },
    ];
    let key = ServerKey::generate();
    let clear = settings(&[("urls", "https://example.com/hook"), ("secret", "s3cret")]);
    let stored = key.seal_settings(&specs, &clear);
    assert_eq!(stored.text("urls"), Some("https://example.com/hook"));
    let sealed = stored.text("secret").unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("s3cret"));
    // Sealing again leaves a sealed value alone.
    assert_eq!(key.seal_settings(&specs, &stored), stored);
    assert_eq!(key.open_settings(&specs, &stored).unwrap(), clear);
    assert!(
        ServerKey::generate()
            .open_settings(&specs, &stored)
            .is_err()
    );
    assert!(!format!("{clear:?}").contains("s3cret"));
}
