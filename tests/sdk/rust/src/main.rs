//! Sends events to Errhound with the official Rust SDK (the `sentry` crate).
//!
//! Usage: `errhound-sdk-rust-sender DSN SCENARIO`
//!
//! Prints one line per captured event, `<scenario-tag> <event_id>` (the id as 32 hex digits), so
//! the end-to-end tests can compare what the API shows with what was sent. Scenarios:
//!
//! * `errors`: the same `ParseIntError` captured twice from one site (`parse`), and a
//!   `ParseFloatError` from another (`parse-float`);
//! * `message`: `capture_message` at warning level, inside a scope with a tag (`message`);
//! * `panic`: a panic reported by the panic integration and caught, so the process exits 0
//!   (`panic`).

use std::num::{ParseFloatError, ParseIntError};
use std::process::ExitCode;
use std::time::Duration;

use sentry::protocol::Uuid;

/// The release every event carries (sessions need one, too).
const RELEASE: &str = "inventory@0.4.1";
/// The environment every event carries.
const ENVIRONMENT: &str = "staging";

fn report(tag: &str, id: Uuid) {
    println!("{tag} {}", id.simple());
}

/// The single error site of the `errors` scenario.
fn parse_quantity(text: &str) -> Result<u32, ParseIntError> {
    text.trim().parse()
}

/// A second, different error site.
fn parse_price(text: &str) -> Result<f64, ParseFloatError> {
    text.trim().parse()
}

/// The panicking site of the `panic` scenario.
fn reserve_stock(cart: &[u32]) -> u32 {
    if cart.is_empty() {
        panic!("cannot reserve stock for an empty cart");
    }
    cart.iter().sum()
}

fn errors() {
    for input in ["seven", "eight"] {
        let error = parse_quantity(input).expect_err("not a number");
        report("parse", sentry::capture_error(&error));
    }
    let error = parse_price("1,5").expect_err("not a float");
    report("parse-float", sentry::capture_error(&error));
}

fn message() {
    sentry::with_scope(
        |scope| scope.set_tag("inventory.step", "sync"),
        || {
            let id = sentry::capture_message(
                "Inventory sync finished with warnings",
                sentry::Level::Warning,
            );
            report("message", id);
        },
    );
}

fn panic() {
    let outcome = std::panic::catch_unwind(|| reserve_stock(&[]));
    assert!(outcome.is_err(), "reserve_stock must panic");
    // The panic integration captured the panic on this thread, through the current hub.
    let id = sentry::last_event_id().expect("the panic integration captured the panic");
    report("panic", id);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, dsn, scenario] = args.as_slice() else {
        eprintln!("usage: errhound-sdk-rust-sender DSN SCENARIO");
        return ExitCode::from(2);
    };
    let guard = sentry::init(
        sentry::ClientOptions::new()
            .dsn(dsn)
            .release(RELEASE)
            .environment(ENVIRONMENT)
            // Sessions travel in the same envelopes as the events, as in applications that
            // enable release health.
            .auto_session_tracking(true)
            .shutdown_timeout(Duration::from_secs(10)),
    );
    assert!(guard.is_enabled(), "the SDK did not accept the DSN {dsn}");
    match scenario.as_str() {
        "errors" => errors(),
        "message" => message(),
        "panic" => panic(),
        other => {
            eprintln!("unknown scenario {other}");
            return ExitCode::from(2);
        }
    }
    let flushed = sentry::Hub::current()
        .client()
        .is_some_and(|client| client.flush(Some(Duration::from_secs(10))));
    drop(guard);
    if flushed {
        ExitCode::SUCCESS
    } else {
        eprintln!("the SDK did not flush its queue within 10 s");
        ExitCode::FAILURE
    }
}
