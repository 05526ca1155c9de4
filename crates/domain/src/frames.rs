//! Built-in stack trace rules that Sentry applies to every project (its base "enhancements"):
//! frames that belong to a language's panic machinery are never the application's, and never
//! decide grouping.
//!
//! Rust: a panic runs through `core::panicking::panic_fmt` (or `unwrap_failed`,
//! `begin_panic`, ...) and then through the panic hook, which is where SDKs capture the event, so
//! the last frames are the SDK's own (`sentry_panic::...`). Sentry's rules
//! `function:core::panicking::panic_fmt ^-app -app ^-group` mark that frame and every frame
//! after it (towards the crash) as not in-app and not grouping; so does Errhound.

use serde_json::Value;

/// Functions through which a Rust panic starts (not `std::panicking::catch_unwind`, which is
/// on every thread's stack below `main`).
const RUST_PANIC_ENTRY: &[&str] = &[
    "core::panicking::",
    "std::panicking::begin_panic",
    "std::panicking::rust_panic_with_hook",
    "std::panicking::panic_with_hook",
    "std::panicking::panic_handler",
    "core::result::unwrap_failed",
    "core::option::unwrap_failed",
    "core::option::expect_failed",
    "rust_begin_unwind",
    "__rustc::rust_begin_unwind",
];

/// The index of the first frame (frames are oldest first) that belongs to the panic machinery,
/// if any: it and every later frame are not the application's.
pub fn panic_machinery_start(frames: &[Value]) -> Option<usize> {
    frames.iter().position(|frame| {
        frame
            .get("function")
            .and_then(Value::as_str)
            .is_some_and(|f| RUST_PANIC_ENTRY.iter().any(|entry| f.starts_with(entry)))
    })
}

/// Marks panic-machinery frames of every stack trace in a normalized event as not in-app.
pub fn apply_builtin_rules(event: &mut Value) {
    let mut stacktraces: Vec<&mut Value> = Vec::new();
    if let Some(Value::Object(event)) = Some(&mut *event) {
        for (key, value) in event.iter_mut() {
            match key.as_str() {
                "exception" | "threads" => {
                    if let Some(list) = value.get_mut("values").and_then(Value::as_array_mut) {
                        for item in list {
                            if let Some(st) = item.get_mut("stacktrace") {
                                stacktraces.push(st);
                            }
                        }
                    }
                }
                "stacktrace" => stacktraces.push(value),
                _ => {}
            }
        }
    }
    for stacktrace in stacktraces {
        let Some(frames) = stacktrace.get_mut("frames").and_then(Value::as_array_mut) else {
            continue;
        };
        if let Some(start) = panic_machinery_start(frames) {
            for frame in &mut frames[start..] {
                if let Value::Object(frame) = frame {
                    frame.insert("in_app".to_owned(), Value::Bool(false));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rust_panic_frames_are_not_in_app() {
        let mut event = json!({"exception": {"values": [{"stacktrace": {"frames": [
            {"function": "main", "in_app": true},
            {"function": "std::panicking::catch_unwind::do_call", "in_app": false},
            {"function": "shop::reserve_stock", "in_app": true},
            {"function": "core::panicking::panic_fmt", "in_app": false},
            {"function": "std::panicking::rust_panic_with_hook"},
            {"function": "sentry_panic::PanicIntegration::event_from_panic_info", "in_app": true}
        ]}}]}});
        apply_builtin_rules(&mut event);
        let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array()
            .unwrap();
        let in_app: Vec<bool> = frames.iter().map(|f| f["in_app"] == json!(true)).collect();
        assert_eq!(in_app, vec![true, false, true, false, false, false]);
    }

    #[test]
    fn other_stacks_are_untouched() {
        let mut event = json!({"exception": {"values": [{"stacktrace": {"frames": [
            {"function": "handler", "in_app": true}
        ]}}]}});
        let before = event.clone();
        apply_builtin_rules(&mut event);
        assert_eq!(event, before);
    }
}
