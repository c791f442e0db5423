//! One generator per stream across instances (a shared store): the
//! instance with subscribers that holds the stream's lease runs its
//! producer; the others wait to take over.
//!
//! # Contract
//! - A lease is claimed only while this instance has subscribers of the
//!   stream (this runs inside the driver's subscribed spell), renewed every
//!   third of its time to live, and released when the last local
//!   subscriber leaves (the driver drops this future) or the server stops
//!   (the store releases what is still held).
//! - An instance without the lease tries again when the holder's lease
//!   would expire (the store says when, by its own clock) or at once when
//!   its release is announced, so a follower costs the store about one
//!   claim per lease time, not one per beat. When a leader dies its lease
//!   expires and another instance with subscribers leads within the lease
//!   time (plus [`EXPIRY_MARGIN`]); when it releases the lease (its last
//!   local subscriber left, or it stopped), at once.
//! - The lease is lost when a renewal says another instance holds it, when
//!   no renewal succeeded for a whole lease time (Redis unreachable: the
//!   lease may have expired), or when an append is fenced (refused because
//!   the lease had passed on: this instance was paused past it). Then the
//!   producer is dropped at once and the instance goes back to waiting.
//!   Fencing inside the append is what makes this safe: however late an
//!   instance learns it lost the lease, it cannot write an event after.

use super::producer::{Emitter, Producer};
use super::stream::Stream;
use crate::server::store::{Claim, Lease};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;

/// How long after the holder's lease would expire a follower claims it.
const EXPIRY_MARGIN: Duration = Duration::from_millis(20);

/// Longest a follower waits between two claims after a failed one (the
/// store unreachable).
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Leads `stream` whenever it can, until dropped: claims its lease, runs
/// `producer` while the lease holds, and waits to claim again after losing
/// it.
pub(crate) async fn lead(stream: Arc<Stream>, producer: Arc<dyn Producer>, lease_time: Duration) {
    loop {
        let Some(shared) = stream.shared_log() else {
            return;
        };
        let wait = match shared.claim(stream.id(), None).await {
            Ok(Claim::Held(lease)) => {
                lead_while_held(&stream, &producer, lease, lease_time).await;
                continue;
            }
            Ok(Claim::Busy { expires_in }) => (expires_in + EXPIRY_MARGIN).min(lease_time),
            Err(error) => {
                tracing::debug!(stream = %stream.id(), %error, "cannot claim the lease");
                RETRY_AFTER_ERROR.min(lease_time)
            }
        };
        tokio::select! {
            () = sleep(wait) => {}
            () = stream.lease_released.notified() => {}
        }
    }
}

/// Runs `producer` for `stream` while `lease` holds; returns once it is
/// lost (released on the way out).
async fn lead_while_held(
    stream: &Arc<Stream>,
    producer: &Arc<dyn Producer>,
    lease: Lease,
    lease_time: Duration,
) {
    let held = Held::new(stream, lease.clone());
    tracing::info!(stream = %stream.id(), "leading the stream: generating here");
    let lost = CancellationToken::new();
    let emitter = Emitter::leading(Arc::clone(stream), lease.clone(), lost.clone());
    let production = producer.produce(emitter);
    tokio::select! {
        // The production first: after a pause (the process stopped)
        // its overdue tick is sent before the renewal, so that a lease
        // lost meanwhile shows as a fenced append (counted) rather
        // than only as a failed renewal.
        biased;
        () = async {
            match production {
                Some(production) => production.await,
                None => std::future::pending().await,
            }
            // A producer that ends has nothing more to make: the lease
            // is kept so that nobody else starts one.
            std::future::pending::<()>().await;
        } => {}
        () = keep(stream, &lease, lease_time) => {}
        () = lost.cancelled() => {}
    }
    drop(held);
    tracing::info!(stream = %stream.id(), "lost the lease: another instance generates");
}

/// Renews `lease` every third of `lease_time`; returns once it is lost.
async fn keep(stream: &Stream, lease: &Lease, lease_time: Duration) {
    let mut renewed = Instant::now();
    loop {
        sleep(lease_time / 3).await;
        let Some(shared) = stream.shared_log() else {
            return;
        };
        match shared.claim(stream.id(), Some(lease)).await {
            Ok(Claim::Held(_)) => renewed = Instant::now(),
            Ok(Claim::Busy { .. }) => return,
            Err(error) => {
                tracing::debug!(stream = %stream.id(), %error, "cannot renew the lease");
                if renewed.elapsed() >= lease_time {
                    return;
                }
            }
        }
    }
}

/// A held lease: counted in the stats while held, released when dropped.
struct Held {
    stream: Arc<Stream>,
    lease: Option<Lease>,
}

impl Held {
    fn new(stream: &Arc<Stream>, lease: Lease) -> Self {
        stream
            .stats()
            .leading_streams
            .fetch_add(1, Ordering::Relaxed);
        Self {
            stream: Arc::clone(stream),
            lease: Some(lease),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stream
            .stats()
            .leading_streams
            .fetch_sub(1, Ordering::Relaxed);
        if let (Some(lease), Some(shared)) = (self.lease.take(), self.stream.shared_log()) {
            // Harmless when lost: the store only deletes its own token.
            shared.release(self.stream.id(), lease);
        }
    }
}
