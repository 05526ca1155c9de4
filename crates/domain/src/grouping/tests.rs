use serde_json::{Value, json};

use super::*;

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
    let before = group_event(&python_error("lookup", 10, "get"));
    let after = group_event(&python_error("lookup", 250, "get"));
    assert_eq!(before.hashes, after.hashes);
    assert_eq!(
        before.hashes.len(),
        2,
        "app and system variants differ here"
    );
}

#[test]
fn different_in_app_function_is_a_different_issue() {
    let a = group_event(&python_error("lookup", 10, "get"));
    let b = group_event(&python_error("reserve", 10, "get"));
    assert!(a.hashes.iter().all(|h| !b.hashes.contains(h)));
}

#[test]
fn library_change_keeps_the_app_hash() {
    let a = group_event(&python_error("lookup", 10, "get"));
    let b = group_event(&python_error("lookup", 10, "get_item"));
    assert_eq!(a.hashes[0], b.hashes[0], "app variant is shared");
    assert_ne!(a.hashes[1], b.hashes[1], "system variant differs");
}

#[test]
fn different_exception_type_is_a_different_issue() {
    let a = python_error("lookup", 10, "get");
    let mut b = a.clone();
    b["exception"]["values"][0]["type"] = json!("IndexError");
    let (a, b) = (group_event(&a), group_event(&b));
    assert!(a.hashes.iter().all(|h| !b.hashes.contains(h)));
}

#[test]
fn exception_value_does_not_matter_when_a_stack_trace_exists() {
    let a = python_error("lookup", 10, "get");
    let mut b = a.clone();
    b["exception"]["values"][0]["value"] = json!("'sku-999' entirely different");
    assert_eq!(group_event(&a).hashes, group_event(&b).hashes);
}

#[test]
fn exception_without_stack_groups_by_type_and_stripped_value() {
    let event = |value: &str| json!({"exception": {"values": [{"type": "PermissionDenied", "value": value}]}});
    let a = group_event(&event("user 17 lacks permission orders.refund on store 3"));
    let b = group_event(&event(
        "user 99123 lacks permission orders.refund on store 450",
    ));
    let c = group_event(&event("user 17 lacks permission orders.cancel on store 3"));
    assert_eq!(a.hashes, b.hashes);
    assert_ne!(a.hashes, c.hashes);
    assert_eq!(
        a.hashes.len(),
        1,
        "no in-app frames: only the system variant"
    );
}

#[test]
fn messages_group_by_template_with_parameters_stripped() {
    let a =
        group_event(&json!({"logentry": {"formatted": "Payment 4411 failed for bob@example.org"}}));
    let b =
        group_event(&json!({"logentry": {"formatted": "Payment 98 failed for eve@example.com"}}));
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(a.variants[0].name, "default");
    // The unformatted template wins over the formatted text when both exist.
    let c = group_event(
        &json!({"logentry": {"message": "User %s failed", "formatted": "User bob failed"}}),
    );
    let d = group_event(
        &json!({"logentry": {"message": "User %s failed", "formatted": "User alice failed"}}),
    );
    assert_eq!(c.hashes, d.hashes);
}

#[test]
fn custom_fingerprint_replaces_the_stack() {
    let mut a = python_error("lookup", 10, "get");
    a["fingerprint"] = json!(["database-unavailable"]);
    let mut b = python_error("reserve", 77, "other");
    b["fingerprint"] = json!(["database-unavailable"]);
    let (ga, gb) = (group_event(&a), group_event(&b));
    assert_eq!(ga.hashes, gb.hashes);
    assert_eq!(ga.hashes, vec![hash_from_values(["database-unavailable"])]);
    assert_eq!(ga.variants[0].name, "custom-fingerprint");
}

#[test]
fn default_only_fingerprint_is_the_default_grouping() {
    let plain = python_error("lookup", 10, "get");
    let mut explicit = plain.clone();
    explicit["fingerprint"] = json!(["{{ default }}"]);
    assert_eq!(group_event(&plain).hashes, group_event(&explicit).hashes);
}

#[test]
fn salted_fingerprint_splits_one_site_by_the_salt() {
    let mut a = python_error("lookup", 10, "get");
    a["fingerprint"] = json!(["{{ default }}", "tenant-a"]);
    let mut b = python_error("lookup", 10, "get");
    b["fingerprint"] = json!(["{{default}}", "tenant-b"]);
    let mut a2 = python_error("lookup", 99, "get");
    a2["fingerprint"] = json!(["{{ default }}", "tenant-a"]);
    let (ga, gb, ga2) = (group_event(&a), group_event(&b), group_event(&a2));
    assert!(ga.hashes.iter().all(|h| !gb.hashes.contains(h)));
    assert_eq!(ga.hashes, ga2.hashes);
    let plain = group_event(&python_error("lookup", 10, "get"));
    assert!(ga.hashes.iter().all(|h| !plain.hashes.contains(h)));
}

#[test]
fn fingerprint_variables_are_resolved() {
    let mut event = python_error("lookup", 10, "get");
    event["fingerprint"] = json!([
        "{{ type }}",
        "{{ function }}",
        "{{ tags.region }}",
        "{{ transaction }}"
    ]);
    event["tags"] = json!([["region", "eu"]]);
    let grouping = group_event(&event);
    assert_eq!(
        grouping.variants[0].fingerprint,
        vec!["KeyError", "lookup", "eu", "<no-transaction>"]
    );
}

#[test]
fn chained_exceptions_hash_every_link() {
    let chain = |cause: &str| {
        json!({"platform": "python", "exception": {"values": [
            {"type": cause, "stacktrace": {"frames": [{"module": "app", "function": "load", "in_app": true}]}},
            {"type": "RuntimeError", "stacktrace": {"frames": [{"module": "app", "function": "run", "in_app": true}]}}
        ]}})
    };
    let a = group_event(&chain("KeyError"));
    let b = group_event(&chain("IndexError"));
    assert_ne!(a.hashes, b.hashes);
    let component = a.variants[0].component.as_ref().unwrap();
    assert_eq!(component.id, "chained-exception");
}

#[test]
fn single_thread_stack_is_used_without_exception() {
    let event = json!({"platform": "native", "threads": {"values": [
        {"id": 1, "crashed": true, "stacktrace": {"frames": [{"function": "main", "in_app": true}, {"function": "crash", "in_app": true}]}}
    ]}});
    let grouping = group_event(&event);
    assert_eq!(
        grouping.variants[0].component.as_ref().unwrap().id,
        "threads"
    );
    assert_eq!(grouping.hashes.len(), 1);
}

#[test]
fn empty_event_uses_the_fallback() {
    let grouping = group_event(&json!({}));
    assert_eq!(
        grouping.hashes,
        vec!["d41d8cd98f00b204e9800998ecf8427e".to_owned()]
    );
    assert_eq!(grouping.variants.last().unwrap().name, "fallback");
}

#[test]
fn all_in_app_stack_has_one_hash() {
    let event = json!({"platform": "python", "exception": {"values": [{"type": "E",
        "stacktrace": {"frames": [{"module": "a", "function": "f", "in_app": true}]}}]}});
    assert_eq!(group_event(&event).hashes.len(), 1);
}

#[test]
fn explanation_names_why_values_were_left_out() {
    let grouping = group_event(&python_error("lookup", 10, "get"));
    let json = grouping.to_json();
    let text = json.to_string();
    assert!(text.contains("non app frame"), "{text}");
    assert!(text.contains("stack trace takes precedence"), "{text}");
    assert_eq!(json["config"], CONFIG_ID);
}

proptest::proptest! {
    #[test]
    fn line_numbers_never_change_any_hash(a in 0u32..100_000, b in 0u32..100_000) {
        proptest::prop_assert_eq!(
            group_event(&python_error("lookup", a, "get")).hashes,
            group_event(&python_error("lookup", b, "get")).hashes
        );
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
    let a = group_event(&panic(
        "sentry_panic::PanicIntegration::event_from_panic_info",
    ));
    let b = group_event(&panic("sentry_panic::other_hook_version"));
    assert_eq!(
        a.hashes, b.hashes,
        "SDK hook frames after the panic entry are ignored"
    );
    let c = group_event(
        &json!({"platform": "native", "exception": {"values": [{"type": "panic", "value": "boom",
        "stacktrace": {"frames": [
            {"function": "shop::main", "in_app": true},
            {"function": "shop::release_stock", "in_app": true},
            {"function": "core::panicking::panic_fmt"}
        ]}}]}}),
    );
    assert!(
        a.hashes.iter().all(|h| !c.hashes.contains(h)),
        "the panicking function still matters"
    );
}
