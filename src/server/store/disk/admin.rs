//! `sse-hub store stats|compact`: what a stopped (or running) store holds,
//! and giving a stopped store's free pages back to the file system.

use super::tables::{open_if_there, EVENTS, STREAMS};
use super::{open_database, unless_damaged, DiskError, FILE_NAME};
use redb::{ReadableDatabase, ReadableTableMetadata};
use std::path::Path;

/// What a store holds, for `sse-hub store stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFigures {
    /// Streams with a log.
    pub streams: u64,
    /// Events kept, over all streams.
    pub events: u64,
    /// The database file's size.
    pub file_bytes: u64,
    /// Bytes of keys and values in it (the rest is free pages and
    /// structure).
    pub stored_bytes: u64,
}

/// The figures of the store in `dir`, which must exist. Opening it fails
/// while a server has it open.
pub fn figures(dir: &Path) -> Result<StoreFigures, DiskError> {
    unless_damaged(dir, || figures_of(dir))
}

fn figures_of(dir: &Path) -> Result<StoreFigures, DiskError> {
    let db = open_database(dir, false)?;
    let failed = |error: redb::Error| unusable(dir, error.to_string());
    let read = db.begin_read().map_err(|error| failed(error.into()))?;
    let streams = count(&read, STREAMS).map_err(failed)?;
    let events = count(&read, EVENTS).map_err(failed)?;
    let stats = db
        .begin_write()
        .map_err(|error| failed(error.into()))
        .and_then(|write| {
            let stats = write.stats().map_err(|error| failed(error.into()));
            let _ = write.abort();
            stats
        })?;
    Ok(StoreFigures {
        streams,
        events,
        file_bytes: file_size(dir)?,
        stored_bytes: stats.stored_bytes(),
    })
}

/// Compacts the stopped store in `dir`: returns the file's size before
/// and after.
pub fn compact(dir: &Path) -> Result<(u64, u64), DiskError> {
    unless_damaged(dir, || compact_at(dir))
}

fn compact_at(dir: &Path) -> Result<(u64, u64), DiskError> {
    let before = file_size(dir)?;
    let mut db = open_database(dir, false)?;
    loop {
        match db.compact() {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(unusable(dir, format!("cannot compact: {error}"))),
        }
    }
    drop(db);
    Ok((before, file_size(dir)?))
}

/// Rows of `table` (0 while it was never written).
fn count<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &redb::ReadTransaction,
    table: redb::TableDefinition<'_, K, V>,
) -> Result<u64, redb::Error> {
    match open_if_there(read, table)? {
        Some(table) => Ok(table.len()?),
        None => Ok(0),
    }
}

fn file_size(dir: &Path) -> Result<u64, DiskError> {
    std::fs::metadata(dir.join(FILE_NAME))
        .map(|meta| meta.len())
        .map_err(|error| unusable(dir, format!("{FILE_NAME}: {error}")))
}

fn unusable(dir: &Path, reason: String) -> DiskError {
    DiskError::Unusable {
        path: dir.display().to_string(),
        reason,
    }
}
