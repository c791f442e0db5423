//! The seam between the hub and what makes events. The hub runs a stream's
//! producer while the stream has subscribers (with a shared store, only on
//! the instance that holds the stream's lease) and drops it (cancelling it)
//! when the last one leaves or the lease is lost; the producer appends
//! through the [`Emitter`] it is given. The implementations live in
//! `producers/`, a layer above.

use super::pace::Pace;
use super::stream::Stream;
use crate::model::StreamId;
use crate::server::store::{Durability, Lease, NewEvent, Seq, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A producer's run for one stream: it ends when the producer has nothing
/// more to make, and is dropped when the stream's last subscriber leaves.
pub type Production = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What makes events for streams.
pub trait Producer: Send + Sync + 'static {
    /// The events of `stream` while it has subscribers, or `None` when this
    /// producer makes none for it.
    fn produce(&self, stream: Emitter) -> Option<Production>;

    /// Whether [`Producer::produce`] makes events for `stream`: with a
    /// shared store, only then does an instance claim the stream's lease.
    fn makes_events_for(&self, _stream: &StreamId) -> bool {
        true
    }
}

/// A producer that makes nothing: streams carry only what others append.
pub struct NoEvents;

impl Producer for NoEvents {
    fn produce(&self, _stream: Emitter) -> Option<Production> {
        None
    }

    fn makes_events_for(&self, _stream: &StreamId) -> bool {
        false
    }
}

/// One stream, as a producer sees it: an id and an append.
pub struct Emitter {
    stream: Arc<Stream>,
    /// With a shared store: the lease this instance leads the stream by.
    leader: Option<Leader>,
}

/// What an emitter of a shared stream's leader holds.
struct Leader {
    lease: Lease,
    /// Cancelled when an append finds the lease lost (fenced).
    lost: CancellationToken,
}

impl Emitter {
    /// The producer's handle on `stream`.
    pub(crate) fn new(stream: Arc<Stream>) -> Self {
        Self {
            stream,
            leader: None,
        }
    }

    /// The handle of the instance that leads `stream` by `lease` (a shared
    /// store): its appends are fenced, and a refused one cancels `lost`.
    pub(crate) fn leading(stream: Arc<Stream>, lease: Lease, lost: CancellationToken) -> Self {
        Self {
            stream,
            leader: Some(Leader { lease, lost }),
        }
    }

    /// The stream's id.
    pub fn stream_id(&self) -> &StreamId {
        self.stream.id()
    }

    /// How long ago the stream's newest generated event was appended by
    /// any instance (a shared store's clock), so that a new leader keeps
    /// the cadence; `None` when unknown (a producer starts afresh).
    pub fn since_last_tick(&self) -> Option<Duration> {
        self.leader
            .as_ref()
            .and_then(|leader| leader.lease.since_last_tick)
    }

    /// Appends one generated event (committed in batches by a durable
    /// store, fenced by the lease with a shared one) and sends it to every
    /// subscriber; returns its sequence id, or `None` when the stream has
    /// been retired (the producer is about to be dropped). A fenced append
    /// ([`StoreError::Fenced`]) means another instance leads now: this
    /// producer is about to be dropped too.
    pub async fn emit(&self, event: NewEvent, pace: Pace) -> Result<Option<Seq>, StoreError> {
        let Some(leader) = &self.leader else {
            return self.stream.append(event, pace, Durability::Batched).await;
        };
        let appended = self
            .stream
            .append_fenced(event, pace, leader.lease.clone())
            .await;
        if appended == Err(StoreError::Fenced) {
            leader.lost.cancel();
        }
        appended
    }
}
