//! Fills a data directory with a realistic project for the UI benchmark (`bench/ui.sh`): by
//! default 1 000 000 events in 10 000 issues of one project, written through the real ingest
//! path (`errhound_domain::process_event` -> `payload::compress` with a trained dictionary ->
//! `ingest::write_batch`), so every row, counter, tag value and hourly count is what ingestion
//! of the same events would have stored.
//!
//! ```sh
//! cargo run --release -p errhound-store --example gen_ui_data -- DATA_DIR [EVENTS] [ISSUES]
//! ```
//!
//! The data directory must already hold a set-up database (organization `errhound`, project
//! `default`: what the first `errhound serve` creates). Shape:
//! * issue sizes follow a Zipf law (exponent 1.1): a few hot issues hold most events, the tail
//!   has a handful each; every issue has at least one event;
//! * events are spread evenly over the 14 days before now, issues interleaved at random;
//! * three event kinds (Python exceptions, JavaScript browser errors, log messages), each issue
//!   with its own exception type, module and function so that it groups apart;
//! * 6 releases over time, 3 environments (80/15/5 %), 8 servers, 20 customers, 5 000 users
//!   (20 % of events without a user), browser and OS contexts;
//! * afterwards 15 % of the issues are resolved, 5 % ignored and 10 % assigned, through
//!   `store::workflow` as the UI would do it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use errhound_domain::{ProcessContext, ProjectSettings, process_event};
use errhound_store::ingest::{NewEvent, write_batch};
use errhound_store::payload::{self, Dictionary, PayloadDictionaries};
use errhound_store::workflow::{self, AssigneeRef, IgnoreConditions, StatusChange};
use errhound_store::{Db, DbOptions, now_ms, orgs, projects};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;
const BATCH: usize = 1_000;
const RELEASES: [&str; 6] = [
    "shop@2.3.0",
    "shop@2.3.1",
    "shop@2.4.0",
    "shop@2.4.1",
    "shop@2.5.0",
    "shop@2.5.1",
];
const EXCEPTIONS: [&str; 12] = [
    "KeyError",
    "ValueError",
    "TypeError",
    "AttributeError",
    "ZeroDivisionError",
    "IndexError",
    "RuntimeError",
    "ConnectionError",
    "TimeoutError",
    "PermissionError",
    "LookupError",
    "OSError",
];
const JS_ERRORS: [&str; 4] = ["TypeError", "ReferenceError", "RangeError", "SyntaxError"];
const BROWSERS: [(&str, &str); 4] = [
    ("Chrome", "131.0.0"),
    ("Firefox", "133.0"),
    ("Safari", "18.1"),
    ("Edge", "131.0.0"),
];
const OSES: [(&str, &str); 4] = [
    ("Windows", "11"),
    ("macOS", "15.1"),
    ("Linux", "6.11"),
    ("iOS", "18.1"),
];

/// A lowercase letters-only name for a number, so that grouping (which strips numbers and hex
/// from messages) keeps issues apart.
fn word(mut n: usize) -> String {
    let mut out = String::new();
    loop {
        out.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out
}

/// Events per issue: at least one each, the rest by a Zipf law.
fn issue_sizes(events: usize, issues: usize) -> Vec<usize> {
    let weights: Vec<f64> = (1..=issues).map(|r| (r as f64).powf(-1.1)).collect();
    let total: f64 = weights.iter().sum();
    let spare = events - issues;
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| 1 + (spare as f64 * w / total).floor() as usize)
        .collect();
    let assigned: usize = sizes.iter().sum();
    sizes[0] += events - assigned;
    sizes
}

/// The SDK payload of one event of issue `issue` at `timestamp_ms`.
fn payload(issue: usize, event_id: &str, timestamp_ms: i64, rng: &mut StdRng) -> Vec<u8> {
    let name = word(issue);
    let module = format!(
        "shop.{}.{}",
        ["views", "api", "tasks", "models"][issue % 4],
        name
    );
    let release = {
        // Releases follow time, with the previous one still around for a while.
        let age = (now_ms() - timestamp_ms).clamp(0, 14 * DAY_MS - 1);
        let slot = (RELEASES.len() - 1) - (age * RELEASES.len() as i64 / (14 * DAY_MS)) as usize;
        RELEASES[slot.saturating_sub(usize::from(rng.random_bool(0.2)))]
    };
    let environment = match rng.random_range(0..100) {
        0..80 => "production",
        80..95 => "staging",
        _ => "development",
    };
    let user = (!rng.random_bool(0.2)).then(|| {
        let n = rng.random_range(0..5_000);
        json!({"id": format!("user-{n}"), "email": format!("user{n}@example.com"),
               "ip_address": format!("10.{}.{}.{}", n / 65_536, (n / 256) % 256, n % 256)})
    });
    let (browser, browser_version) = BROWSERS[rng.random_range(0..BROWSERS.len())];
    let (os, os_version) = OSES[rng.random_range(0..OSES.len())];
    let customer = format!("customer-{}", word(rng.random_range(0..20)));
    let server = format!("web-{}", rng.random_range(1..=8));
    let order = rng.random_range(10_000..99_999);
    let breadcrumbs: Vec<Value> = (0..rng.random_range(2..8))
        .map(|i| {
            json!({"timestamp": (timestamp_ms - 1_000 * (8 - i)) as f64 / 1000.0,
                   "category": "http", "type": "http", "level": "info",
                   "data": {"method": "GET", "url": format!("/api/orders/{}", order + i),
                            "status_code": 200}})
        })
        .collect();
    let feature = ["checkout", "search", "cart", "account"][issue % 4];
    let mut event = json!({
        "event_id": event_id,
        "timestamp": timestamp_ms as f64 / 1000.0,
        "release": release,
        "environment": environment,
        "server_name": server,
        "tags": {"customer": customer, "feature": feature},
        "contexts": {
            "browser": {"name": browser, "version": browser_version},
            "os": {"name": os, "version": os_version},
        },
        "breadcrumbs": {"values": breadcrumbs},
    });
    let kind = issue % 3;
    let object = event.as_object_mut().expect("object");
    if let Some(user) = user {
        object.insert("user".into(), user);
    }
    match kind {
        0 => {
            let exception = EXCEPTIONS[issue % EXCEPTIONS.len()];
            object.insert("platform".into(), json!("python"));
            object.insert("level".into(), json!("error"));
            object.insert("logger".into(), json!("django.request"));
            object.insert(
                "sdk".into(),
                json!({"name": "sentry.python.django", "version": "2.19.2"}),
            );
            object.insert(
                "request".into(),
                json!({
                    "method": "POST",
                    "url": format!("https://shop.example.com/{name}/{order}/"),
                    "headers": {"User-Agent": format!("Mozilla/5.0 {browser}/{browser_version}")},
                }),
            );
            object.insert("exception".into(), json!({"values": [{
                "type": exception,
                "value": format!("'{name}' for order {order}"),
                "module": "builtins",
                "mechanism": {"type": "django", "handled": false},
                "stacktrace": {"frames": [
                    {"filename": "django/core/handlers/base.py", "abs_path": "/usr/lib/python3.12/site-packages/django/core/handlers/base.py",
                     "module": "django.core.handlers.base", "function": "_get_response", "lineno": 197,
                     "context_line": "response = wrapped_callback(request, *callback_args, **callback_kwargs)", "in_app": false},
                    {"filename": format!("shop/{name}.py"), "abs_path": format!("/srv/shop/{name}.py"),
                     "module": module, "function": format!("handle_{name}"), "lineno": 40 + issue % 100,
                     "context_line": format!("result = process_{name}(request.data)"), "in_app": true,
                     "vars": {"order_id": order, "request": "<WSGIRequest: POST>"}},
                    {"filename": format!("shop/{name}.py"), "abs_path": format!("/srv/shop/{name}.py"),
                     "module": module, "function": format!("process_{name}"), "lineno": 90 + issue % 50,
                     "context_line": format!("return payload['{name}']"), "in_app": true,
                     "vars": {"payload": {"id": order}}},
                ]},
            }]}));
        }
        1 => {
            let error = JS_ERRORS[issue % JS_ERRORS.len()];
            object.insert("platform".into(), json!("javascript"));
            object.insert("level".into(), json!("error"));
            object.insert(
                "sdk".into(),
                json!({"name": "sentry.javascript.react", "version": "8.42.0"}),
            );
            object.insert(
                "request".into(),
                json!({
                    "url": format!("https://shop.example.com/app/{name}"),
                    "headers": {"User-Agent": format!("Mozilla/5.0 {browser}/{browser_version}")},
                }),
            );
            object.insert("exception".into(), json!({"values": [{
                "type": error,
                "value": format!("Cannot read properties of undefined (reading '{name}')"),
                "mechanism": {"type": "onerror", "handled": false},
                "stacktrace": {"frames": [
                    {"filename": "https://shop.example.com/static/js/vendor.js", "abs_path": "https://shop.example.com/static/js/vendor.js",
                     "function": "dispatchEvent", "lineno": 1, "colno": 4231, "in_app": false},
                    {"filename": format!("https://shop.example.com/static/js/{name}.js"), "abs_path": format!("https://shop.example.com/static/js/{name}.js"),
                     "function": format!("render{name}"), "lineno": 12, "colno": 88,
                     "context_line": format!("  const label = props.{name}.title;"), "in_app": true},
                ]},
            }]}));
        }
        _ => {
            object.insert("platform".into(), json!("python"));
            object.insert(
                "level".into(),
                json!(["warning", "error", "info"][(issue / 3) % 3]),
            );
            object.insert("logger".into(), json!(format!("shop.jobs.{name}")));
            object.insert(
                "sdk".into(),
                json!({"name": "sentry.python", "version": "2.19.2"}),
            );
            object.insert(
                "logentry".into(),
                json!({
                    "message": format!("Job {name} failed for order %s after %s retries"),
                    "params": [order, rng.random_range(1..5)],
                }),
            );
        }
    }
    serde_json::to_vec(&event).expect("JSON")
}

fn prepare(
    project_id: i64,
    issue: usize,
    timestamp_ms: i64,
    rng: &mut StdRng,
    dictionary: Option<&Dictionary>,
    settings: &ProjectSettings,
) -> (NewEvent, Vec<u8>) {
    let event_id = format!("{:032x}", rng.random::<u128>());
    let body = payload(issue, &event_id, timestamp_ms, rng);
    let received_ms = timestamp_ms + rng.random_range(20..800);
    let processed = process_event(
        &body,
        &ProcessContext {
            event_id: &event_id,
            received_ms,
            sent_at: Some(received_ms as f64 / 1000.0),
            client_ip: Some("10.1.2.3"),
            settings,
        },
    )
    .expect("generated events are valid");
    let plain = processed.payload.clone();
    let new = NewEvent {
        project_id,
        event_id: processed.event_id,
        timestamp_ms: processed.timestamp_ms,
        received_ms: processed.received_ms,
        hashes: processed.grouping.hashes,
        secondary_hashes: processed.grouping.secondary_hashes,
        level: processed.level.as_str().to_owned(),
        event_type: processed.display.event_type.to_owned(),
        title: processed.display.title,
        culprit: processed.display.culprit,
        metadata: processed.display.metadata.to_string(),
        platform: processed.platform,
        logger: processed.logger,
        release: processed.release,
        tags: processed.tags,
        payload: payload::compress(&processed.payload, dictionary),
    };
    (new, plain)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(data_dir) = args.get(1) else {
        eprintln!("usage: gen_ui_data DATA_DIR [EVENTS] [ISSUES]");
        std::process::exit(2);
    };
    let events: usize = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let issues: usize = args.get(3).map_or(Ok(10_000), |s| s.parse())?;
    assert!(
        issues > 0 && events >= issues,
        "need at least one event per issue"
    );
    let started = Instant::now();
    let db = Db::connect(&DbOptions {
        url: format!("sqlite://{data_dir}/errhound.db"),
        replica_urls: Vec::new(),
        max_connections: 2,
    })
    .await?;
    db.migrate().await?;
    let (project_id, admin_id) = {
        let mut conn = db.write().await?;
        let org = orgs::find_by_slug(&mut conn.conn(), "errhound")
            .await?
            .ok_or("no organization `errhound`: start `errhound serve` once on this data dir")?;
        let project = projects::find_by_slug(&mut conn.conn(), org.id, "default")
            .await?
            .ok_or("no project `default`")?;
        let admin: i64 = admin_id(&mut conn).await?;
        (project.id, admin)
    };

    // Which issue each event belongs to, interleaved at random; timestamps evenly over 14 days.
    let mut rng = StdRng::seed_from_u64(20_261_125);
    let mut plan: Vec<u32> = Vec::with_capacity(events);
    for (issue, size) in issue_sizes(events, issues).into_iter().enumerate() {
        plan.extend(std::iter::repeat_n(issue as u32, size));
    }
    plan.shuffle(&mut rng);
    // Every issue's first event comes early in the first day for the hot issues (rank < 10),
    // which the shuffle does on its own; nothing else to arrange.
    let plan = Arc::new(plan);
    let end = now_ms() - 60_000;
    let start = end - 14 * DAY_MS;
    let step = (end - start) as f64 / events as f64;
    let time_of = move |i: usize| start + (i as f64 * step) as i64;
    let settings = Arc::new(ProjectSettings::default());

    // The project's dictionary, trained from its first 1000 events as the worker does.
    let dictionaries = PayloadDictionaries::new();
    let dictionary = {
        let mut samples = Vec::new();
        let mut sample_rng = StdRng::seed_from_u64(7);
        for i in 0..1_000.min(events) {
            let (_, plain) = prepare(
                project_id,
                plan[i] as usize,
                time_of(i),
                &mut sample_rng,
                None,
                &settings,
            );
            samples.push(plain);
        }
        let trained = payload::train(&samples)?;
        let mut conn = db.write().await?;
        dictionaries
            .store_trained(&mut conn.conn(), project_id, trained, now_ms())
            .await?
    };

    // Two preparing threads (the machine's cores), the writer on the runtime.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<NewEvent>>(4);
    let next = Arc::new(AtomicUsize::new(0));
    let chunks = events.div_ceil(BATCH);
    let mut threads = Vec::new();
    for _ in 0..2 {
        let sender = sender.clone();
        let next = next.clone();
        let plan = plan.clone();
        let settings = settings.clone();
        let dictionary = dictionary.clone();
        threads.push(std::thread::spawn(move || {
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks {
                    break;
                }
                let mut rng = StdRng::seed_from_u64(chunk as u64);
                let batch: Vec<NewEvent> = (chunk * BATCH..((chunk + 1) * BATCH).min(events))
                    .map(|i| {
                        prepare(
                            project_id,
                            plan[i] as usize,
                            time_of(i),
                            &mut rng,
                            Some(&dictionary),
                            &settings,
                        )
                        .0
                    })
                    .collect();
                if sender.blocking_send(batch).is_err() {
                    break;
                }
            }
        }));
    }
    drop(sender);
    let mut written = 0usize;
    let mut stored = 0usize;
    while let Some(batch) = receiver.recv().await {
        written += batch.len();
        let mut tx = db.begin().await?;
        let outcome = write_batch(&mut tx, batch, now_ms()).await?;
        tx.commit().await?;
        stored += outcome.stored;
        db.writer_idle();
        if written % 100_000 < BATCH {
            eprintln!(
                "{written} events written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    for thread in threads {
        thread.join().map_err(|_| "a preparing thread panicked")?;
    }

    // Workflow state: some issues resolved, ignored, assigned (by the admin).
    let ids: Vec<i64> = {
        let mut conn = db.read().await?;
        issue_ids(&mut conn, project_id).await?
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    for (n, id) in ids.iter().enumerate() {
        let change = match n % 20 {
            3 | 7 | 11 => Some(StatusChange::Resolve),
            13 => Some(StatusChange::Ignore(IgnoreConditions::default())),
            _ => None,
        };
        if let Some(change) = change {
            workflow::change_status(&mut tx, *id, &change, Some(admin_id), now).await?;
        }
        if n % 10 == 5 {
            workflow::assign(
                &mut tx,
                *id,
                AssigneeRef::User(admin_id),
                Some(admin_id),
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    db.close().await;
    eprintln!(
        "done: {stored} events stored in {} issues in {:.0} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The first superuser (the admin the first start created).
async fn admin_id(conn: &mut errhound_store::PoolConn) -> Result<i64, errhound_store::StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
    }
    let row: Row = errhound_store::query::Query::new(
        "SELECT id FROM users WHERE is_superuser = TRUE ORDER BY id LIMIT 1",
    )
    .fetch_one(&mut conn.conn())
    .await?;
    Ok(row.id)
}

/// The issues of the project, by id.
async fn issue_ids(
    conn: &mut errhound_store::PoolConn,
    project_id: i64,
) -> Result<Vec<i64>, errhound_store::StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
    }
    let rows: Vec<Row> = errhound_store::query::Query::new(
        "SELECT id FROM issues WHERE project_id = $1 ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(&mut conn.conn())
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
