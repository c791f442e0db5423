//! The dashboard's logic, kept out of its components: rates from two
//! successive [`StatsFrame`]s, each stream's rate over the last minute (for
//! its sparkline), sorting the table by any column, and the text of each
//! figure.
//!
//! Rates are integers in thousandths of an event per second ("milli-rates")
//! and are formatted with integer arithmetic: the browser bundle carries no
//! float formatting for them.

use super::wire::{StatsFrame, StreamSummary};
use std::cmp::Ordering;
use std::collections::VecDeque;

/// Samples of a stream's rate kept for its sparkline: one a frame, and the
/// server sends one frame a second, so a minute.
pub const TREND_SAMPLES: usize = 60;

/// The hub-wide figures above the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Open SSE connections.
    pub connections: u64,
    /// Streams with subscribers.
    pub streams: u64,
    /// Events appended per second, in thousandths; `None` until two frames
    /// of the same server life have arrived.
    pub events_rate: Option<u64>,
    /// Copies of events handed to clients per second, in thousandths.
    pub deliveries_rate: Option<u64>,
    /// The rejection counters that are not zero, by error code.
    pub rejections: Vec<(&'static str, u64)>,
}

/// One stream of the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamRow {
    /// The stream id.
    pub id: String,
    /// Clients connected now.
    pub subscribers: usize,
    /// Events in the stream's current life.
    pub events: u64,
    /// Events per second since the previous frame, in thousandths; `None`
    /// for a stream first seen in this frame (or restarted since).
    pub rate: Option<u64>,
    /// Milliseconds since the stream's newest event; `None` before its first.
    pub last_event_ms_ago: Option<u64>,
    /// The rate of each of the last [`TREND_SAMPLES`] frames, oldest first,
    /// in thousandths of an event per second.
    pub trend: Vec<u32>,
    /// When the stream's current life started: a change means it restarted,
    /// and its counts start again from zero.
    started_at: String,
}

impl StreamRow {
    /// The mean of [`Self::trend`]: what the sparkline column sorts by.
    pub fn trend_mean(&self) -> u64 {
        let sum: u64 = self.trend.iter().map(|&rate| u64::from(rate)).sum();
        sum / (self.trend.len().max(1) as u64)
    }
}

/// A column of the table, each of which it can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// The stream id, alphabetically.
    Stream,
    /// Subscribers now.
    Subscribers,
    /// Events in the stream's life.
    Events,
    /// Events per second now.
    Rate,
    /// Age of the last event (a stream with none counts as the oldest).
    LastEvent,
    /// The mean rate over the last minute (the sparkline).
    Trend,
}

impl SortKey {
    /// Every column, in the table's order.
    pub const ALL: [SortKey; 6] = [
        Self::Stream,
        Self::Subscribers,
        Self::Events,
        Self::Rate,
        Self::LastEvent,
        Self::Trend,
    ];

    /// The column header.
    pub fn label(self) -> &'static str {
        match self {
            Self::Stream => "Stream",
            Self::Subscribers => "Subscribers",
            Self::Events => "Events",
            Self::Rate => "Rate",
            Self::LastEvent => "Last event",
            Self::Trend => "Last minute",
        }
    }

    /// Whether the column holds figures (aligned right, like its header).
    pub fn is_numeric(self) -> bool {
        !matches!(self, Self::Stream | Self::Trend)
    }

    /// The direction a first click sorts in: what a reader wants on top
    /// (names from A, the freshest event, otherwise the largest figure).
    fn first_descending(self) -> bool {
        !matches!(self, Self::Stream | Self::LastEvent)
    }

    /// Compares two rows by this column, ascending.
    fn compare(self, a: &StreamRow, b: &StreamRow) -> Ordering {
        match self {
            Self::Stream => a.id.cmp(&b.id),
            Self::Subscribers => a.subscribers.cmp(&b.subscribers),
            Self::Events => a.events.cmp(&b.events),
            Self::Rate => a.rate.cmp(&b.rate),
            Self::LastEvent => age_key(a).cmp(&age_key(b)),
            Self::Trend => a.trend_mean().cmp(&b.trend_mean()),
        }
    }
}

/// The age a row sorts by: a stream without events is the oldest.
fn age_key(row: &StreamRow) -> u64 {
    row.last_event_ms_ago.unwrap_or(u64::MAX)
}

/// How the table is sorted: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortOrder {
    /// The column sorted by.
    pub key: SortKey,
    /// Largest (or last) first.
    pub descending: bool,
}

impl Default for SortOrder {
    /// Most subscribers first, as the server orders the streams.
    fn default() -> Self {
        Self {
            key: SortKey::Subscribers,
            descending: true,
        }
    }
}

impl SortOrder {
    /// The order after a click on `key`'s header: the same column flips
    /// direction, another one starts in its natural direction.
    pub fn clicked(self, key: SortKey) -> Self {
        if self.key == key {
            Self {
                key,
                descending: !self.descending,
            }
        } else {
            Self {
                key,
                descending: key.first_descending(),
            }
        }
    }

    /// The `aria-sort` value of `key`'s header.
    pub fn aria_sort(self, key: SortKey) -> &'static str {
        match (self.key == key, self.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }

    /// Sorts `rows` in this order; equal rows by id, so that the order is
    /// stable from one frame to the next.
    pub fn sort(self, rows: &mut [StreamRow]) {
        rows.sort_by(|a, b| {
            let by_key = self.key.compare(a, b);
            let by_key = if self.descending {
                by_key.reverse()
            } else {
                by_key
            };
            by_key.then_with(|| a.id.cmp(&b.id))
        });
    }
}

/// The counters of the previous frame that rates are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Baseline {
    started_at_ms: u64,
    elapsed_ms: u64,
    events_sent: u64,
    deliveries: u64,
}

/// What the dashboard shows, updated by each frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dashboard {
    baseline: Option<Baseline>,
    totals: Totals,
    /// Rows in the server's order (busiest first).
    rows: Vec<StreamRow>,
    frames: u64,
}

impl Dashboard {
    /// Takes the next frame in. Rates are the counters' growth since the
    /// previous frame divided by the server time between the two. A frame
    /// whose clock is not ahead of the previous one comes from a restarted
    /// server: it becomes the new baseline, with no rates and no trends yet.
    /// Streams missing from the frame are dropped, with their trend.
    pub fn apply(&mut self, frame: StatsFrame) {
        let hub = &frame.hub;
        let interval_ms = self
            .baseline
            // Another process's counters (a restart, another instance)
            // cannot be compared with these.
            .filter(|previous| previous.started_at_ms == frame.started_at_ms)
            .filter(|previous| frame.elapsed_ms > previous.elapsed_ms)
            .map(|previous| (previous, frame.elapsed_ms - previous.elapsed_ms));
        self.totals = Totals {
            connections: hub.connections,
            streams: hub.streams,
            events_rate: interval_ms
                .and_then(|(previous, ms)| milli_rate(previous.events_sent, hub.events_sent, ms)),
            deliveries_rate: interval_ms
                .and_then(|(previous, ms)| milli_rate(previous.deliveries, hub.deliveries, ms)),
            rejections: hub
                .rejected
                .by_code()
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .collect(),
        };
        // A `Vec` searched by id: at most `STATS_FRAME_STREAMS` rows, and a
        // map type of its own would add its code to the WASM bundle.
        let mut previous_rows: Vec<StreamRow> = if interval_ms.is_some() {
            std::mem::take(&mut self.rows)
        } else {
            Vec::new()
        };
        self.rows = frame
            .streams
            .into_iter()
            .map(|summary| {
                let previous = previous_rows
                    .iter()
                    .position(|row| row.id == summary.id)
                    .map(|at| previous_rows.swap_remove(at));
                next_row(summary, previous, interval_ms.map(|(_, ms)| ms))
            })
            .collect();
        self.baseline = Some(Baseline {
            started_at_ms: frame.started_at_ms,
            elapsed_ms: frame.elapsed_ms,
            events_sent: hub.events_sent,
            deliveries: hub.deliveries,
        });
        self.frames += 1;
    }

    /// Whether a frame has arrived yet.
    pub fn has_data(&self) -> bool {
        self.frames > 0
    }

    /// Whether the last frame listed any stream.
    pub fn has_streams(&self) -> bool {
        !self.rows.is_empty()
    }

    /// The hub-wide figures.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The streams, sorted by `order`.
    pub fn rows(&self, order: SortOrder) -> Vec<StreamRow> {
        let mut rows = self.rows.clone();
        order.sort(&mut rows);
        rows
    }
}

/// A stream's row for this frame, continuing `previous` (its row in the
/// last frame, if any) when the stream has not restarted since.
fn next_row(
    summary: StreamSummary,
    previous: Option<StreamRow>,
    interval_ms: Option<u64>,
) -> StreamRow {
    let same_life = previous.filter(|row| row.started_at == summary.started_at);
    let rate = same_life
        .as_ref()
        .and_then(|row| interval_ms.and_then(|ms| milli_rate(row.events, summary.events_sent, ms)));
    let mut trend: VecDeque<u32> = same_life.map(|row| row.trend.into()).unwrap_or_default();
    if let Some(rate) = rate {
        if trend.len() == TREND_SAMPLES {
            trend.pop_front();
        }
        trend.push_back(u32::try_from(rate).unwrap_or(u32::MAX));
    }
    StreamRow {
        id: summary.id,
        subscribers: summary.subscribers,
        events: summary.events_sent,
        rate,
        last_event_ms_ago: summary.last_event_ms_ago,
        trend: trend.into(),
        started_at: summary.started_at,
    }
}

/// Growth from `before` to `after` over `interval_ms`, in thousandths per
/// second, rounded to the nearest; `None` when the counter went back (it
/// was reset) or no time passed.
pub fn milli_rate(before: u64, after: u64, interval_ms: u64) -> Option<u64> {
    let grown = after.checked_sub(before)?;
    if interval_ms == 0 {
        return None;
    }
    // Events per millisecond × 1,000 (per second) × 1,000 (thousandths).
    let scaled = u128::from(grown) * 1_000_000 + u128::from(interval_ms / 2);
    Some(u64::try_from(scaled / u128::from(interval_ms)).unwrap_or(u64::MAX))
}

/// A rate for people: `12.5/s` (tenths below 100 a second), `1,234/s`
/// above, `–` when there is none yet.
pub fn format_rate(milli: Option<u64>) -> String {
    let Some(milli) = milli else {
        return "–".to_owned();
    };
    let tenths = (milli + 50) / 100;
    if tenths < 1_000 {
        format!("{}.{}/s", tenths / 10, tenths % 10)
    } else {
        format!("{}/s", format_count((milli + 500) / 1_000))
    }
}

/// How long ago, for people: `0.4 s`, `12 s`, `3 min`, `2 h`; `–` for
/// never.
pub fn format_age(ms: Option<u64>) -> String {
    let Some(ms) = ms else {
        return "–".to_owned();
    };
    match ms {
        0..=9_949 => {
            let tenths = (ms + 50) / 100;
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
        9_950..=59_999 => format!("{} s", (ms + 500) / 1_000),
        60_000..=3_599_999 => format!("{} min", ms / 60_000),
        _ => format!("{} h", ms / 3_600_000),
    }
}

/// A count with thousands separated by commas: `1,234,567`.
pub fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HubStats, RejectionCounts};

    fn summary(id: &str, subscribers: usize, events: u64) -> StreamSummary {
        StreamSummary {
            id: id.into(),
            subscribers,
            events_sent: events,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            last_event_ms_ago: Some(100),
        }
    }

    fn frame(elapsed_ms: u64, events: u64, streams: Vec<StreamSummary>) -> StatsFrame {
        StatsFrame {
            started_at_ms: 1_700_000_000_000,
            elapsed_ms,
            hub: HubStats {
                connections: 3,
                streams: streams.len() as u64,
                events_sent: events,
                deliveries: events * 2,
                ..HubStats::default()
            },
            streams,
        }
    }

    #[test]
    fn the_first_frame_shows_counts_but_no_rates() {
        let mut board = Dashboard::default();
        assert!(!board.has_data());
        board.apply(frame(1_000, 10, vec![summary("a", 2, 10)]));
        assert!(board.has_data());
        assert!(board.has_streams());
        assert_eq!(board.totals().connections, 3);
        assert_eq!(board.totals().events_rate, None);
        let rows = board.rows(SortOrder::default());
        assert_eq!(rows[0].rate, None);
        assert!(rows[0].trend.is_empty());
    }

    #[test]
    fn a_frame_from_another_process_shows_no_rates_until_the_next() {
        let mut board = Dashboard::default();
        board.apply(frame(1_000, 10, vec![summary("a", 1, 10)]));
        // A restarted (or other) server already further on its own clock,
        // with larger counters: nothing to compare with.
        let mut other = frame(60_000, 5_000, vec![summary("a", 1, 4_000)]);
        other.started_at_ms += 30_000;
        board.apply(other.clone());
        assert_eq!(board.totals().events_rate, None);
        assert_eq!(board.rows(SortOrder::default())[0].rate, None);
        // Its next frame has rates again.
        let mut next = frame(61_000, 5_010, vec![summary("a", 1, 4_010)]);
        next.started_at_ms = other.started_at_ms;
        board.apply(next);
        assert_eq!(board.totals().events_rate, Some(10_000));
    }

    #[test]
    fn rates_are_growth_over_the_server_time_between_frames() {
        let mut board = Dashboard::default();
        board.apply(frame(1_000, 10, vec![summary("a", 1, 10)]));
        // 5 events in 500 ms: 10 a second; deliveries grew by 10: 20 a second.
        board.apply(frame(1_500, 15, vec![summary("a", 1, 15)]));
        assert_eq!(board.totals().events_rate, Some(10_000));
        assert_eq!(board.totals().deliveries_rate, Some(20_000));
        let rows = board.rows(SortOrder::default());
        assert_eq!(rows[0].rate, Some(10_000));
        assert_eq!(rows[0].trend, vec![10_000]);
    }

    #[test]
    fn the_trend_keeps_the_last_minute_of_rates() {
        let mut board = Dashboard::default();
        for second in 0..=70u64 {
            board.apply(frame(
                second * 1_000,
                second,
                vec![summary("a", 1, second * second)],
            ));
        }
        let row = &board.rows(SortOrder::default())[0];
        assert_eq!(row.trend.len(), TREND_SAMPLES);
        // The newest sample: 70² − 69² = 139 events in one second.
        assert_eq!(row.trend.last(), Some(&139_000));
        // The oldest kept: 11² − 10² = 21.
        assert_eq!(row.trend.first(), Some(&21_000));
    }

    #[test]
    fn a_stream_that_leaves_is_dropped_and_one_that_restarts_starts_again() {
        let mut board = Dashboard::default();
        board.apply(frame(0, 0, vec![summary("a", 1, 10), summary("b", 1, 50)]));
        board.apply(frame(
            1_000,
            0,
            vec![summary("a", 1, 12), summary("b", 1, 51)],
        ));
        let mut restarted = summary("b", 1, 1);
        restarted.started_at = "2026-01-01T00:01:00.000Z".into();
        board.apply(frame(2_000, 0, vec![restarted]));
        let rows = board.rows(SortOrder::default());
        assert_eq!(rows.len(), 1, "a is gone");
        assert_eq!(rows[0].id, "b");
        assert_eq!(rows[0].rate, None, "b restarted: no rate across lives");
        assert!(rows[0].trend.is_empty());
    }

    #[test]
    fn each_stream_is_matched_with_its_own_previous_row_in_any_order() {
        let mut board = Dashboard::default();
        board.apply(frame(
            0,
            0,
            vec![
                summary("a", 1, 10),
                summary("b", 1, 100),
                summary("c", 1, 0),
            ],
        ));
        // The next frame lists them the other way round.
        board.apply(frame(
            1_000,
            0,
            vec![
                summary("c", 1, 5),
                summary("b", 1, 120),
                summary("a", 1, 11),
            ],
        ));
        let rows = board.rows(SortOrder::default());
        let rate_of = |id: &str| {
            rows.iter()
                .find(|row| row.id == id)
                .and_then(|row| row.rate)
        };
        assert_eq!(rate_of("a"), Some(1_000));
        assert_eq!(rate_of("b"), Some(20_000));
        assert_eq!(rate_of("c"), Some(5_000));
    }

    #[test]
    fn a_restarted_server_becomes_the_new_baseline() {
        let mut board = Dashboard::default();
        board.apply(frame(50_000, 900, vec![summary("a", 1, 900)]));
        board.apply(frame(51_000, 910, vec![summary("a", 1, 910)]));
        // The server restarted: its clock and counters begin again.
        board.apply(frame(1_000, 3, vec![summary("a", 1, 3)]));
        assert_eq!(board.totals().events_rate, None);
        assert_eq!(board.rows(SortOrder::default())[0].trend, Vec::<u32>::new());
        board.apply(frame(2_000, 5, vec![summary("a", 1, 5)]));
        assert_eq!(board.totals().events_rate, Some(2_000));
    }

    #[test]
    fn only_rejections_that_happened_are_listed_by_code() {
        let mut board = Dashboard::default();
        let mut with_rejections = frame(0, 0, vec![]);
        with_rejections.hub.rejected = RejectionCounts {
            invalid_stream_id: 4,
            forbidden: 1,
            ..RejectionCounts::default()
        };
        board.apply(with_rejections);
        assert_eq!(
            board.totals().rejections,
            vec![("invalid_stream_id", 4), ("forbidden", 1)]
        );
    }

    fn rows_for_sorting() -> Vec<StreamRow> {
        let mut board = Dashboard::default();
        board.apply(frame(
            0,
            0,
            vec![summary("b", 1, 0), summary("a", 3, 0), summary("c", 2, 0)],
        ));
        let mut a = summary("a", 3, 5);
        a.last_event_ms_ago = Some(900);
        let mut b = summary("b", 1, 30);
        b.last_event_ms_ago = None;
        let mut c = summary("c", 2, 10);
        c.last_event_ms_ago = Some(20);
        board.apply(frame(1_000, 0, vec![b, a, c]));
        board.rows(SortOrder::default())
    }

    fn ids(rows: &[StreamRow]) -> Vec<&str> {
        rows.iter().map(|row| row.id.as_str()).collect()
    }

    #[test]
    fn sorts_by_every_column_both_ways() {
        let mut rows = rows_for_sorting();
        assert_eq!(ids(&rows), ["a", "c", "b"], "most subscribers first");
        let cases = [
            (SortKey::Stream, ["a", "b", "c"]),
            (SortKey::Subscribers, ["b", "c", "a"]),
            (SortKey::Events, ["a", "c", "b"]),
            (SortKey::Rate, ["a", "c", "b"]),
            (SortKey::LastEvent, ["c", "a", "b"]),
            (SortKey::Trend, ["a", "c", "b"]),
        ];
        for (key, ascending) in cases {
            SortOrder {
                key,
                descending: false,
            }
            .sort(&mut rows);
            assert_eq!(ids(&rows), ascending, "{key:?} ascending");
            SortOrder {
                key,
                descending: true,
            }
            .sort(&mut rows);
            let mut descending = ascending;
            descending.reverse();
            assert_eq!(ids(&rows), descending, "{key:?} descending");
        }
    }

    #[test]
    fn equal_rows_keep_the_id_order_in_both_directions() {
        let mut board = Dashboard::default();
        board.apply(frame(0, 0, vec![summary("y", 1, 0), summary("x", 1, 0)]));
        for descending in [false, true] {
            let order = SortOrder {
                key: SortKey::Subscribers,
                descending,
            };
            assert_eq!(ids(&board.rows(order)), ["x", "y"]);
        }
    }

    #[test]
    fn a_click_flips_the_sorted_column_and_starts_another_in_its_natural_direction() {
        let order = SortOrder::default();
        assert_eq!(order.aria_sort(SortKey::Subscribers), "descending");
        assert_eq!(order.aria_sort(SortKey::Stream), "none");
        let flipped = order.clicked(SortKey::Subscribers);
        assert_eq!(flipped.aria_sort(SortKey::Subscribers), "ascending");
        let by_name = flipped.clicked(SortKey::Stream);
        assert_eq!(by_name.aria_sort(SortKey::Stream), "ascending");
        assert_eq!(by_name.aria_sort(SortKey::Subscribers), "none");
        let freshest = by_name.clicked(SortKey::LastEvent);
        assert!(!freshest.descending, "the freshest event first");
        assert!(freshest.clicked(SortKey::Rate).descending);
    }

    #[test]
    fn milli_rates_round_and_refuse_resets() {
        assert_eq!(milli_rate(0, 1, 3_000), Some(333));
        assert_eq!(milli_rate(0, 2, 3_000), Some(667));
        assert_eq!(milli_rate(10, 9, 1_000), None);
        assert_eq!(milli_rate(0, 1, 0), None);
        assert_eq!(milli_rate(0, u64::MAX, 1), Some(u64::MAX));
    }

    #[test]
    fn figures_read_naturally() {
        assert_eq!(format_rate(None), "–");
        assert_eq!(format_rate(Some(0)), "0.0/s");
        assert_eq!(format_rate(Some(4_960)), "5.0/s");
        assert_eq!(format_rate(Some(99_940)), "99.9/s");
        assert_eq!(format_rate(Some(99_950)), "100/s");
        assert_eq!(format_rate(Some(1_234_400)), "1,234/s");
        assert_eq!(format_age(None), "–");
        assert_eq!(format_age(Some(0)), "0.0 s");
        assert_eq!(format_age(Some(449)), "0.4 s");
        assert_eq!(format_age(Some(9_949)), "9.9 s");
        assert_eq!(format_age(Some(9_950)), "10 s");
        assert_eq!(format_age(Some(59_999)), "60 s");
        assert_eq!(format_age(Some(60_000)), "1 min");
        assert_eq!(format_age(Some(7_200_000)), "2 h");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }
}
