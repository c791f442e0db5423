//! When a generated stream ticks, and the time each tick is stamped with:
//! its first tick at a random point within the first interval, then one
//! every interval, never two stamped closer than the interval however late a
//! tick comes.
//!
//! # The pace contract
//! - **First tick.** Streams created together (a page opening several, a
//!   reconnect storm after a restart) would otherwise tick at the same
//!   instant forever, and every one of their subscribers would be written to
//!   in one burst; a random first tick spreads them out.
//! - **On the grid while on time.** A tick that comes within the timer's
//!   resolution of when it was due ([`ON_GRID`], or a quarter interval if
//!   that is less) keeps the rhythm: the next is due one interval after
//!   this one was due, so a stream ticks `1000 / interval` times a second.
//! - **A late tick shifts the rhythm** rather than bursting: the next is due
//!   one interval after the late one came.
//! - **Stamps are never closer than the interval.** A tick is stamped with
//!   the wall clock, or with one interval after the previous stamp if that is
//!   later (a tick that came sooner after a late one, a thread descheduled
//!   between two clock readings, a wall clock stepped back). So stamps of
//!   one stream are distinct and, truncated to the millisecond, at least the
//!   interval apart; a stamp is at most [`ON_GRID`] later than the moment
//!   its event was made, unless the wall clock was stepped back (then the
//!   stamps stay ahead of it by the step until the stream next starts,
//!   rather than go back). tokio's `Interval` kept neither: it stays on the
//!   old grid for a tick up to 5 ms late, so the next came 5 ms later, and
//!   with the thread descheduled between its clock reading and the stamp,
//!   two events of one stream carried the same millisecond (seen under the
//!   throughput benchmark's overload).
//! - **Pace.** A tick more than a quarter interval late finds the server
//!   busy: it is [`Pace::Late`], and the subscribers' own tasks write it.

use crate::server::hub::Pace;
use rand::Rng;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// A tick later than this fraction of the interval is [`Pace::Late`].
const LATE_FRACTION: u32 = 4;

/// How late a tick may come and still keep the grid: tokio's timer fires
/// on whole milliseconds, so a tick due between two comes up to 1 ms late,
/// plus the time to wake the task.
pub(crate) const ON_GRID: Duration = Duration::from_micros(1500);

/// One stream's tick schedule and its last stamp.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    due: Instant,
    last_stamp: Option<SystemTime>,
}

/// What a tick is: its stamp and its pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tick {
    /// The event's timestamp.
    pub(crate) stamp: SystemTime,
    /// Whether it came on time.
    pub(crate) pace: Pace,
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
            last_stamp: None,
        }
    }

    /// A schedule that goes on from a tick `since` ago (made elsewhere: a
    /// shared stream's previous leader): the first tick comes one interval
    /// after that one, or at once if that has passed.
    pub(crate) fn continuing(start: Instant, interval: Duration, since: Duration) -> Self {
        Self {
            interval,
            due: start + interval.saturating_sub(since),
            last_stamp: None,
        }
    }

    /// When the next tick is due.
    pub(crate) fn due(&self) -> Instant {
        self.due
    }

    /// Records a tick that came at `now`, when the wall clock read `wall`:
    /// returns its stamp and pace, and schedules the next tick.
    pub(crate) fn tick(&mut self, wall: SystemTime, now: Instant) -> Tick {
        let late = now.saturating_duration_since(self.due);
        let quarter = self.interval / LATE_FRACTION;
        self.due = if late <= ON_GRID.min(quarter) {
            self.due + self.interval
        } else {
            now + self.interval
        };
        let stamp = match self.last_stamp {
            Some(last) => wall.max(last + self.interval),
            None => wall,
        };
        self.last_stamp = Some(stamp);
        let pace = if late <= quarter {
            Pace::OnTime
        } else {
            Pace::Late
        };
        Tick { stamp, pace }
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
    fn on_time_ticks_keep_the_grid_and_late_ones_shift_it() {
        let start = Instant::now();
        let epoch = SystemTime::UNIX_EPOCH;
        let wall = |at: Instant| epoch + (at - start);
        let mut pacer = Pacer::new(start, INTERVAL, &mut StdRng::seed_from_u64(1));
        let mut due = pacer.due();
        let mut last_stamp: Option<SystemTime> = None;
        // Lateness that grows, shrinks and vanishes: 1.5 ms keeps the grid,
        // 4.9 ms is what tokio's Interval still counted as on its grid.
        for late_us in [
            0, 1_500, 0, 4_900, 0, 9_900, 100, 15_000, 0, 2_400, 2_600, 0,
        ] {
            let now = due + Duration::from_micros(late_us);
            let tick = pacer.tick(wall(now), now);
            let pace = if late_us <= 2_500 {
                Pace::OnTime
            } else {
                Pace::Late
            };
            assert_eq!(tick.pace, pace, "{late_us} µs late");
            let next = if late_us <= 1_500 {
                due + INTERVAL
            } else {
                now + INTERVAL
            };
            assert_eq!(pacer.due(), next, "{late_us} µs late");
            if let Some(last) = last_stamp {
                let apart = tick.stamp.duration_since(last).expect("stamps rise");
                assert!(apart >= INTERVAL, "{apart:?} after the last stamp");
            }
            let ahead = tick.stamp.duration_since(wall(now)).unwrap_or_default();
            assert!(ahead <= ON_GRID, "stamped {ahead:?} after it was made");
            last_stamp = Some(tick.stamp);
            due = pacer.due();
        }
    }

    #[test]
    fn a_schedule_taken_over_goes_on_from_the_last_tick() {
        let start = Instant::now();
        let pacer = Pacer::continuing(start, INTERVAL, Duration::from_millis(3));
        assert_eq!(pacer.due(), start + Duration::from_millis(7));
        let overdue = Pacer::continuing(start, INTERVAL, Duration::from_secs(4));
        assert_eq!(overdue.due(), start, "a leader dead for long: at once");
    }

    #[test]
    fn a_wall_clock_stepped_back_never_takes_stamps_back() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, INTERVAL, &mut StdRng::seed_from_u64(2));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let first = pacer.tick(at, pacer.due()).stamp;
        let second = pacer.tick(at - Duration::from_secs(5), pacer.due()).stamp;
        assert_eq!(second, first + INTERVAL);
    }
}
