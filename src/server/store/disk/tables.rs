//! The disk store's file layout: its tables, what a row means, and
//! the reads that answer the store's calls. Keys are ordered
//! `(stream, seq)`, so one stream's events are one key range: `after` is a
//! range read from the asked id (never a scan from the oldest event) and
//! trimming or forgetting is a range delete.

use crate::server::store::{Seq, StoredEvent};
use bytes::Bytes;
use redb::{
    Key, ReadOnlyTable, ReadTransaction, ReadableDatabase, TableDefinition, TableError, Value,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An event's key: `(stream, seq)`.
pub(super) type EventKey = (&'static str, u64);

/// An event's value: accepted at (ms since the Unix epoch), event type,
/// data.
pub(super) type EventValue = (u64, Option<&'static str>, &'static [u8]);

/// Every kept event: [`EventKey`] → [`EventValue`].
pub(super) const EVENTS: TableDefinition<EventKey, EventValue> = TableDefinition::new("events");

/// A stream row's value; see [`StreamRow`].
pub(super) type RowValue = (u64, u64, u64, u64);

/// One row per stream with a log: `stream` → `(newest committed id,
/// reserved id, last activity in ms since the Unix epoch, events kept)`,
/// as of the row's last write. See [`StreamRow`].
pub(super) const STREAMS: TableDefinition<&str, RowValue> = TableDefinition::new("streams");

/// The idempotency keys of published events: `(stream, key)` → `(id,
/// accepted at in ms since the Unix epoch)`, written in the commit of the
/// event, deleted with the stream's log or once older than
/// [`IDEMPOTENCY_LIFETIME`](crate::server::store::IDEMPOTENCY_LIFETIME),
/// so that a retry after a restart is answered as before it.
pub(super) const KEYS: TableDefinition<(&str, &str), (u64, u64)> =
    TableDefinition::new("idempotency_keys");

/// [`KEYS`] by when they were written, `(at_ms, stream, key)`, so that
/// the expired ones are one range from the oldest.
pub(super) const KEYS_BY_TIME: TableDefinition<(u64, &str, &str), ()> =
    TableDefinition::new("idempotency_keys_by_time");

/// Store-wide values by name: [`FLOOR`] and [`FORMAT`].
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The key of the floor in [`META`]: the highest id any forgotten stream
/// may have issued, which every new life numbers above.
pub(super) const FLOOR: &str = "floor";

/// The key of the layout version in [`META`].
pub(super) const FORMAT: &str = "format";

/// The layout this code writes and reads.
pub(super) const FORMAT_VERSION: u64 = 1;

/// A stream's row in [`STREAMS`]. The writer rewrites it only when it
/// must change on disk (the stream is opened, or its reservation moves
/// up), not with every append: its newest id and last activity are those
/// of the row's last write, and [`read_row`] raises them to the stream's
/// newest kept event, which is the truth for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StreamRow {
    /// The newest id whose event is committed.
    pub(super) newest: Seq,
    /// The highest id the store may have issued (sent to clients) for this
    /// stream: ids are only issued below a durable reservation, so after a
    /// crash the stream numbers on above it and no id is issued twice. A
    /// clean stop lowers it to `newest`.
    pub(super) reserved: Seq,
    /// When the stream last had an event (or was open at a clean stop), in
    /// ms since the Unix epoch: retention counts from it across restarts.
    pub(super) active_at_ms: u64,
    /// How many events of it the table held at the row's last write (a
    /// hint only: the writer counts a stream's events at its first touch
    /// and trims by that count).
    pub(super) kept: u64,
}

impl StreamRow {
    /// The row as stored.
    pub(super) fn to_value(self) -> RowValue {
        (self.newest, self.reserved, self.active_at_ms, self.kept)
    }

    /// A stored row.
    pub(super) fn from_value((newest, reserved, active_at_ms, kept): RowValue) -> Self {
        Self {
            newest,
            reserved: reserved.max(newest),
            active_at_ms,
            kept,
        }
    }

    /// Where the stream's numbering stands when it is loaded: above every
    /// id it may have issued.
    pub(super) fn numbering(self) -> Seq {
        self.reserved
    }
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub(super) fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, duration_ms)
}

/// `duration` in whole milliseconds, as the file keeps times.
pub(super) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// How long an idempotency key is answered, in the file's milliseconds.
pub(super) fn key_lifetime_ms() -> u64 {
    duration_ms(crate::server::store::IDEMPOTENCY_LIFETIME)
}

/// The time `ms` milliseconds after the Unix epoch.
pub(super) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// `table` as of `read`, or `None` while nothing was ever written to it
/// (a new store creates its tables with its first commit).
pub(super) fn open_if_there<K: Key + 'static, V: Value + 'static>(
    read: &ReadTransaction,
    table: TableDefinition<'_, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, redb::Error> {
    match read.open_table(table) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The row of `stream`, if it has a log, with its newest id and last
/// activity brought up to its newest kept event.
pub(super) fn read_row(
    db: &redb::Database,
    stream: &str,
) -> Result<Option<StreamRow>, redb::Error> {
    let read = db.begin_read()?;
    let Some(streams) = open_if_there(&read, STREAMS)? else {
        return Ok(None);
    };
    let row = streams.get(stream)?;
    match row.map(|row| StreamRow::from_value(row.value())) {
        Some(row) => Ok(Some(with_newest_event(&read, stream, row)?)),
        None => Ok(None),
    }
}

/// `row` with its newest id and last activity raised to those of the
/// newest kept event of `stream` (a row is not rewritten for every
/// append: see [`StreamRow`]).
pub(super) fn with_newest_event(
    read: &ReadTransaction,
    stream: &str,
    row: StreamRow,
) -> Result<StreamRow, redb::Error> {
    let Some(events) = open_if_there(read, EVENTS)? else {
        return Ok(row);
    };
    let newest = events
        .range((stream, 0)..=(stream, u64::MAX))?
        .next_back()
        .transpose()?;
    Ok(match newest {
        Some((key, value)) => {
            let (_, seq) = key.value();
            let (at_ms, _, _) = value.value();
            StreamRow {
                newest: row.newest.max(seq),
                reserved: row.reserved.max(seq),
                active_at_ms: row.active_at_ms.max(at_ms),
                ..row
            }
        }
        None => row,
    })
}

/// Up to `limit` events of `stream` with an id above `after` (and above
/// `above`, the old life's ids of a stream whose forgetting is not
/// committed yet), oldest first.
pub(super) fn read_after(
    db: &redb::Database,
    stream: &str,
    after: Seq,
    above: Seq,
    limit: usize,
) -> Result<Vec<StoredEvent>, redb::Error> {
    let read = db.begin_read()?;
    let Some(events) = open_if_there(&read, EVENTS)? else {
        return Ok(Vec::new());
    };
    let from = after.max(above).saturating_add(1);
    let mut found = Vec::new();
    for entry in events
        .range((stream, from)..=(stream, u64::MAX))?
        .take(limit)
    {
        let (key, value) = entry?;
        let (_, seq) = key.value();
        let (at_ms, event, data) = value.value();
        found.push(StoredEvent {
            seq,
            event: event.map(Box::from),
            data: Bytes::copy_from_slice(data),
            at: from_millis(at_ms),
        });
    }
    Ok(found)
}

/// A value of [`META`] (0 when absent).
pub(super) fn read_meta(db: &redb::Database, key: &str) -> Result<u64, redb::Error> {
    let read = db.begin_read()?;
    let Some(meta) = open_if_there(&read, META)? else {
        return Ok(0);
    };
    let value = meta.get(key)?;
    Ok(value.map_or(0, |value| value.value()))
}

/// The id each of `keys` was answered with on `stream` within
/// [`IDEMPOTENCY_LIFETIME`](crate::server::store::IDEMPOTENCY_LIFETIME)
/// before `now` (`None`: no key, or none kept).
pub(super) fn read_keys(
    db: &redb::Database,
    stream: &str,
    keys: &[Option<Box<str>>],
    now: SystemTime,
) -> Result<Vec<Option<Seq>>, redb::Error> {
    let read = db.begin_read()?;
    let Some(table) = open_if_there(&read, KEYS)? else {
        return Ok(vec![None; keys.len()]);
    };
    let lifetime = key_lifetime_ms();
    let now = millis(now);
    let mut answers = Vec::with_capacity(keys.len());
    for key in keys {
        let answer = match key {
            Some(key) => table
                .get((stream, &**key))?
                .map(|entry| entry.value())
                .filter(|(_, at_ms)| at_ms.saturating_add(lifetime) >= now)
                .map(|(seq, _)| seq),
            None => None,
        };
        answers.push(answer);
    }
    Ok(answers)
}
