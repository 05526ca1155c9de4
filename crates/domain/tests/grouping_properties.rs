//! Properties of grouping that must hold for any input of a kind: what changes between two
//! occurrences of the same error (line numbers, bundle hashes, the values inside a message)
//! never changes the hash; what makes a different error (the exception type, an in-app
//! function) always does.

use errhound_domain::grouping::{Grouping, group_event};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A stack of in-app and library frames for each platform family, with placeholders for line
/// and column numbers.
fn stacks() -> Vec<Value> {
    vec![
        json!({"platform": "python", "exception": {"values": [{"type": "KeyError", "value": "'sku'", "stacktrace": {"frames": [
            {"module": "flask.app", "filename": "flask/app.py", "function": "dispatch_request", "context_line": "return view(**args)", "in_app": false},
            {"module": "shop.cart", "filename": "shop/cart.py", "function": "add_item", "context_line": "price = prices[sku]", "in_app": true},
        ]}}]}}),
        json!({"platform": "node", "exception": {"values": [{"type": "TypeError", "value": "x is undefined", "stacktrace": {"frames": [
            {"module": "express.lib.router:layer", "filename": "/srv/node_modules/express/lib/router/layer.js", "function": "Layer.handle", "in_app": false},
            {"module": "src:cart", "filename": "/srv/src/cart.js", "function": "addItem", "context_line": "return item.price.amount;", "in_app": true},
        ]}}]}}),
        json!({"platform": "java", "exception": {"values": [{"type": "NullPointerException", "value": "", "stacktrace": {"frames": [
            {"module": "java.lang.Thread", "filename": "Thread.java", "function": "run", "in_app": false},
            {"module": "com.shop.Cart", "filename": "Cart.java", "function": "addItem", "in_app": true},
        ]}}]}}),
        json!({"platform": "native", "exception": {"values": [{"type": "SIGSEGV", "value": "Segfault", "stacktrace": {"frames": [
            {"function": "__libc_start_main", "package": "/lib/x86_64-linux-gnu/libc.so.6", "instruction_addr": "0x7f00"},
            {"function": "cart_add_item(cart*, item const*)", "filename": "cart.cpp", "package": "/opt/shop/bin/shop", "instruction_addr": "0x5500"},
        ]}}]}}),
    ]
}

fn frames(event: &mut Value) -> &mut Vec<Value> {
    event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .expect("frames")
}

fn hashes(event: &Value) -> Vec<String> {
    group_event(event).hashes
}

fn shares_a_hash(a: &Grouping, b: &Grouping) -> bool {
    a.hashes.iter().any(|h| b.hashes.contains(h))
}

/// A minified JavaScript error in a hashed chunk.
fn chunk_event(file: &str) -> Value {
    json!({"platform": "javascript", "exception": {"values": [{"type": "TypeError", "value": "e is null", "stacktrace": {"frames": [
        {"filename": format!("app:///assets/{file}"), "function": "t", "lineno": 1, "colno": 3345, "in_app": true},
        {"filename": format!("app:///assets/{file}"), "function": "submitOrder", "lineno": 1, "colno": 1870, "in_app": true},
    ]}}]}})
}

/// A content hash of `len` characters from `alphabet`, with at least one digit (bundlers' hashes
/// without a digit cannot be told from words, see `platform::is_hash_segment`).
fn content_hash(
    alphabet: &'static str,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    (
        proptest::collection::vec(proptest::sample::select(chars), len),
        any::<prop::sample::Index>(),
        0u32..10,
    )
        .prop_map(|(mut hash, at, digit)| {
            let at = at.index(hash.len());
            hash[at] = char::from_digit(digit, 10).expect("a digit");
            hash.into_iter().collect()
        })
}

const HEX: &str = "0123456789abcdef";
const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

proptest! {
    #[test]
    fn line_and_column_numbers_never_change_a_hash(
        stack in 0usize..4,
        lines in proptest::collection::vec((1i64..200_000, 0i64..5_000), 2),
    ) {
        let original = stacks()[stack].clone();
        let mut moved = original.clone();
        for (frame, (line, column)) in frames(&mut moved).iter_mut().zip(&lines) {
            frame["lineno"] = json!(line);
            frame["colno"] = json!(column);
        }
        prop_assert_eq!(hashes(&original), hashes(&moved));
    }

    #[test]
    fn webpack_chunk_hashes_never_change_a_hash(
        name in "(main|vendors|runtime|[0-9]{2,4})",
        old in content_hash(HEX, 8..=20),
        new in content_hash(HEX, 8..=20),
    ) {
        prop_assert_eq!(
            hashes(&chunk_event(&format!("{name}.{old}.js"))),
            hashes(&chunk_event(&format!("{name}.{new}.js")))
        );
    }

    #[test]
    fn vite_chunk_hashes_never_change_a_hash(
        name in "(index|vendor|cart|checkout-page)",
        old in content_hash(BASE64URL, 8..=8),
        new in content_hash(BASE64URL, 8..=8),
    ) {
        let before = group_event(&chunk_event(&format!("{name}-{old}.js")));
        prop_assert_eq!(&before.hashes, &hashes(&chunk_event(&format!("{name}-{new}.js"))));
        prop_assert!(
            !before.to_json().to_string().contains(&old),
            "the hash {} is in no hashed value", old
        );
    }

    #[test]
    fn numbers_and_ids_inside_a_message_never_change_a_hash(
        order in 0u64..10_000_000,
        amount in 0u32..100_000,
        cents in 0u32..100,
        user in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        ip in (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254),
        address in "0x[0-9a-f]{4,12}",
        key in "[a-z_]{1,12}",
    ) {
        let text = |order: u64, amount: u32, cents: u32, user: &str, ip: (u8, u8, u8, u8), address: &str, key: &str| {
            format!(
                "Charge {order} of {amount}.{cents:02} EUR for user {user} from {}.{}.{}.{} failed at {address} key='{key}'",
                ip.0, ip.1, ip.2, ip.3
            )
        };
        let event = |message: String| json!({"platform": "python", "logentry": {"formatted": message}});
        let reference = hashes(&event(text(1, 2, 3, "00000000-0000-4000-8000-000000000000", (10, 0, 0, 1), "0x0", "k")));
        prop_assert_eq!(
            hashes(&event(text(order, amount, cents, &user, ip, &address, &key))),
            reference
        );
        // The same values in an exception without a stack trace.
        let exception = |value: String| json!({"platform": "python", "exception": {"values": [{"type": "PaymentError", "value": value}]}});
        prop_assert_eq!(
            hashes(&exception(text(order, amount, cents, &user, ip, &address, &key))),
            hashes(&exception(text(7, 7, 7, "11111111-1111-4111-8111-111111111111", (1, 1, 1, 1), "0x1", "x")))
        );
    }

    #[test]
    fn another_exception_type_is_another_issue(
        stack in 0usize..4,
        ty in "[A-Z][A-Za-z]{2,20}(Error|Exception)",
    ) {
        let original = stacks()[stack].clone();
        prop_assume!(original["exception"]["values"][0]["type"] != ty.as_str());
        let mut other = original.clone();
        other["exception"]["values"][0]["type"] = json!(ty);
        prop_assert!(!shares_a_hash(&group_event(&original), &group_event(&other)));
    }

    #[test]
    fn another_in_app_function_is_another_issue(
        stack in 0usize..4,
        function in "[a-z][a-z_]{2,15}[a-z]",
    ) {
        // `eval` frames are engine noise in JavaScript and never count.
        prop_assume!(function != "eval");
        let original = stacks()[stack].clone();
        let mut other = original.clone();
        let in_app = frames(&mut other).last_mut().expect("an in-app frame");
        prop_assume!(!in_app["function"].as_str().expect("a name").contains(function.as_str()));
        in_app["function"] = json!(function);
        prop_assert!(!shares_a_hash(&group_event(&original), &group_event(&other)));
    }
}
