//! [`MemoryStore`]: where each stream's numbering stands, in this process's
//! memory, gone with it. The behaviour sse-hub always had: numbering starts
//! again at 1 once the hub forgets a stream.
//!
//! It keeps no events of its own: a stream's history in memory is the hub's
//! replay ring, which holds the encoded messages every subscriber is sent,
//! and a second copy here would cost memory for nothing (measured: +0.4 to
//! +0.7 KiB per connection in the capacity benchmark at its quick size).
//! So [`EventStore::keeps_history`] is `false` and `after` has nothing older
//! than the ring to offer.

use super::{Durability, EventStore, NewEvent, Seq, StoreFuture, StoredEvent};
use crate::model::StreamId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// The in-memory store; see the module doc.
#[derive(Default)]
pub struct MemoryStore {
    /// The newest sequence id of every stream. A std mutex, never held across
    /// an `.await`: each call is one map operation.
    newest: Mutex<HashMap<StreamId, Seq>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map; a poisoned lock still holds consistent data (every critical
    /// section leaves it whole between statements).
    fn newest_ids(&self) -> MutexGuard<'_, HashMap<StreamId, Seq>> {
        self.newest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn keeps_history(&self) -> bool {
        false
    }

    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        let newest = self.newest_ids().get(stream).copied();
        Box::pin(std::future::ready(Ok(newest)))
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        _durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        let seq = {
            let mut newest = self.newest_ids();
            let seq = match newest.get_mut(stream) {
                Some(seq) => seq,
                None => newest.entry(stream.clone()).or_default(),
            };
            *seq += 1;
            *seq
        };
        let stored = StoredEvent {
            seq,
            event: event.event,
            data: event.data,
            at: SystemTime::now(),
        };
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn after<'a>(
        &'a self,
        _stream: &'a StreamId,
        _after: Seq,
        _limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn forget(&self, stream: &StreamId) {
        self.newest_ids().remove(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        conformance::run(|_history| Box::new(MemoryStore::new())).await;
    }
}
