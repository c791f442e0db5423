//! A stream's generator task: emits an event every interval while the stream
//! has subscribers, keeps idle connections alive, and forgets the stream once
//! it has been idle for the retention time.

use super::hub::Hub;
use super::stats::bump;
use super::stream::Stream;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::{interval_at, sleep, sleep_until, Instant, MissedTickBehavior};

/// Runs until the stream is forgotten or the hub shuts down.
pub(crate) async fn run(stream: Arc<Stream>, hub: Hub) {
    let shutdown = hub.shared.shutdown.clone();
    let mut rng = StdRng::from_rng(&mut rand::rng());
    loop {
        if stream.is_retired() {
            return;
        }
        if stream.subscriber_count() > 0 {
            stream.mark_started();
            tracing::info!(stream = %stream.id(), subscribers = stream.subscriber_count(), "stream started");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = generate_while_subscribed(&stream, &hub, &mut rng) => {}
            }
            tracing::info!(stream = %stream.id(), subscribers = 0, "stream stopped");
        } else {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = stream.wake.notified() => {}
                () = sleep(hub.shared.settings.retention) => {
                    if hub.forget_if_idle(&stream) {
                        tracing::info!(stream = %stream.id(), "stream forgotten after retention");
                        return;
                    }
                }
            }
        }
    }
}

/// A tick later than this fraction of the interval finds the server busy
/// (see [`Stream::emit`]).
const LATE_FRACTION: u32 = 4;

/// Delay before a stream's first event: a random point within the first
/// interval. Streams created together (a page opening several, a reconnect
/// storm after a restart) would otherwise tick at the same instant forever,
/// and every one of their subscribers would be written to in one burst.
fn first_tick(interval: Duration, rng: &mut StdRng) -> Duration {
    let interval_ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rng.random_range(1..=interval_ms))
}

/// Emits events (and keep-alives in long gaps) until the last subscriber
/// leaves.
async fn generate_while_subscribed(stream: &Stream, hub: &Hub, rng: &mut StdRng) {
    let settings = &hub.shared.settings;
    let mut ticker = interval_at(
        Instant::now() + first_tick(settings.interval, rng),
        settings.interval,
    );
    // A late tick moves the rhythm instead of bursting to catch up, so streams
    // that were delayed together drift apart rather than staying in lockstep.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let keep_alive = sleep_until(Instant::now() + settings.keep_alive);
    tokio::pin!(keep_alive);
    loop {
        tokio::select! {
            () = stream.wake.notified() => {
                if stream.subscriber_count() == 0 {
                    return;
                }
            }
            due = ticker.tick() => {
                let on_time = due.elapsed() <= settings.interval / LATE_FRACTION;
                stream.emit(rng.random_range(settings.min..=settings.max), SystemTime::now(), on_time);
                bump(&hub.shared.stats.events_sent);
                keep_alive.as_mut().reset(Instant::now() + settings.keep_alive);
            }
            () = &mut keep_alive => {
                stream.keep_alive();
                keep_alive.as_mut().reset(Instant::now() + settings.keep_alive);
            }
        }
    }
}
