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
    /// When its newest event was appended in this life.
    pub(crate) last_event_at: Option<SystemTime>,
}

impl StreamSnapshot {
    /// Converts to the shared API type.
    pub(crate) fn into_summary(self) -> StreamSummary {
        StreamSummary {
            id: self.id.to_string(),
            subscribers: self.subscribers,
            events_sent: self.events,
            started_at: format_timestamp(self.started_at),
            last_event_ms_ago: self.last_event_at.map(|at| {
                let age = SystemTime::now().duration_since(at).unwrap_or_default();
                u64::try_from(age.as_millis()).unwrap_or(u64::MAX)
            }),
        }
    }
}
