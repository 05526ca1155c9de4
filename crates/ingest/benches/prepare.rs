//! Micro-benchmark of the per-event CPU work of the prepare stage, on the benchmark corpus.
//!
//! ```sh
//! cargo bench -p errhound-ingest --bench prepare -- ~/.cache/errhound-bench/harness/corpus/c50k.jsonl.gz [events]
//! ```
//!
//! Prints nanoseconds per event (median of 5 rounds) for: the whole `process_event` (parse,
//! normalize, group, describe, serialize), grouping alone, and payload compression without and
//! with a trained dictionary.

use std::io::{BufRead, BufReader};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use errhound_domain::grouping::group_event;
use errhound_domain::{ProcessContext, process_event};
use errhound_protocol::envelope::{Envelope, EnvelopeLimits, ItemType};
use errhound_store::payload;

// The server's allocator, so the figures match what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Event payloads and the corpus' expected group of each.
fn load(path: &str, limit: usize) -> (Vec<Vec<u8>>, Vec<String>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut events = Vec::new();
    let mut groups = Vec::new();
    for line in reader.lines().take(limit) {
        let line = line.expect("corpus line");
        let record: serde_json::Value = serde_json::from_str(&line).expect("corpus JSON");
        let envelope = base64::engine::general_purpose::STANDARD
            .decode(record["envelope"].as_str().expect("envelope field"))
            .expect("base64 envelope");
        let parsed =
            Envelope::parse(Bytes::from(envelope), EnvelopeLimits::default()).expect("envelope");
        if let Some(item) = parsed.items.iter().find(|i| i.ty == ItemType::Event) {
            events.push(item.payload.to_vec());
            groups.push(record["group"].as_str().unwrap_or("").to_owned());
        }
    }
    (events, groups)
}

/// Assigns issues the way the store does (first known hash wins, new hashes join the issue) and
/// compares them with the corpus' expected groups: returns (expected groups, issues, expected
/// groups split over several issues, issues holding several expected groups).
fn grouping_report(hashes: &[Vec<String>], expected: &[String]) -> (usize, usize, usize, usize) {
    use std::collections::{HashMap, HashSet};
    let mut issue_of_hash: HashMap<&str, usize> = HashMap::new();
    let mut issues = 0;
    let mut issues_by_group: HashMap<&str, HashSet<usize>> = HashMap::new();
    let mut groups_by_issue: HashMap<usize, HashSet<&str>> = HashMap::new();
    for (event_hashes, group) in hashes.iter().zip(expected) {
        let issue = match event_hashes
            .iter()
            .find_map(|h| issue_of_hash.get(h.as_str()))
        {
            Some(&issue) => issue,
            None => {
                issues += 1;
                issues - 1
            }
        };
        for hash in event_hashes {
            issue_of_hash.entry(hash.as_str()).or_insert(issue);
        }
        issues_by_group.entry(group).or_default().insert(issue);
        groups_by_issue.entry(issue).or_default().insert(group);
    }
    let split = issues_by_group.values().filter(|i| i.len() > 1).count();
    let merged = groups_by_issue.values().filter(|g| g.len() > 1).count();
    (issues_by_group.len(), issues, split, merged)
}

fn median_ns(rounds: usize, n: usize, mut run: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let path = args
        .first()
        .expect("usage: prepare <corpus.jsonl.gz> [events]");
    let limit = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5000);
    let (events, expected_groups) = load(path, limit);
    let n = events.len();
    let settings = errhound_domain::ProjectSettings::default();
    let ctx = |i: usize| ProcessContext {
        event_id: "8d318f70125849e29dcf2afa581ef54f",
        received_ms: 1_767_225_600_000 + i as i64,
        sent_at: None,
        client_ip: Some("127.0.0.1"),
        settings: &settings,
    };
    let processed: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| process_event(e, &ctx(i)).expect("valid event"))
        .collect();
    let normalized: Vec<serde_json::Value> = processed
        .iter()
        .map(|p| serde_json::from_slice(&p.payload).expect("normalized JSON"))
        .collect();
    let samples: Vec<Vec<u8>> = processed
        .iter()
        .take(1000)
        .map(|p| p.payload.clone())
        .collect();
    let trained = payload::train(&samples).expect("dictionary");

    let process = median_ns(5, n, || {
        for (i, e) in events.iter().enumerate() {
            std::hint::black_box(process_event(e, &ctx(i)).expect("valid event"));
        }
    });
    let parse = median_ns(5, n, || {
        for e in &events {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(e).expect("JSON"));
        }
    });
    let normalize = median_ns(5, n, || {
        for (i, e) in events.iter().enumerate() {
            let mut value: serde_json::Value = serde_json::from_slice(e).expect("JSON");
            let c = ctx(i);
            errhound_domain::normalize::normalize_event(
                &mut value,
                &errhound_domain::normalize::NormalizeContext {
                    event_id: c.event_id,
                    received: c.received_ms as f64 / 1000.0,
                    sent_at: None,
                    client_ip: c.client_ip,
                },
            );
            std::hint::black_box(value);
        }
    }) - parse;
    let serialize = median_ns(5, n, || {
        for e in &normalized {
            std::hint::black_box(serde_json::to_vec(e).expect("serializable"));
        }
    });
    let metadata = median_ns(5, n, || {
        for e in &normalized {
            std::hint::black_box(errhound_domain::metadata::derive_metadata(e));
        }
    });
    let grouping = median_ns(5, n, || {
        for e in &normalized {
            std::hint::black_box(group_event(e));
        }
    });
    let plain = median_ns(5, n, || {
        for p in &processed {
            std::hint::black_box(payload::compress(&p.payload, None));
        }
    });
    let dictionary = payload::Dictionary::from_bytes(1, &trained).expect("usable dictionary");
    let with_dict = median_ns(5, n, || {
        for p in &processed {
            std::hint::black_box(payload::compress(&p.payload, Some(&dictionary)));
        }
    });
    let hashes: Vec<Vec<String>> = processed
        .iter()
        .map(|p| p.grouping.hashes.clone())
        .collect();
    let (groups, issues, split, merged) = grouping_report(&hashes, &expected_groups);
    let raw: usize = events.iter().map(Vec::len).sum();
    let plain_bytes: usize = processed
        .iter()
        .map(|p| payload::compress(&p.payload, None).len())
        .sum();
    let dict_bytes: usize = processed
        .iter()
        .map(|p| payload::compress(&p.payload, Some(&dictionary)).len())
        .sum();
    println!("{n} events, {} B mean event", raw / n);
    println!(
        "grouping: {groups} expected groups -> {issues} issues; {split} groups split, {merged} issues merged"
    );
    println!(
        "process_event (parse, normalize, group, describe, serialize): {process:>8.0} ns/event"
    );
    println!("  parse into a JSON tree:                                    {parse:>8.0} ns/event");
    println!(
        "  normalize:                                                 {normalize:>8.0} ns/event"
    );
    println!(
        "  grouping:                                                  {grouping:>8.0} ns/event"
    );
    println!(
        "  title, culprit, metadata:                                  {metadata:>8.0} ns/event"
    );
    println!(
        "  serialize:                                                 {serialize:>8.0} ns/event"
    );
    println!(
        "zstd payload, no dictionary:   {plain:>8.0} ns/event, {:>5} B/event",
        plain_bytes / n
    );
    println!(
        "zstd payload, with dictionary: {with_dict:>8.0} ns/event, {:>5} B/event",
        dict_bytes / n
    );
}
