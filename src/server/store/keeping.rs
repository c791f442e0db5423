//! A store that keeps its own history, for tests only: each stream's
//! numbering and its newest `keep` events, in memory. It shows that the
//! conformance suite's history checks hold for such a store, and lets the
//! hub's resume from a store (older than its ring) be tested before a
//! durable store exists.

use super::numbering::Numbering;
use super::{Durability, EventStore, NewEvent, Seq, StoreFuture, StoredEvent};
use crate::model::StreamId;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

/// Each stream's numbering and newest `keep` events.
pub(crate) struct KeepingStore {
    keep: usize,
    logs: Mutex<(Numbering, HashMap<StreamId, VecDeque<StoredEvent>>)>,
}

impl KeepingStore {
    /// Keeps the newest `keep` events of each stream (at least 1).
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            keep: keep.max(1),
            logs: Mutex::default(),
        }
    }
}

impl EventStore for KeepingStore {
    fn kind(&self) -> &'static str {
        "keeping"
    }

    fn keeps_history(&self) -> bool {
        true
    }

    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        let logs = self.logs.lock().expect("test store lock");
        let newest = logs.0.newest(stream);
        Box::pin(std::future::ready(Ok(newest)))
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        _durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        let mut logs = self.logs.lock().expect("test store lock");
        let (numbering, kept) = &mut *logs;
        let seq = numbering.take_next(stream);
        let events = kept.entry(stream.clone()).or_default();
        let stored = StoredEvent {
            seq,
            event: event.event,
            data: event.data,
            at: SystemTime::now(),
        };
        if events.len() == self.keep {
            events.pop_front();
        }
        events.push_back(stored.clone());
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        let logs = self.logs.lock().expect("test store lock");
        let events = logs.1.get(stream).map_or_else(Vec::new, |events| {
            events
                .iter()
                .filter(|event| event.seq > after)
                .take(limit)
                .cloned()
                .collect()
        });
        Box::pin(std::future::ready(Ok(events)))
    }

    fn forget(&self, stream: &StreamId) {
        let mut logs = self.logs.lock().expect("test store lock");
        logs.0.forget(stream);
        logs.1.remove(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite_with_its_history_checks() {
        conformance::run(&|history| Box::new(KeepingStore::new(history))).await;
    }
}
