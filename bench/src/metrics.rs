//! Shared measurements: latency histograms, the per-tick consistency check,
//! and the per-connection tallies merged at the end.

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Largest latency recorded, in microseconds (one hour); larger values are
/// clamped to it.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Locks a mutex, ignoring poisoning: the data is plain counters.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new histogram of microseconds with three significant digits.
pub fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).context("cannot create a latency histogram")
}

/// A latency histogram in microseconds, split into shards so that many
/// connections can record at once without contending on one lock.
pub struct LatencyRecorder {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl LatencyRecorder {
    /// A recorder with `shards` shards (at least one).
    pub fn new(shards: usize) -> Result<Self> {
        let shards = (0..shards.max(1))
            .map(|_| new_histogram().map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(Self { shards })
    }

    /// Records one latency; `key` (e.g. the connection number) picks the shard.
    pub fn record(&self, key: usize, micros: u64) {
        let shard = &self.shards[key % self.shards.len()];
        lock(shard).saturating_record(micros.clamp(1, MAX_LATENCY_US));
    }

    /// All shards added together.
    pub fn merged(&self) -> Result<Histogram<u64>> {
        let mut total = new_histogram()?;
        for shard in &self.shards {
            total
                .add(&*lock(shard))
                .context("cannot merge latency histograms")?;
        }
        Ok(total)
    }
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| round3(micros as f64 / 1000.0);
        Self {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
            mean_ms: round3(histogram.mean() / 1000.0),
        }
    }
}

/// Rounds to three decimals, for readable JSON.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Checks that all clients of a stream see the same number for each tick.
///
/// A tick is identified by its timestamp and, when the server sends them, its
/// `id:` sequence number. The first client to report a tick fixes the number;
/// every later report that differs is a mismatch. Two different sequence
/// numbers with one timestamp are counted apart, as a timestamp collision: a
/// client that identifies ticks by timestamp alone would take them for a
/// mismatch.
pub struct Consistency {
    streams: Vec<Mutex<StreamTicks>>,
    mismatches: AtomicU64,
    collisions: AtomicU64,
}

/// The ticks seen on one stream.
#[derive(Default)]
struct StreamTicks {
    /// (timestamp ms, sequence id or `u64::MAX`) → number.
    numbers: HashMap<(u64, u64), u32>,
    /// timestamp ms → the first sequence id seen with it.
    first_seq: HashMap<u64, u64>,
}

/// Stands for "no `id:` line" in a tick key.
const NO_SEQ: u64 = u64::MAX;

impl Consistency {
    /// A checker for `streams` streams.
    pub fn new(streams: usize) -> Self {
        Self {
            streams: (0..streams).map(|_| Mutex::default()).collect(),
            mismatches: AtomicU64::new(0),
            collisions: AtomicU64::new(0),
        }
    }

    /// Records that a client of stream `stream` got `number` for the tick at
    /// `tick_ms` with sequence id `seq`.
    pub fn observe(&self, stream: usize, tick_ms: u64, seq: Option<u64>, number: u32) {
        let Some(ticks) = self.streams.get(stream) else {
            return;
        };
        let seq = seq.unwrap_or(NO_SEQ);
        let mut ticks = lock(ticks);
        let mut new_tick = false;
        let first = *ticks.numbers.entry((tick_ms, seq)).or_insert_with(|| {
            new_tick = true;
            number
        });
        if first != number {
            self.mismatches.fetch_add(1, Ordering::Relaxed);
        }
        if new_tick && *ticks.first_seq.entry(tick_ms).or_insert(seq) != seq {
            self.collisions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Mismatches seen so far.
    pub fn mismatches(&self) -> u64 {
        self.mismatches.load(Ordering::Relaxed)
    }

    /// Ticks that shared their timestamp with an earlier tick of their stream.
    pub fn collisions(&self) -> u64 {
        self.collisions.load(Ordering::Relaxed)
    }

    /// Distinct ticks over all streams whose timestamp lies in `from..to` (ms).
    pub fn ticks_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.streams
            .iter()
            .map(|ticks| {
                lock(ticks)
                    .numbers
                    .keys()
                    .filter(|(at, _)| (from_ms..to_ms).contains(at))
                    .count() as u64
            })
            .sum()
    }
}

/// What one connection counted; merged into the run's totals at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Events (`message` type) received.
    pub events: u64,
    /// Of those, received during the measured hold window.
    pub events_measured: u64,
    /// Jumps forward in the `id:` sequence of one connection.
    pub gaps: u64,
    /// Events skipped by those jumps.
    pub missing_events: u64,
    /// `id:` values not above the previous one (repeats or reordering).
    pub duplicates: u64,
    /// `event: gap` notices from the server.
    pub gap_notices: u64,
    /// `: keep-alive` and other comments.
    pub comments: u64,
    /// `retry:` fields.
    pub retries: u64,
    /// Events whose data was not the expected JSON.
    pub malformed: u64,
    /// Events whose `id` field named another stream.
    pub wrong_stream: u64,
}

impl Tally {
    /// Adds another connection's counts.
    pub fn merge(&mut self, other: &Tally) {
        self.events += other.events;
        self.events_measured += other.events_measured;
        self.gaps += other.gaps;
        self.missing_events += other.missing_events;
        self.duplicates += other.duplicates;
        self.gap_notices += other.gap_notices;
        self.comments += other.comments;
        self.retries += other.retries;
        self.malformed += other.malformed;
        self.wrong_stream += other.wrong_stream;
    }
}

/// Counts of failure reasons, e.g. `connect: Connection refused`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Reasons(pub HashMap<String, u64>);

impl Reasons {
    /// Counts one occurrence of `reason`.
    pub fn add(&mut self, reason: impl Into<String>) {
        *self.0.entry(reason.into()).or_default() += 1;
    }

    /// Total occurrences.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_number_for_the_same_tick_is_a_mismatch() {
        let check = Consistency::new(2);
        check.observe(0, 1000, None, 7);
        check.observe(0, 1000, None, 7);
        check.observe(1, 1000, None, 8);
        assert_eq!(check.mismatches(), 0);
        check.observe(0, 1000, None, 9);
        assert_eq!(check.mismatches(), 1);
        assert_eq!(check.ticks_between(0, 2000), 2);
        assert_eq!(check.ticks_between(1001, 2000), 0);
    }

    #[test]
    fn two_ticks_in_one_millisecond_are_a_collision_not_a_mismatch() {
        let check = Consistency::new(1);
        for _client in 0..3 {
            check.observe(0, 1000, Some(41), 5);
            check.observe(0, 1000, Some(42), 6);
        }
        assert_eq!(check.mismatches(), 0);
        assert_eq!(check.collisions(), 1);
        check.observe(0, 1000, Some(42), 7);
        assert_eq!(check.mismatches(), 1);
    }

    #[test]
    fn shards_merge_into_one_summary() {
        let recorder = LatencyRecorder::new(4).expect("histogram");
        for (key, micros) in [1_000, 2_000, 3_000, 100_000].into_iter().enumerate() {
            recorder.record(key, micros);
        }
        let summary = LatencySummary::from_micros(&recorder.merged().expect("merge"));
        assert_eq!(summary.count, 4);
        assert!((summary.p50_ms - 2.0).abs() < 0.01, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
    }
}
