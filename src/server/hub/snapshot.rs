//! A consistent view of one stream, for the API.

use crate::model::{StreamId, StreamSummary};
use crate::server::store::Seq;
use crate::server::timestamp::format_timestamp;
use std::time::SystemTime;

/// One stream as `/api/streams` shows it, read under its lock.
pub(crate) struct StreamSnapshot {
    pub(crate) id: StreamId,
    pub(crate) subscribers: usize,
    /// Events sent in this life of the stream.
    pub(crate) events: Seq,
    /// When its producer last started.
    pub(crate) started_at: SystemTime,
}

impl StreamSnapshot {
    /// Converts to the shared API type.
    pub(crate) fn into_summary(self) -> StreamSummary {
        StreamSummary {
            id: self.id.to_string(),
            subscribers: self.subscribers,
            events_sent: self.events,
            started_at: format_timestamp(self.started_at),
        }
    }
}
