//! [`MemoryStore`]: every stream's log in this process's memory, gone with
//! it. The behaviour sse-hub always had: a stream keeps its last `history`
//! events while the hub keeps the stream, and numbering starts again at 1
//! once the stream is forgotten.
//!
//! The data of an event is shared ([`Bytes`](bytes::Bytes)) with the hub, so
//! keeping it here costs a list entry per event, not a copy.

use super::{Durability, EventStore, NewEvent, Seq, StoreFuture, StoredEvent};
use crate::model::StreamId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// The in-memory store; see the module doc.
pub struct MemoryStore {
    /// Events kept per stream.
    history: usize,
    /// Every stream's log. A std mutex, never held across an `.await`: each
    /// call is a few list operations.
    logs: Mutex<HashMap<StreamId, Log>>,
}

/// One stream's log.
#[derive(Default)]
struct Log {
    /// The newest sequence id issued.
    newest: Seq,
    /// The newest `history` events, oldest first.
    events: VecDeque<StoredEvent>,
}

impl MemoryStore {
    /// A store keeping the newest `history` events of each stream (at least 1).
    pub fn new(history: usize) -> Self {
        Self {
            history: history.max(1),
            logs: Mutex::new(HashMap::new()),
        }
    }

    /// The logs; a poisoned lock still holds consistent data (every critical
    /// section leaves it whole between statements).
    fn logs(&self) -> MutexGuard<'_, HashMap<StreamId, Log>> {
        self.logs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        let newest = self.logs().get(stream).map(|log| log.newest);
        Box::pin(std::future::ready(Ok(newest.filter(|seq| *seq > 0))))
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        _durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        let mut logs = self.logs();
        let log = match logs.get_mut(stream) {
            Some(log) => log,
            None => logs.entry(stream.clone()).or_default(),
        };
        log.newest += 1;
        let stored = StoredEvent {
            seq: log.newest,
            event: event.event,
            data: event.data,
            at: SystemTime::now(),
        };
        if log.events.len() >= self.history {
            log.events.pop_front();
        }
        log.events.push_back(stored.clone());
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        let events = self
            .logs()
            .get(stream)
            .map(|log| {
                // Sequence ids are consecutive: the first wanted is found by
                // arithmetic, not by a scan.
                let oldest = log.events.front().map_or(log.newest + 1, |e| e.seq);
                let skip = usize::try_from(after.saturating_add(1).saturating_sub(oldest))
                    .unwrap_or(usize::MAX);
                log.events.iter().skip(skip).take(limit).cloned().collect()
            })
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(events)))
    }

    fn forget(&self, stream: &StreamId) {
        self.logs().remove(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        conformance::run(|history| Box::new(MemoryStore::new(history))).await;
    }
}
