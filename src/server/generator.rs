//! A stream's generator task: emits an event every interval while the stream
//! has subscribers, keeps idle connections alive, and forgets the stream once
//! it has been idle for the retention time.

use super::hub::Hub;
use super::stats::bump;
use super::stream::Stream;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::SystemTime;
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
                        tracing::debug!(stream = %stream.id(), "stream forgotten after retention");
                        return;
                    }
                }
            }
        }
    }
}

/// Emits events (and keep-alives in long gaps) until the last subscriber
/// leaves.
async fn generate_while_subscribed(stream: &Stream, hub: &Hub, rng: &mut StdRng) {
    let settings = &hub.shared.settings;
    let mut ticker = interval_at(Instant::now() + settings.interval, settings.interval);
    // After a stall, keep the rhythm rather than bursting to catch up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let keep_alive = sleep_until(Instant::now() + settings.keep_alive);
    tokio::pin!(keep_alive);
    loop {
        tokio::select! {
            () = stream.wake.notified() => {
                if stream.subscriber_count() == 0 {
                    return;
                }
            }
            _ = ticker.tick() => {
                stream.emit(rng.random_range(settings.min..=settings.max), SystemTime::now());
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
