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
//! - An instance without the lease tries again every sixth of the lease
//!   (at most every half second), so when a leader dies its lease expires
//!   and another instance with subscribers leads within the lease time and
//!   one retry.
//! - The lease is lost when a renewal says another instance holds it, when
//!   no renewal succeeded for a whole lease time (Redis unreachable: the
//!   lease may have expired), or when an append is fenced (refused because
//!   the lease had passed on: this instance was paused past it). Then the
//!   producer is dropped at once and the instance goes back to waiting.
//!   Fencing inside the append is what makes this safe: however late an
//!   instance learns it lost the lease, it cannot write an event after.

use super::producer::{Emitter, Producer};
use super::stream::Stream;
use crate::server::store::Lease;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;

/// Longest a follower waits between two claims.
const MOST_BETWEEN_CLAIMS: Duration = Duration::from_millis(500);

/// Leads `stream` whenever it can, until dropped: claims its lease, runs
/// `producer` while the lease holds, and waits to claim again after losing
/// it.
pub(crate) async fn lead(stream: Arc<Stream>, producer: Arc<dyn Producer>, lease_time: Duration) {
    let retry = (lease_time / 6).clamp(Duration::from_millis(10), MOST_BETWEEN_CLAIMS);
    loop {
        let Some(shared) = stream.shared_log() else {
            return;
        };
        let lease = match shared.claim(stream.id(), None).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                sleep(retry).await;
                continue;
            }
            Err(error) => {
                tracing::debug!(stream = %stream.id(), %error, "cannot claim the lease");
                sleep(retry).await;
                continue;
            }
        };
        let held = Held::new(&stream, lease.clone());
        tracing::info!(stream = %stream.id(), "leading the stream: generating here");
        let lost = CancellationToken::new();
        let emitter = Emitter::leading(Arc::clone(&stream), lease.clone(), lost.clone());
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
            () = keep(&stream, &lease, lease_time) => {}
            () = lost.cancelled() => {}
        }
        drop(held);
        tracing::info!(stream = %stream.id(), "lost the lease: another instance generates");
    }
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
            Ok(Some(_)) => renewed = Instant::now(),
            Ok(None) => return,
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
