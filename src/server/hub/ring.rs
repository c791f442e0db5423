//! A stream's replay buffer: its newest encoded messages, the hot cache that
//! resuming and lagging subscribers catch up from without asking the store.

use crate::model::GapNotice;
use crate::server::sse::gap_message;
use crate::server::store::Seq;
use bytes::Bytes;
use std::collections::VecDeque;

/// The newest `capacity` encoded events of a stream, oldest first.
pub(crate) struct ReplayRing {
    events: VecDeque<(Seq, Bytes)>,
    capacity: usize,
}

impl ReplayRing {
    /// An empty ring of `capacity` events (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            events: VecDeque::with_capacity(capacity.min(16)),
            capacity,
        }
    }

    /// Adds the newest event, dropping the oldest when full.
    pub(crate) fn push(&mut self, seq: Seq, message: Bytes) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((seq, message));
    }

    /// The sequence id of the oldest event held, if any.
    pub(crate) fn oldest(&self) -> Option<Seq> {
        self.events.front().map(|(seq, _)| *seq)
    }

    /// Held messages after sequence id `last`, up to `newest`, preceded by a
    /// gap notice when the ring no longer reaches back to `last + 1`.
    pub(crate) fn messages_after(&self, last: Seq, newest: Seq) -> VecDeque<Bytes> {
        let mut out = VecDeque::new();
        if last >= newest {
            return out;
        }
        let oldest_held = self.oldest().unwrap_or(newest + 1);
        if last + 1 < oldest_held {
            out.push_back(gap_message(GapNotice {
                first: last + 1,
                last: oldest_held - 1,
            }));
        }
        out.extend(
            self.events
                .iter()
                .filter(|(seq, _)| *seq > last)
                .map(|(_, bytes)| bytes.clone()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_of(capacity: usize, seqs: std::ops::RangeInclusive<Seq>) -> ReplayRing {
        let mut ring = ReplayRing::new(capacity);
        for seq in seqs {
            ring.push(seq, Bytes::from(seq.to_string()));
        }
        ring
    }

    #[test]
    fn keeps_the_newest_and_answers_what_follows_an_id() {
        let ring = ring_of(3, 1..=5);
        assert_eq!(ring.oldest(), Some(3));
        assert_eq!(ring.messages_after(3, 5), ["4", "5"]);
        assert!(ring.messages_after(5, 5).is_empty());
        let behind = ring.messages_after(0, 5);
        assert_eq!(behind[0], "event: gap\ndata: {\"first\":1,\"last\":2}\n\n");
        assert_eq!(behind.range(1..).collect::<Vec<_>>(), ["3", "4", "5"]);
    }
}
