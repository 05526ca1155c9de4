//! Behaviour both configs share, and the wiring of `group_event_with` (rules, transitions,
//! write-back). Per-platform golden fixtures and named cases live in `tests/grouping/`.

use serde_json::{Value, json};

use super::*;
use crate::settings::SecondaryGrouping;

const BOTH: [&str; 2] = [CONFIG_2026_11, CONFIG_2026_11_25];

fn python_error(function: &str, lineno: u32, library_version_frame: &str) -> Value {
    json!({
        "platform": "python",
        "exception": {"values": [{
            "type": "KeyError",
            "value": "'sku-123'",
            "stacktrace": {"frames": [
                {"module": "shopapp.web", "function": "handle_request", "lineno": 25,
                 "context_line": "return view(rnd)", "in_app": true},
                {"module": "shopapp.orders", "function": function, "lineno": lineno,
                 "context_line": "return CATALOG[sku]", "in_app": true},
                {"module": "somelib.core", "function": library_version_frame, "lineno": 3,
                 "context_line": "raise KeyError(key)"}
            ]}
        }]}
    })
}

#[test]
fn same_site_with_moved_lines_keeps_every_hash() {
    for config in BOTH {
        let before = group_event_as(&python_error("lookup", 10, "get"), config);
        let after = group_event_as(&python_error("lookup", 250, "get"), config);
        assert_eq!(before.hashes, after.hashes, "{config}");
        assert_eq!(
            before.hashes.len(),
            2,
            "app and system variants differ here"
        );
    }
}

#[test]
fn different_in_app_function_is_a_different_issue() {
    for config in BOTH {
        let a = group_event_as(&python_error("lookup", 10, "get"), config);
        let b = group_event_as(&python_error("reserve", 10, "get"), config);
        assert!(a.hashes.iter().all(|h| !b.hashes.contains(h)), "{config}");
    }
}

#[test]
fn library_change_keeps_the_app_hash() {
    for config in BOTH {
        let a = group_event_as(&python_error("lookup", 10, "get"), config);
        let b = group_event_as(&python_error("lookup", 10, "get_item"), config);
        assert_eq!(a.hashes[0], b.hashes[0], "app variant is shared ({config})");
        assert_ne!(
            a.hashes[1], b.hashes[1],
            "system variant differs ({config})"
        );
    }
}

#[test]
fn different_exception_type_is_a_different_issue() {
    for config in BOTH {
        let a = python_error("lookup", 10, "get");
        let mut b = a.clone();
        b["exception"]["values"][0]["type"] = json!("IndexError");
        let (a, b) = (group_event_as(&a, config), group_event_as(&b, config));
        assert!(a.hashes.iter().all(|h| !b.hashes.contains(h)), "{config}");
    }
}

#[test]
fn exception_value_does_not_matter_when_a_stack_trace_exists() {
    for config in BOTH {
        let a = python_error("lookup", 10, "get");
        let mut b = a.clone();
        b["exception"]["values"][0]["value"] = json!("'sku-999' entirely different");
        assert_eq!(
            group_event_as(&a, config).hashes,
            group_event_as(&b, config).hashes
        );
    }
}

#[test]
fn exception_without_stack_groups_by_type_and_stripped_value() {
    let event = |value: &str| json!({"exception": {"values": [{"type": "PermissionDenied", "value": value}]}});
    for config in BOTH {
        let a = group_event_as(
            &event("user 17 lacks permission orders.refund on store 3"),
            config,
        );
        let b = group_event_as(
            &event("user 99123 lacks permission orders.refund on store 450"),
            config,
        );
        let c = group_event_as(
            &event("user 17 lacks permission orders.cancel on store 3"),
            config,
        );
        assert_eq!(a.hashes, b.hashes, "{config}");
        assert_ne!(a.hashes, c.hashes, "{config}");
        assert_eq!(a.hashes.len(), 1, "app and system agree ({config})");
    }
}

#[test]
fn messages_group_by_template_with_parameters_stripped() {
    for config in BOTH {
        let a = group_event_as(
            &json!({"logentry": {"formatted": "Payment 4411 failed for bob@example.org"}}),
            config,
        );
        let b = group_event_as(
            &json!({"logentry": {"formatted": "Payment 98 failed for eve@example.com"}}),
            config,
        );
        assert_eq!(a.hashes, b.hashes, "{config}");
        assert_eq!(a.variants[0].name, "default");
        // The unformatted template wins over the formatted text when both exist.
        let c = group_event_as(
            &json!({"logentry": {"message": "User %s failed", "formatted": "User bob failed"}}),
            config,
        );
        let d = group_event_as(
            &json!({"logentry": {"message": "User %s failed", "formatted": "User alice failed"}}),
            config,
        );
        assert_eq!(c.hashes, d.hashes, "{config}");
    }
}

#[test]
fn custom_fingerprint_replaces_the_stack() {
    for config in BOTH {
        let mut a = python_error("lookup", 10, "get");
        a["fingerprint"] = json!(["database-unavailable"]);
        let mut b = python_error("reserve", 77, "other");
        b["fingerprint"] = json!(["database-unavailable"]);
        let (ga, gb) = (group_event_as(&a, config), group_event_as(&b, config));
        assert_eq!(ga.hashes, gb.hashes);
        assert_eq!(ga.hashes, vec![hash_from_values(["database-unavailable"])]);
        assert_eq!(ga.variants[0].name, "custom-fingerprint");
    }
}

#[test]
fn default_only_fingerprint_is_the_default_grouping() {
    for config in BOTH {
        let plain = python_error("lookup", 10, "get");
        let mut explicit = plain.clone();
        explicit["fingerprint"] = json!(["{{ default }}"]);
        assert_eq!(
            group_event_as(&plain, config).hashes,
            group_event_as(&explicit, config).hashes
        );
    }
}

#[test]
fn chained_exceptions_hash_every_link() {
    let chain = |cause: &str| {
        json!({"platform": "python", "exception": {"values": [
            {"type": cause, "stacktrace": {"frames": [{"module": "app", "function": "load", "in_app": true}]}},
            {"type": "RuntimeError", "stacktrace": {"frames": [{"module": "app", "function": "run", "in_app": true}]}}
        ]}})
    };
    for config in BOTH {
        let a = group_event_as(&chain("KeyError"), config);
        let b = group_event_as(&chain("IndexError"), config);
        assert_ne!(a.hashes, b.hashes);
        let component = a.variants[0].component.as_ref().unwrap();
        assert_eq!(component.id, "chained-exception");
    }
}

#[test]
fn single_thread_stack_is_used_without_exception() {
    let event = json!({"platform": "native", "threads": {"values": [
        {"id": 1, "crashed": true, "stacktrace": {"frames": [{"function": "main", "in_app": true}, {"function": "crash", "in_app": true}]}}
    ]}});
    for config in BOTH {
        let grouping = group_event_as(&event, config);
        assert_eq!(
            grouping.variants[0].component.as_ref().unwrap().id,
            "threads"
        );
        assert_eq!(grouping.hashes.len(), 1);
    }
}

#[test]
fn empty_event_uses_the_fallback() {
    for config in BOTH {
        let grouping = group_event_as(&json!({}), config);
        assert_eq!(
            grouping.hashes,
            vec!["d41d8cd98f00b204e9800998ecf8427e".to_owned()]
        );
        assert_eq!(grouping.variants.last().unwrap().name, "fallback");
    }
}

#[test]
fn all_in_app_stack_has_one_hash() {
    let event = json!({"platform": "python", "exception": {"values": [{"type": "E",
        "stacktrace": {"frames": [{"module": "a", "function": "f", "in_app": true}]}}]}});
    for config in BOTH {
        assert_eq!(group_event_as(&event, config).hashes.len(), 1);
    }
}

#[test]
fn unknown_configs_use_the_default() {
    let event = python_error("lookup", 10, "get");
    let grouping = group_event_as(&event, "errhound:1999-01");
    assert_eq!(grouping.config, CONFIG_ID);
    assert_eq!(grouping.hashes, group_event(&event).hashes);
    assert!(is_known_config(CONFIG_2026_11) && is_known_config(CONFIG_2026_11_25));
    assert!(!is_known_config("errhound:1999-01"));
    assert_eq!(CONFIGS.last().map(|c| c.0), Some(CONFIG_ID));
}

#[test]
fn explanation_names_why_values_were_left_out() {
    let legacy = group_event_as(&python_error("lookup", 10, "get"), CONFIG_2026_11).to_json();
    let text = legacy.to_string();
    assert!(text.contains("non app frame"), "{text}");
    assert!(text.contains("stack trace takes precedence"), "{text}");
    assert_eq!(legacy["config"], CONFIG_2026_11);

    let current = group_event(&python_error("lookup", 10, "get")).to_json();
    let text = current.to_string();
    assert!(
        text.contains("ignored because the frame is not in-app"),
        "{text}"
    );
    assert!(
        text.contains("ignored because stacktrace takes precedence"),
        "{text}"
    );
    assert_eq!(current["config"], CONFIG_ID);
    assert_eq!(current["variants"]["app"]["type"], "component");
    assert_eq!(
        current["variants"]["app"]["description"],
        "in-app exception (in-app frames only)"
    );
}

proptest::proptest! {
    #[test]
    fn line_numbers_never_change_any_hash(a in 0u32..100_000, b in 0u32..100_000) {
        for config in BOTH {
            proptest::prop_assert_eq!(
                group_event_as(&python_error("lookup", a, "get"), config).hashes,
                group_event_as(&python_error("lookup", b, "get"), config).hashes
            );
        }
    }
}

#[test]
fn rust_panic_machinery_does_not_decide_grouping() {
    let panic = |hook: &str| {
        json!({"platform": "native", "exception": {"values": [{"type": "panic", "value": "boom",
        "stacktrace": {"frames": [
            {"function": "shop::main", "in_app": true},
            {"function": "shop::reserve_stock", "in_app": true},
            {"function": "core::panicking::panic_fmt"},
            {"function": hook, "in_app": true}
        ]}}]}})
    };
    for config in BOTH {
        let a = group_event_as(
            &panic("sentry_panic::PanicIntegration::event_from_panic_info"),
            config,
        );
        let b = group_event_as(&panic("sentry_panic::other_hook_version"), config);
        assert_eq!(
            a.hashes, b.hashes,
            "SDK hook frames after the panic entry are ignored"
        );
        let c = group_event_as(
            &json!({"platform": "native", "exception": {"values": [{"type": "panic", "value": "boom",
            "stacktrace": {"frames": [
                {"function": "shop::main", "in_app": true},
                {"function": "shop::release_stock", "in_app": true},
                {"function": "core::panicking::panic_fmt"}
            ]}}]}}),
            config,
        );
        assert!(
            a.hashes.iter().all(|h| !c.hashes.contains(h)),
            "the panicking function still matters"
        );
    }
}

// --- group_event_with ------------------------------------------------------------------------------

fn settings(config: &str, fingerprinting: &str, enhancements: &str) -> GroupingSettings {
    GroupingSettings {
        config: config.to_owned(),
        secondary: None,
        fingerprinting: fingerprint_rules::FingerprintingRules::parse(fingerprinting).unwrap(),
        enhancements: Enhancements::parse(enhancements).unwrap(),
    }
}

#[test]
fn group_event_with_dispatches_on_the_config() {
    for config in BOTH {
        let mut event = python_error("lookup", 10, "get");
        let grouping = group_event_with(&mut event, &settings(config, "", ""), 0);
        assert_eq!(grouping.config, config);
        assert_eq!(
            grouping.hashes,
            group_event_as(&python_error("lookup", 10, "get"), config).hashes
        );
    }
    let mut event = python_error("lookup", 10, "get");
    let grouping = group_event_with(&mut event, &settings("nonsense", "", ""), 0);
    assert_eq!(grouping.config, CONFIG_ID);
}

#[test]
fn fingerprinting_rules_set_fingerprint_and_title() {
    let rules =
        "error.type:KeyError -> missing-key {{ function }} title=\"Missing key in {{ function }}\"";
    for config in BOTH {
        let mut event = python_error("lookup", 10, "get");
        let grouping = group_event_with(&mut event, &settings(config, rules, ""), 0);
        assert_eq!(
            event["fingerprint"],
            json!(["missing-key", "{{ function }}"])
        );
        assert_eq!(event[CUSTOM_TITLE_FIELD], "Missing key in lookup");
        assert_eq!(
            grouping.hashes,
            vec![hash_from_values(["missing-key", "lookup"])]
        );
        let explanation = grouping.to_json();
        assert_eq!(
            explanation["variants"]["custom-fingerprint"]["matched_rule"],
            rules
        );
        assert_eq!(
            explanation["variants"]["custom-fingerprint"]["description"],
            "custom server fingerprint"
        );
    }
    // No match: nothing written.
    let mut event = python_error("lookup", 10, "get");
    group_event_with(
        &mut event,
        &settings(CONFIG_ID, "error.type:ValueError -> v", ""),
        0,
    );
    assert!(event.get("fingerprint").is_none());
    assert!(event.get(CUSTOM_TITLE_FIELD).is_none());
}

#[test]
fn stack_trace_rules_flip_in_app_into_the_event_and_group_flags_only_hash() {
    let rules = "stack.module:somelib.* +app\nstack.function:handle_request -group";
    for config in BOTH {
        let plain = group_event_as(&python_error("lookup", 10, "get"), config);
        let mut event = python_error("lookup", 10, "get");
        let grouping = group_event_with(&mut event, &settings(config, "", rules), 0);
        let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
        assert_eq!(frames[2]["in_app"], json!(true), "{config}: +app is stored");
        assert_eq!(frames[0]["in_app"], json!(true), "{config}: -group is not");
        assert_eq!(
            grouping.hashes.len(),
            1,
            "{config}: every frame is in-app now"
        );
        assert!(plain.hashes.iter().all(|h| !grouping.hashes.contains(h)));
        let text = grouping.to_json().to_string();
        assert!(
            text.contains("ignored by stack trace rule (stack.function:handle_request -group)"),
            "{text}"
        );
    }
}

#[test]
fn in_app_detection_fills_unmarked_frames_only_in_the_new_config() {
    let event = || {
        json!({"platform": "python", "exception": {"values": [{"type": "KeyError", "stacktrace": {"frames": [
            {"module": "shop.views", "abs_path": "/srv/shop/views.py", "function": "checkout"},
            {"module": "requests.api", "abs_path": "/srv/venv/lib/python3.12/site-packages/requests/api.py", "function": "get"}
        ]}}]}})
    };
    let mut current = event();
    let grouping = group_event_with(&mut current, &GroupingSettings::default(), 0);
    assert_eq!(grouping.hashes.len(), 2, "an app variant appears");
    let frames = &current["exception"]["values"][0]["stacktrace"]["frames"];
    assert_eq!(frames[0]["in_app"], json!(true));
    assert_eq!(frames[1]["in_app"], json!(false));
    let text = grouping.to_json().to_string();
    assert!(
        text.contains("marked out of app by in-app detection (installed package)"),
        "{text}"
    );

    let mut legacy = event();
    let grouping = group_event_with(&mut legacy, &settings(CONFIG_2026_11, "", ""), 0);
    assert_eq!(grouping.hashes.len(), 1);
    assert!(
        legacy["exception"]["values"][0]["stacktrace"]["frames"][0]
            .get("in_app")
            .is_none()
    );
}

#[test]
fn transitions_compute_the_previous_configs_hashes_until_they_expire() {
    let event = || {
        json!({"platform": "python", "exception": {"values": [{"type": "KeyError", "stacktrace": {"frames": [
            {"module": "shop.views", "abs_path": "/srv/shop/views.py", "function": "checkout"},
            {"module": "requests.api", "abs_path": "/srv/venv/lib/python3.12/site-packages/requests/api.py", "function": "get"}
        ]}}]}})
    };
    let old = group_event_as(&event(), CONFIG_2026_11);
    let mut transition = settings(CONFIG_ID, "", "");
    transition.secondary = Some(SecondaryGrouping {
        config: CONFIG_2026_11.to_owned(),
        expires_ms: 1_000,
    });
    let mut e = event();
    let grouping = group_event_with(&mut e, &transition, 999);
    assert_eq!(grouping.secondary_config, Some(CONFIG_2026_11));
    // The old config saw the event as sent: no detected in-app frames.
    assert_eq!(grouping.secondary_hashes, old.hashes);
    assert!(
        grouping
            .secondary_hashes
            .iter()
            .all(|h| !grouping.hashes.contains(h))
    );
    assert_eq!(grouping.to_json()["secondary"]["hashes"], json!(old.hashes));

    let mut e = event();
    let expired = group_event_with(&mut e, &transition, 1_000);
    assert!(expired.secondary_hashes.is_empty());
    assert_eq!(expired.secondary_config, None);

    // Secondary hashes equal to primary ones are left out.
    let mut same = transition.clone();
    same.secondary = Some(SecondaryGrouping {
        config: CONFIG_ID.to_owned(),
        expires_ms: i64::MAX,
    });
    let mut e = event();
    assert!(
        group_event_with(&mut e, &same, 0)
            .secondary_hashes
            .is_empty()
    );
}

#[test]
fn legacy_primary_still_stores_its_panic_rule() {
    let mut event = json!({"platform": "native", "exception": {"values": [{"type": "panic",
    "stacktrace": {"frames": [
        {"function": "shop::main", "in_app": true},
        {"function": "core::panicking::panic_fmt", "in_app": true},
        {"function": "sentry_panic::hook"}
    ]}}]}});
    group_event_with(&mut event, &settings(CONFIG_2026_11, "", ""), 0);
    let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
    assert_eq!(frames[0]["in_app"], json!(true));
    assert_eq!(frames[1]["in_app"], json!(false));
    assert_eq!(frames[2]["in_app"], json!(false));
}
