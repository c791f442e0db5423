//! What every stream of one hub shares, and how the transport wants events
//! framed for its live sinks.

use crate::server::stats::Stats;
use crate::server::store::EventStore;
use bytes::Bytes;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// Frames an encoded SSE message for the live sinks' sockets, once per
/// event (the direct transport's HTTP/1.1 chunk); set by the composition.
pub type SinkFraming = fn(&[u8]) -> Bytes;

/// What every stream of one hub shares, handed to each at creation.
pub(crate) struct StreamContext {
    /// Where events are appended.
    pub(crate) store: Arc<dyn EventStore>,
    /// Counts events.
    pub(crate) stats: Arc<Stats>,
    /// How an event is framed for live sinks.
    pub(crate) sink_framing: SinkFraming,
    /// Slots in the broadcast channel.
    pub(crate) channel_capacity: usize,
    /// Events in the replay ring.
    pub(crate) history: usize,
    /// The hub's count of idle streams, which each stream keeps up to date
    /// as it becomes idle, busy or retired.
    pub(crate) idle_streams: Arc<AtomicUsize>,
}
