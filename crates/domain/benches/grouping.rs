//! Grouping micro-benchmark: the grouping step alone (`group_event_as`: stack trace rules,
//! in-app detection, strategies, hashing), per config, over real Python SDK events of the
//! shared benchmark corpus, normalized first as the ingest worker does.
//!
//! `cargo bench -p errhound-domain --bench grouping`. Each iteration groups every event of the
//! sample once; divide the time by the event count (printed first) for ns/event, or read the
//! throughput column. The committed sample (`tests/fixtures/corpus-sample.jsonl`: two events of
//! each of the corpus's 50 error sites and 10 long-tail messages) is used unless
//! `ERRHOUND_GROUPING_CORPUS` names another file of the same shape (one `{"event": ...}` per
//! line).

use std::path::PathBuf;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::ItemsCount;
use errhound_domain::grouping::{CONFIG_2026_11, CONFIG_2026_11_25, group_event_as};
use errhound_domain::normalize::{NormalizeContext, normalize_event};
use serde_json::Value;

fn main() {
    println!("grouping benchmark: {} events per iteration", EVENTS.len());
    divan::main();
}

static EVENTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let path = std::env::var_os("ERRHOUND_GROUPING_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus-sample.jsonl"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("a JSON line");
            let mut event = record.get("event").cloned().unwrap_or(record);
            normalize_event(
                &mut event,
                &NormalizeContext {
                    event_id: "0123456789abcdef0123456789abcdef",
                    received: 1_795_700_000.0,
                    sent_at: None,
                    client_ip: None,
                },
            );
            event
        })
        .collect()
});

#[divan::bench(args = [CONFIG_2026_11, CONFIG_2026_11_25])]
fn group_corpus(bencher: Bencher<'_, '_>, config: &str) {
    let events = &*EVENTS;
    bencher.counter(ItemsCount::new(events.len())).bench(|| {
        for event in events {
            divan::black_box(group_event_as(divan::black_box(event), config));
        }
    });
}
