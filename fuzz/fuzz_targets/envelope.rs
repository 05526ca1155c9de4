//! Envelope framing on arbitrary bytes: never panics, never reads outside the body, and keeps
//! to its item limit.
#![no_main]

use bytes::Bytes;
use errhound_protocol::envelope::{Envelope, EnvelopeLimits};
use libfuzzer_sys::fuzz_target;

fn check(body: &Bytes, limits: EnvelopeLimits) {
    let Ok(envelope) = Envelope::parse(body.clone(), limits) else {
        return;
    };
    assert!(envelope.items.len() <= limits.max_items);
    // Payloads are slices of the body, not copies, and never overlap one another.
    let start = body.as_ptr() as usize;
    let end = start + body.len();
    let mut previous_end = start;
    for item in &envelope.items {
        let _ = item.ty.data_category();
        if item.payload.is_empty() {
            continue;
        }
        let from = item.payload.as_ptr() as usize;
        let to = from + item.payload.len();
        assert!(from >= start && to <= end, "payload outside the body");
        assert!(from >= previous_end, "payloads overlap or go backwards");
        previous_end = to;
    }
    // Parsing is a function of the bytes alone.
    let again = Envelope::parse(body.clone(), limits).expect("parses the same way twice");
    assert_eq!(again.items.len(), envelope.items.len());
}

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    check(&body, EnvelopeLimits::default());
    check(&body, EnvelopeLimits { max_items: 2 });
});
