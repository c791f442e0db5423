//! Each stream's publish rate (`--max-publish-rate`), and the publish
//! API's settings.

use super::error::AppError;
use crate::model::StreamId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the publish API needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct PublishSettings {
    /// Largest body accepted, in bytes (`--max-event-bytes`).
    pub max_event_bytes: usize,
    /// Events a second per stream (`--max-publish-rate`); 0 = unlimited.
    pub max_publish_rate: u32,
    /// Longest a body may take to arrive once its head has
    /// (`--head-timeout-ms`): a body trickled a byte at a time would
    /// otherwise hold its socket for as long as the trickle lasts.
    pub body_timeout: std::time::Duration,
}

/// Checks between two sweeps of streams whose buckets are full again.
const SWEEP_EVERY: u32 = 4096;

/// The per-stream publish rate: a token bucket per stream (`governor`'s
/// keyed limiter) of `per_second` events, refilled at that rate.
pub struct PublishRate {
    limiter: Option<(DefaultKeyedRateLimiter<StreamId>, NonZeroU32)>,
    since_sweep: AtomicU32,
}

impl PublishRate {
    /// `per_second` events a second per stream; 0 for no limit.
    pub fn new(per_second: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_second)
                .map(|rate| (RateLimiter::keyed(Quota::per_second(rate)), rate)),
            since_sweep: AtomicU32::new(0),
        }
    }

    /// Whether stream `id` may take one more event now.
    pub(crate) fn admit(&self, id: &StreamId) -> Result<(), AppError> {
        let Some((limiter, rate)) = &self.limiter else {
            return Ok(());
        };
        if self.since_sweep.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter
            .check_key(id)
            .map_err(|_| AppError::PublishRateLimited {
                stream: id.to_string(),
                per_second: rate.get(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_per_stream() {
        let rate = PublishRate::new(2);
        let a = StreamId::parse("a").expect("id");
        let b = StreamId::parse("b").expect("id");
        assert!(rate.admit(&a).is_ok());
        assert!(rate.admit(&a).is_ok());
        assert_eq!(
            rate.admit(&a).map_err(|e| e.code()),
            Err("publish_rate_limited")
        );
        assert!(rate.admit(&b).is_ok());
    }
}
