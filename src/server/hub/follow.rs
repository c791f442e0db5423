//! With a shared store: keeping this instance's streams level with the
//! shared log, whoever appended to it.
//!
//! # Contract
//! - Every announcement of an append ([`AppendWatcher::appended`]) for a
//!   stream this hub knows brings it up to that id, in order: the events
//!   announced with it are delivered as they are, anything missing between
//!   is read from the log first (see `Stream::follow_to`). Announcements
//!   for unknown streams are ignored: a stream created later starts where
//!   the log stands.
//! - Announcements are a doorbell and may be lost, so every stream is also
//!   checked against the log every [`CHECK_EVERY`] (one round trip per
//!   [`CHECK_BATCH`] streams) and at once when the store says the link
//!   was down ([`AppendWatcher::resync`]): a lost *last* announcement is
//!   delivered within that time.
//! - The same check finds a log whose numbering stands below an id this
//!   instance delivered (the store lost its data) and raises it, so that no
//!   later event reuses an id one of its clients had.

use super::stream::Stream;
use super::sync::lock;
use crate::model::StreamId;
use crate::server::store::{AppendWatcher, Seq, StoredEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often every stream is checked against the shared log.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Streams asked about in one round trip.
const CHECK_BATCH: usize = 500;

/// The hub's streams by id.
pub(crate) type StreamMap = Mutex<HashMap<StreamId, Arc<Stream>>>;

/// The hub's ear on the shared store: see the module doc.
pub(crate) struct Follower {
    streams: Weak<StreamMap>,
}

impl Follower {
    /// Follows the streams of `streams` (held weakly: the hub owns them).
    pub(crate) fn new(streams: &Arc<StreamMap>) -> Self {
        Self {
            streams: Arc::downgrade(streams),
        }
    }
}

impl AppendWatcher for Follower {
    fn appended(&self, stream: &StreamId, newest: Seq, event: Option<StoredEvent>) {
        let Some(streams) = self.streams.upgrade() else {
            return;
        };
        let known = lock(&streams).get(stream).cloned();
        if let Some(known) = known {
            if let Some(event) = event {
                known.announced(event);
            }
            known.follow_to(newest);
        }
    }

    fn lease_released(&self, stream: &StreamId) {
        let Some(streams) = self.streams.upgrade() else {
            return;
        };
        let known = lock(&streams).get(stream).cloned();
        if let Some(known) = known {
            known.lease_released.notify_one();
        }
    }

    fn resync(&self) {
        let Some(streams) = self.streams.upgrade() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { check_all(&streams).await });
        }
    }
}

/// Checks every known stream against the shared log and follows those
/// behind it.
pub(crate) async fn check_all(streams: &StreamMap) {
    let all: Vec<Arc<Stream>> = lock(streams).values().cloned().collect();
    for batch in all.chunks(CHECK_BATCH) {
        let Some(shared) = batch.first().and_then(|stream| stream.shared_log()) else {
            return;
        };
        let ids: Vec<StreamId> = batch.iter().map(|stream| stream.id().clone()).collect();
        // Read before the store is asked: every id delivered here was in
        // the log first, so a log below these lost its data.
        let delivered: Vec<Seq> = batch.iter().map(|stream| stream.newest()).collect();
        let newest = match shared.newest_of(&ids).await {
            Ok(newest) => newest,
            Err(error) => {
                tracing::debug!(%error, "cannot check the streams against the shared log");
                return;
            }
        };
        for ((stream, newest), delivered) in batch.iter().zip(newest).zip(delivered) {
            match newest {
                Some(newest) if newest > stream.newest() => stream.follow_to(newest),
                Some(newest) if newest >= delivered => {}
                // The log stands below what this instance's clients had.
                _ if delivered > 0 => {
                    tracing::warn!(stream = %stream.id(), delivered, "the shared log lost its numbering: raising it");
                    if let Err(error) = shared.raise_floor(stream.id(), delivered).await {
                        tracing::debug!(stream = %stream.id(), %error, "cannot raise the numbering");
                    }
                }
                _ => {}
            }
        }
    }
}

/// Runs [`check_all`] every [`CHECK_EVERY`] until `shutdown`.
pub(crate) fn spawn_checks(streams: &Arc<StreamMap>, shutdown: CancellationToken) {
    let streams = Arc::downgrade(streams);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let Some(streams) = streams.upgrade() else {
                return;
            };
            check_all(&streams).await;
        }
    });
}
