//! The disk store's writer: one thread owns every write to the database,
//! so there is one writer as redb wants, and commits are grouped.
//!
//! # When it commits
//! Requests queue in the order their ids were issued. The writer takes
//! everything queued (up to [`MAX_BATCH`]) into one transaction and commits
//! it, fsynced, when
//! - somebody waits for a request in it (a published event, a generated
//!   event above its stream's reservation, a flush or the close): at once,
//!   so while one commit is on disk the next one collects every publish
//!   that arrives meanwhile (group commit: one fsync for all of them);
//! - otherwise when its oldest request has waited the flush interval
//!   (`--store-flush-ms`): generated events go to disk in batches.
//!
//! # What a commit writes
//! The events; events older than each stream's newest `--history` are
//! deleted in the same commit (so the file stays bounded), forgotten
//! streams' events and rows too, and the floor. A stream's row (see
//! `tables.rs`) is written only when it must change on disk: when the
//! stream is opened, and when its issued ids come within half of
//! [`RESERVE`] of its durable reservation, which then moves [`RESERVE`]
//! ids above them. Its newest id and last activity are otherwise read
//! from its newest kept event, so an append dirties one table, not two
//! (measured: a fifth of a publish commit's time went to the row).
//! The reservation is what keeps ids unique across a crash: an id is only
//! sent to clients below a durable reservation (the store makes an append
//! above it wait for its commit), so a restart after `kill -9` numbers on
//! above every id any client saw. The close (a clean stop) lowers every
//! open stream's reservation to its newest id, so after a restart its
//! numbering continues with no gap.
//!
//! # Sweeping
//! Between commits it walks the stream rows in chunks and forgets those
//! idle longer than the retention time that no caller has open, so that
//! streams nobody asks for after a restart do not stay on disk forever.
//!
//! # Failure
//! A failed commit stores nothing of its batch; everyone waiting is told,
//! and the store takes no more appends (redb refuses writes after an I/O
//! error until the database is opened again, i.e. the server restarts).

use super::numbers::Shared;
#[cfg(test)]
use super::request::Fault;
use super::request::{Ack, Record, Request};
use super::tables::{
    duration_ms, key_lifetime_ms, millis, open_if_there, with_newest_event, EventKey, EventValue,
    RowValue, StreamRow, EVENTS, FLOOR, FORMAT, FORMAT_VERSION, KEYS, KEYS_BY_TIME, META, STREAMS,
};
use crate::model::StreamId;
use crate::server::store::Seq;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Ids reserved above a stream's newest committed one at each commit. A
/// stream may issue this many ids between two commits before an append has
/// to wait for one; a crash skips at most this many ids.
pub(super) const RESERVE: Seq = 1000;

/// Most requests in one transaction.
pub(super) const MAX_BATCH: usize = 20_000;

/// Stream rows the sweep reads per pass.
const SWEEP_CHUNK: usize = 1000;

/// What the writer needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterSettings {
    /// Events kept per stream.
    pub(super) history: Seq,
    /// Longest a queued request waits for its commit.
    pub(super) flush: Duration,
    /// How long a stream nobody has open is kept after its last activity.
    pub(super) retention: Duration,
}

/// Events of `stream` in the table.
fn count_events(
    events: &redb::Table<'_, EventKey, EventValue>,
    stream: &str,
) -> Result<Seq, redb::Error> {
    let mut count = 0;
    for entry in events.range((stream, 0)..=(stream, Seq::MAX))? {
        entry?;
        count += 1;
    }
    Ok(count)
}

/// The idempotency key tables of a write, opened at the first use.
type KeyTables<'t> = (
    redb::Table<'t, (&'static str, &'static str), (u64, u64)>,
    redb::Table<'t, (u64, &'static str, &'static str), ()>,
);

fn open_keys<'s, 't>(
    txn: &'t redb::WriteTransaction,
    keys: &'s mut Option<KeyTables<'t>>,
) -> Result<&'s mut KeyTables<'t>, redb::Error> {
    if keys.is_none() {
        *keys = Some((txn.open_table(KEYS)?, txn.open_table(KEYS_BY_TIME)?));
    }
    keys.as_mut()
        .ok_or_else(|| redb::Error::Corrupted("the key tables did not open".to_owned()))
}

/// Starts the writer thread on `db`.
pub(super) fn spawn(
    db: Arc<Database>,
    shared: Arc<Shared>,
    requests: Receiver<Request>,
    settings: WriterSettings,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let writer = Writer {
        db: Some(db),
        shared,
        requests,
        settings,
        pending: Pending::default(),
        failed: None,
        next_sweep: Instant::now(),
        sweep_after: None,
        keys_kept: true,
        kept: HashMap::new(),
        #[cfg(test)]
        fail_commits: false,
        #[cfg(test)]
        panic_in_commits: false,
    };
    std::thread::Builder::new()
        .name("sse-hub-store".to_owned())
        .spawn(move || {
            let mut writer = writer;
            // redb panics on some damaged pages: the store is refused from
            // then on (and `/healthz` says why), rather than going on
            // without a writer while looking healthy. Refused before the
            // writer (and with it every waiting request) is dropped, so
            // that whoever is told of the failure finds the reason.
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| writer.run()))
            {
                let reason = super::damaged(&super::panic_reason(&*payload));
                tracing::error!(%reason, "the store takes no more appends");
                writer.shared.numbers().refused = Some(reason);
            }
        })
}

/// One write to apply, in queue order.
enum Op {
    Append(Record),
    Reserve {
        stream: StreamId,
        issued: Seq,
        at_ms: u64,
    },
    Forget {
        stream: StreamId,
        generation: u64,
    },
    /// Delete the idempotency keys written before this time (ms).
    ExpireKeys(u64),
}

impl Op {
    /// Where the op lands in the events table; `None` for a forget (or
    /// an expiry), which must stay where it is among the appends.
    fn key(&self) -> Option<(&str, Seq)> {
        match self {
            Op::Append(record) => Some((record.stream.as_str(), record.seq)),
            Op::Reserve { stream, .. } => Some((stream.as_str(), 0)),
            Op::Forget { .. } | Op::ExpireKeys(_) => None,
        }
    }
}

/// Sorts each run of appends between two forgets by key: inserting in key
/// order touches each page of the table once in a run rather than once per
/// event (measured: a third less time for a batch spread over 500
/// streams). Only a forget's place among the appends matters.
fn in_key_order(ops: &mut [Op]) {
    for run in ops.split_mut(|op| op.key().is_none()) {
        run.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
    }
}

/// What one commit does to a stream.
#[derive(Debug, Clone, Copy, Default)]
struct Touch {
    /// The stream was opened: its row is written (its activity is noted
    /// even when no event follows).
    opened: bool,
    /// The newest event appended (0: none).
    newest: Seq,
    /// The highest id issued, to reserve above.
    issued: Seq,
    /// The latest activity.
    at_ms: u64,
    /// Events inserted.
    appended: u64,
}

impl Touch {
    fn add(&mut self, newest: Seq, issued: Seq, at_ms: u64) {
        self.opened |= newest == 0;
        self.newest = self.newest.max(newest);
        self.issued = self.issued.max(issued);
        self.at_ms = self.at_ms.max(at_ms);
        self.appended += u64::from(newest > 0);
    }
}

/// What the next commit holds.
#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    acks: Vec<Ack>,
    /// When the oldest uncommitted request arrived.
    since: Option<Instant>,
    /// Somebody waits for this commit.
    urgent: bool,
}

/// What a successful commit changed, for the shared numbering.
struct Committed {
    /// Touched streams, their newest committed id and their new durable
    /// reservation.
    reserved: Vec<(StreamId, Seq, Seq)>,
    /// Forgettings now on disk.
    forgotten: Vec<(StreamId, u64)>,
    /// The floor as committed.
    floor: Seq,
}

struct Writer {
    /// `None` once closed.
    db: Option<Arc<Database>>,
    shared: Arc<Shared>,
    requests: Receiver<Request>,
    settings: WriterSettings,
    pending: Pending,
    /// Why writing stopped, after a failed commit.
    failed: Option<String>,
    next_sweep: Instant,
    /// Where the sweep goes on (`None`: from the first row).
    sweep_after: Option<String>,
    /// Whether the file may hold idempotency keys to expire (true at the
    /// start: an earlier run may have left some).
    keys_kept: bool,
    /// How many events each stream touched since the start has in the
    /// table (counted at its first touch), for trimming by count.
    kept: HashMap<StreamId, Seq>,
    #[cfg(test)]
    fail_commits: bool,
    #[cfg(test)]
    panic_in_commits: bool,
}

impl Writer {
    fn run(&mut self) {
        loop {
            let first = match self.requests.recv_timeout(self.wait()) {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    // The store was dropped without a close: keep what came.
                    let _ = self.commit(false);
                    return;
                }
            };
            let mut close = first.and_then(|request| self.take(request));
            while close.is_none() && self.pending.ops.len() < MAX_BATCH {
                match self.requests.try_recv() {
                    Ok(request) => close = self.take(request),
                    Err(_) => break,
                }
            }
            if let Some(ack) = close {
                let result = self.commit(true);
                self.db = None;
                let _ = ack.send(result);
                return;
            }
            let due = self
                .pending
                .since
                .is_some_and(|since| since.elapsed() >= self.settings.flush);
            if self.pending.urgent || due || self.pending.ops.len() >= MAX_BATCH {
                let _ = self.commit(false);
            }
            // Right after a commit too, so that a steady load, which never
            // leaves the queue empty, does not hold the sweep off.
            if self.pending.since.is_none() && Instant::now() >= self.next_sweep {
                self.sweep();
            }
        }
    }

    /// How long to wait for the next request: until the pending batch is
    /// due, or the next sweep.
    fn wait(&self) -> Duration {
        let until = match self.pending.since {
            Some(since) => since + self.settings.flush,
            None => self.next_sweep,
        };
        until.saturating_duration_since(Instant::now())
    }

    /// Adds `request` to the pending batch; returns the close's ack.
    fn take(&mut self, request: Request) -> Option<Ack> {
        self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        match request {
            Request::Append { record, ack } => {
                self.pending.ops.push(Op::Append(record));
                self.pending.since.get_or_insert_with(Instant::now);
                if let Some(ack) = ack {
                    self.pending.acks.push(ack);
                    self.pending.urgent = true;
                }
            }
            Request::Reserve { stream, issued } => {
                let at_ms = millis(SystemTime::now());
                self.pending.ops.push(Op::Reserve {
                    stream,
                    issued,
                    at_ms,
                });
                self.pending.since.get_or_insert_with(Instant::now);
            }
            Request::Forget { stream, generation } => {
                self.pending.ops.push(Op::Forget { stream, generation });
                self.pending.since.get_or_insert_with(Instant::now);
            }
            Request::Flush(ack) => {
                self.pending.acks.push(ack);
                self.pending.urgent = true;
            }
            Request::Close(ack) => return Some(ack),
            #[cfg(test)]
            Request::Fault(fault) => match fault {
                Fault::FailCommits => self.fail_commits = true,
                Fault::Stall(pause) => std::thread::sleep(pause),
                Fault::Panic => panic!("a test fault: a damaged page"),
                Fault::PanicInCommits => self.panic_in_commits = true,
            },
        }
        None
    }

    /// Commits the pending batch (with `closing`, as the clean stop) and
    /// tells everyone waiting for it.
    fn commit(&mut self, closing: bool) -> Result<(), String> {
        let pending = std::mem::take(&mut self.pending);
        let result = match &self.failed {
            Some(reason) => Err(reason.clone()),
            None if pending.ops.is_empty() && !closing => Ok(None),
            None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.write(pending.ops, closing)
            }))
            .unwrap_or_else(|payload| {
                // redb met a damaged page: told to everyone waiting, below.
                Err(redb::Error::Corrupted(super::damaged(
                    &super::panic_reason(&*payload),
                )))
            })
            .map_err(|error| {
                let reason = format!("the disk store could not commit: {error}");
                tracing::error!(%reason, "the store takes no more appends");
                self.failed = Some(reason.clone());
                self.shared.numbers().refused = Some(reason.clone());
                reason
            }),
        };
        let result = result.map(|committed| self.note(committed));
        for ack in pending.acks {
            let _ = ack.send(result.clone());
        }
        result
    }

    /// Writes `ops` in one fsynced transaction.
    fn write(&mut self, ops: Vec<Op>, closing: bool) -> Result<Option<Committed>, redb::Error> {
        #[cfg(test)]
        if self.fail_commits {
            return Err(redb::StorageError::Io(std::io::Error::other("a test fault")).into());
        }
        #[cfg(test)]
        if self.panic_in_commits {
            panic!("a test fault: a damaged page");
        }
        let Some(db) = &self.db else {
            return Err(redb::Error::DatabaseClosed);
        };
        let mut txn = db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|error| redb::Error::Corrupted(error.to_string()))?;
        // Each commit also saves the allocator state, so that opening after
        // a crash needs no scan of the whole file.
        txn.set_quick_repair(true);
        let history = self.settings.history;
        let mut touched: HashMap<StreamId, Touch> = HashMap::new();
        let mut forgotten = Vec::new();
        let mut reserved = Vec::new();
        let mut floor = self.shared.numbers().floor;
        {
            let mut events = txn.open_table(EVENTS)?;
            let mut streams = txn.open_table(STREAMS)?;
            // Opened only by a commit that has keys to write or delete.
            let mut keys = None;
            let mut ops = ops;
            in_key_order(&mut ops);
            for op in ops {
                match op {
                    Op::Append(Record {
                        stream,
                        seq,
                        at_ms,
                        event,
                        data,
                        key,
                    }) => {
                        events.insert(
                            (stream.as_str(), seq),
                            (at_ms, event.as_deref(), data.as_ref()),
                        )?;
                        if let Some(key) = key {
                            self.keys_kept = true;
                            let (by_key, by_time) = open_keys(&txn, &mut keys)?;
                            by_key.insert((stream.as_str(), &*key), (seq, at_ms))?;
                            by_time.insert((at_ms, stream.as_str(), &*key), ())?;
                        }
                        touched.entry(stream).or_default().add(seq, seq, at_ms);
                    }
                    Op::ExpireKeys(before_ms) => {
                        let (by_key, by_time) = open_keys(&txn, &mut keys)?;
                        let expired = by_time
                            .extract_from_if((0, "", "")..(before_ms, "", ""), |_, _| true)?;
                        for entry in expired {
                            let (written, _) = entry?;
                            let (at_ms, stream, key) = written.value();
                            // The key may have been written again since.
                            let current = by_key.get((stream, key))?.map(|entry| entry.value());
                            if current.is_some_and(|(_, at)| at <= at_ms) {
                                by_key.remove((stream, key))?;
                            }
                        }
                        self.keys_kept = !by_time.is_empty()?;
                    }
                    Op::Reserve {
                        stream,
                        issued,
                        at_ms,
                    } => touched.entry(stream).or_default().add(0, issued, at_ms),
                    Op::Forget { stream, generation } => {
                        let name = stream.as_str();
                        let row = streams
                            .remove(name)?
                            .map(|row| StreamRow::from_value(row.value()));
                        if let Some(row) = row {
                            floor = floor.max(row.reserved);
                        }
                        events.retain_in((name, 0)..=(name, Seq::MAX), |_, _| false)?;
                        // Keys are printable ASCII: all below "\x7f".
                        let (by_key, _) = open_keys(&txn, &mut keys)?;
                        by_key.retain_in((name, "")..(name, "\x7f"), |_, _| false)?;
                        touched.remove(&stream);
                        self.kept.remove(&stream);
                        forgotten.push((stream, generation));
                    }
                }
            }
            for (stream, touch) in touched {
                let name = stream.as_str();
                let kept = match self.kept.get(&stream) {
                    Some(kept) => kept + touch.appended,
                    // Counted after this commit's inserts: they are in.
                    None => count_events(&events, name)?,
                };
                let kept = if kept > history {
                    // The oldest go, by count: the stream's range starts
                    // with them (after a crash the ids have a hole).
                    let excess = usize::try_from(kept - history).unwrap_or(usize::MAX);
                    let trimmed = events
                        .extract_from_if((name, 0)..=(name, Seq::MAX), |_, _| true)?
                        .take(excess);
                    for entry in trimmed {
                        entry?;
                    }
                    history
                } else {
                    kept
                };
                let row = streams
                    .get(name)?
                    .map(|row| StreamRow::from_value(row.value()));
                let row = match row {
                    Some(row)
                        if !touch.opened
                            && touch.issued.saturating_add(RESERVE / 2) <= row.reserved =>
                    {
                        row
                    }
                    row => {
                        let row = StreamRow {
                            newest: row.map_or(touch.newest, |row| row.newest.max(touch.newest)),
                            reserved: row
                                .map_or(0, |row| row.reserved)
                                .max(touch.issued.saturating_add(RESERVE)),
                            active_at_ms: row
                                .map_or(touch.at_ms, |row| row.active_at_ms.max(touch.at_ms)),
                            kept,
                        };
                        streams.insert(name, row.to_value())?;
                        row
                    }
                };
                self.kept.insert(stream.clone(), kept);
                reserved.push((stream, row.newest.max(touch.newest), row.reserved));
            }
            if closing {
                self.record_clean_stop(&mut streams)?;
            }
            let mut meta = txn.open_table(META)?;
            floor = floor.max(self.shared.numbers().floor);
            meta.insert(FLOOR, floor)?;
            meta.insert(FORMAT, FORMAT_VERSION)?;
        }
        txn.commit()?;
        Ok(Some(Committed {
            reserved,
            forgotten,
            floor,
        }))
    }

    /// At a clean stop every issued id is committed: each open stream's
    /// reservation comes down to its newest id (so that its numbering goes
    /// on with no gap after the restart), and its activity is when its last
    /// subscriber left, or now for one that still had subscribers (whose
    /// retention starts with the stop).
    fn record_clean_stop(
        &self,
        streams: &mut redb::Table<'_, &str, RowValue>,
    ) -> Result<(), redb::Error> {
        let now = millis(SystemTime::now());
        let open: Vec<(StreamId, Seq, u64)> = self
            .shared
            .numbers()
            .open
            .iter()
            .map(|(id, open)| (id.clone(), open.newest, open.idle_since_ms.unwrap_or(now)))
            .collect();
        for (stream, issued, active_at_ms) in open {
            let name = stream.as_str();
            let row = streams
                .get(name)?
                .map(|row| StreamRow::from_value(row.value()));
            if let Some(row) = row {
                let stopped = StreamRow {
                    newest: row.newest.max(issued),
                    reserved: row.newest.max(issued),
                    active_at_ms: row.active_at_ms.max(active_at_ms),
                    ..row
                };
                streams.insert(name, stopped.to_value())?;
            }
        }
        Ok(())
    }

    /// Brings the shared numbering up to a commit.
    fn note(&self, committed: Option<Committed>) {
        let Some(committed) = committed else {
            return;
        };
        let mut numbers = self.shared.numbers();
        numbers.floor = numbers.floor.max(committed.floor);
        for (stream, newest, reserved) in committed.reserved {
            if let Some(open) = numbers.open.get_mut(&stream) {
                open.reserved = open.reserved.max(reserved);
                open.committed = open.committed.max(newest);
            }
        }
        for (stream, generation) in committed.forgotten {
            if numbers
                .forgotten
                .get(&stream)
                .is_some_and(|forgotten| forgotten.generation == generation)
            {
                numbers.forgotten.remove(&stream);
            }
        }
    }

    /// One pass of the sweep: forgets the streams of the next chunk of
    /// rows that have been idle longer than the retention time and that
    /// nobody has open.
    fn sweep(&mut self) {
        let retention_ms = duration_ms(self.settings.retention);
        let now = millis(SystemTime::now());
        // Once a round: the streams with subscribers are active, and the
        // keys (only while there may be some: an idle store commits
        // nothing) expire.
        if self.sweep_after.is_none() {
            self.note_busy_streams(now);
            if self.keys_kept {
                let before = now.saturating_sub(key_lifetime_ms());
                self.pending.ops.push(Op::ExpireKeys(before));
            }
        }
        let chunk = match self.read_rows(retention_ms, now) {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::warn!(%error, "store sweep: cannot read the stream rows");
                self.next_sweep = Instant::now() + self.sweep_every();
                return;
            }
        };
        let finished = chunk.len() < SWEEP_CHUNK;
        self.sweep_after = if finished {
            None
        } else {
            chunk.last().map(|(name, _)| name.clone())
        };
        self.next_sweep = if finished {
            Instant::now() + self.sweep_every()
        } else {
            Instant::now()
        };
        {
            let mut numbers = self.shared.numbers();
            for (name, row) in chunk {
                if row.active_at_ms.saturating_add(retention_ms) >= now {
                    continue;
                }
                let Ok(stream) = StreamId::parse(&name) else {
                    continue;
                };
                if numbers.open.contains_key(&stream) || numbers.forgotten.contains_key(&stream) {
                    continue;
                }
                let generation = numbers.forget(&stream, row.reserved);
                self.pending.ops.push(Op::Forget { stream, generation });
            }
        }
        if !self.pending.ops.is_empty() {
            let _ = self.commit(false);
        }
    }

    /// Records `now` as the activity of every stream that has subscribers,
    /// once per round of the sweep: after a crash (which records no stop)
    /// such a stream counts as idle from at most a round before it, not
    /// from its newest event, which may be far older for a quiet stream.
    fn note_busy_streams(&mut self, now: u64) {
        let busy: Vec<(StreamId, Seq)> = self
            .shared
            .numbers()
            .open
            .iter()
            .filter(|(_, open)| open.idle_since_ms.is_none())
            .map(|(id, open)| (id.clone(), open.newest))
            .collect();
        if busy.is_empty() {
            return;
        }
        for (stream, issued) in busy {
            // Rewrites the row (as an opening does) with `now` as activity.
            self.pending.ops.push(Op::Reserve {
                stream,
                issued,
                at_ms: now,
            });
        }
        self.pending.since.get_or_insert_with(Instant::now);
    }

    /// How often the sweep starts over: a quarter of the retention time,
    /// between one second and a minute.
    fn sweep_every(&self) -> Duration {
        (self.settings.retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// The next chunk of stream rows after the sweep's position; a row
    /// idle past `retention_ms` at `now` comes with its newest event's
    /// activity (a row is not rewritten with every append).
    fn read_rows(
        &self,
        retention_ms: u64,
        now: u64,
    ) -> Result<Vec<(String, StreamRow)>, redb::Error> {
        let Some(db) = &self.db else {
            return Ok(Vec::new());
        };
        let read = db.begin_read()?;
        let Some(streams) = open_if_there(&read, STREAMS)? else {
            return Ok(Vec::new());
        };
        let start = match &self.sweep_after {
            Some(after) => Bound::Excluded(after.as_str()),
            None => Bound::Unbounded,
        };
        let mut rows = Vec::new();
        for entry in streams
            .range::<&str>((start, Bound::Unbounded))?
            .take(SWEEP_CHUNK)
        {
            let (name, row) = entry?;
            rows.push((name.value().to_owned(), StreamRow::from_value(row.value())));
        }
        for (name, row) in &mut rows {
            if row.active_at_ms.saturating_add(retention_ms) < now {
                *row = with_newest_event(&read, name, *row)?;
            }
        }
        Ok(rows)
    }
}
