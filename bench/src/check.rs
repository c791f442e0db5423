//! What a `hold` connection checks on every item it receives: the `id:`
//! sequence, the payload, the per-tick consistency across clients, and the
//! delivery latency during the measured window.

use crate::event::{parse_gap, parse_payload, timestamp_ms};
use crate::metrics::{Consistency, LatencyRecorder, Tally};
use crate::sse::{Item, Kind, Message};
use std::sync::atomic::{AtomicBool, Ordering};

/// One connection's checker; its [`Tally`] is merged into the totals at the end.
pub struct EventChecker<'a> {
    /// Where latencies go.
    pub latency: &'a LatencyRecorder,
    /// The cross-client tick check.
    pub consistency: &'a Consistency,
    /// True while latency and events/s are being measured.
    pub measuring: &'a AtomicBool,
    /// The stream id the payload's `id` field must carry.
    pub expected_id: &'a str,
    /// The connection's number, which picks the latency shard.
    pub key: usize,
    /// The stream's index.
    pub stream: usize,
    /// The last `id:` received.
    pub last_id: Option<u64>,
    /// What has been counted so far.
    pub tally: Tally,
}

impl EventChecker<'_> {
    /// Counts an item received at `now` (µs since the epoch).
    pub fn on_item(&mut self, item: Item<'_>, now: u64) {
        match item {
            Item::Retry => self.tally.retries += 1,
            Item::Comment => self.tally.comments += 1,
            Item::Message(message) => match message.kind {
                Kind::Message => self.on_event(message, now),
                Kind::Gap => {
                    self.tally.gap_notices += 1;
                    if let Some(gap) = parse_gap(message.data) {
                        self.tally.missing_events += gap.last.saturating_sub(gap.first) + 1;
                    }
                }
                Kind::Other => {}
            },
        }
    }

    /// Checks sequence, payload and consistency, and records latency.
    fn on_event(&mut self, message: Message<'_>, now: u64) {
        self.tally.events += 1;
        if let Some(id) = message.id {
            self.check_sequence(id);
        }
        let Some(payload) = parse_payload(message.data) else {
            self.tally.malformed += 1;
            return;
        };
        if payload.id.is_some_and(|id| id != self.expected_id) {
            self.tally.wrong_stream += 1;
        }
        let Some(tick_ms) = timestamp_ms(payload.timestamp) else {
            self.tally.malformed += 1;
            return;
        };
        self.consistency
            .observe(self.stream, tick_ms, message.id, payload.number);
        if self.measuring.load(Ordering::Relaxed) {
            self.tally.events_measured += 1;
            let latency = now.saturating_sub(tick_ms.saturating_mul(1000));
            self.latency.record(self.key, latency);
        }
    }

    /// Counts a jump, repeat or reordering in the `id:` sequence.
    fn check_sequence(&mut self, id: u64) {
        match self.last_id {
            Some(last) if id == last + 1 => {}
            Some(last) if id > last => {
                self.tally.gaps += 1;
                self.tally.missing_events += id - last - 1;
            }
            Some(_) => self.tally.duplicates += 1,
            None => {}
        }
        self.last_id = Some(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    #[test]
    fn counts_gaps_duplicates_and_measured_latency() {
        let latency = LatencyRecorder::new(1).expect("histogram");
        let consistency = Consistency::new(1);
        let measuring = AtomicBool::new(true);
        let mut checker = EventChecker {
            latency: &latency,
            consistency: &consistency,
            measuring: &measuring,
            expected_id: "s",
            key: 0,
            stream: 0,
            last_id: None,
            tally: Tally::default(),
        };
        let event = |id: u64| {
            format!("id: {id}\ndata: {{\"number\":{id},\"timestamp\":\"1970-01-01T00:00:01.000Z\",\"id\":\"s\"}}\n\n")
        };
        let stream = [
            event(1),
            event(2),
            event(5),
            event(5),
            "event: gap\ndata: {\"first\":6,\"last\":7}\n\n".into(),
        ]
        .concat();
        let mut parser = SseParser::default();
        parser.feed(stream.as_bytes(), &mut |item| {
            checker.on_item(item, 1_004_000)
        });
        let tally = &checker.tally;
        assert_eq!((tally.events, tally.events_measured), (4, 4));
        assert_eq!((tally.gaps, tally.duplicates, tally.gap_notices), (1, 1, 1));
        assert_eq!(tally.missing_events, 2 + 2);
        // Four events with one timestamp but different ids and numbers.
        assert_eq!(consistency.mismatches(), 0);
        assert_eq!(consistency.collisions(), 2);
        let summary =
            crate::metrics::LatencySummary::from_micros(&latency.merged().expect("merge"));
        assert!((summary.p50_ms - 4.0).abs() < 0.01, "{summary:?}");
    }
}
