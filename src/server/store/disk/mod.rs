//! [`DiskStore`]: the embedded durable store (`--store PATH`, the default),
//! one redb file, `sse-hub.redb`, in the store's directory.
//!
//! redb is pure Rust, ACID with a single writer and crash-safe commits, and
//! keeps a stable file format within a major version; it was chosen over
//! sled (unmaintained beta, its on-disk format still changing), fjall (an
//! LSM tree: fast writes, but compaction threads and more moving parts than
//! a bounded log needs) and SQLite (C). See `tables.rs` for the layout and
//! `writer.rs` for how and when it commits.
//!
//! # The durability contract
//! - A published event ([`Durability::Immediate`]) is appended only once
//!   the commit that holds it is fsynced; concurrent publishes share one
//!   commit.
//! - A generated event ([`Durability::Batched`]) is committed within
//!   `--store-flush-ms` (a crash loses at most that window of them), but its
//!   id is always durably reserved before the event is sent, so no id is
//!   ever issued twice with different data: after a crash the stream
//!   numbers on above its reservation, and a client resuming with an id of
//!   the lost window is told of a gap.
//! - [`EventStore::close`] (a clean stop) commits everything and brings each
//!   open stream's reservation down to its newest id: after the restart
//!   the numbering continues with no gap.
//!
//! # Loading
//! Opening reads two numbers (the layout version and the floor); a stream
//! is read from disk when the hub first asks for it ([`EventStore::newest`])
//! and is then numbered in memory ([`numbers.rs`](numbers)). A stream whose
//! last activity is older than the retention time is forgotten when it is
//! asked for, and the writer sweeps the rest.
//!
//! # Timeouts
//! Reads run on tokio's blocking pool and every wait (a read, an append's
//! commit, the close) is bounded by `DiskSettings::timeout`: a disk that
//! stops answering gives [`StoreError::TimedOut`], never a stuck request.

mod admin;
mod numbers;
mod request;
mod tables;
mod writer;

pub use admin::{compact, figures, StoreFigures};

use super::{
    append_one, Appended, Durability, EventStore, NewEvent, Publish, Seq, StoreError, StoreFuture,
    StoredEvent,
};
use crate::model::StreamId;
use numbers::{Numbers, OpenStream, Shared};
use redb::{Database, DatabaseError, StorageError};
use request::{Record, Request};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tables::{millis, read_after, read_keys, read_meta, read_row, FLOOR, FORMAT, FORMAT_VERSION};
use tokio::sync::oneshot;
use writer::WriterSettings;

/// The database file's name inside the store's directory.
pub const FILE_NAME: &str = "sse-hub.redb";

/// The page cache redb may fill (its default is 1 GiB): the hub's rings
/// already hold the hot events in memory.
const CACHE_BYTES: usize = 32 << 20;

/// Requests queued for the writer beyond which generated events wait for
/// their commit too, so that a slow disk cannot grow the queue without end.
const MAX_QUEUED: usize = 100_000;

/// What the disk store needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct DiskSettings {
    /// Events kept per stream (`--history`).
    pub history: usize,
    /// Longest a generated event waits for its commit (`--store-flush-ms`).
    pub flush: Duration,
    /// How long an idle stream is kept (`--retention-ms`), across restarts.
    pub retention: Duration,
    /// Longest any call waits for the disk.
    pub timeout: Duration,
}

/// Why a disk store cannot be opened or administered; printed as one line
/// naming the path and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiskError {
    /// Another process has the store open.
    #[error("cannot open the store at {path}: store in use by another process")]
    InUse {
        /// The store's directory.
        path: String,
    },
    /// The store cannot be used (not a directory, unreadable, damaged, not
    /// a store, written by a newer version, missing for a command).
    #[error("cannot open the store at {path}: {reason}")]
    Unusable {
        /// The store's directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The on-disk store; see the module doc.
pub struct DiskStore {
    /// The database for reads; taken out at the close.
    db: Mutex<Option<Arc<Database>>>,
    shared: Arc<Shared>,
    settings: DiskSettings,
    /// The writer thread, joined on drop so that the file is closed when
    /// the store is gone.
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Tests only: the temporary directory the store lives in.
    #[cfg(test)]
    _dir: Option<tempfile::TempDir>,
}

impl Drop for DiskStore {
    fn drop(&mut self) {
        // Ends the writer's queue: it commits what it holds and stops.
        self.shared.numbers().requests = None;
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Bounded: a writer stuck on a disk that stopped answering must not
        // hold the process's exit up.
        if let Some(writer) = writer {
            let deadline = std::time::Instant::now() + DROP_WAIT;
            while !writer.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if writer.is_finished() {
                let _ = writer.join();
            }
        }
    }
}

impl DiskStore {
    /// Opens the store in directory `dir`, creating both if missing, and
    /// starts its writer. Never replaces a file it cannot read.
    pub fn open(dir: &Path, settings: DiskSettings) -> Result<Self, DiskError> {
        unless_damaged(dir, || Self::open_at(dir, settings))
    }

    fn open_at(dir: &Path, settings: DiskSettings) -> Result<Self, DiskError> {
        let db = open_database(dir, true)?;
        let unusable = |reason: String| DiskError::Unusable {
            path: dir.display().to_string(),
            reason,
        };
        let format = read_meta(&db, FORMAT).map_err(|error| unusable(error.to_string()))?;
        if format > FORMAT_VERSION {
            return Err(unusable(format!(
                "written by a newer sse-hub (layout {format}, this one reads {FORMAT_VERSION})"
            )));
        }
        let floor = read_meta(&db, FLOOR).map_err(|error| unusable(error.to_string()))?;
        let db = Arc::new(db);
        let (requests, queue) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::new(Numbers::new(floor, requests)));
        let writer_settings = WriterSettings {
            history: settings.history.max(1) as Seq,
            flush: settings.flush,
            retention: settings.retention,
        };
        let writer = writer::spawn(Arc::clone(&db), Arc::clone(&shared), queue, writer_settings)
            .map_err(|error| unusable(format!("cannot start its writer: {error}")))?;
        Ok(Self {
            db: Mutex::new(Some(db)),
            shared,
            settings,
            writer: Mutex::new(Some(writer)),
            #[cfg(test)]
            _dir: None,
        })
    }

    /// Queues `request`; `false` when the writer is gone.
    fn send(numbers: &mut Numbers, shared: &Shared, request: Request) -> bool {
        shared.queued.fetch_add(1, Ordering::AcqRel);
        let sent = numbers
            .requests
            .as_ref()
            .is_some_and(|requests| requests.send(request).is_ok());
        if sent {
            return true;
        }
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        numbers.refused = Some("the store's writer has stopped".to_owned());
        false
    }

    /// Runs `read` on the blocking pool, within the timeout.
    async fn read<T: Send + 'static>(
        &self,
        operation: &'static str,
        read: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self
            .db
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the store is closed".to_owned()))?;
        let task = tokio::task::spawn_blocking(move || read(&db));
        match tokio::time::timeout(self.settings.timeout, task).await {
            Err(_) => Err(StoreError::TimedOut { operation }),
            Ok(Err(failed)) if failed.is_panic() => {
                // redb panics on some damaged pages rather than returning
                // an error: the file cannot be trusted any more.
                let reason = damaged(&format!(
                    "{operation}: {}",
                    panic_reason(&*failed.into_panic())
                ));
                tracing::error!(%reason, "the store takes no more appends");
                self.shared.numbers().refused = Some(reason.clone());
                Err(StoreError::Unavailable(reason))
            }
            Ok(Err(failed)) => Err(StoreError::Unavailable(format!(
                "{operation} failed: {failed}"
            ))),
            Ok(Ok(Err(error))) => Err(StoreError::Unavailable(format!("{operation}: {error}"))),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }

    /// Waits for the writer's answer to a request, within `timeout`.
    async fn answer(
        answer: oneshot::Receiver<Result<(), String>>,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        match tokio::time::timeout(timeout, answer).await {
            Err(_) => Err(StoreError::TimedOut { operation }),
            Ok(Err(_)) => Err(StoreError::Unavailable(
                "the store's writer has stopped".to_owned(),
            )),
            Ok(Ok(result)) => result.map_err(StoreError::Unavailable),
        }
    }

    /// Commits everything queued so far and waits for it (tests, and the
    /// benchmarks' restart scenario).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (ack, answer) = oneshot::channel();
        {
            let mut numbers = self.shared.numbers();
            if !Self::send(&mut numbers, &self.shared, Request::Flush(ack)) {
                return Err(StoreError::Unavailable(
                    "the store's writer has stopped".to_owned(),
                ));
            }
        }
        Self::answer(answer, "flush", self.settings.timeout).await
    }

    /// Tests only: tells the writer to play `fault`.
    #[cfg(test)]
    fn fault(&self, fault: request::Fault) {
        let mut numbers = self.shared.numbers();
        Self::send(&mut numbers, &self.shared, Request::Fault(fault));
    }

    /// Issues the next ids of `stream` to `events` and queues them for the
    /// writer, all under one lock (so they are consecutive and in one
    /// commit unless the batch is full); waits for the commit of the last
    /// one when `durability` asks for it, when an id is above the stream's
    /// reservation, or when the queue is full. Commits are in queue order,
    /// so the last one's is everyone's.
    async fn append_events(
        &self,
        stream: &StreamId,
        events: Vec<Publish>,
        durability: Durability,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        loop {
            let issued = 'issue: {
                let mut numbers = self.shared.numbers();
                if let Some(reason) = &numbers.refused {
                    return Err(StoreError::Unavailable(reason.clone()));
                }
                let backlog = self.shared.queued.load(Ordering::Acquire) >= MAX_QUEUED;
                let Some(&open) = numbers.open.get(stream) else {
                    break 'issue None;
                };
                let last = open.newest + events.len() as Seq;
                let wait = durability == Durability::Immediate || last > open.reserved || backlog;
                let (mut ack, answer) = if wait {
                    let (ack, answer) = oneshot::channel();
                    (Some(ack), Some(answer))
                } else {
                    (None, None)
                };
                // Kept to the millisecond, as the disk keeps it.
                let at_ms = millis(SystemTime::now());
                let at = tables::from_millis(at_ms);
                let mut stored = Vec::with_capacity(events.len());
                for (n, (event, key)) in events.iter().enumerate() {
                    let seq = open.newest + 1 + n as Seq;
                    let record = Record {
                        stream: stream.clone(),
                        seq,
                        at_ms,
                        event: event.event.clone(),
                        data: event.data.clone(),
                        key: key.clone(),
                    };
                    let ack = if seq == last { ack.take() } else { None };
                    let request = Request::Append { record, ack };
                    if !Self::send(&mut numbers, &self.shared, request) {
                        return Err(StoreError::Unavailable(
                            "the store's writer has stopped".to_owned(),
                        ));
                    }
                    stored.push(StoredEvent {
                        seq,
                        event: event.event.clone(),
                        data: event.data.clone(),
                        at,
                    });
                }
                if let Some(open) = numbers.open.get_mut(stream) {
                    open.newest = last;
                }
                Some((stored, answer))
            };
            let Some((stored, answer)) = issued else {
                // Not open (the hub asks `newest` first; this is the
                // fallback): load it, then issue.
                self.open_stream(stream).await?;
                continue;
            };
            if let Some(answer) = answer {
                Self::answer(answer, "append", self.settings.timeout).await?;
            }
            return Ok(stored);
        }
    }

    /// Where `stream` stands, loading it from disk if it is not open.
    async fn open_stream(&self, stream: &StreamId) -> Result<Seq, StoreError> {
        loop {
            if let Some(newest) = self.try_open_stream(stream).await? {
                return Ok(newest);
            }
        }
    }

    /// One try of [`DiskStore::open_stream`]: `None` when a stream was
    /// forgotten while the row was read (the row may be of a life that is
    /// gone, its forgetting even committed), so it must be read again.
    async fn try_open_stream(&self, stream: &StreamId) -> Result<Option<Seq>, StoreError> {
        let generation = {
            let mut numbers = self.shared.numbers();
            if let Some(reason) = &numbers.refused {
                return Err(StoreError::Unavailable(reason.clone()));
            }
            if let Some(open) = numbers.open.get(stream) {
                return Ok(Some(open.newest));
            }
            if numbers.forgotten.contains_key(stream) {
                // Forgotten, not yet deleted: a new life above the floor.
                let floor = numbers.floor;
                numbers.open.insert(
                    stream.clone(),
                    OpenStream {
                        newest: floor,
                        reserved: floor,
                        committed: floor,
                        idle_since_ms: Some(millis(SystemTime::now())),
                    },
                );
                let reserve = Request::Reserve {
                    stream: stream.clone(),
                    issued: floor,
                };
                Self::send(&mut numbers, &self.shared, reserve);
                return Ok(Some(floor));
            }
            numbers.generations
        };
        let name = stream.as_str().to_owned();
        let row = self.read("newest", move |db| read_row(db, &name)).await?;
        let retention_ms = tables::duration_ms(self.settings.retention);
        let now = millis(SystemTime::now());
        let mut numbers = self.shared.numbers();
        if let Some(open) = numbers.open.get(stream) {
            return Ok(Some(open.newest));
        }
        if numbers.generations != generation {
            return Ok(None);
        }
        // (Forgotten while it was read: the generation check above.)
        let row = match row {
            Some(row) if row.active_at_ms.saturating_add(retention_ms) < now => {
                // Idle past the retention time (across a restart): forgotten now.
                let generation = numbers.forget(stream, row.reserved);
                let forget = Request::Forget {
                    stream: stream.clone(),
                    generation,
                };
                Self::send(&mut numbers, &self.shared, forget);
                None
            }
            row => row,
        };
        let (newest, reserved) = match row {
            Some(row) => (row.numbering(), row.reserved),
            None => (numbers.floor, numbers.floor),
        };
        let open = OpenStream {
            newest,
            reserved,
            committed: newest,
            idle_since_ms: Some(millis(SystemTime::now())),
        };
        numbers.open.insert(stream.clone(), open);
        let reserve = Request::Reserve {
            stream: stream.clone(),
            issued: newest,
        };
        Self::send(&mut numbers, &self.shared, reserve);
        Ok(Some(newest))
    }
}

impl EventStore for DiskStore {
    fn kind(&self) -> &'static str {
        "disk"
    }

    fn keeps_history(&self) -> bool {
        true
    }

    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        Box::pin(async move {
            let newest = self.open_stream(stream).await?;
            Ok((newest > 0).then_some(newest))
        })
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        append_one(self, stream, event, durability)
    }

    fn append_all<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<NewEvent>,
        durability: Durability,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        let events = events.into_iter().map(|event| (event, None)).collect();
        Box::pin(self.append_events(stream, events, durability))
    }

    fn append_published<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<Publish>,
    ) -> StoreFuture<'a, Vec<Appended>> {
        Box::pin(async move {
            // The hub's own table answers the keys it saw since the start;
            // the file answers those of an earlier run.
            let keys: Vec<Option<Box<str>>> = events.iter().map(|(_, key)| key.clone()).collect();
            let answered = if keys.iter().any(Option::is_some) {
                let name = stream.clone();
                self.read("idempotency keys", move |db| {
                    read_keys(db, name.as_str(), &keys, SystemTime::now())
                })
                .await?
            } else {
                vec![None; events.len()]
            };
            let mut fresh = Vec::new();
            for (event, answer) in events.into_iter().zip(&answered) {
                if answer.is_none() {
                    fresh.push(event);
                }
            }
            let mut stored = if fresh.is_empty() {
                Vec::new()
            } else {
                self.append_events(stream, fresh, Durability::Immediate)
                    .await?
            }
            .into_iter();
            // In the order of `events`.
            answered
                .into_iter()
                .map(|answer| match answer {
                    Some(seq) => Ok(Appended::Replayed(seq)),
                    None => stored
                        .next()
                        .map(Appended::Stored)
                        .ok_or_else(|| StoreError::Unavailable("nothing was appended".to_owned())),
                })
                .collect()
        })
    }

    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(async move {
            let (above, uncommitted) = {
                let numbers = self.shared.numbers();
                let uncommitted = numbers.open.get(stream).is_some_and(|open| {
                    let wanted = open.newest.min(after.saturating_add(limit as Seq));
                    open.committed < wanted
                });
                (numbers.forgotten_below(stream), uncommitted)
            };
            // Generated events wait for their batch; a read of them commits
            // it first, so that a store reads its own appends.
            if uncommitted {
                self.flush().await?;
            }
            let name = stream.as_str().to_owned();
            self.read("after", move |db| {
                read_after(db, &name, after, above, limit)
            })
            .await
        })
    }

    fn health(&self) -> Result<(), String> {
        match &self.shared.numbers().refused {
            // Closed at a clean stop: not a fault.
            Some(reason)
                if self
                    .db
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some() =>
            {
                Err(reason.clone())
            }
            _ => Ok(()),
        }
    }

    fn busy(&self, stream: &StreamId, busy: bool) {
        if let Some(open) = self.shared.numbers().open.get_mut(stream) {
            open.idle_since_ms = (!busy).then(|| millis(SystemTime::now()));
        }
    }

    fn release(&self, stream: &StreamId) {
        // Nothing was issued under it (the hub refused the stream): the
        // next opening reads the row again.
        self.shared.numbers().open.remove(stream);
    }

    fn forget(&self, stream: &StreamId) {
        let mut numbers = self.shared.numbers();
        let below = numbers
            .open
            .remove(stream)
            .map_or(0, |open| open.newest.max(open.reserved));
        let generation = numbers.forget(stream, below);
        let request = Request::Forget {
            stream: stream.clone(),
            generation,
        };
        Self::send(&mut numbers, &self.shared, request);
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (ack, answer) = oneshot::channel();
            {
                let mut numbers = self.shared.numbers();
                numbers
                    .refused
                    .get_or_insert_with(|| "the store is closed".to_owned());
                if !Self::send(&mut numbers, &self.shared, Request::Close(ack)) {
                    return Err(StoreError::Unavailable(
                        "the store's writer has stopped".to_owned(),
                    ));
                }
            }
            let closed =
                Self::answer(answer, "close", self.settings.timeout.max(CLOSE_TIMEOUT)).await;
            // The last handle goes: redb records the clean close.
            self.db
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            closed
        })
    }
}

/// Longest dropping the store waits for its writer to finish.
const DROP_WAIT: Duration = Duration::from_secs(2);

/// Longest the close waits for the last commit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (with `create`, creates) the database file in `dir`, mapping
/// redb's errors to one line each.
pub(super) fn open_database(dir: &Path, create: bool) -> Result<Database, DiskError> {
    let path = dir.display().to_string();
    let unusable = |reason: String| DiskError::Unusable {
        path: path.clone(),
        reason,
    };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(unusable("not a directory".to_owned())),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            std::fs::create_dir_all(dir)
                .map_err(|error| unusable(format!("cannot create the directory: {error}")))?;
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(unusable("no store there".to_owned()))
        }
        Err(error) => return Err(unusable(error.to_string())),
    }
    let file: PathBuf = dir.join(FILE_NAME);
    // redb would make an empty file a new database: numbering from 1 again
    // over whatever the file was meant to hold.
    if std::fs::metadata(&file).is_ok_and(|meta| meta.is_file() && meta.len() == 0) {
        return Err(unusable(format!(
            "{FILE_NAME} is empty, not an sse-hub store (remove it to start an empty store)"
        )));
    }
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    let opened = if create {
        builder.create(&file)
    } else {
        builder.open(&file)
    };
    opened.map_err(|error| match error {
        DatabaseError::DatabaseAlreadyOpen => DiskError::InUse { path: path.clone() },
        DatabaseError::Storage(StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            unusable(format!(
                "{FILE_NAME} is not an sse-hub store or is damaged ({io})"
            ))
        }
        DatabaseError::Storage(StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            unusable(format!("no {FILE_NAME} there"))
        }
        DatabaseError::Storage(StorageError::Io(io)) => unusable(format!("{FILE_NAME}: {io}")),
        other => unusable(format!("{FILE_NAME}: {other}")),
    })
}

/// The reason a store is refused once redb found it damaged.
fn damaged(what: &str) -> String {
    format!("the store is damaged ({what}): restore it from a backup or start with an empty one")
}

/// The message of a panic's payload.
fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Runs `work` on a store, turning a panic of redb's on a damaged page
/// into an error naming the store.
fn unless_damaged<T>(
    dir: &Path,
    work: impl FnOnce() -> Result<T, DiskError>,
) -> Result<T, DiskError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(DiskError::Unusable {
            path: dir.display().to_string(),
            reason: damaged(&panic_reason(&*payload)),
        })
    })
}

#[cfg(test)]
mod tests;
