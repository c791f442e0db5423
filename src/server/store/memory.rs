//! [`MemoryStore`]: where each stream's numbering stands, in this process's
//! memory, gone with it. A stream the hub forgets and that comes back
//! later numbers on above every id this store issued to a forgotten stream,
//! so an id from its earlier life never names an event of the new one.
//! Numbering starts again at 1 when the process restarts.
//!
//! It keeps no events of its own: a stream's history in memory is the hub's
//! replay ring, which holds the encoded messages every subscriber is sent,
//! and a second copy here would cost memory for nothing (measured: +0.4 to
//! +0.7 KiB per connection in the capacity benchmark at its quick size).
//! So [`EventStore::keeps_history`] is `false` and `after` has nothing older
//! than the ring to offer.

use super::numbering::Numbering;
use super::{Durability, EventStore, NewEvent, Seq, StoreFuture, StoredEvent};
use crate::model::StreamId;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// The in-memory store; see the module doc.
#[derive(Default)]
pub struct MemoryStore {
    /// Where every stream's numbering stands. A std mutex, never held
    /// across an `.await`: each call is one map operation.
    numbering: Mutex<Numbering>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map; a poisoned lock still holds consistent data (every critical
    /// section leaves it whole between statements).
    fn numbering(&self) -> MutexGuard<'_, Numbering> {
        self.numbering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let newest = self.numbering().newest(stream);
        Box::pin(std::future::ready(Ok(newest)))
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        _durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        let seq = self.numbering().take_next(stream);
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
        self.numbering().forget(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        conformance::run(&|_history| Box::new(MemoryStore::new())).await;
    }
}
