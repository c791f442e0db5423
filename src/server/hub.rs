//! The hub: one generator per stream id, fanned out to every subscriber.
//!
//! # Contract
//!
//! - **One generator per stream.** The first subscriber of an id creates the
//!   stream and starts its generator task; every later subscriber shares it.
//!   Each event is serialised and SSE-encoded once, into shared [`Bytes`], and
//!   every subscriber receives the same bytes.
//! - **Timing.** A generator's first event comes at a random point within the
//!   first interval, then one every interval; a late tick shifts the rhythm
//!   rather than bursting. Streams started together thus spread out instead
//!   of fanning out to all their subscribers in the same instant.
//! - **Sequence ids.** A stream numbers its events 1, 2, 3, … for its whole
//!   life, including restarts after it went idle.
//! - **Replay buffer.** A stream keeps its last `history` events. A subscriber
//!   is registered (its broadcast receiver created) *under the same lock* that
//!   the generator holds while it appends to the buffer and broadcasts, so the
//!   replay it gets and the live events that follow meet with no gap and no
//!   duplicate.
//! - **Fan-out capacity.** Live events go through a `tokio::sync::broadcast`
//!   channel of [`CHANNEL_CAPACITY`] slots (at most `history`). A subscriber
//!   that falls further behind is *lagging*: it catches up from the replay
//!   buffer when the events it missed are still there (no gap), and otherwise
//!   gets an `event: gap` naming the missing ids and continues from live. So a
//!   slow reader never holds more than the shared ring and replay buffer, and
//!   never slows anyone else down; one that stops reading altogether is cut off
//!   by the write timeout (in `direct_stream`, or the listener's for streams
//!   served through axum).
//! - **Direct writes.** A subscriber on the direct path (`direct_stream`)
//!   that is caught up registers a [`LiveSink`](super::live_sink::LiveSink):
//!   the generator writes each event into its socket itself, right after the
//!   broadcast, when its tick came on time. A socket that does not take the
//!   whole event, or a late tick, hands the subscriber back to its own task,
//!   which catches up through the channel and replay buffer as above. Either
//!   way each event reaches each subscriber once, in sequence order.
//! - **Pruning.** When the last subscriber leaves, the generator stops at once
//!   (it is woken, not polled) and the stream disappears from
//!   [`Hub::active_streams`]. Its replay buffer is retained for `retention` so
//!   a returning client can resume; after that the stream is forgotten.
//! - **Limits.** [`Hub::subscribe`] enforces the connection limits (total and
//!   per IP) and the stream limit, counting each rejection.
//! - **Locks.** The stream map and each stream's state sit behind std
//!   `Mutex`es that are never held across an `.await`: every critical section
//!   is a few map or buffer operations, so a blocking lock is cheaper than an
//!   async one (the same reasoning as mini-redis' `Db`). Lock order is always
//!   map, then stream, then sink; the generator writes to sinks after letting
//!   the stream's lock go.

use super::stats::{bump, Stats};
use super::stream::{Stream, StreamSnapshot};
use super::subscription::{ConnectionSlot, Subscription};
use crate::model::{StreamId, StreamSummary};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Slots in each stream's broadcast ring (capped at `history`).
pub(crate) const CHANNEL_CAPACITY: usize = 32;

/// What the hub needs from the configuration.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Time between two events of a stream.
    pub interval: Duration,
    /// Smallest generated number.
    pub min: u32,
    /// Largest generated number.
    pub max: u32,
    /// Events kept per stream for resuming clients.
    pub history: usize,
    /// How long an idle stream's buffer is kept.
    pub retention: Duration,
    /// Idle time before a keep-alive comment is broadcast.
    pub keep_alive: Duration,
    /// Most streams at once.
    pub max_streams: usize,
    /// Most SSE connections at once.
    pub max_connections: usize,
    /// Most SSE connections per IP; 0 = unlimited.
    pub max_connections_per_ip: usize,
}

/// Why [`Hub::subscribe`] refused a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// `max_streams` streams are active and this id is not one of them.
    #[error("the server already runs its maximum of {limit} streams; try again later")]
    TooManyStreams {
        /// The configured limit.
        limit: usize,
    },
    /// `max_connections` SSE connections are open.
    #[error("the server already holds its maximum of {limit} connections; try again later")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// This IP address has `max_connections_per_ip` connections open.
    #[error("your address already holds its maximum of {limit} connections")]
    TooManyConnectionsFromIp {
        /// The configured limit.
        limit: usize,
    },
}

/// A cheap, clonable handle to the hub, injected through axum state.
#[derive(Clone)]
pub struct Hub {
    pub(crate) shared: Arc<Shared>,
}

/// State behind every [`Hub`] handle.
pub(crate) struct Shared {
    pub(crate) settings: HubSettings,
    pub(crate) stats: Arc<Stats>,
    /// Ends every generator and every subscriber stream on shutdown.
    pub(crate) shutdown: CancellationToken,
    /// Every known stream, active or retained.
    streams: Mutex<HashMap<StreamId, Arc<Stream>>>,
    /// Open SSE connections per client address (only kept when limited).
    pub(crate) connections_per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Known streams with no subscriber, which `--max-streams` may evict;
    /// kept by the streams themselves. When it is 0 a new stream at the
    /// limit is refused without looking at (and locking) every stream.
    pub(crate) idle_streams: Arc<AtomicUsize>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every
/// critical section here leaves the data consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    /// Creates an empty hub; `shutdown` ends all its streams when cancelled.
    pub fn new(settings: HubSettings, stats: Arc<Stats>, shutdown: CancellationToken) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                stats,
                shutdown,
                streams: Mutex::new(HashMap::new()),
                connections_per_ip: Mutex::new(HashMap::new()),
                idle_streams: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// The counters this hub updates.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.shared.stats
    }

    /// The token that ends every stream.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// Joins stream `id` for a client at `ip`, creating the stream if needed.
    ///
    /// `last_event_id` is what the client sent as `Last-Event-ID`: when it is a
    /// sequence id this stream has issued, the subscription first replays every
    /// buffered event after it (with a gap notice if some are gone).
    pub fn subscribe(
        &self,
        id: &StreamId,
        last_event_id: Option<&str>,
        ip: IpAddr,
    ) -> Result<Subscription, HubError> {
        let slot = ConnectionSlot::acquire(&self.shared, ip)?;
        let (stream, joined) = {
            let mut streams = lock(&self.shared.streams);
            let stream = match streams.get(id) {
                Some(stream) => Arc::clone(stream),
                None => {
                    if streams.len() >= self.shared.settings.max_streams
                        && !evict_one_idle(&mut streams, &self.shared.idle_streams)
                    {
                        let total = bump(&self.shared.stats.too_many_streams);
                        tracing::warn!(stream = %id, rejected_total = total, "rejected: too many streams");
                        return Err(HubError::TooManyStreams {
                            limit: self.shared.settings.max_streams,
                        });
                    }
                    let stream = Stream::create(id.clone(), self);
                    streams.insert(id.clone(), Arc::clone(&stream));
                    stream
                }
            };
            // Joined while the map is still locked, so that `forget_if_idle`
            // cannot remove the stream between lookup and join.
            let joined = stream.join(last_event_id);
            (stream, joined)
        };
        tracing::info!(stream = %id, subscribers = joined.subscribers, client = %ip, "client connected");
        Ok(Subscription::new(stream, joined, slot))
    }

    /// Removes `stream` if it still has no subscriber; called by its generator
    /// task when the retention time has passed. Returns whether it was removed.
    pub(crate) fn forget_if_idle(&self, stream: &Arc<Stream>) -> bool {
        let mut streams = lock(&self.shared.streams);
        if !stream.retire_if_idle() {
            return false;
        }
        if streams
            .get(stream.id())
            .is_some_and(|current| Arc::ptr_eq(current, stream))
        {
            streams.remove(stream.id());
        }
        let none_left = streams.is_empty();
        drop(streams);
        if none_left {
            super::memory::release_free_memory();
        }
        true
    }

    /// The streams with a running generator, sorted by id.
    pub fn active_streams(&self) -> Vec<StreamSummary> {
        let streams: Vec<Arc<Stream>> = lock(&self.shared.streams).values().cloned().collect();
        let mut active: Vec<StreamSummary> = streams
            .iter()
            .map(|stream| stream.snapshot())
            .filter(|snapshot: &StreamSnapshot| snapshot.subscribers > 0)
            .map(StreamSnapshot::into_summary)
            .collect();
        active.sort_by(|a, b| a.id.cmp(&b.id));
        active
    }

    /// Number of streams with at least one subscriber.
    pub fn active_stream_count(&self) -> u64 {
        let streams: Vec<Arc<Stream>> = lock(&self.shared.streams).values().cloned().collect();
        streams.iter().filter(|s| s.subscriber_count() > 0).count() as u64
    }

    /// Number of streams known to the hub, including retained idle ones.
    pub fn known_stream_count(&self) -> usize {
        lock(&self.shared.streams).len()
    }

    /// Open SSE connections right now.
    pub fn connection_count(&self) -> u64 {
        self.shared.stats.connections.load(Ordering::Relaxed)
    }
}

/// Makes room for a new stream by forgetting the retained stream that has
/// had no subscriber for longest. Returns `false` when every stream is in use.
fn evict_one_idle(
    streams: &mut HashMap<StreamId, Arc<Stream>>,
    idle_streams: &AtomicUsize,
) -> bool {
    if idle_streams.load(Ordering::Acquire) == 0 {
        return false;
    }
    let idle = streams
        .iter()
        .filter_map(|(id, stream)| Some((stream.idle_since()?, id, stream)))
        .min_by_key(|(since, _, _)| *since)
        .map(|(_, id, stream)| (id.clone(), Arc::clone(stream)));
    match idle {
        Some((id, stream)) if stream.retire_if_idle() => {
            streams.remove(&id);
            tracing::debug!(stream = %id, "forgot an idle stream to make room");
            true
        }
        _ => false,
    }
}

/// Encodes the reconnection hint for a new connection: the configured delay
/// plus up to 50% random jitter, so a restart does not bring every client back
/// in the same instant.
pub fn retry_frame(base: Duration) -> Bytes {
    use rand::Rng;
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let jitter = rand::rng().random_range(0..=base_ms / 2);
    super::sse_frame::encode_retry(base_ms.saturating_add(jitter))
}
