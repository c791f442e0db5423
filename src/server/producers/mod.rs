//! What makes events: implementations of the hub's
//! [`Producer`](crate::server::hub::Producer) seam. Above the hub, beside the
//! transports; the composition root picks one.
//!
//! - `random.rs`: [`RandomNumbers`], the seed's interval numbers.
//! - `pace.rs`: when a generated stream ticks: first-tick jitter, and never
//!   two ticks closer than the interval however late one comes.
//! - `hub_tests.rs`: the hub driven by the random producer, under paused time.

mod pace;
mod random;

#[cfg(test)]
mod hub_tests;

pub use random::{RandomNumbers, RandomSettings, WallClock};
