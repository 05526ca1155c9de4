//! The embedded spool: an append-only log of segment files with group commit.
//!
//! ```text
//! <dir>/00000000000000000001.seg   records 1..k
//! <dir>/0000000000000000000k+1.seg  ...
//! <dir>/acked                       id of the last acknowledged record (a hint)
//! ```
//!
//! Appends from concurrent requests queue up in a bounded channel. One writer thread takes
//! everything waiting, writes it with one `write` call, `fdatasync`s, and only then answers each
//! request, so a 2xx always means the record is on disk, and one fsync covers a whole group.
//!
//! A record is `len u32 | crc32 u32 | id u64 | body`, the CRC covering id and body
//! ([`record`]). Damage costs only the damaged records: readers resynchronise at the next valid
//! record (with an error log and [`CORRUPT_RECORDS`]), and only damage with nothing valid after
//! it, at the end of the last segment, is a torn write, cut at start-up (it was never
//! acknowledged). Readers walk the log with an in-memory cursor from the `acked` hint, so after
//! a restart everything not acknowledged is replayed; processing is idempotent, so replaying a
//! little more than necessary (a stale hint) is harmless. Acknowledgements advance the hint only
//! over a contiguous prefix of handed-out records ([`acks`]), so a batch never acknowledged is
//! never covered by a later one. A segment is deleted once every record in it is acknowledged.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::{Backlog, Claimed, IngestQueue, QueueError, QueuedEvent, Receipt};
use acks::Claims;
use record::{HEADER, Header, MAX_RECORD, frame};

mod acks;
mod record;

/// Counter: damaged spool records skipped (each logged with its segment and offset).
pub const CORRUPT_RECORDS: &str = "errhound_spool_corrupt_records_total";

/// zstd level for spooled payloads: level 1 compresses event JSON ~3x at ~500 MB/s, which cuts the
/// bytes written and fsynced per event more than it costs in CPU.
const PAYLOAD_LEVEL: i32 = 1;
const SEGMENT_SUFFIX: &str = ".seg";

thread_local! {
    // Reused per thread: creating a zstd context zeroes about a megabyte.
    static CCTX: std::cell::RefCell<zstd::zstd_safe::CCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::CCtx::create());
    static DCTX: std::cell::RefCell<zstd::zstd_safe::DCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
}

/// Spool tuning.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Start a new segment file once the current one passes this size.
    pub segment_bytes: u64,
    /// Most appends written and synced together.
    pub max_group: usize,
    /// Capacity of the channel in front of the writer; appends wait when it is full.
    pub channel_capacity: usize,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            segment_bytes: 64 << 20,
            max_group: 4096,
            channel_capacity: 8192,
        }
    }
}

struct Append {
    body: Vec<u8>,
    done: oneshot::Sender<Result<(), QueueError>>,
}

/// Where a record ends up: segment start id and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    segment: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    first_id: u64,
    /// Id of the last record in the segment (0 while empty).
    last_id: u64,
    bytes: u64,
}

/// State shared by the writer, readers and ackers.
struct Shared {
    dir: PathBuf,
    /// Segments in order, with their id ranges; the last one is being written.
    segments: Mutex<VecDeque<Segment>>,
    /// Everything up to here (exclusive) is durable and may be read.
    durable: Mutex<Position>,
    /// Id of the last durable record.
    last_id: AtomicU64,
    /// Every record up to this id is acknowledged (or was skipped as damaged): the watermark of
    /// `claims`, kept apart so the writer and the backlog gauge can read it without the lock.
    acked_id: AtomicU64,
    /// Records handed out and not yet acknowledged.
    claims: Mutex<Claims>,
    /// Bytes of durable records not yet acknowledged.
    pending_bytes: AtomicU64,
    reader: Mutex<Reader>,
    notify: Notify,
}

struct Reader {
    position: Position,
    file: Option<(u64, File)>,
}

/// The durable single-node ingest queue.
#[derive(Clone)]
pub struct Spool {
    appends: mpsc::Sender<Append>,
    shared: Arc<Shared>,
}

fn segment_path(dir: &Path, first_id: u64) -> PathBuf {
    dir.join(format!("{first_id:020}{SEGMENT_SUFFIX}"))
}

fn compress_payload(payload: &[u8]) -> Result<Vec<u8>, QueueError> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(payload.len()));
    CCTX.with(|c| c.borrow_mut().compress(&mut out, payload, PAYLOAD_LEVEL))
        .map_err(|code| QueueError::Corrupt(zstd::zstd_safe::get_error_name(code).to_owned()))?;
    Ok(out)
}

fn decompress_payload(data: &[u8]) -> Result<Vec<u8>, String> {
    let size = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= MAX_RECORD)
        .ok_or_else(|| "missing or oversized frame size".to_owned())?;
    let mut out = Vec::with_capacity(size);
    DCTX.with(|d| d.borrow_mut().decompress(&mut out, data))
        .map_err(|code| zstd::zstd_safe::get_error_name(code).to_owned())?;
    Ok(out)
}

/// Record body: `project_id i64 | received_ms i64 | sent_at f64 (NaN = none) | event_id 32 bytes
/// | client_ip len u8 + bytes | zstd payload`.
fn encode_body(event: &QueuedEvent) -> Result<Vec<u8>, QueueError> {
    let payload = compress_payload(&event.payload)?;
    let ip = event.client_ip.as_deref().unwrap_or("").as_bytes();
    let ip = &ip[..ip.len().min(255)];
    let mut body = Vec::with_capacity(24 + 32 + 1 + ip.len() + payload.len());
    body.extend_from_slice(&event.project_id.to_le_bytes());
    body.extend_from_slice(&event.received_ms.to_le_bytes());
    body.extend_from_slice(&event.sent_at.unwrap_or(f64::NAN).to_le_bytes());
    let mut id = [b'0'; 32];
    let given = event.event_id.as_bytes();
    id[..given.len().min(32)].copy_from_slice(&given[..given.len().min(32)]);
    body.extend_from_slice(&id);
    body.push(ip.len() as u8);
    body.extend_from_slice(ip);
    body.extend_from_slice(&payload);
    Ok(body)
}

fn decode_body(id: u64, body: &[u8]) -> Result<QueuedEvent, QueueError> {
    let corrupt = |what: &str| QueueError::Corrupt(format!("record {id}: {what}"));
    if body.len() < 57 {
        return Err(corrupt("too short"));
    }
    let i64_at = |at: usize| i64::from_le_bytes(body[at..at + 8].try_into().unwrap_or([0; 8]));
    let project_id = i64_at(0);
    let received_ms = i64_at(8);
    let sent_at = f64::from_le_bytes(body[16..24].try_into().unwrap_or([0; 8]));
    let event_id = std::str::from_utf8(&body[24..56])
        .map_err(|_| corrupt("event id"))?
        .to_owned();
    let ip_len = usize::from(body[56]);
    let ip_end = 57 + ip_len;
    if body.len() < ip_end {
        return Err(corrupt("client ip"));
    }
    let client_ip = std::str::from_utf8(&body[57..ip_end])
        .map_err(|_| corrupt("client ip"))?
        .to_owned();
    let payload = decompress_payload(&body[ip_end..]).map_err(|e| corrupt(&e))?;
    Ok(QueuedEvent {
        project_id,
        event_id,
        received_ms,
        sent_at: (!sent_at.is_nan()).then_some(sent_at),
        client_ip: (!client_ip.is_empty()).then_some(client_ip),
        payload,
    })
}

/// What the live reader found at its position.
enum Next {
    Record { id: u64, body: Vec<u8>, size: u64 },
    End,
    Damaged,
}

/// Reads the record at the file's position; it must end within the next `available` bytes
/// (what is durable of the segment).
fn read_record(file: &mut File, available: u64) -> io::Result<Next> {
    if available == 0 {
        return Ok(Next::End);
    }
    let mut header = [0u8; HEADER];
    if available < HEADER as u64 {
        return Ok(Next::Damaged);
    }
    match file.read_exact(&mut header) {
        Ok(()) => {}
        // Shorter than the segment's known length: damage, not a clean end.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Next::Damaged),
        Err(e) => return Err(e),
    }
    let header = Header::parse(&header);
    if header.len > MAX_RECORD || header.size() as u64 > available {
        return Ok(Next::Damaged);
    }
    let mut body = vec![0u8; header.len];
    match file.read_exact(&mut body) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Next::Damaged),
        Err(e) => return Err(e),
    }
    if !header.matches(&body) {
        return Ok(Next::Damaged);
    }
    Ok(Next::Record {
        id: header.id,
        body,
        size: header.size() as u64,
    })
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Spool {
    /// Opens (or creates) the spool directory, repairs a torn tail and starts the writer.
    pub async fn open(dir: &Path, options: SpoolOptions) -> Result<Spool, QueueError> {
        let dir = dir.to_path_buf();
        let (shared, file, next_id) = tokio::task::spawn_blocking(move || recover(dir))
            .await
            .map_err(|e| QueueError::Corrupt(e.to_string()))??;
        let shared = Arc::new(shared);
        let backlog =
            shared.last_id.load(Ordering::Relaxed) - shared.acked_id.load(Ordering::Relaxed);
        if backlog > 0 {
            tracing::info!(
                backlog.events = backlog,
                "spool has unprocessed events from the previous run; they will be processed"
            );
        }
        let (appends, receiver) = mpsc::channel(options.channel_capacity);
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("errhound-spool".into())
            .spawn(move || writer_thread(writer_shared, file, next_id, receiver, options))
            .map_err(|e| QueueError::Io(e.to_string()))?;
        Ok(Spool { appends, shared })
    }
}

/// Reads the directory: drops fully acknowledged segments, cuts a torn tail, positions the
/// reader at the first unacknowledged record.
fn recover(dir: PathBuf) -> Result<(Shared, File, u64), QueueError> {
    fs::create_dir_all(&dir)?;
    let acked_hint: u64 = fs::read_to_string(dir.join("acked"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let mut firsts: Vec<u64> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(SEGMENT_SUFFIX)?
                .parse()
                .ok()
        })
        .collect();
    firsts.sort_unstable();
    let mut segments = VecDeque::new();
    let mut last_id = 0;
    for (index, &first) in firsts.iter().enumerate() {
        let path = segment_path(&dir, first);
        let bytes = fs::read(&path)?;
        let walk = record::walk(&bytes, first.saturating_sub(1));
        // Ids run on across segments, so an older segment holds every id up to the next one's
        // first, readable or not.
        let next_first = firsts.get(index + 1).copied();
        let seg_last = match next_first {
            Some(next) => next - 1,
            None => walk.last_id,
        };
        if walk.valid_end < bytes.len() as u64 {
            if next_first.is_none() {
                tracing::warn!(segment = %path.display(), valid = walk.valid_end, size = bytes.len(), "cutting a torn spool tail: damage with no valid record after it (a write cut by a crash)");
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(walk.valid_end)?;
            } else {
                // Not a torn write: the segment was complete when the next one started. The
                // reader stops at the last valid record; the damaged ones are lost.
                tracing::error!(segment = %path.display(), offset = walk.valid_end, size = bytes.len(), "skipping damaged records at the end of a spool segment");
                metrics::counter!(CORRUPT_RECORDS).increment(1);
            }
        }
        if seg_last != 0 && seg_last <= acked_hint && next_first.is_some() {
            fs::remove_file(&path)?;
            continue;
        }
        last_id = last_id.max(seg_last).max(first.saturating_sub(1));
        segments.push_back(Segment {
            first_id: first,
            last_id: seg_last,
            bytes: walk.valid_end,
        });
    }
    let next_id = last_id + 1;
    if segments.is_empty() {
        File::create(segment_path(&dir, next_id))?;
        sync_dir(&dir)?;
        segments.push_back(Segment {
            first_id: next_id,
            last_id: 0,
            bytes: 0,
        });
    }
    let tail = segments.back().map_or(next_id, |s| s.first_id);
    let mut file = OpenOptions::new()
        .append(true)
        .open(segment_path(&dir, tail))?;
    file.seek(SeekFrom::End(0))?;
    let end = segments.back().map_or(0, |s| s.bytes);
    let acked_id = acked_hint.min(last_id);
    let first_segment = segments.front().map_or(tail, |s| s.first_id);
    let pending_bytes: u64 = segments.iter().map(|s| s.bytes).sum();
    let shared = Shared {
        dir,
        segments: Mutex::new(segments),
        durable: Mutex::new(Position {
            segment: tail,
            offset: end,
        }),
        last_id: AtomicU64::new(last_id),
        acked_id: AtomicU64::new(acked_id),
        claims: Mutex::new(Claims::new(acked_id)),
        pending_bytes: AtomicU64::new(pending_bytes),
        reader: Mutex::new(Reader {
            position: Position {
                segment: first_segment,
                offset: 0,
            },
            file: None,
        }),
        notify: Notify::new(),
    };
    Ok((shared, file, next_id))
}

fn writer_thread(
    shared: Arc<Shared>,
    mut file: File,
    mut next_id: u64,
    mut receiver: mpsc::Receiver<Append>,
    options: SpoolOptions,
) {
    let mut buffer = Vec::new();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        tracing::error!("cannot start the spool writer's timer");
        return;
    };
    loop {
        let received = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), receiver.recv()).await
        });
        let first = match received {
            Ok(Some(append)) => append,
            Ok(None) => break,
            Err(_idle) => {
                if let Some(new_file) = retire_drained_segment(&shared, next_id) {
                    file = new_file;
                }
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < options.max_group {
            match receiver.try_recv() {
                Ok(append) => group.push(append),
                Err(_) => break,
            }
        }
        buffer.clear();
        let first_id = next_id;
        for append in &group {
            frame(next_id, &append.body, &mut buffer);
            next_id += 1;
        }
        let written = file.write_all(&buffer).and_then(|()| file.sync_data());
        match written {
            Ok(()) => {
                let last = next_id - 1;
                let rotated = {
                    let mut segments = shared.segments.lock().unwrap_or_else(|e| e.into_inner());
                    let current = segments.back_mut();
                    let mut rotate = None;
                    if let Some(segment) = current {
                        segment.last_id = last;
                        segment.bytes += buffer.len() as u64;
                        let mut durable = shared.durable.lock().unwrap_or_else(|e| e.into_inner());
                        *durable = Position {
                            segment: segment.first_id,
                            offset: segment.bytes,
                        };
                        if segment.bytes >= options.segment_bytes {
                            rotate = Some(next_id);
                        }
                    }
                    rotate
                };
                shared.last_id.store(last, Ordering::Release);
                shared
                    .pending_bytes
                    .fetch_add(buffer.len() as u64, Ordering::Relaxed);
                for append in group {
                    let _ = append.done.send(Ok(()));
                }
                shared.notify.notify_one();
                if let Some(first) = rotated {
                    match rotate(&shared, first) {
                        Ok(new_file) => file = new_file,
                        Err(error) => {
                            tracing::error!(error = %error, "cannot start a new spool segment; continuing in the current one");
                        }
                    }
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "failed to write to the spool; refusing these events");
                // Undo the partial write so the log stays a sequence of whole records.
                let valid = shared
                    .segments
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .back()
                    .map_or(0, |s| s.bytes);
                let _ = file.set_len(valid);
                next_id = first_id;
                for append in group {
                    let _ = append.done.send(Err(QueueError::Io(error.to_string())));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// When idle (100 ms without appends) and every record is acknowledged, starts an empty
/// segment and deletes the drained one, so an idle server's spool takes no disk space.
fn retire_drained_segment(shared: &Shared, next_id: u64) -> Option<File> {
    let drained = {
        let segments = shared.segments.lock().unwrap_or_else(|e| e.into_inner());
        let acked = shared.acked_id.load(Ordering::Acquire);
        segments.len() == 1 && segments[0].last_id != 0 && segments[0].last_id <= acked
    };
    if !drained {
        return None;
    }
    // Rotating deletes the drained segment (see `delete_acknowledged_segments`).
    match rotate(shared, next_id) {
        Ok(file) => {
            shared.pending_bytes.store(0, Ordering::Relaxed);
            Some(file)
        }
        Err(error) => {
            tracing::warn!(error = %error, "cannot start a new spool segment");
            None
        }
    }
}

fn rotate(shared: &Shared, first_id: u64) -> io::Result<File> {
    let path = segment_path(&shared.dir, first_id);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    sync_dir(&shared.dir)?;
    shared
        .segments
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(Segment {
            first_id,
            last_id: 0,
            bytes: 0,
        });
    shared.delete_acknowledged_segments();
    Ok(file)
}

impl Shared {
    /// Reads up to `max` durable records after the reader's cursor, skipping damaged ones.
    fn read_next(&self, max: usize) -> Result<Vec<Claimed>, QueueError> {
        let durable = *self.durable.lock().unwrap_or_else(|e| e.into_inner());
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        while out.len() < max {
            let position = reader.position;
            if position == durable {
                break;
            }
            // How far this segment may be read, and which segment follows it.
            let (end, next) = {
                let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
                let end = segments
                    .iter()
                    .find(|s| s.first_id == position.segment)
                    .map(|s| {
                        if s.first_id == durable.segment {
                            durable.offset
                        } else {
                            s.bytes
                        }
                    });
                let next = segments
                    .iter()
                    .find(|s| s.first_id > position.segment)
                    .map(|s| s.first_id);
                (end, next)
            };
            let end = match end {
                Some(end) if position.offset < end => end,
                // Done with this segment, or it was deleted (fully acknowledged), or the cursor
                // is before the first one: continue from the next remaining segment.
                _ => match next {
                    Some(first) => {
                        reader.position = Position {
                            segment: first,
                            offset: 0,
                        };
                        reader.file = None;
                        claims.passed(first - 1);
                        continue;
                    }
                    None => break,
                },
            };
            if reader.file.as_ref().map(|(s, _)| *s) != Some(position.segment) {
                let mut file = File::open(segment_path(&self.dir, position.segment))?;
                file.seek(SeekFrom::Start(position.offset))?;
                reader.file = Some((position.segment, file));
            }
            let Some((_, file)) = reader.file.as_mut() else {
                break;
            };
            match read_record(file, end - position.offset)? {
                Next::Record { id, body, size } => {
                    reader.position.offset += size;
                    // Left over from before a restart and already processed.
                    if id <= self.acked_id.load(Ordering::Acquire) {
                        claims.passed(id);
                        continue;
                    }
                    claims.claimed(id, size);
                    out.push(Claimed {
                        receipt: Receipt {
                            id: id as i64,
                            bytes: size,
                        },
                        event: decode_body(id, &body),
                    });
                }
                Next::End => break,
                Next::Damaged => {
                    let skipped = skip_damage(file, position, end, claims.read_through())?;
                    reader.position.offset += skipped;
                }
            }
        }
        Ok(out)
    }

    /// Records acknowledgements, advances the watermark over what is done, and deletes segments
    /// whose records are all done.
    fn ack(&self, receipts: &[Receipt]) -> Result<(), QueueError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let (freed, watermark) = {
            let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
            let freed = claims.acknowledge(receipts.iter().map(|r| r.id as u64));
            (freed, claims.watermark())
        };
        let _ = self
            .pending_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(freed))
            });
        let acked = self
            .acked_id
            .fetch_max(watermark, Ordering::AcqRel)
            .max(watermark);
        let _ = fs::write(self.dir.join("acked"), acked.to_string());
        self.delete_acknowledged_segments();
        Ok(())
    }
}

/// Moves `file` past damage at `at` (a record failing its checks before `end`, the durable end
/// of its segment), to the next valid record after `last_id` or to `end`; returns the bytes
/// skipped. Logged and counted: nothing but this bad luck is lost.
fn skip_damage(file: &mut File, at: Position, end: u64, last_id: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(at.offset))?;
    let mut rest = Vec::new();
    Read::by_ref(file)
        .take(end - at.offset)
        .read_to_end(&mut rest)?;
    let skipped = record::resync(&rest, last_id).map_or(end - at.offset, |skip| skip as u64);
    file.seek(SeekFrom::Start(at.offset + skipped))?;
    tracing::error!(
        spool.segment = at.segment,
        spool.offset = at.offset,
        skipped.bytes = skipped,
        "skipping a damaged spool record"
    );
    metrics::counter!(CORRUPT_RECORDS).increment(1);
    Ok(skipped)
}

impl Shared {
    /// Deletes every segment (but the one being written) whose records are all acknowledged.
    /// Runs after acks and after rotations, so neither order of the two leaves a drained segment.
    fn delete_acknowledged_segments(&self) {
        let acked = self.acked_id.load(Ordering::Acquire);
        let mut removable = Vec::new();
        {
            let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
            while segments.len() > 1 {
                let front = &segments[0];
                if front.last_id != 0 && front.last_id <= acked {
                    removable.push(front.first_id);
                    segments.pop_front();
                } else {
                    break;
                }
            }
        }
        for first in removable {
            if let Err(error) = fs::remove_file(segment_path(&self.dir, first)) {
                tracing::warn!(error = %error, "cannot delete an acknowledged spool segment");
            }
        }
    }
}

impl IngestQueue for Spool {
    async fn append(&self, event: QueuedEvent) -> Result<(), QueueError> {
        let body = encode_body(&event)?;
        let (done, durable) = oneshot::channel();
        self.appends
            .send(Append { body, done })
            .await
            .map_err(|_| QueueError::Closed)?;
        durable.await.map_err(|_| QueueError::Closed)?
    }

    async fn claim(&self, max: usize) -> Result<Vec<Claimed>, QueueError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.read_next(max))
            .await
            .map_err(|e| QueueError::Corrupt(e.to_string()))?
    }

    async fn ack(&self, receipts: Vec<Receipt>) -> Result<(), QueueError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.ack(&receipts))
            .await
            .map_err(|e| QueueError::Corrupt(e.to_string()))?
    }

    fn backlog(&self) -> Backlog {
        let last = self.shared.last_id.load(Ordering::Acquire);
        let acked = self.shared.acked_id.load(Ordering::Acquire);
        Backlog {
            events: last.saturating_sub(acked),
            bytes: self.shared.pending_bytes.load(Ordering::Relaxed),
        }
    }

    async fn wait(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.shared.notify.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> QueuedEvent {
        QueuedEvent {
            project_id: 1,
            event_id: format!("{n:032x}"),
            received_ms: i64::from(n),
            sent_at: Some(1.5),
            client_ip: Some("127.0.0.1".into()),
            payload: format!(r#"{{"message":"event {n}"}}"#).into_bytes(),
        }
    }

    /// Appends events `0..count` to a spool in `dir` and closes it (as a server that stopped).
    async fn write_and_close(dir: &Path, count: u32) {
        let spool = Spool::open(dir, SpoolOptions::default()).await.unwrap();
        for n in 0..count {
            spool.append(event(n)).await.unwrap();
        }
    }

    fn ids(claimed: &[Claimed]) -> Vec<String> {
        claimed
            .iter()
            .map(|c| c.event.as_ref().unwrap().event_id.clone())
            .collect()
    }

    #[tokio::test]
    async fn appends_claims_acks_and_replays_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        {
            let spool = Spool::open(&path, SpoolOptions::default()).await.unwrap();
            let mut handles = Vec::new();
            for n in 0..100 {
                let spool = spool.clone();
                handles.push(tokio::spawn(async move { spool.append(event(n)).await }));
            }
            for handle in handles {
                handle.await.unwrap().unwrap();
            }
            assert_eq!(spool.backlog().events, 100);
            let first = spool.claim(60).await.unwrap();
            assert_eq!(first.len(), 60);
            let second = spool.claim(60).await.unwrap();
            assert_eq!(second.len(), 40, "claims continue after the cursor");
            let got = first[0].event.as_ref().unwrap();
            assert_eq!(got.sent_at, Some(1.5));
            assert_eq!(got.client_ip.as_deref(), Some("127.0.0.1"));
            spool
                .ack(first.iter().map(|c| c.receipt).collect())
                .await
                .unwrap();
            assert_eq!(spool.backlog().events, 40);
        }
        // Reopen: everything not acknowledged is replayed, nothing acknowledged comes back.
        let spool = Spool::open(&path, SpoolOptions::default()).await.unwrap();
        assert_eq!(spool.backlog().events, 40);
        spool.append(event(1000)).await.unwrap();
        let replay = spool.claim(1000).await.unwrap();
        let got = ids(&replay);
        assert_eq!(got.len(), 41);
        assert_eq!(got[0], format!("{:032x}", 60));
        assert_eq!(got[40], format!("{:032x}", 1000));
    }

    #[tokio::test]
    async fn segments_rotate_and_acknowledged_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let options = SpoolOptions {
            segment_bytes: 1024,
            ..SpoolOptions::default()
        };
        let spool = Spool::open(dir.path(), options.clone()).await.unwrap();
        for n in 0..50 {
            spool.append(event(n)).await.unwrap();
        }
        let segments = || {
            fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(SEGMENT_SUFFIX)
                })
                .count()
        };
        assert!(segments() > 3, "small segments rotate");
        let all = spool.claim(100).await.unwrap();
        assert_eq!(all.len(), 50, "claims cross segment boundaries");
        spool
            .ack(all.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        // The ack deletes every drained segment but the one being written. The writer may be
        // retiring that one at the same moment (idle and drained: it creates the next segment
        // first, then deletes the old), so allow that hand-over to finish.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while segments() != 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(segments(), 1, "only the segment being written remains");
        assert_eq!(
            spool.backlog(),
            Backlog {
                events: 0,
                bytes: 0
            }
        );
    }

    #[tokio::test]
    async fn an_idle_drained_spool_leaves_one_empty_segment() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        for n in 0..5 {
            spool.append(event(n)).await.unwrap();
        }
        let all = spool.claim(10).await.unwrap();
        spool
            .ack(all.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        // The writer retires a drained segment once it is idle.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let sizes: Vec<u64> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
            .map(|p| fs::metadata(p).unwrap().len())
            .collect();
        assert_eq!(sizes, vec![0]);
        // And it keeps working afterwards.
        spool.append(event(99)).await.unwrap();
        assert_eq!(
            ids(&spool.claim(10).await.unwrap()),
            vec![format!("{:032x}", 99)]
        );
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_earlier_records_survive() {
        let dir = tempfile::tempdir().unwrap();
        write_and_close(dir.path(), 10).await;
        // Simulate a crash in the middle of a write: half a record at the end.
        let segment = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
            .unwrap();
        let mut bytes = Vec::new();
        frame(11, b"partial record body that never finished", &mut bytes);
        bytes.truncate(bytes.len() / 2);
        OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        spool.append(event(99)).await.unwrap();
        let got = ids(&spool.claim(100).await.unwrap());
        assert_eq!(got.len(), 11);
        assert_eq!(got[10], format!("{:032x}", 99));
    }

    #[tokio::test]
    async fn a_flipped_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), SpoolOptions::default())
                .await
                .unwrap();
            spool.append(event(1)).await.unwrap();
        }
        let segment = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
            .unwrap();
        let mut bytes = fs::read(&segment).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&segment, bytes).unwrap();
        // The damaged (last, unacknowledged) record is treated as torn and dropped.
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        assert!(spool.claim(10).await.unwrap().is_empty());
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
            .collect();
        files.sort();
        files
    }

    /// Flips a byte inside the body of the `nth` record of `segment`.
    fn damage_record(segment: &Path, nth: usize) {
        let mut bytes = fs::read(segment).unwrap();
        let mut offset = 0;
        for _ in 0..nth {
            let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
            offset += 16 + len as usize;
        }
        bytes[offset + 16 + 30] ^= 0xff;
        fs::write(segment, bytes).unwrap();
    }

    /// Small segments: three or four records each.
    fn small_segments() -> SpoolOptions {
        SpoolOptions {
            segment_bytes: 400,
            ..SpoolOptions::default()
        }
    }

    async fn wait_for_segments(dir: &Path, count: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while segment_files(dir).len() != count && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        segment_files(dir).len()
    }

    #[tokio::test]
    async fn a_later_batch_acked_first_does_not_acknowledge_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), SpoolOptions::default())
                .await
                .unwrap();
            for n in 0..10 {
                spool.append(event(n)).await.unwrap();
            }
            let lost = spool.claim(5).await.unwrap();
            let later = spool.claim(5).await.unwrap();
            assert_eq!(ids(&lost).len() + ids(&later).len(), 10);
            spool
                .ack(later.iter().map(|c| c.receipt).collect())
                .await
                .unwrap();
            assert_eq!(spool.backlog().events, 10, "the first batch is not done");
        }
        // The unacknowledged batch (and the one after it, harmlessly) is replayed.
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        let replay = spool.claim(100).await.unwrap();
        assert_eq!(
            ids(&replay),
            (0..10).map(|n| format!("{n:032x}")).collect::<Vec<_>>()
        );
        spool
            .ack(replay.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        assert_eq!(spool.backlog().events, 0);
    }

    #[tokio::test]
    async fn a_damaged_middle_record_of_a_live_spool_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), small_segments()).await.unwrap();
        for n in 0..12 {
            spool.append(event(n)).await.unwrap();
        }
        let segments = segment_files(dir.path());
        assert!(segments.len() > 2, "small segments rotate");
        damage_record(&segments[0], 1);
        let claimed = spool.claim(100).await.unwrap();
        let expected: Vec<String> = (0..12)
            .filter(|&n| n != 1)
            .map(|n| format!("{n:032x}"))
            .collect();
        assert_eq!(ids(&claimed), expected, "every record after the damage");
        spool
            .ack(claimed.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        assert_eq!(spool.backlog().events, 0);
        assert_eq!(wait_for_segments(dir.path(), 1).await, 1);
        assert!(!segments[0].exists(), "the damaged segment is deleted");
        // Later appends are read as usual.
        spool.append(event(50)).await.unwrap();
        assert_eq!(
            ids(&spool.claim(10).await.unwrap()),
            vec![format!("{:032x}", 50)]
        );
    }

    #[tokio::test]
    async fn a_damaged_middle_record_costs_only_itself_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        write_and_close(dir.path(), 10).await;
        let segments = segment_files(dir.path());
        assert_eq!(segments.len(), 1);
        damage_record(&segments[0], 4);
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        spool.append(event(99)).await.unwrap();
        let claimed = spool.claim(100).await.unwrap();
        let expected: Vec<String> = (0..10)
            .filter(|&n| n != 4)
            .chain([99])
            .map(|n| format!("{n:032x}"))
            .collect();
        assert_eq!(
            ids(&claimed),
            expected,
            "the records after the damage are kept"
        );
        spool
            .ack(claimed.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        assert_eq!(spool.backlog().events, 0);
    }

    #[tokio::test]
    async fn a_damaged_older_segment_does_not_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), small_segments()).await.unwrap();
            for n in 0..12 {
                spool.append(event(n)).await.unwrap();
            }
        }
        let segments = segment_files(dir.path());
        assert!(segments.len() > 2);
        damage_record(&segments[0], 1);
        let spool = Spool::open(dir.path(), small_segments()).await.unwrap();
        let claimed = spool.claim(100).await.unwrap();
        assert_eq!(ids(&claimed).len(), 11);
        assert!(!ids(&claimed).contains(&format!("{:032x}", 1)));
        spool
            .ack(claimed.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        assert_eq!(wait_for_segments(dir.path(), 1).await, 1);
    }

    #[tokio::test]
    async fn a_damaged_newest_record_of_a_live_spool_is_skipped_and_later_appends_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        for n in 0..3 {
            spool.append(event(n)).await.unwrap();
        }
        damage_record(&segment_files(dir.path())[0], 2);
        let claimed = spool.claim(10).await.unwrap();
        assert_eq!(
            ids(&claimed),
            vec![format!("{:032x}", 0), format!("{:032x}", 1)]
        );
        spool.append(event(3)).await.unwrap();
        let later = spool.claim(10).await.unwrap();
        assert_eq!(ids(&later), vec![format!("{:032x}", 3)]);
        let receipts = claimed.iter().chain(&later).map(|c| c.receipt).collect();
        spool.ack(receipts).await.unwrap();
        assert_eq!(
            spool.backlog().events,
            0,
            "the damaged record counts as done"
        );
    }
}
