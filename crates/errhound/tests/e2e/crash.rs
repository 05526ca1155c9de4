//! Crash safety: SIGKILL the server while events stream in, and again while it replays its
//! spool after the restart. A 2xx is a promise: every acknowledged event must be stored exactly
//! once, nothing may be stored that was never sent, and no event may be counted twice.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use errhound_test_utils::{ServerOptions, TestServer};
use futures_util::StreamExt;
use serde_json::Value;

use errhound_queue::{IngestQueue, QueuedEvent, Spool, SpoolOptions};

use crate::binary;
use crate::hostile::{assert_still_serves, event_envelope, event_payload, new_event_id};

/// Events offered to the server.
const EVENTS: usize = 3000;
/// Concurrent senders.
const SENDERS: usize = 8;
/// The first kill comes once this many requests have been started.
const KILL_AT: usize = EVENTS * 2 / 5;
/// Distinct grouping sites, so the events spread over a few issues.
const SITES: usize = 4;

/// What happened to the requests of one sending run.
#[derive(Default)]
struct Ledger {
    /// Every event id a request was started for.
    sent: HashSet<String>,
    /// Ids answered 200 `{"id": id}`.
    acknowledged: HashSet<String>,
    /// Requests that failed without an answer (the kill).
    failed: usize,
    /// Answers other than 200 with the right id; must stay empty.
    wrong: Vec<String>,
    /// The event of a request whose body was half sent when the server was killed: it never
    /// arrived whole, so it must never be stored.
    cut: Option<CutRequest>,
}

/// A request held open mid-body across the kill, so that at least one request is certainly in
/// flight when it comes (the senders' requests may all happen to be answered at that moment).
struct CutRequest {
    id: String,
    /// Whatever the server answered before the connection ended; must be empty.
    answer: Vec<u8>,
}

/// Opens a connection to `server` and sends an envelope request with only half its body.
async fn start_cut_request(server: &TestServer, id: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the server accepts a connection");
    let body = event_envelope(id, "crash_site_cut");
    let head = format!(
        "POST /api/{}/envelope/ HTTP/1.1\r\nhost: {address}\r\nx-sentry-auth: {}\r\n\
         content-length: {}\r\n\r\n",
        server.project_id,
        server.auth_header(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Sends `ids` from [`SENDERS`] tasks. With `kill_at`, once that many requests have started,
/// kills the server with SIGKILL while requests are in flight and stops starting new ones.
async fn send(server: &mut TestServer, ids: Arc<Vec<String>>, kill_at: Option<usize>) -> Ledger {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (ids, ledger, next, stop) = (ids.clone(), ledger.clone(), next.clone(), stop.clone());
        let client = server.client().clone();
        let (url, auth) = (server.envelope_url(), server.auth_header());
        tasks.push(tokio::spawn(async move {
            loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(index) else {
                    break;
                };
                ledger.lock().unwrap().sent.insert(id.clone());
                let body = event_envelope(id, &format!("crash_site_{}", index % SITES));
                let result = client
                    .post(&url)
                    .header("x-sentry-auth", &auth)
                    .body(body)
                    .send()
                    .await;
                let answer = match result {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response.text().await.map(|body| (status, body))
                    }
                    Err(error) => Err(error),
                };
                let mut ledger = ledger.lock().unwrap();
                match answer {
                    Ok((200, body))
                        if serde_json::from_str::<Value>(&body).ok()
                            == Some(serde_json::json!({ "id": id })) =>
                    {
                        ledger.acknowledged.insert(id.clone());
                    }
                    Ok((status, body)) => ledger.wrong.push(format!("{id}: {status} {body}")),
                    Err(_) => ledger.failed += 1,
                }
            }
        }));
    }
    if let Some(kill_at) = kill_at {
        while next.load(Ordering::SeqCst) < kill_at {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let backlog = backlog(server).await;
        let cut_id = new_event_id();
        let mut cut = start_cut_request(server, &cut_id).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        eprintln!("crash: killed with {backlog} events waiting for processing");
        let mut answer = Vec::new();
        // The kill closes the connection: read to its end (or its reset).
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::io::AsyncReadExt::read_to_end(&mut cut, &mut answer),
        )
        .await
        .expect("the killed server's connection ends");
        ledger.lock().unwrap().cut = Some(CutRequest { id: cut_id, answer });
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ledger = Arc::try_unwrap(ledger)
        .ok()
        .expect("every sender finished")
        .into_inner()
        .unwrap();
    eprintln!(
        "crash: {} requests started, {} acknowledged, {} failed",
        ledger.sent.len(),
        ledger.acknowledged.len(),
        ledger.failed
    );
    ledger
}

/// Events accepted and not yet processed, from the readiness endpoint.
async fn backlog(server: &TestServer) -> u64 {
    let response = server
        .client()
        .get(format!("{}/_health?ready", server.base_url))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["queue"]["backlog_events"].as_u64().unwrap()
}

/// Waits until the spool is fully processed.
async fn wait_for_empty_backlog(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = backlog(server).await;
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} events still unprocessed after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored event id, listed through each issue's event list (all pages), with the number
/// of rows the listing returned (more rows than ids means an event is stored twice).
async fn stored_events(server: &TestServer, issues: &[Value]) -> (HashSet<String>, usize) {
    let mut ids = HashSet::new();
    let mut rows = 0;
    for issue in issues {
        let issue_id = issue["id"].as_str().unwrap();
        let mut url = format!(
            "{}/api/0/issues/{issue_id}/events/?per_page=100",
            server.base_url
        );
        loop {
            let response = server
                .client()
                .get(&url)
                .bearer_auth(&server.token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{url}");
            let link = response
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let page: Vec<Value> = response.json().await.unwrap();
            for event in &page {
                rows += 1;
                ids.insert(event["eventID"].as_str().unwrap().to_owned());
            }
            let next = link
                .split(", <")
                .find(|part| part.contains("rel=\"next\""))
                .filter(|part| part.contains("results=\"true\""))
                .and_then(|part| part.split("cursor=\"").nth(1))
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned);
            match next {
                Some(cursor) if !page.is_empty() => {
                    url = format!(
                        "{}/api/0/issues/{issue_id}/events/?per_page=100&cursor={cursor}",
                        server.base_url
                    );
                }
                _ => break,
            }
        }
    }
    (ids, rows)
}

async fn crash_and_replay(database_url: Option<String>) {
    let engine = if database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut server = TestServer::start_with(
        binary(),
        ServerOptions {
            database_url,
            // Small batches: more commits and acknowledgements for the kills to fall between,
            // and a replay that takes several batches.
            env: vec![
                ("ERRHOUND_WORKER__BATCH_SIZE".into(), "25".into()),
                ("ERRHOUND_WORKER__LINGER_MS".into(), "20".into()),
            ],
        },
    )
    .await;
    let ids: Vec<String> = (0..EVENTS).map(|_| new_event_id()).collect();
    let mut ledger = send(&mut server, Arc::new(ids.clone()), Some(KILL_AT)).await;
    assert!(
        ledger.wrong.is_empty(),
        "unexpected answers: {:#?}",
        ledger.wrong
    );
    assert!(
        ledger.acknowledged.len() >= KILL_AT / 2,
        "only {} events acknowledged before the kill",
        ledger.acknowledged.len()
    );
    let cut = ledger.cut.take().expect("a request was cut by the kill");
    assert!(
        cut.answer.is_empty(),
        "the half-sent request was answered: {}",
        String::from_utf8_lossy(&cut.answer)
    );
    assert!(
        ledger.sent.len() < EVENTS,
        "the kill came after the last event"
    );

    // Restart, and kill again at several moments of the replay; then let it finish.
    for delay_ms in [0, 30, 120] {
        server.restart().await;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let left = backlog(&server).await;
        eprintln!("crash ({engine}): {left} events left to replay when killed again");
        server.kill();
    }
    server.restart().await;

    // The events never sent go out now, while the last replay runs; all are acknowledged.
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !ledger.sent.contains(*id))
        .cloned()
        .collect();
    let second = send(&mut server, Arc::new(rest.clone()), None).await;
    assert!(
        second.wrong.is_empty(),
        "unexpected answers: {:#?}",
        second.wrong
    );
    assert_eq!(second.failed, 0);
    assert_eq!(second.acknowledged.len(), rest.len());
    ledger.sent.extend(second.sent);
    ledger.acknowledged.extend(second.acknowledged);
    assert_eq!(ledger.sent.len(), EVENTS);
    wait_for_empty_backlog(&server).await;

    // Every acknowledged event is retrievable.
    let acknowledged: Vec<String> = ledger.acknowledged.iter().cloned().collect();
    let missing: Vec<String> = futures_util::stream::iter(acknowledged)
        .map(|id| {
            let server = &server;
            async move {
                let (status, _) = server
                    .api_get(&format!("projects/errhound/default/events/{id}/"))
                    .await;
                (status != 200).then_some(format!("{id}: {status}"))
            }
        })
        .buffer_unordered(16)
        .filter_map(|missing| async move { missing })
        .collect()
        .await;
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are not retrievable: {:?}",
        missing.len(),
        ledger.acknowledged.len(),
        &missing[..missing.len().min(10)]
    );

    // Exactly once: each stored event listed once, issue counters equal to the stored events,
    // nothing stored that was not sent.
    let issues = server.issues().await;
    let counted: u64 = issues
        .iter()
        .map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    let (stored, rows) = stored_events(&server, &issues).await;
    assert_eq!(rows, stored.len(), "an event is stored more than once");
    assert_eq!(
        counted,
        stored.len() as u64,
        "issue counters ({counted}) disagree with the {} stored events: something was counted \
         twice or not at all",
        stored.len()
    );
    assert!(
        !stored.contains(&cut.id),
        "the event whose request was cut mid-body is stored"
    );
    let phantom: Vec<&String> = stored.difference(&ledger.sent).collect();
    assert!(phantom.is_empty(), "stored but never sent: {phantom:?}");
    assert!(ledger.acknowledged.is_subset(&stored));
    assert!(stored.len() >= ledger.acknowledged.len() && stored.len() <= ledger.sent.len());
    let per_site: HashMap<&str, u64> = issues
        .iter()
        .map(|i| {
            (
                i["culprit"].as_str().unwrap_or(""),
                i["count"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(issues.len(), SITES, "one issue per site: {per_site:?}");
    eprintln!(
        "crash ({engine}): sent {}, acknowledged {}, stored {} in issues {per_site:?}",
        ledger.sent.len(),
        ledger.acknowledged.len(),
        stored.len()
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn sigkill_mid_stream_and_mid_replay_loses_and_duplicates_nothing_on_sqlite() {
    crash_and_replay(None).await;
}

#[tokio::test]
async fn sigkill_mid_stream_and_mid_replay_loses_and_duplicates_nothing_on_postgres() {
    let url = errhound_test_utils::postgres::fresh_database().await;
    crash_and_replay(Some(url)).await;
}

/// Flips a byte inside the body of the `nth` record of a spool segment (a record is a 16-byte
/// header, `len u32 | crc32 u32 | id u64`, then `len` bytes).
fn damage_spool_record(segment: &std::path::Path, nth: usize) {
    let mut bytes = std::fs::read(segment).unwrap();
    let mut offset = 0;
    for _ in 0..nth {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
        offset += 16 + len as usize;
    }
    bytes[offset + 16 + 40] ^= 0xff;
    std::fs::write(segment, bytes).unwrap();
}

/// Events accepted before a stop, one of whose spool records is damaged while the server is
/// down: the restart processes every other one (the damaged record is skipped, not the rest of
/// its segment cut), and ingest keeps accepting and processing.
#[tokio::test]
async fn a_damaged_spool_record_costs_only_itself_across_a_restart() {
    let mut server = TestServer::start(binary()).await;
    server.stop();
    // Accepted events the stopped server has not processed, written through the spool itself.
    let spool_dir = server.data_dir().join("spool");
    let ids: Vec<String> = (0..10).map(|_| new_event_id()).collect();
    {
        let spool = Spool::open(&spool_dir, SpoolOptions::default())
            .await
            .unwrap();
        for (n, id) in ids.iter().enumerate() {
            let event = QueuedEvent {
                project_id: server.project_id as i64,
                event_id: id.clone(),
                received_ms: 1_700_000_000_000 + n as i64,
                sent_at: None,
                client_ip: None,
                payload: event_payload(id, "spool_damage_site"),
            };
            spool.append(event).await.unwrap();
        }
        assert_eq!(spool.backlog().events, 10);
    }
    let mut segments: Vec<std::path::PathBuf> = std::fs::read_dir(&spool_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    damage_spool_record(last, 4);

    server.restart().await;
    wait_for_empty_backlog(&server).await;
    let issues = server.issues().await;
    let (stored, rows) = stored_events(&server, &issues).await;
    let expected: HashSet<String> = ids
        .iter()
        .enumerate()
        .filter(|&(n, _)| n != 4)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(stored, expected, "every record but the damaged one");
    assert_eq!(rows, 9);
    assert_still_serves(&server).await;
}
