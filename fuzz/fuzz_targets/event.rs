//! Event processing (normalize, group, describe) on arbitrary bytes as event JSON. The ingest
//! worker runs this on every accepted event, so it must never panic: a panic costs the whole
//! batch it is in.
#![no_main]

use errhound_domain::{ProcessContext, ProjectSettings, process_event};
use libfuzzer_sys::fuzz_target;

const EVENT_ID: &str = "4c035723afd4421a9e2b8ad2ff5c7c1a";
const RECEIVED_MS: i64 = 1_795_565_907_299;

fuzz_target!(|data: &[u8]| {
    // With and without `sent_at` (clock-drift correction), and a client address for
    // `{{auto}}` user IPs.
    let sent_at = (data.len() % 2 == 1).then_some(RECEIVED_MS as f64 / 1000.0 - 7200.25);
    let settings = ProjectSettings::default();
    let context = ProcessContext {
        event_id: EVENT_ID,
        received_ms: RECEIVED_MS,
        sent_at,
        client_ip: Some("203.0.113.7"),
        settings: &settings,
    };
    let Ok(processed) = process_event(data, &context) else {
        return;
    };
    assert_eq!(processed.event_id.len(), 32);
    assert!(processed.event_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !processed.grouping.hashes.is_empty(),
        "grouping always yields a hash"
    );
    let stored: serde_json::Value =
        serde_json::from_slice(&processed.payload).expect("the normalized event is JSON");
    assert!(stored.is_object(), "the normalized event is an object");
});
