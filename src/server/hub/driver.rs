//! A stream's driver task: runs its producer while it has subscribers, keeps
//! idle connections alive, and tells the hub when the stream has been idle
//! for the retention time.

use super::leadership::lead;
use super::producer::{Emitter, Producer, Production};
use super::stream::Stream;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// What a driver needs besides its stream.
pub(crate) struct DriverContext {
    /// Makes the stream's events.
    pub(crate) producer: Arc<dyn Producer>,
    /// Silence after which a keep-alive comment is sent.
    pub(crate) keep_alive: Duration,
    /// How long an idle stream is kept.
    pub(crate) retention: Duration,
    /// A shared store's lease time (see `leadership.rs`).
    pub(crate) lease: Duration,
    /// Ends every driver on shutdown.
    pub(crate) shutdown: CancellationToken,
}

/// Why [`drive`] returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Shutdown, or the stream was retired: the task ends.
    Done,
    /// The stream has been idle for the retention time: the hub may forget
    /// it (and calls [`drive`] again if someone joined meanwhile).
    RetentionOver,
}

/// Runs until shutdown, retirement, or the retention time of an idle spell.
pub(crate) async fn drive(stream: &Arc<Stream>, context: &DriverContext) -> Outcome {
    loop {
        if stream.is_retired() {
            return Outcome::Done;
        }
        if stream.subscriber_count() > 0 {
            stream.mark_started();
            tracing::info!(stream = %stream.id(), subscribers = stream.subscriber_count(), "stream started");
            tokio::select! {
                () = context.shutdown.cancelled() => return Outcome::Done,
                () = while_subscribed(stream, context) => {}
            }
            tracing::info!(stream = %stream.id(), subscribers = 0, "stream stopped");
        } else {
            tokio::select! {
                () = context.shutdown.cancelled() => return Outcome::Done,
                () = stream.wake.notified() => {}
                () = sleep(context.retention) => return Outcome::RetentionOver,
            }
        }
    }
}

/// Runs the producer, and sends keep-alives in long silences, until the
/// last subscriber leaves.
async fn while_subscribed(stream: &Arc<Stream>, context: &DriverContext) {
    let mut production = start_production(stream, context);
    let keep_alive = sleep_until(stream.last_sent() + context.keep_alive);
    tokio::pin!(keep_alive);
    loop {
        let producing = poll_fn(|cx| match production.as_mut() {
            Some(running) => running.as_mut().poll(cx),
            None => Poll::Pending,
        });
        tokio::select! {
            // The wake first: once the last subscriber has left, the
            // producer is not run again.
            biased;
            () = stream.wake.notified() => {
                if stream.subscriber_count() == 0 {
                    return;
                }
            }
            () = producing => production = None,
            () = &mut keep_alive => {
                if Instant::now() >= stream.last_sent() + context.keep_alive {
                    stream.keep_alive();
                }
                keep_alive.as_mut().reset(stream.last_sent() + context.keep_alive);
            }
        }
    }
}

/// The stream's production while it has subscribers: its producer's run,
/// or with a shared store, leading it whenever this instance can (one
/// generator per stream across instances).
fn start_production(stream: &Arc<Stream>, context: &DriverContext) -> Option<Production> {
    if stream.shared_log().is_none() {
        return context.producer.produce(Emitter::new(Arc::clone(stream)));
    }
    if !context.producer.makes_events_for(stream.id()) {
        return None;
    }
    let leading = lead(
        Arc::clone(stream),
        Arc::clone(&context.producer),
        context.lease,
    );
    Some(Box::pin(leading))
}
