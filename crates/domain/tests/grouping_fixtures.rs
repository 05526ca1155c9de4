//! Golden grouping fixtures: events shaped as the official SDKs send them
//! (`tests/fixtures/grouping/<platform>/<case>.json`), run through the ingest worker's own
//! processing step ([`process_event`]: normalization, scrubbing, grouping, title and culprit) on a
//! project using the default config, and on one still using the frozen first config.
//!
//! Each fixture says in `_expect` what must hold; the snapshot records the title, culprit, hashes
//! and, per variant, its hash and the values that went into it. The relations that matter (a
//! redeployed error keeps its issue, two different errors do not share one) are asserted in code
//! below, so they hold whatever the snapshots say.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use errhound_domain::grouping::{
    CONFIG_2026_11, CONFIG_2026_11_25, Grouping, VariantKind, hash_from_values,
};
use errhound_domain::{ProcessContext, ProcessedEvent, ProjectSettings, process_event};
use serde_json::{Value, json};

const RECEIVED_MS: i64 = 1_795_700_000_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grouping")
}

/// Reads a fixture: its `_expect` text and the event without it.
fn read_fixture(path: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(path).expect("a readable fixture");
    let mut event: Value = serde_json::from_str(&text).expect("a JSON fixture");
    let expect = event
        .as_object_mut()
        .and_then(|o| o.remove("_expect"))
        .and_then(|e| e.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("{} has no `_expect`", path.display()));
    (expect, event)
}

/// Processes an event as the ingest worker does for a project on `config`.
fn process(event: &Value, config: &str) -> ProcessedEvent {
    let mut settings = ProjectSettings::default();
    settings.grouping.config = config.to_owned();
    let payload = serde_json::to_vec(event).expect("serializable");
    let event_id = event["event_id"]
        .as_str()
        .unwrap_or("00000000000000000000000000000001");
    process_event(
        &payload,
        &ProcessContext {
            event_id,
            received_ms: RECEIVED_MS,
            sent_at: None,
            client_ip: None,
            settings: &settings,
        },
    )
    .expect("a valid event")
}

/// The fixture, by `platform/case`, processed with the default config.
fn fixture(name: &str) -> ProcessedEvent {
    let (_, event) = read_fixture(&fixtures().join(format!("{name}.json")));
    process(&event, CONFIG_2026_11_25)
}

/// What a snapshot shows of one variant; checks that the hash is the MD5 of the values shown.
fn describe_variants(grouping: &Grouping) -> BTreeMap<&'static str, Value> {
    grouping
        .variants
        .iter()
        .map(|v| {
            let values: Vec<&str> = match (&v.component, v.hash.is_some()) {
                (Some(component), true) => component.contributing_values(),
                _ => Vec::new(),
            };
            let mut out = json!({ "kind": format!("{:?}", v.kind), "hash": v.hash });
            if v.kind == VariantKind::Component
                && let Some(hash) = &v.hash
            {
                assert_eq!(
                    hash,
                    &hash_from_values(values.iter().copied()),
                    "the {} hash is the MD5 of its contributing values",
                    v.name
                );
            }
            if !values.is_empty() {
                out["values"] = json!(values);
            }
            if !v.fingerprint.is_empty() {
                out["fingerprint"] = json!(v.fingerprint);
            }
            if v.hash.is_none()
                && let Some(hint) = v.component.as_ref().and_then(|c| c.hint.as_deref())
            {
                out["hint"] = json!(hint);
            }
            (v.name, out)
        })
        .collect()
}

#[test]
fn grouping_fixtures() {
    insta::glob!("fixtures/grouping/*/*.json", |path| {
        let (expect, event) = read_fixture(path);
        let current = process(&event, CONFIG_2026_11_25);
        let legacy = process(&event, CONFIG_2026_11);
        assert!(!current.grouping.hashes.is_empty());
        assert!(
            current
                .grouping
                .hashes
                .iter()
                .all(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "hashes are 32 hex digits"
        );
        let snapshot = json!({
            "expect": expect,
            "title": current.display.title,
            "culprit": current.display.culprit,
            "hashes": current.grouping.hashes,
            "main_exception_id": current.grouping.main_exception_id,
            "variants": describe_variants(&current.grouping),
            // The frozen config must keep its hashes: any change shows up here.
            "errhound:2026-11": {
                "title": legacy.display.title,
                "hashes": legacy.grouping.hashes,
            },
        });
        insta::assert_json_snapshot!(snapshot);
    });
}

/// Fixtures that must land in one issue: every hash equal, not merely one in common.
const SAME_ISSUE: &[(&str, &str)] = &[
    ("python/zero_division", "python/zero_division_moved"),
    ("python/log_message", "python/log_message_other_params"),
    (
        "python/capture_message_parameters",
        "python/capture_message_parameters_other",
    ),
    ("node/type_error_bundled", "node/type_error_rechunked"),
    (
        "javascript/minified_click",
        "javascript/minified_click_redeployed",
    ),
    ("javascript/vite_chunk", "javascript/vite_chunk_rebuilt"),
    ("java/spring_npe", "java/spring_npe_restarted"),
    ("go/index_panic", "go/index_panic_renumbered"),
    ("rust/panic_unwrap", "rust/panic_unwrap_legacy_mangled"),
    ("rust/panic_unwrap", "rust/panic_unwrap_v0_mangled"),
    (
        "dotnet/async_invalid_operation",
        "dotnet/async_invalid_operation_rebuilt",
    ),
    ("ruby/no_method_error", "ruby/no_method_error_recompiled"),
    ("php/laravel_type_error", "php/laravel_type_error_moved"),
    ("native/segfault", "native/segfault_rebuilt"),
];

#[test]
fn redeployed_errors_keep_every_hash() {
    let mut split = Vec::new();
    for (a, b) in SAME_ISSUE {
        let (a_event, b_event) = (fixture(a), fixture(b));
        if a_event.grouping.hashes != b_event.grouping.hashes {
            split.push(format!(
                "{a} {:?} != {b} {:?}",
                a_event.grouping.hashes, b_event.grouping.hashes
            ));
        }
        // The pairs really differ in what they send (not two copies of one event).
        let (_, raw_a) = read_fixture(&fixtures().join(format!("{a}.json")));
        let (_, raw_b) = read_fixture(&fixtures().join(format!("{b}.json")));
        let strip = |mut v: Value| {
            v.as_object_mut().map(|o| o.remove("event_id"));
            v
        };
        assert_ne!(strip(raw_a), strip(raw_b), "{a} and {b} differ");
    }
    assert!(
        split.is_empty(),
        "split into two issues:\n{}",
        split.join("\n")
    );
}

#[test]
fn different_errors_share_no_hash() {
    // Every fixture that is not paired above is a different error from every other fixture.
    let mut names: Vec<String> = Vec::new();
    for platform in std::fs::read_dir(fixtures()).expect("the fixture directory") {
        let platform = platform.expect("a directory entry").path();
        for file in std::fs::read_dir(&platform).expect("a platform directory") {
            let file = file.expect("a directory entry").path();
            let case = file.file_stem().and_then(|s| s.to_str()).expect("a name");
            let platform = platform
                .file_name()
                .and_then(|s| s.to_str())
                .expect("a name");
            names.push(format!("{platform}/{case}"));
        }
    }
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    // The representative of each expected issue.
    let issue_of = |name: &str| -> String {
        SAME_ISSUE
            .iter()
            .find(|(_, b)| *b == name)
            .map_or_else(|| name.to_owned(), |(a, _)| (*a).to_owned())
    };
    let mut owner: HashMap<String, String> = HashMap::new();
    for name in &names {
        let issue = issue_of(name);
        for hash in fixture(name).grouping.hashes {
            if let Some(other) = owner.insert(hash.clone(), issue.clone()) {
                assert_eq!(other, issue, "{name} shares {hash} with {other}");
            }
        }
    }
}

#[test]
fn the_bundled_deploy_is_not_the_unbundled_one() {
    // The module names the code that failed: a bundle is other code than the source files.
    let source = fixture("node/type_error_express");
    let bundled = fixture("node/type_error_bundled");
    assert!(
        source
            .grouping
            .hashes
            .iter()
            .all(|h| !bundled.grouping.hashes.contains(h))
    );
}

/// The real Python SDK events of the shared benchmark corpus (two per error site, and message
/// events of the long tail): each site is one issue, and no two sites or tail messages share
/// one.
#[test]
fn corpus_sites_are_one_issue_each() {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus-sample.jsonl"),
    )
    .expect("the corpus sample");
    let mut by_site: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for (line_no, line) in sample.lines().enumerate() {
        let record: Value = serde_json::from_str(line).expect("a JSON line");
        let site = record["site"]
            .as_str()
            .map_or_else(|| format!("tail-{line_no}"), str::to_owned);
        let processed = process(&record["event"], CONFIG_2026_11_25);
        by_site
            .entry(site)
            .or_default()
            .push(processed.grouping.hashes);
    }
    assert_eq!(by_site.len(), 60, "50 sites and 10 tail messages");
    let mut owner: HashMap<String, String> = HashMap::new();
    for (site, events) in &by_site {
        for hashes in events {
            assert_eq!(
                hashes, &events[0],
                "{site}: every event has the same hashes"
            );
            for hash in hashes {
                if let Some(other) = owner.insert(hash.clone(), site.clone()) {
                    assert_eq!(&other, site, "{site} and {other} share {hash}");
                }
            }
        }
    }
}

#[test]
fn an_exception_group_is_named_by_its_main_exception() {
    // Grouping picks the inner exception (main_exception_id 1); the title follows it, as in
    // Sentry, while the culprit still comes from the last exception's stack.
    let event = fixture("python/exception_group");
    assert_eq!(event.grouping.main_exception_id, Some(1));
    assert_eq!(
        event.display.title,
        "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.11', 8080)"
    );
    assert_eq!(event.display.metadata["type"], "ConnectionRefusedError");
    assert_eq!(event.display.culprit, "shop.rates in refresh_all");
    // A plain chain has main exception id 0 (the root), which names nothing: the last
    // exception gives the title.
    let chained = fixture("python/chained_key_error");
    assert_eq!(chained.grouping.main_exception_id, Some(0));
    assert!(chained.display.title.starts_with("OrderNotFound: "));
}

#[test]
fn a_synthetic_error_is_named_by_its_crash_function() {
    // sentry-native marks the signal's made-up type synthetic: like Sentry, the title is the
    // crash frame's function (trimmed as for grouping) and there is no culprit.
    for name in ["native/segfault", "native/segfault_rebuilt"] {
        let event = fixture(name);
        assert_eq!(event.display.title, "LabelRenderer::draw<T>", "{name}");
        assert_eq!(event.display.culprit, "", "{name}");
        assert!(event.display.metadata.get("type").is_none(), "{name}");
    }
}
