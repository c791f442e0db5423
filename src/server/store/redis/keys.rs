//! The names of the keys and the channel a shared store uses. Every key of
//! one stream carries the stream id as a hash tag (`<prefix>:{<id>}:…`),
//! so that one script touches them all, on a single Redis or in one slot of
//! a Redis Cluster. Stream ids are letters, digits and `. _ ~ -`, so an id
//! never holds a brace or a space.

use crate::model::StreamId;

/// Builds key names under one prefix (`--key-prefix`).
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix`.
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The stream's mark: a hash of its newest id (`seq`) and the time of
    /// its newest generated event (`tick`).
    pub(super) fn mark(&self, stream: &StreamId) -> String {
        format!("{}:{{{}}}:mark", self.prefix, stream.as_str())
    }

    /// The stream's log: a Redis Stream of its newest events.
    pub(super) fn log(&self, stream: &StreamId) -> String {
        format!("{}:{{{}}}:log", self.prefix, stream.as_str())
    }

    /// The stream's lease: the leader's token, expiring.
    pub(super) fn lease(&self, stream: &StreamId) -> String {
        format!("{}:{{{}}}:lease", self.prefix, stream.as_str())
    }

    /// The answer to one `Idempotency-Key` on the stream.
    pub(super) fn idempotency(&self, stream: &StreamId, key: &str) -> String {
        format!("{}:{{{}}}:idem:{key}", self.prefix, stream.as_str())
    }

    /// The doorbell channel every append rings: `<newest id> <stream id>`.
    pub(super) fn channel(&self) -> String {
        format!("{}:appended", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_stream_carries_its_hash_tag() {
        let keys = Keys::new("sse-hub");
        let id = StreamId::parse("orders-1").expect("valid");
        assert_eq!(keys.mark(&id), "sse-hub:{orders-1}:mark");
        assert_eq!(keys.log(&id), "sse-hub:{orders-1}:log");
        assert_eq!(keys.lease(&id), "sse-hub:{orders-1}:lease");
        assert_eq!(keys.idempotency(&id, "k 1"), "sse-hub:{orders-1}:idem:k 1");
        assert_eq!(keys.channel(), "sse-hub:appended");
    }
}
