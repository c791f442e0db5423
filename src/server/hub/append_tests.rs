//! Appends and retirement of one stream, against a store that holds an
//! append open.

use super::context::StreamContext;
use super::pace::Pace;
use super::stream::Stream;
use crate::model::StreamId;
use crate::server::stats::Stats;
use crate::server::store::{
    Durability, EventStore, MemoryStore, NewEvent, Seq, StoreFuture, StoredEvent,
};
use bytes::Bytes;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// A memory store whose appends wait for a permit, to hold one open.
struct HeldStore {
    inner: MemoryStore,
    permits: Semaphore,
}

impl EventStore for HeldStore {
    fn kind(&self) -> &'static str {
        "held"
    }
    fn keeps_history(&self) -> bool {
        false
    }
    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        self.inner.newest(stream)
    }
    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.append(stream, event, durability).await
        })
    }
    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        self.inner.after(stream, after, limit)
    }
    fn forget(&self, stream: &StreamId) {
        self.inner.forget(stream);
    }
}

fn event() -> NewEvent {
    NewEvent {
        event: None,
        data: Bytes::from_static(b"{}"),
    }
}

/// An idle stream cannot be retired (and its log forgotten) while an
/// append is with the store, or the append would bring the log back;
/// once retired, it takes no append at all.
#[tokio::test]
async fn a_stream_is_not_retired_under_an_append_and_takes_none_after() {
    let store = Arc::new(HeldStore {
        inner: MemoryStore::new(),
        permits: Semaphore::new(0),
    });
    let context = Arc::new(StreamContext {
        store: store.clone(),
        stats: Arc::new(Stats::default()),
        sink_framing: |message| Bytes::copy_from_slice(message),
        channel_capacity: 4,
        history: 4,
        idle_streams: Arc::new(AtomicUsize::new(0)),
    });
    let stream = Stream::new(StreamId::parse("s").expect("id"), 0, &context);
    let appending = tokio::spawn({
        let stream = Arc::clone(&stream);
        async move {
            stream
                .append(event(), Pace::OnTime, Durability::Batched)
                .await
        }
    });
    while !stream.is_appending() {
        tokio::task::yield_now().await;
    }
    assert!(!stream.retire_if_idle(), "retired under an append");
    store.permits.add_permits(1);
    let appended = appending.await.expect("task").expect("stored");
    assert_eq!(appended, Some(1));
    assert!(stream.retire_if_idle(), "idle, nothing appending");
    store.permits.add_permits(1);
    let after = stream
        .append(event(), Pace::OnTime, Durability::Batched)
        .await;
    assert_eq!(after, Ok(None), "a retired stream takes no append");
    let id = StreamId::parse("s").expect("id");
    assert_eq!(store.newest(&id).await, Ok(Some(1)), "nothing more stored");
}
