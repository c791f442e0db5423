//! The seam between the hub and what makes events. The hub runs a stream's
//! producer while the stream has subscribers and drops it (cancelling it)
//! when the last one leaves; the producer appends through the [`Emitter`] it
//! is given. The implementations live in `producers/`, a layer above.

use super::pace::Pace;
use super::stream::Stream;
use crate::model::StreamId;
use crate::server::store::{Durability, NewEvent, Seq, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A producer's run for one stream: it ends when the producer has nothing
/// more to make, and is dropped when the stream's last subscriber leaves.
pub type Production = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What makes events for streams.
pub trait Producer: Send + Sync + 'static {
    /// The events of `stream` while it has subscribers, or `None` when this
    /// producer makes none for it.
    fn produce(&self, stream: Emitter) -> Option<Production>;
}

/// A producer that makes nothing: streams carry only what others append.
pub struct NoEvents;

impl Producer for NoEvents {
    fn produce(&self, _stream: Emitter) -> Option<Production> {
        None
    }
}

/// One stream, as a producer sees it: an id and an append.
pub struct Emitter {
    stream: Arc<Stream>,
}

impl Emitter {
    /// The producer's handle on `stream`.
    pub(crate) fn new(stream: Arc<Stream>) -> Self {
        Self { stream }
    }

    /// The stream's id.
    pub fn stream_id(&self) -> &StreamId {
        self.stream.id()
    }

    /// Appends one generated event (committed in batches by a durable
    /// store) and sends it to every subscriber; returns its sequence id, or
    /// `None` when the stream has been retired (the producer is about to be
    /// dropped).
    pub async fn emit(&self, event: NewEvent, pace: Pace) -> Result<Option<Seq>, StoreError> {
        self.stream.append(event, pace, Durability::Batched).await
    }
}
