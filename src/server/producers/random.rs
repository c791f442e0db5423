//! The seed's producer: every interval, a random number between `min` and
//! `max` as `{"number", "timestamp", "id"}` JSON, for every stream while it
//! has subscribers (or only those matching `--generate`). When it ticks is
//! [`Pacer`]'s business.

use super::pace::Pacer;
use crate::model::{StreamEvent, StreamId, StreamPatterns};
use crate::server::hub::{Emitter, Producer, Production};
use crate::server::store::NewEvent;
use crate::server::timestamp::format_timestamp;
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::{sleep_until, Instant};

/// What the random producer needs from the configuration.
#[derive(Debug, Clone)]
pub struct RandomSettings {
    /// Time between two events of a stream.
    pub interval: Duration,
    /// Smallest generated number.
    pub min: u32,
    /// Largest generated number.
    pub max: u32,
}

/// Reads the wall clock for event timestamps; replaceable so that tests under
/// paused time can see timestamps follow tokio's clock.
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Random numbers for every stream; see the module doc.
pub struct RandomNumbers {
    settings: RandomSettings,
    clock: WallClock,
    /// The streams it makes numbers for.
    streams: StreamPatterns,
}

impl RandomNumbers {
    /// A producer stamping events with the system clock.
    pub fn new(settings: RandomSettings) -> Self {
        Self::with_clock(settings, Arc::new(SystemTime::now))
    }

    /// A producer stamping events with `clock`.
    pub fn with_clock(settings: RandomSettings, clock: WallClock) -> Self {
        Self {
            settings,
            clock,
            streams: StreamPatterns::any(),
        }
    }

    /// The same producer, making numbers only for the streams `streams`
    /// matches (`--generate`); the others carry only published events.
    pub fn only_for(self, streams: StreamPatterns) -> Self {
        Self { streams, ..self }
    }
}

impl Producer for RandomNumbers {
    fn makes_events_for(&self, stream: &StreamId) -> bool {
        self.streams.matches(stream)
    }

    fn produce(&self, stream: Emitter) -> Option<Production> {
        if !self.streams.matches(stream.stream_id()) {
            return None;
        }
        let settings = self.settings.clone();
        let clock = Arc::clone(&self.clock);
        Some(Box::pin(generate(stream, settings, clock)))
    }
}

/// Emits one event per tick until dropped.
async fn generate(stream: Emitter, settings: RandomSettings, clock: WallClock) {
    // A small generator: every stream has one for as long as it runs.
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    // A new leader of a shared stream goes on from the last tick anywhere.
    let mut pacer = match stream.since_last_tick() {
        Some(since) => Pacer::continuing(Instant::now(), settings.interval, since),
        None => Pacer::new(Instant::now(), settings.interval, &mut rng),
    };
    loop {
        sleep_until(pacer.due()).await;
        let tick = pacer.tick(clock(), Instant::now());
        let event = StreamEvent {
            number: rng.random_range(settings.min..=settings.max),
            timestamp: format_timestamp(tick.stamp),
            id: stream.stream_id().as_str().to_owned(),
        };
        // Serialising a struct of a number and two strings cannot fail.
        let json = serde_json::to_string(&event).unwrap_or_default();
        let data = NewEvent {
            event: None,
            data: Bytes::from(json),
        };
        if let Err(error) = stream.emit(data, tick.pace).await {
            tracing::warn!(stream = %stream.stream_id(), %error, "a generated event was not stored");
        }
    }
}
