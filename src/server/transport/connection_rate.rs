//! The per-address limit on new connections per second, checked by the
//! gateway before it reads a byte. A token bucket per address (`governor`'s
//! keyed limiter): `per_second` connections at once, refilled at
//! `per_second` a second, so that a browser opening a page's few
//! connections is never refused while a loop reconnecting as fast as it can
//! is.

use super::open_sockets::Refusal;
use crate::server::hub::client_address;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Checks between two sweeps of addresses whose buckets are full again, so
/// that the table holds only addresses seen lately.
const SWEEP_EVERY: u32 = 4096;

/// New connections per second per address; see the module doc.
pub struct ConnectionRate {
    /// `None` when unlimited.
    limiter: Option<(DefaultKeyedRateLimiter<IpAddr>, NonZeroU32)>,
    /// Checks since the last sweep.
    since_sweep: u32,
}

impl ConnectionRate {
    /// `per_second` new connections a second from one address; `0` for no
    /// limit.
    pub fn new(per_second: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_second)
                .map(|rate| (RateLimiter::keyed(Quota::per_second(rate)), rate)),
            since_sweep: 0,
        }
    }

    /// Whether `addr` (its [`client_address`]) may open one more
    /// connection now.
    pub fn admit(&mut self, addr: IpAddr) -> Result<(), Refusal> {
        let Some((limiter, rate)) = &self.limiter else {
            return Ok(());
        };
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            limiter.retain_recent();
        }
        limiter
            .check_key(&client_address(addr))
            .map_err(|_| Refusal::ConnectionRate {
                per_second: rate.get(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_rate_is_refused_and_others_are_not() {
        let a = IpAddr::from([127, 0, 0, 2]);
        let b = IpAddr::from([127, 0, 0, 1]);
        let mut rate = ConnectionRate::new(3);
        for _ in 0..3 {
            rate.admit(a).expect("within the burst");
        }
        assert_eq!(
            rate.admit(a),
            Err(Refusal::ConnectionRate { per_second: 3 })
        );
        rate.admit(b).expect("another address has its own bucket");
    }

    #[test]
    fn zero_means_unlimited() {
        let mut rate = ConnectionRate::new(0);
        for _ in 0..10_000 {
            rate.admit(IpAddr::from([10, 0, 0, 1])).expect("unlimited");
        }
    }
}
