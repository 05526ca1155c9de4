//! External plugins written in Python (`fixtures/`): found on the plugin path, described,
//! validated, notified, and the misbehaving ones (hanging, garbage, crashing) failing clearly
//! without blocking anything.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use errhound_domain::plugin::{PluginError, PluginKind};
use errhound_notify::registry::InvalidSettings;
use errhound_notify::{HttpClient, PluginRegistry, PluginSource, RegistryOptions};

use crate::support::{body, notification, recipient, settings};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures")
}

async fn registry(timeout: Duration) -> PluginRegistry {
    PluginRegistry::start(RegistryOptions {
        mailer: None,
        http: HttpClient::new(false).unwrap(),
        plugin_dirs: vec![fixtures(), PathBuf::from("/nonexistent/plugins")],
        timeout,
    })
    .await
}

#[tokio::test]
async fn the_registry_lists_built_ins_and_what_the_plugin_path_holds() {
    let registry = registry(Duration::from_secs(10)).await;
    let listed: Vec<(String, String, Result<String, String>)> = registry
        .list()
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                e.source.to_string(),
                e.plugin
                    .as_ref()
                    .map(|p| p.describe().kind.as_str().to_owned())
                    .map_err(Clone::clone),
            )
        })
        .collect();
    let ids: Vec<&str> = listed.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "mail",
            "webhooks",
            "slack",
            "discord",
            "signed-chat",
            "jira",
            "garbage",
            "recorder",
            "sleepy",
            "tickets"
        ],
        "{listed:?}"
    );
    // The built-in mail wins over errhound-plugin-mail; a file without the executable bit is
    // no plugin.
    assert_eq!(registry.get("mail").unwrap().describe().title, "Mail");
    assert_eq!(registry.list()[0].source, PluginSource::BuiltIn);
    assert!(registry.get("notexec").is_none());

    let garbage = registry.list().iter().find(|e| e.id == "garbage").unwrap();
    let message = garbage.plugin.as_ref().unwrap_err();
    assert!(
        message.contains("did not print one JSON object"),
        "{message}"
    );
    assert!(message.contains("hello, I am not JSON"), "{message}");
    assert!(registry.notification("garbage").is_none());

    let recorder = registry.list().iter().find(|e| e.id == "recorder").unwrap();
    assert_eq!(
        recorder.source,
        PluginSource::External(fixtures().join("errhound-plugin-recorder"))
    );
    let described = recorder.plugin.as_ref().unwrap().describe();
    assert_eq!(
        (described.title.as_str(), described.version.as_str()),
        ("Recorder", "1.0.0")
    );
    assert!(
        described
            .project_settings
            .iter()
            .any(|s| s.key == "token" && s.kind.is_secret())
    );
    assert_eq!(described.user_settings[0].key, "nick");
    assert_eq!(
        registry.get("tickets").unwrap().describe().kind,
        PluginKind::IssueTracking
    );
}

#[tokio::test]
async fn a_good_plugin_validates_and_receives_the_notification_as_documented() {
    let registry = registry(Duration::from_secs(10)).await;
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();

    let plugin = registry.get("recorder").unwrap();
    let err = plugin
        .configure(
            &Default::default(),
            &body(&[("out_dir", &out_dir), ("token", "bad")]),
        )
        .await
        .unwrap_err();
    match err {
        InvalidSettings::Values(errors) => {
            assert_eq!(errors.0["token"], "The token is not accepted.")
        }
        other => panic!("{other:?}"),
    }
    let configured = plugin
        .configure(
            &Default::default(),
            &body(&[("out_dir", &out_dir), ("token", "t0k")]),
        )
        .await
        .unwrap();

    let recorder = registry.notification("recorder").unwrap();
    let recipients = [recipient(
        3,
        "dana@example.com",
        settings(&[("nick", "dd")]),
    )];
    recorder
        .notify(&notification(&[42]), &configured, &recipients, "delivery-5")
        .await
        .unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("delivery-5.json")).unwrap())
            .unwrap();
    let request = &written["request"];
    assert_eq!(request["protocol"], 1);
    assert_eq!(request["method"], "notify");
    assert_eq!(request["idempotency_key"], "delivery-5");
    assert_eq!(request["settings"]["token"], "t0k", "secrets arrive opened");
    assert_eq!(request["notification"]["project"]["slug"], "shop");
    let issue = &request["notification"]["issues"][0];
    assert_eq!(issue["id"], 42);
    assert_eq!(issue["trigger"], "created");
    assert_eq!(issue["frames"][0]["lineno"], 17);
    assert_eq!(issue["tags"][1][0], "browser");
    assert_eq!(request["recipients"][0]["email"], "dana@example.com");
    assert_eq!(request["recipients"][0]["settings"]["nick"], "dd");
    // Errhound's own environment stays out of the plugin's.
    let environ: Vec<&str> = written["environ"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        environ
            .iter()
            .all(|name| !name.starts_with("ERRHOUND_") && !name.starts_with("CARGO")),
        "{environ:?}"
    );

    // Its own error is the refusal it described.
    let mut failing = configured.clone();
    failing.0.insert("fail".into(), "yes".into());
    let err = recorder
        .notify(&notification(&[42]), &failing, &recipients, "delivery-6")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PluginError::Refused {
            detail: "the IM said no".into(),
            retry: true
        }
    );

    // A crash is misbehaviour, with the status and its last line of stderr.
    let mut crashing = configured;
    crashing.0.insert("crash".into(), "yes".into());
    let err = recorder
        .notify(&notification(&[42]), &crashing, &recipients, "delivery-7")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PluginError::Misbehaved(_)), "{err:?}");
    assert!(
        text.contains("exit status: 3") && text.contains("the recorder fell over"),
        "{text}"
    );
}

#[tokio::test]
async fn an_issue_tracking_plugin_creates_and_finds_tickets() {
    let registry = registry(Duration::from_secs(10)).await;
    let tickets = registry.issue_tracking("tickets").unwrap();
    let options = settings(&[("base", "https://tickets.example.com/")]);
    let ticket = tickets
        .create_ticket(&notification(&[42]), &options, "title", "description")
        .await
        .unwrap();
    assert_eq!(ticket.key, "T-42");
    assert_eq!(ticket.url, "https://tickets.example.com/T-42");
    assert_eq!(
        tickets.find_ticket(&options, "T-7").await.unwrap().key,
        "T-7"
    );
    let err = tickets.find_ticket(&options, "X-1").await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("no ticket X-1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hanging_plugin_is_stopped_at_its_time_limit_and_blocks_nothing() {
    let registry = registry(Duration::from_secs(1)).await;
    let sleepy = registry.notification("sleepy").unwrap();
    let started = Instant::now();
    // Two hanging calls and a ticker run at once: the runtime keeps going meanwhile.
    let ticks = async {
        let mut n = 0;
        while started.elapsed() < Duration::from_millis(800) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            n += 1;
        }
        n
    };
    let (one, two, none) = (notification(&[1]), notification(&[2]), settings(&[]));
    let (first, second, ticks) = tokio::join!(
        sleepy.notify(&one, &none, &[], "a"),
        sleepy.notify(&two, &none, &[], "b"),
        ticks
    );
    let elapsed = started.elapsed();
    assert!(ticks >= 8, "the runtime was blocked: {ticks} ticks");
    for err in [first.unwrap_err(), second.unwrap_err()] {
        assert!(matches!(err, PluginError::Misbehaved(_)), "{err:?}");
        assert!(
            err.to_string().contains("did not answer within 1 s"),
            "{err}"
        );
        assert!(err.is_retryable());
    }
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}
