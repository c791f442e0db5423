//! What travels through a stream's broadcast channel.

use crate::server::store::Seq;
use bytes::Bytes;

/// One item of a stream's broadcast channel.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// An encoded event and its sequence id.
    Event {
        /// The event's sequence id.
        seq: Seq,
        /// The complete SSE message, shared by every subscriber.
        bytes: Bytes,
    },
    /// Nothing happened for a while: send a keep-alive comment.
    KeepAlive,
}
