//! When a generated stream ticks: its first tick at a random point within
//! the first interval, then one every interval, never two closer than the
//! interval however late a tick comes.
//!
//! # The pace contract
//! - **First tick.** Streams created together (a page opening several, a
//!   reconnect storm after a restart) would otherwise tick at the same
//!   instant forever, and every one of their subscribers would be written to
//!   in one burst; a random first tick spreads them out.
//! - **No two ticks closer than the interval.** The next tick is due one
//!   interval after the clock reading taken *after* this tick's timestamp,
//!   so the timestamps of two ticks are always at least one interval apart
//!   (and, truncated to the millisecond, at least the interval in whole
//!   milliseconds). A late tick therefore shifts the rhythm rather than
//!   bursting, and a tick that comes on time costs the timer's resolution
//!   (up to about 1 ms) of drift. tokio's `Interval` does not keep this: it
//!   schedules a tick up to 5 ms late on the old grid, so the next one can
//!   follow it 5 ms later, or in the same millisecond when the thread was
//!   descheduled between the timer and the timestamp (seen under the
//!   throughput benchmark's overload).
//! - **Pace.** A tick more than a quarter interval late finds the server
//!   busy: it is [`Pace::Late`], and the subscribers' own tasks write it.

use crate::server::hub::Pace;
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

/// A tick later than this fraction of the interval is [`Pace::Late`].
const LATE_FRACTION: u32 = 4;

/// One stream's tick schedule.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    due: Instant,
}

impl Pacer {
    /// A schedule whose first tick comes at a random point within the first
    /// interval from `start`.
    pub(crate) fn new(start: Instant, interval: Duration, rng: &mut impl Rng) -> Self {
        let interval_ms = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            interval,
            due: start + Duration::from_millis(rng.random_range(1..=interval_ms)),
        }
    }

    /// When the next tick is due.
    pub(crate) fn due(&self) -> Instant {
        self.due
    }

    /// Records a tick whose timestamp was taken just before `now`: returns
    /// its pace and schedules the next tick one interval after `now`.
    pub(crate) fn tick(&mut self, now: Instant) -> Pace {
        let late = now.saturating_duration_since(self.due);
        self.due = now + self.interval;
        if late <= self.interval / LATE_FRACTION {
            Pace::OnTime
        } else {
            Pace::Late
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const INTERVAL: Duration = Duration::from_millis(10);

    #[test]
    fn the_first_tick_falls_within_the_first_interval() {
        let start = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let pacer = Pacer::new(start, INTERVAL, &mut rng);
            let wait = pacer.due() - start;
            assert!(
                wait >= Duration::from_millis(1) && wait <= INTERVAL,
                "{wait:?}"
            );
        }
    }

    #[test]
    fn a_tick_is_never_due_sooner_than_an_interval_after_the_last() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, INTERVAL, &mut StdRng::seed_from_u64(1));
        let mut now = pacer.due();
        // Lateness that grows, shrinks and vanishes: 4.9 ms is what tokio's
        // Interval schedules on the old grid, 9.9 ms nearly a whole interval.
        for late_us in [0, 4_900, 0, 9_900, 100, 15_000, 0, 2_400, 2_600, 0] {
            now += Duration::from_micros(late_us);
            let pace = pacer.tick(now);
            let expected = if late_us <= 2_500 {
                Pace::OnTime
            } else {
                Pace::Late
            };
            assert_eq!(pace, expected, "{late_us} µs late");
            assert_eq!(pacer.due() - now, INTERVAL);
            now = pacer.due();
        }
    }
}
