//! A stream's live sinks, by registration number.

use super::live_sink::LiveSink;
use std::collections::HashMap;
use std::sync::Arc;

/// The subscribers a stream's producer writes to itself while they are live.
#[derive(Default)]
pub(crate) struct SinkList {
    sinks: HashMap<u64, Arc<LiveSink>>,
    /// Registration number of the next sink.
    next: u64,
}

impl SinkList {
    /// Adds `sink`; returns its registration number.
    pub(crate) fn insert(&mut self, sink: Arc<LiveSink>) -> u64 {
        let key = self.next;
        self.next += 1;
        self.sinks.insert(key, sink);
        key
    }

    /// Removes a sink. The list gives memory back once it is mostly empty
    /// (after a crowd has left).
    pub(crate) fn remove(&mut self, key: u64) {
        self.sinks.remove(&key);
        if self.sinks.capacity() > 64 && self.sinks.len() < self.sinks.capacity() / 4 {
            self.sinks.shrink_to(self.sinks.len() * 2);
        }
    }

    /// The sinks, to write to after the stream's lock is released.
    pub(crate) fn snapshot(&self) -> Vec<Arc<LiveSink>> {
        self.sinks.values().cloned().collect()
    }
}
