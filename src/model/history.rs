//! The event history a stream panel shows: newest first, capped, with rows
//! for generated events, published events, gaps and data the client could
//! not parse, plus the last events received, which are kept apart from the
//! rows.
//!
//! The latest number, the sparkline's numbers and the consistency check come
//! from those events, not from the rows still listed: Clear empties the list
//! but keeps them, and a burst of gap or error rows pushing every event out of
//! the list does not blank them. Published events join the consistency check
//! but never the numbers: however many arrive, Latest and the trend line
//! stay the generator's. Only [`EventHistory::reset`] (a new connection)
//! forgets them.

use super::consistency::{Tick, TickKind};
use super::received::PublishedEvent;
use super::wire::{GapNotice, StreamEvent};
use std::collections::VecDeque;

/// Most rows a history keeps; older ones drop off.
pub const HISTORY_LIMIT: usize = 100;

/// Most numbers kept for the sparkline.
const RECENT_LIMIT: usize = 40;

/// Most events kept apart from the rows (for the consistency check): ten
/// times the rows, so that a difference between panels stays counted long
/// after its row has scrolled off.
pub const TICKS_LIMIT: usize = 10 * HISTORY_LIMIT;

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// Unique within the history's life; the key of the rendered list.
    pub key: u64,
    /// What the row shows.
    pub kind: RowKind,
    /// Local time the browser received it, `HH:MM:SS.mmm`.
    pub received_at: String,
}

/// The kinds of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A generated event and its SSE sequence id.
    Event {
        /// The `id:` field, when it was a number.
        seq: Option<u64>,
        /// The event itself.
        event: StreamEvent,
    },
    /// An event an application published.
    Published(PublishedEvent),
    /// The server reported events it could no longer deliver.
    Gap(GapNotice),
    /// A message whose data was not a valid event.
    Malformed {
        /// Why it could not be parsed.
        reason: String,
    },
}

impl RowKind {
    /// Whether the row is an event (generated or published), which the
    /// panel counts, rather than a notice about the stream.
    pub fn is_event(&self) -> bool {
        matches!(self, Self::Event { .. } | Self::Published(_))
    }
}

/// The capped, newest-first list of rows, and the numbers the readout shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHistory {
    rows: VecDeque<HistoryRow>,
    next_key: u64,
    limit: usize,
    /// The last [`TICKS_LIMIT`] events of both kinds, oldest first; survive
    /// [`EventHistory::clear`].
    ticks: VecDeque<Tick>,
    /// The last [`RECENT_LIMIT`] generated numbers, oldest first; survive
    /// [`EventHistory::clear`]. Apart from `ticks`, so that published events
    /// never push them out.
    numbers: VecDeque<u32>,
    /// Whether a row of any kind was pushed since the history was made or
    /// last reset (a Clear leaves it set).
    pushed: bool,
}

impl Default for EventHistory {
    fn default() -> Self {
        Self::with_limit(HISTORY_LIMIT)
    }
}

impl EventHistory {
    /// An empty history keeping at most `limit` rows.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            rows: VecDeque::new(),
            next_key: 0,
            limit,
            ticks: VecDeque::new(),
            numbers: VecDeque::new(),
            pushed: false,
        }
    }

    /// Adds a row at the top, dropping the oldest beyond the limit. An event
    /// also joins the last events received, and a generated one the numbers.
    pub fn push(&mut self, kind: RowKind, received_at: String) {
        match &kind {
            RowKind::Event { event, seq } => {
                self.remember(Tick::number(*seq, event.timestamp.clone(), event.number));
                self.numbers.push_back(event.number);
                if self.numbers.len() > RECENT_LIMIT {
                    self.numbers.pop_front();
                }
            }
            RowKind::Published(published) => self.remember(Tick {
                seq: published.seq,
                kind: TickKind::Published {
                    fingerprint: published.fingerprint,
                },
            }),
            RowKind::Gap(_) | RowKind::Malformed { .. } => {}
        }
        self.rows.push_front(HistoryRow {
            key: self.next_key,
            kind,
            received_at,
        });
        self.next_key += 1;
        self.rows.truncate(self.limit);
        self.pushed = true;
    }

    /// Adds `tick` to the last events received, dropping the oldest beyond
    /// [`TICKS_LIMIT`].
    fn remember(&mut self, tick: Tick) {
        self.ticks.push_back(tick);
        if self.ticks.len() > TICKS_LIMIT {
            self.ticks.pop_front();
        }
    }

    /// Removes every row (keys keep increasing, so the list re-renders); the
    /// last events received stay.
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Forgets everything: the rows and the last events received (for a new
    /// connection).
    pub fn reset(&mut self) {
        self.clear();
        self.ticks.clear();
        self.numbers.clear();
        self.pushed = false;
    }

    /// Whether nothing at all (event or notice) arrived since the history
    /// was made or last reset: rows a Clear removed count as arrived.
    pub fn is_fresh(&self) -> bool {
        !self.pushed
    }

    /// The rows, newest first.
    pub fn rows(&self) -> impl Iterator<Item = &HistoryRow> {
        self.rows.iter()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The number of the newest event received, whether or not its row is
    /// still listed.
    pub fn latest_number(&self) -> Option<u32> {
        self.numbers.back().copied()
    }

    /// The last events received (at most [`TICKS_LIMIT`]), oldest first,
    /// whether or not their rows are still listed (for the consistency
    /// check).
    pub fn ticks(&self) -> impl Iterator<Item = &Tick> {
        self.ticks.iter()
    }

    /// The newest row, if any.
    pub fn newest(&self) -> Option<&HistoryRow> {
        self.rows.front()
    }

    /// The numbers of the last events received (at most 40), oldest first,
    /// whether or not their rows are still listed (for the sparkline).
    pub fn recent_numbers(&self) -> Vec<u32> {
        self.numbers.iter().copied().collect()
    }
}

/// Formats a local time of day as `HH:MM:SS.mmm`.
pub fn format_clock(hours: u32, minutes: u32, seconds: u32, millis: u32) -> String {
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events the rows show, newest first.
    fn events(history: &EventHistory) -> impl Iterator<Item = &StreamEvent> {
        history.rows().filter_map(|row| match &row.kind {
            RowKind::Event { event, .. } => Some(event),
            _ => None,
        })
    }

    fn event(number: u32) -> RowKind {
        RowKind::Event {
            seq: Some(u64::from(number)),
            event: StreamEvent {
                number,
                timestamp: format!("t{number}"),
                id: "s".into(),
            },
        }
    }

    #[test]
    fn keeps_the_newest_rows_first_and_drops_the_oldest_beyond_the_limit() {
        let mut history = EventHistory::with_limit(3);
        for n in 1..=5 {
            history.push(event(n), String::new());
        }
        let numbers: Vec<u32> = events(&history).map(|e| e.number).collect();
        assert_eq!(numbers, vec![5, 4, 3]);
        assert_eq!(history.len(), 3);
        assert_eq!(history.latest_number(), Some(5));
    }

    #[test]
    fn the_default_limit_is_one_hundred() {
        let mut history = EventHistory::default();
        for n in 0..250 {
            history.push(event(n), String::new());
        }
        assert_eq!(history.len(), HISTORY_LIMIT);
    }

    #[test]
    fn only_a_reset_makes_the_history_fresh_again() {
        let mut history = EventHistory::default();
        assert!(history.is_fresh());
        // A notice is something received, though not an event.
        history.push(malformed(), String::new());
        history.clear();
        assert!(!history.is_fresh());
        history.reset();
        assert!(history.is_fresh());
    }

    #[test]
    fn keys_stay_unique_across_clears() {
        let mut history = EventHistory::default();
        history.push(event(1), String::new());
        let first_key = history.rows().next().map(|r| r.key);
        history.clear();
        assert!(history.is_empty());
        history.push(event(2), String::new());
        assert_ne!(history.rows().next().map(|r| r.key), first_key);
    }

    fn malformed() -> RowKind {
        RowKind::Malformed { reason: "x".into() }
    }

    fn published(seq: u64) -> RowKind {
        crate::model::read_message("order.paid", &seq.to_string(), r#"{"order":1}"#)
    }

    #[test]
    fn published_events_are_rows_and_ticks_but_never_numbers() {
        let mut history = EventHistory::default();
        history.push(event(1), String::new());
        history.push(event(2), String::new());
        for seq in 3..3 + TICKS_LIMIT as u64 {
            history.push(published(seq), String::new());
        }
        assert!(history.newest().is_some_and(|row| row.kind.is_event()));
        assert!(matches!(
            history.newest().map(|row| &row.kind),
            Some(RowKind::Published(_))
        ));
        // A flood of published events pushed the generated ones out of the
        // rows and the consistency ticks, but not out of the numbers.
        assert_eq!(history.latest_number(), Some(2));
        assert_eq!(history.recent_numbers(), vec![1, 2]);
        assert!(history
            .ticks()
            .all(|tick| matches!(tick.kind, TickKind::Published { .. })));
        assert_eq!(history.ticks().count(), TICKS_LIMIT);
        history.reset();
        assert_eq!(history.latest_number(), None);
    }

    #[test]
    fn only_events_count_as_events() {
        assert!(event(1).is_event());
        assert!(published(1).is_event());
        assert!(!malformed().is_event());
        assert!(!RowKind::Gap(GapNotice { first: 1, last: 2 }).is_event());
    }

    #[test]
    fn recent_numbers_skip_other_rows_are_oldest_first_and_capped() {
        let mut history = EventHistory::default();
        history.push(event(1), String::new());
        history.push(malformed(), String::new());
        history.push(event(2), String::new());
        history.push(event(3), String::new());
        assert_eq!(history.recent_numbers(), vec![1, 2, 3]);
        for n in 4..=100 {
            history.push(event(n), String::new());
        }
        assert_eq!(history.recent_numbers(), (61..=100).collect::<Vec<_>>());
    }

    #[test]
    fn clear_empties_the_rows_but_keeps_the_latest_and_recent_numbers() {
        let mut history = EventHistory::default();
        history.push(event(7), String::new());
        history.push(event(9), String::new());
        history.clear();
        assert!(history.is_empty());
        assert_eq!(history.latest_number(), Some(9));
        assert_eq!(history.recent_numbers(), vec![7, 9]);
        history.push(event(4), String::new());
        assert_eq!(history.latest_number(), Some(4));
        assert_eq!(history.recent_numbers(), vec![7, 9, 4]);
    }

    #[test]
    fn rows_without_events_do_not_push_the_latest_number_out() {
        let mut history = EventHistory::default();
        history.push(event(5), String::new());
        for _ in 0..HISTORY_LIMIT {
            history.push(malformed(), String::new());
        }
        assert_eq!(events(&history).count(), 0);
        assert_eq!(history.latest_number(), Some(5));
        assert_eq!(history.recent_numbers(), vec![5]);
    }

    #[test]
    fn reset_forgets_everything() {
        let mut history = EventHistory::default();
        history.push(event(5), String::new());
        history.reset();
        assert!(history.is_empty());
        assert_eq!(history.latest_number(), None);
        assert!(history.recent_numbers().is_empty());
        assert_eq!(history.ticks().count(), 0);
    }

    #[test]
    fn ticks_outlive_clear_and_the_rows_but_are_capped() {
        let mut history = EventHistory::default();
        history.push(event(1), String::new());
        history.push(malformed(), String::new());
        history.clear();
        let seqs: Vec<_> = history.ticks().map(|tick| tick.seq).collect();
        assert_eq!(seqs, vec![Some(1)]);
        for n in 2..=2000 {
            history.push(event(n), String::new());
        }
        assert_eq!(history.len(), HISTORY_LIMIT);
        let seqs: Vec<_> = history.ticks().filter_map(|tick| tick.seq).collect();
        assert_eq!(seqs, (1001..=2000).collect::<Vec<_>>());
    }

    #[test]
    fn clock_is_zero_padded() {
        assert_eq!(format_clock(9, 5, 3, 7), "09:05:03.007");
    }
}
