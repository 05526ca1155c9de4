//! One test per grouping case of sentry-internals.md §1, through the public API, with the
//! default config (`errhound:2026-11-25`) unless a test says otherwise. Where Errhound
//! deliberately differs from Sentry, the test says so.

use errhound_domain::grouping::{
    CONFIG_2026_11, Grouping, VariantKind, group_event, group_event_as, hash_from_values,
};
use serde_json::{Value, json};

/// The contributing values of a variant (`app`, `system`, `default`, ...).
fn values_of(grouping: &Grouping, name: &str) -> Vec<String> {
    let variant = grouping
        .variants
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no {name} variant in {grouping:?}"));
    variant
        .component
        .as_ref()
        .filter(|_| variant.hash.is_some())
        .map(|c| {
            c.contributing_values()
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn hash_of(grouping: &Grouping, name: &str) -> Option<String> {
    grouping
        .variants
        .iter()
        .find(|v| v.name == name)
        .and_then(|v| v.hash.clone())
}

/// An exception event of `platform` with these frames (oldest first).
fn exception(platform: &str, ty: &str, value: &str, frames: Value) -> Value {
    json!({
        "platform": platform,
        "exception": {"values": [{
            "type": ty,
            "value": value,
            "stacktrace": {"frames": frames},
        }]},
    })
}

/// A Python error with one library frame and two in-app frames.
fn python_error() -> Value {
    exception(
        "python",
        "ValueError",
        "invalid literal for int() with base 10: 'abc'",
        json!([
            {"module": "django.core.handlers.base", "filename": "django/core/handlers/base.py", "function": "_get_response", "lineno": 197, "context_line": "    response = wrapped_callback(request)", "in_app": false},
            {"module": "shop.views", "filename": "shop/views.py", "function": "checkout", "lineno": 20, "context_line": "    qty = parse_quantity(request.POST)", "in_app": true},
            {"module": "shop.forms", "filename": "shop/forms.py", "function": "parse_quantity", "lineno": 8, "context_line": "    return int(data['qty'])", "in_app": true},
        ]),
    )
}

fn frames_mut(event: &mut Value) -> &mut Vec<Value> {
    event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .expect("frames")
}

// --- fingerprints ---------------------------------------------------------------------------------

#[test]
fn salted_fingerprint_hashes_the_default_values_then_the_salt() {
    let plain = group_event(&python_error());
    let mut event = python_error();
    event["fingerprint"] = json!(["{{ default }}", "tenant-acme"]);
    let acme = group_event(&event);
    event["fingerprint"] = json!(["{{ default }}", "tenant-globex"]);
    let globex = group_event(&event);

    // Salting keeps the app/system split and splits the issue by the extra part.
    for name in ["app", "system"] {
        let salted = acme
            .variants
            .iter()
            .find(|v| v.name == name)
            .expect("variant");
        assert_eq!(salted.kind, VariantKind::SaltedComponent);
        let mut expected = values_of(&plain, name);
        expected.push("tenant-acme".to_owned());
        assert_eq!(
            salted.hash.as_deref(),
            Some(hash_from_values(expected.iter().map(String::as_str)).as_str()),
            "{name}: md5(default values ++ salt)"
        );
    }
    assert!(acme.hashes.iter().all(|h| !plain.hashes.contains(h)));
    assert!(acme.hashes.iter().all(|h| !globex.hashes.contains(h)));

    // Where `{{ default }}` stands matters: it is replaced in place.
    event["fingerprint"] = json!(["tenant-acme", "{{ default }}"]);
    let salt_first = group_event(&event);
    assert_ne!(salt_first.hashes, acme.hashes);
}

#[test]
fn salted_fingerprint_without_a_default_grouping_hashes_the_salt() {
    // Nothing groups this event by default (no exception, message or stack).
    let event = json!({"platform": "python", "fingerprint": ["{{ default }}", "nightly-import"]});
    let grouping = group_event(&event);
    // Deliberate difference: Sentry's salted variant does not contribute when the default
    // grouping does not, so the event falls back to md5("") with every other such event; we
    // hash the salt, which keeps the parts the SDK chose apart.
    assert_eq!(grouping.hashes, vec![hash_from_values(["nightly-import"])]);
    assert_ne!(grouping.hashes[0], hash_from_values([]));
}

#[test]
fn custom_fingerprint_parts_are_concatenated_without_a_separator() {
    // Sentry's hash_from_values is md5 of the values concatenated with no separator, so
    // ["ab", "c"] and ["a", "bc"] are the same fingerprint. We match it on purpose: hashes stay
    // byte-compatible with Sentry's (and a separator would not be a compatible change).
    let mut first = python_error();
    first["fingerprint"] = json!(["ab", "c"]);
    let mut second = python_error();
    second["fingerprint"] = json!(["a", "bc"]);
    let (first, second) = (group_event(&first), group_event(&second));
    assert_eq!(first.hashes, second.hashes);
    assert_eq!(first.hashes, vec![hash_from_values(["abc"])]);
    assert_eq!(
        first.hashes[0], "900150983cd24fb0d6963f7d28e17f72",
        "md5(\"abc\")"
    );
    // Only the custom fingerprint counts; the stack's variants step aside.
    assert_eq!(first.variants[0].kind, VariantKind::CustomFingerprint);
    assert!(
        first
            .variants
            .iter()
            .filter(|v| v.kind == VariantKind::Component)
            .all(|v| v.hash.is_none())
    );
    // The frozen config behaves the same.
    let mut legacy = python_error();
    legacy["fingerprint"] = json!(["a", "bc"]);
    assert_eq!(group_event_as(&legacy, CONFIG_2026_11).hashes, first.hashes);
}

// --- stack traces ---------------------------------------------------------------------------------

#[test]
fn shifted_line_and_column_numbers_keep_every_hash() {
    let events = [
        python_error(),
        exception(
            "node",
            "TypeError",
            "x is not a function",
            json!([{"module": "src:cart", "filename": "/app/src/cart.js", "function": "addItem", "lineno": 10, "colno": 3, "context_line": "  return fn(item);", "in_app": true}]),
        ),
        exception(
            "java",
            "IllegalArgumentException",
            "bad sku",
            json!([{"module": "com.shop.Cart", "filename": "Cart.java", "function": "add", "lineno": 44, "in_app": true}]),
        ),
        exception(
            "native",
            "SIGABRT",
            "Abort",
            json!([{"function": "cart_add", "filename": "cart.c", "lineno": 91, "colno": 7, "instruction_addr": "0x1000"}]),
        ),
    ];
    for event in events {
        let before = group_event(&event);
        let mut moved = event.clone();
        for frame in frames_mut(&mut moved) {
            frame["lineno"] = json!(frame["lineno"].as_i64().unwrap_or(0) + 137);
            frame["colno"] = json!(frame["colno"].as_i64().unwrap_or(0) + 5);
        }
        assert_eq!(before.hashes, group_event(&moved).hashes, "{event}");
    }
}

#[test]
fn renamed_bundle_chunks_keep_every_hash() {
    // (old file, new file) from the same code built twice: webpack, CRA, Vite, Next.js, and a
    // node module name derived from a hashed file.
    let renames = [
        (
            "app:///static/js/main.3f2a9c1b.chunk.js",
            "app:///static/js/main.77c0e5d1.chunk.js",
        ),
        (
            "app:///static/js/2d4f3b1a.9c8e7f6d.js",
            "app:///static/js/8a9b0c1d.0e1f2a3b.js",
        ),
        (
            "app:///assets/index-BWxGqBIf.js",
            "app:///assets/index-Dq2cF9Zt.js",
        ),
        (
            "app:///_next/static/chunks/pages/_app-3f8b2c1d4e5f6a7b.js",
            "app:///_next/static/chunks/pages/_app-0a1b2c3d4e5f6071.js",
        ),
        (
            "/srv/app/dist/chunk-ABCD1234.js",
            "/srv/app/dist/chunk-ZXQW9876.js",
        ),
    ];
    for (old, new) in renames {
        let event = |file: &str| {
            exception(
                "javascript",
                "Error",
                "boom",
                json!([{"filename": file, "function": "renderCart", "lineno": 1, "colno": 900, "in_app": true}]),
            )
        };
        let (before, after) = (group_event(&event(old)), group_event(&event(new)));
        assert_eq!(before.hashes, after.hashes, "{old} -> {new}");
        assert!(
            values_of(&before, "app")
                .iter()
                .any(|v| v.contains("<hash>")),
            "{old}: the file name contributes, without its hash: {:?}",
            values_of(&before, "app")
        );
    }
    // A real rename is still a different file.
    let event = |file: &str| {
        exception(
            "javascript",
            "Error",
            "boom",
            json!([{"filename": file, "function": "renderCart", "in_app": true}]),
        )
    };
    assert_ne!(
        group_event(&event("app:///assets/cart-BWxGqBIf.js")).hashes,
        group_event(&event("app:///assets/checkout-BWxGqBIf.js")).hashes
    );
    // Node: `dist:main.3f2a9c1b` and `dist:main.0c1d2e3f` are one module.
    let node = |module: &str| {
        exception(
            "node",
            "Error",
            "boom",
            json!([{"module": module, "filename": format!("/srv/{module}.js"), "function": "handler", "in_app": true}]),
        )
    };
    assert_eq!(
        group_event(&node("dist:main.3f2a9c1b")).hashes,
        group_event(&node("dist:main.0c1d2e3f")).hashes
    );
}

#[test]
fn python_lambdas_keep_their_name() {
    // Every Python lambda is `<lambda>`: a stable name, hashed as is (as Sentry does). Lambdas
    // in different modules or lines of code are told apart by module and context line.
    let event = |module: &str| {
        exception(
            "python",
            "KeyError",
            "'sku'",
            json!([{"module": module, "function": "<lambda>", "context_line": "key=lambda row: row['sku']", "in_app": true}]),
        )
    };
    let grouping = group_event(&event("shop.reports"));
    assert!(values_of(&grouping, "app").contains(&"<lambda>".to_owned()));
    assert_ne!(grouping.hashes, group_event(&event("shop.exports")).hashes);
}

#[test]
fn java_lambda_numbers_are_ignored() {
    let event = |function: &str, lambda_class: &str| {
        exception(
            "java",
            "NullPointerException",
            "",
            json!([
                {"module": "com.shop.Orders", "function": "place", "filename": "Orders.java", "in_app": true},
                {"module": lambda_class, "function": "apply", "in_app": true},
                {"module": "com.shop.Orders", "function": function, "filename": "Orders.java", "in_app": true},
            ]),
        )
    };
    let first = group_event(&event(
        "lambda$place$0",
        "com.shop.Orders$$Lambda$123/0x0000000800c0c000",
    ));
    let second = group_event(&event(
        "lambda$place$4",
        "com.shop.Orders$$Lambda/0x00007f0a1c2b3d40",
    ));
    assert_eq!(first.hashes, second.hashes);
    let values = values_of(&first, "app");
    assert!(
        !values
            .iter()
            .any(|v| v.contains("lambda$") || v.contains("$$Lambda")),
        "{values:?}"
    );
}

#[test]
fn go_closure_numbers_are_ignored() {
    let event = |closure: &str| {
        exception(
            "go",
            "*errors.errorString",
            "boom",
            json!([
                {"module": "github.com/acme/shop/api", "function": "(*Server).routes", "in_app": true},
                {"module": "github.com/acme/shop/api", "function": closure, "in_app": true},
            ]),
        )
    };
    let expected = group_event(&event("(*Server).routes.func1")).hashes;
    for renumbered in ["(*Server).routes.func3", "(*Server).routes.func12"] {
        assert_eq!(
            group_event(&event(renumbered)).hashes,
            expected,
            "{renumbered}"
        );
    }
    // Another closure of another function is another place.
    assert_ne!(
        group_event(&event("(*Server).health.func1")).hashes,
        expected
    );
}

#[test]
fn javascript_anonymous_functions_are_ignored() {
    let event = |function: &str| {
        exception(
            "node",
            "Error",
            "boom",
            json!([
                {"module": "src:jobs", "filename": "/app/src/jobs.js", "function": "runAll", "in_app": true},
                {"module": "src:jobs", "filename": "/app/src/jobs.js", "function": function, "in_app": true},
            ]),
        )
    };
    let expected = group_event(&event("<anonymous>")).hashes;
    for name in [
        "?",
        "Object.<anonymous>",
        "<anonymous function>",
        "Anonymous function",
    ] {
        assert_eq!(group_event(&event(name)).hashes, expected, "{name}");
    }
    assert_ne!(group_event(&event("retryLater")).hashes, expected);
}

#[test]
fn rust_mangled_names_group_with_their_demangled_form() {
    // The same function as a demangled name with its legacy hash, and mangled by the legacy and
    // v0 schemes of two different builds (other hashes, other crate disambiguators).
    let names = [
        "shop::orders::settle::h9c1d2e3f4a5b6c7d",
        "_ZN4shop6orders6settle17h9c1d2e3f4a5b6c7dE",
        "_ZN4shop6orders6settle17h0011223344556677E",
        "_RNvNtCs4fqI2P2rA04_4shop6orders6settle",
        "_RNvNtCsd3Xk1Q9ZpW7_4shop6orders6settle",
    ];
    let event = |function: &str| {
        exception(
            "native",
            "panic",
            "boom",
            json!([{"function": function, "filename": "orders.rs", "in_app": true}]),
        )
    };
    let expected = group_event(&event("shop::orders::settle"));
    assert!(values_of(&expected, "app").contains(&"shop::orders::settle".to_owned()));
    for name in names {
        assert_eq!(group_event(&event(name)).hashes, expected.hashes, "{name}");
    }
    assert_ne!(
        group_event(&event("_RNvNtCs4fqI2P2rA04_4shop6orders6refund")).hashes,
        expected.hashes,
        "another function"
    );
}

#[test]
fn generated_proxy_classes_group_as_their_target() {
    // Java: JDK dynamic proxies, CGLIB, ByteBuddy and reflection accessors are named by a counter
    // or a hash that changes per run.
    let java = |proxy: &str, accessor: &str| {
        exception(
            "java",
            "IllegalStateException",
            "closed",
            json!([
                {"module": proxy, "function": "charge", "in_app": false},
                {"module": accessor, "function": "invoke", "in_app": false},
                {"module": "com.shop.Payments", "function": "charge", "filename": "Payments.java", "in_app": true},
            ]),
        )
    };
    let pairs = [
        (
            java(
                "jdk.proxy2.$Proxy123",
                "jdk.internal.reflect.GeneratedMethodAccessor12",
            ),
            java(
                "jdk.proxy2.$Proxy87",
                "jdk.internal.reflect.GeneratedMethodAccessor301",
            ),
        ),
        (
            java(
                "com.shop.Payments$$EnhancerBySpringCGLIB$$a1b2c3d4",
                "sun.reflect.GeneratedMethodAccessor7",
            ),
            java(
                "com.shop.Payments$$EnhancerBySpringCGLIB$$9f8e7d6c",
                "sun.reflect.GeneratedMethodAccessor8",
            ),
        ),
        (
            java(
                "com.shop.Payments$ByteBuddy$abcDEF12",
                "jdk.internal.reflect.GeneratedMethodAccessor1",
            ),
            java(
                "com.shop.Payments$ByteBuddy$zyxWVU98",
                "jdk.internal.reflect.GeneratedMethodAccessor2",
            ),
        ),
    ];
    for (first, second) in pairs {
        let (a, b) = (group_event(&first), group_event(&second));
        assert_eq!(a.hashes, b.hashes, "{first}");
        assert_ne!(
            hash_of(&a, "system"),
            hash_of(&a, "app"),
            "the proxies are in the system hash"
        );
    }
    // .NET: compiler-generated closure classes, lambdas and state machines, and expression
    // trees compiled at runtime (`lambda_method12`).
    let dotnet = |closure: &str, lambda: &str, compiled: &str| {
        exception(
            "csharp",
            "System.NullReferenceException",
            "Object reference not set to an instance of an object.",
            json!([
                {"module": "Shop.Orders+<PlaceAsync>d__7", "function": "MoveNext", "in_app": true},
                {"module": "Shop.Orders", "function": compiled, "in_app": false},
                {"module": closure, "function": lambda, "in_app": true},
            ]),
        )
    };
    assert_eq!(
        group_event(&dotnet(
            "Shop.Orders+<>c__DisplayClass4_0",
            "<PlaceAsync>b__0",
            "lambda_method12"
        ))
        .hashes,
        group_event(&dotnet(
            "Shop.Orders+<>c__DisplayClass6_2",
            "<PlaceAsync>b__3",
            "lambda_method97"
        ))
        .hashes
    );
}

// --- exceptions and threads -----------------------------------------------------------------------

#[test]
fn chained_exceptions_hash_every_link_in_sentrys_order() {
    // Python `raise B from A`: the cause is sent first. With mechanism ids, Sentry's
    // exception-group filter keeps the root and its first path: B (id 0), then A (id 1).
    let chain = |cause: &str| {
        json!({
            "platform": "python",
            "exception": {"values": [
                {"type": cause, "value": "x", "mechanism": {"type": "chained", "exception_id": 1, "parent_id": 0},
                 "stacktrace": {"frames": [{"module": "shop.db", "function": "fetch", "in_app": true}]}},
                {"type": "OrderError", "value": "y", "mechanism": {"type": "generic", "exception_id": 0},
                 "stacktrace": {"frames": [{"module": "shop.orders", "function": "load", "in_app": true}]}},
            ]},
        })
    };
    let grouping = group_event(&chain("TimeoutError"));
    assert_eq!(
        values_of(&grouping, "app"),
        [
            "OrderError",
            "shop.orders",
            "load",
            "TimeoutError",
            "shop.db",
            "fetch"
        ]
    );
    assert_eq!(
        grouping.variants[0].component.as_ref().map(|c| c.id),
        Some("chained-exception")
    );
    // Another cause is another issue, even with the same outer exception.
    assert!(
        group_event(&chain("ConnectionError"))
            .hashes
            .iter()
            .all(|h| !grouping.hashes.contains(h))
    );
    // Without mechanism ids, the exceptions are hashed in the order sent (cause first).
    let mut plain = chain("TimeoutError");
    for exception in plain["exception"]["values"].as_array_mut().expect("values") {
        exception
            .as_object_mut()
            .expect("object")
            .remove("mechanism");
    }
    assert_eq!(
        values_of(&group_event(&plain), "app"),
        [
            "TimeoutError",
            "shop.db",
            "fetch",
            "OrderError",
            "shop.orders",
            "load"
        ]
    );
}

#[test]
fn exception_groups_group_by_their_distinct_inner_exceptions() {
    let inner = |ty: &str, id: i64, function: &str| {
        json!({"type": ty, "value": format!("failure {id}"),
               "mechanism": {"type": "chained", "exception_id": id, "parent_id": 0, "source": format!("exceptions[{}]", id - 1)},
               "stacktrace": {"frames": [{"module": "shop.tasks", "function": function, "in_app": true}]}})
    };
    let group = |children: Vec<Value>, frame: &str| {
        let mut values = children;
        values.push(json!({"type": "ExceptionGroup", "value": "2 sub-exceptions",
            "mechanism": {"type": "generic", "exception_id": 0, "is_exception_group": true},
            "stacktrace": {"frames": [{"module": "shop.tasks", "function": frame, "in_app": true}]}}));
        json!({"platform": "python", "exception": {"values": values}})
    };
    // Two copies of one error: grouped as that single error, which names the issue.
    let same = group(
        vec![
            inner("ValueError", 2, "parse"),
            inner("ValueError", 1, "parse"),
        ],
        "run_all",
    );
    let grouping = group_event(&same);
    assert_eq!(
        values_of(&grouping, "app"),
        ["ValueError", "shop.tasks", "parse"]
    );
    assert_eq!(grouping.main_exception_id, Some(1));
    let lone = exception(
        "python",
        "ValueError",
        "failure 9",
        json!([{"module": "shop.tasks", "function": "parse", "in_app": true}]),
    );
    assert_eq!(
        group_event(&lone).hashes,
        grouping.hashes,
        "the same as a lone ValueError"
    );
    // The wrapper's own stack does not matter.
    assert_eq!(
        group_event(&group(
            vec![
                inner("ValueError", 2, "parse"),
                inner("ValueError", 1, "parse")
            ],
            "other_entry"
        ))
        .hashes,
        grouping.hashes
    );

    // Two different errors: both (sorted by type, descending) and the root group.
    let mixed = group(
        vec![
            inner("KeyError", 2, "lookup"),
            inner("ValueError", 1, "parse"),
        ],
        "run_all",
    );
    let grouping = group_event(&mixed);
    assert_eq!(
        values_of(&grouping, "app"),
        [
            "ValueError",
            "shop.tasks",
            "parse",
            "KeyError",
            "shop.tasks",
            "lookup",
            "ExceptionGroup",
            "shop.tasks",
            "run_all"
        ]
    );
    assert_eq!(grouping.main_exception_id, None);
}

#[test]
fn the_crashed_thread_decides() {
    let threads = |crashed_function: &str, other_function: &str| {
        json!({
            "platform": "native",
            "threads": {"values": [
                {"id": 1, "name": "main", "crashed": false, "stacktrace": {"frames": [{"function": other_function, "filename": "main.c", "in_app": true}]}},
                {"id": 7, "name": "worker", "crashed": true, "stacktrace": {"frames": [{"function": crashed_function, "filename": "worker.c", "in_app": true}]}},
            ]},
        })
    };
    let grouping = group_event(&threads("process_job", "wait_loop"));
    assert_eq!(values_of(&grouping, "app"), ["worker.c", "process_job"]);
    assert_eq!(
        grouping.variants[0].component.as_ref().map(|c| c.id),
        Some("threads")
    );
    // What other threads were doing does not matter; what the crashed one did does.
    assert_eq!(
        group_event(&threads("process_job", "idle")).hashes,
        grouping.hashes
    );
    assert_ne!(
        group_event(&threads("flush_queue", "wait_loop")).hashes,
        grouping.hashes
    );

    // Several threads and none crashed or current: no thread can be chosen, the event falls
    // through to the next strategy (here none, so the fallback).
    let mut undecided = threads("process_job", "wait_loop");
    undecided["threads"]["values"][1]["crashed"] = json!(false);
    assert_eq!(group_event(&undecided).hashes, vec![hash_from_values([])]);
}

// --- messages, checksums, fallback ----------------------------------------------------------------

#[test]
fn message_parameters_are_stripped() {
    // (message, another occurrence with other values, what is hashed)
    let cases = [
        ("Order 1234 failed", "Order 98 failed", "Order <int> failed"),
        (
            "took 12.5 seconds",
            "took 0.75 seconds",
            "took <float> seconds",
        ),
        (
            "bad pointer 0x7ffe3a1c",
            "bad pointer 0x10",
            "bad pointer <hex>",
        ),
        (
            "user 8f1b7c44-29a8-4d3e-9e6f-1b2c3d4e5f60 locked",
            "user 00000000-1111-4222-8333-444444444444 locked",
            "user <uuid> locked",
        ),
        (
            "denied from 10.1.2.3",
            "denied from 192.168.100.254",
            "denied from <ip>",
        ),
        // (Compressed IPv6 forms with several groups after `::` are only partly replaced, as by
        // Sentry's regex, where the first alternative that fits wins.)
        (
            "denied from 2001:db8::1",
            "denied from fd00:0:0:0:0:0:0:17",
            "denied from <ip>",
        ),
        (
            "mail to jane@example.org bounced",
            "mail to a.b@shop.example bounced",
            "mail to <email> bounced",
        ),
        (
            "GET https://api.example.com/v1/orders?id=3 failed",
            "GET http://10.0.0.5:8080/health failed",
            "GET <url> failed",
        ),
        (
            "expired at 2026-11-20T09:14:03Z",
            "expired at 2024-01-01T00:00:00.123+02:00",
            "expired at <date>",
        ),
        (
            "lookup failed key='r_live_8842'",
            "lookup failed key='x'",
            "lookup failed key=<quoted_str>",
        ),
        (
            "commit 3f2a9c1be4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9 missing",
            "commit 0000000000000000000000000000000000000000 missing",
            "commit <sha1> missing",
        ),
    ];
    for (message, other, expected) in cases {
        let event = |text: &str| json!({"platform": "python", "logentry": {"formatted": text}});
        let grouping = group_event(&event(message));
        assert_eq!(values_of(&grouping, "default"), [expected], "{message}");
        assert_eq!(
            group_event(&event(other)).hashes,
            grouping.hashes,
            "{message} / {other}"
        );
    }
    // The template is preferred over the formatted text.
    let logged = json!({"platform": "python", "logentry": {"message": "Order %s failed", "formatted": "Order ord_77 failed"}});
    assert_eq!(
        values_of(&group_event(&logged), "default"),
        ["Order %s failed"]
    );
    // Words are not parameters.
    let words = |text: &str| group_event(&json!({"logentry": {"formatted": text}})).hashes;
    assert_ne!(words("Payment declined"), words("Payment captured"));
}

#[test]
fn checksums_replace_every_other_grouping() {
    let mut event = python_error();
    event["checksum"] = json!("0123456789abcdef0123456789abcdef");
    let grouping = group_event(&event);
    assert_eq!(grouping.hashes, ["0123456789abcdef0123456789abcdef"]);
    assert_eq!(grouping.variants.len(), 1);
    assert_eq!(grouping.variants[0].kind, VariantKind::Checksum);
    // Anything that is not 32 lowercase hex digits is hashed.
    for checksum in ["build-42", "0123456789ABCDEF0123456789ABCDEF"] {
        event["checksum"] = json!(checksum);
        let grouping = group_event(&event);
        assert_eq!(
            grouping.hashes,
            [hash_from_values([checksum])],
            "{checksum}"
        );
        assert_eq!(grouping.variants[0].kind, VariantKind::HashedChecksum);
    }
}

#[test]
fn events_without_anything_to_group_on_share_the_fallback() {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e, Sentry's fallback hash.
    let fallback = "d41d8cd98f00b204e9800998ecf8427e";
    let events = [
        json!({"platform": "python"}),
        // A native stack of unknown functions and addresses only, with a synthetic type.
        json!({"platform": "native", "exception": {"values": [{
        "type": "EXC_BAD_ACCESS", "mechanism": {"type": "mach", "synthetic": true},
        "stacktrace": {"frames": [
            {"function": "<unknown>", "instruction_addr": "0x1000"},
            {"function": "0x00007fff5fbff8c0", "instruction_addr": "0x2000"},
        ]}}]}}),
        // A message of whitespace only.
        json!({"platform": "javascript", "logentry": {"formatted": "   "}}),
    ];
    for event in events {
        let grouping = group_event(&event);
        assert_eq!(grouping.hashes, [fallback], "{event}");
        assert!(
            grouping
                .variants
                .iter()
                .any(|v| v.kind == VariantKind::Fallback)
        );
    }
}

// --- configs ----------------------------------------------------------------------------------

#[test]
fn every_computable_config_can_be_chosen_and_the_default_is_latest() {
    use errhound_domain::settings::{grouping_configs, is_known_grouping_config};
    let configs = grouping_configs();
    let ids: Vec<&str> = configs.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [CONFIG_2026_11, errhound_domain::grouping::CONFIG_2026_11_25]
    );
    let latest: Vec<&str> = configs.iter().filter(|c| c.latest).map(|c| c.id).collect();
    assert_eq!(latest, [errhound_domain::grouping::CONFIG_ID]);
    // A project on the frozen config (or moving back to it) must be accepted by the API.
    assert!(is_known_grouping_config(CONFIG_2026_11));
    assert!(!is_known_grouping_config("legacy:2019-03-12"));
}
