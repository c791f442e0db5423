//! The hub handle: the map of streams, stream creation and forgetting,
//! admission, and the subscribe call every transport makes.

use super::admission::{Admission, ConnectionSlot};
use super::context::{SinkFraming, StreamContext};
use super::driver::{drive, DriverContext, Outcome};
use super::error::HubError;
use super::follow::{spawn_checks, Follower, StreamMap};
use super::idempotency::IdempotencyKeys;
use super::producer::Producer;
use super::snapshot::StreamSnapshot;
use super::stream::Stream;
use super::subscription::Subscription;
use super::sync::lock;
use crate::model::{StreamId, StreamSummary};
use crate::server::process::release_free_memory;
use crate::server::sse::parse_event_id;
use crate::server::stats::{bump, Stats};
use crate::server::store::{AppendWatcher, EventStore, NewEvent, Seq};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Slots in each stream's broadcast ring (capped at `history`).
pub const CHANNEL_CAPACITY: usize = 32;

/// What the hub needs from the configuration.
#[derive(Debug, Clone)]
pub struct HubSettings {
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
    /// With a shared store, how long a stream's lease holds unrenewed
    /// (`--lease-ms`); see `leadership.rs`.
    pub lease: Duration,
}

/// What the hub is built from besides its settings: the pieces of the layers
/// around it, chosen by the composition root.
pub struct HubParts {
    /// Where events live.
    pub store: Arc<dyn EventStore>,
    /// What makes events while a stream has subscribers.
    pub producer: Arc<dyn Producer>,
    /// How an event is framed for live sinks (the transport's choice).
    pub sink_framing: SinkFraming,
    /// The counters the hub updates.
    pub stats: Arc<Stats>,
}

/// A cheap, clonable handle to the hub, injected through axum state.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// State behind every [`Hub`] handle.
struct Shared {
    settings: HubSettings,
    stats: Arc<Stats>,
    /// What every stream shares, the store among it.
    streams_context: Arc<StreamContext>,
    /// What every stream's driver shares.
    driver_context: Arc<DriverContext>,
    /// Every known stream, active or retained (shared with the follower
    /// of a shared store).
    streams: Arc<StreamMap>,
    /// With a shared store: what hears its announcements (the store holds
    /// it weakly).
    _follower: Option<Arc<Follower>>,
    /// The connection limits.
    admission: Arc<Admission>,
    /// Known streams with no subscriber, which `--max-streams` may evict;
    /// kept by the streams themselves. When it is 0 a new stream at the
    /// limit is refused without looking at (and locking) every stream.
    idle_streams: Arc<AtomicUsize>,
    /// Answers to publishes with an idempotency key.
    idempotency: IdempotencyKeys,
}

impl Hub {
    /// Creates an empty hub; `shutdown` ends all its streams when cancelled.
    pub fn new(settings: HubSettings, parts: HubParts, shutdown: CancellationToken) -> Self {
        let history = settings.history.max(1);
        let idle_streams = Arc::new(AtomicUsize::new(0));
        let streams_context = Arc::new(StreamContext {
            store: parts.store,
            stats: Arc::clone(&parts.stats),
            sink_framing: parts.sink_framing,
            channel_capacity: CHANNEL_CAPACITY.min(history),
            history,
            idle_streams: Arc::clone(&idle_streams),
        });
        let driver_context = Arc::new(DriverContext {
            producer: parts.producer,
            keep_alive: settings.keep_alive,
            retention: settings.retention,
            lease: settings.lease,
            shutdown: shutdown.clone(),
        });
        let streams: Arc<StreamMap> = Arc::new(Mutex::new(HashMap::new()));
        let follower = streams_context.store.shared().map(|shared| {
            let follower = Arc::new(Follower::new(&streams));
            let watcher: Arc<dyn AppendWatcher> = follower.clone();
            shared.watch(Arc::downgrade(&watcher));
            spawn_checks(&streams, shutdown);
            follower
        });
        let admission = Arc::new(Admission::new(
            settings.max_connections,
            settings.max_connections_per_ip,
            Arc::clone(&parts.stats),
        ));
        Self {
            shared: Arc::new(Shared {
                settings,
                stats: parts.stats,
                streams_context,
                driver_context,
                streams,
                _follower: follower,
                admission,
                idle_streams,
                idempotency: IdempotencyKeys::default(),
            }),
        }
    }

    /// The counters this hub updates.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.shared.stats
    }

    /// The token that ends every stream.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shared.driver_context.shutdown
    }

    /// Joins stream `id` for a client at `ip`, creating the stream if needed.
    ///
    /// `last_event_id` is what the client sent as `Last-Event-ID`: when it is a
    /// sequence id this stream has issued, the subscription first replays every
    /// kept event after it (with a gap notice for those that are gone).
    pub async fn subscribe(
        &self,
        id: &StreamId,
        last_event_id: Option<&str>,
        ip: IpAddr,
    ) -> Result<Subscription, HubError> {
        let slot = ConnectionSlot::acquire(&self.shared.admission, ip)?;
        let resume_after = last_event_id.and_then(parse_event_id);
        let ahead = match resume_after {
            Some(after) => self.catch_up_for_resume(id, after).await,
            None => None,
        };
        // Joined while the map is still locked, so that `forget_if_idle`
        // cannot remove the stream between lookup and join.
        let (stream, joined) = self
            .with_stream(id, true, |stream| stream.join(resume_after, ahead))
            .await?;
        tracing::info!(stream = %id, subscribers = joined.subscribers, client = %ip, "client connected");
        let missing = joined
            .missing
            .filter(|_| self.shared.streams_context.store.keeps_history());
        let mut subscription = Subscription::new(stream, joined, ip, slot);
        if let Some((first, last)) = missing {
            subscription.fill_from_store(first, last).await;
        }
        Ok(subscription)
    }

    /// With a shared store, a client may resume here from an id another
    /// instance sent it before this one heard of it: the stream is brought
    /// up to that id first, so that the replay is exact (no gap, no
    /// duplicate). When that fails (the store does not answer), returns the
    /// client's id: it has every event up to it, and gets only later ones.
    async fn catch_up_for_resume(&self, id: &StreamId, after: Seq) -> Option<Seq> {
        self.shared.streams_context.store.shared()?;
        let known = lock(&self.shared.streams).get(id).cloned();
        let stream = known.filter(|stream| stream.newest() < after)?;
        stream.catch_up_to(after).await;
        (stream.newest() < after && stream.log_reaches(after).await != Some(false)).then_some(after)
    }

    /// Appends `event` to stream `id` as the application's own event
    /// ([`Durability::Immediate`]: it is acknowledged once this returns) and
    /// sends it to every subscriber; returns its sequence id. Published and
    /// generated events share the stream's numbering, so resume, replay and
    /// gap notices cover both.
    ///
    /// A stream nobody listens to is created for it (it counts against
    /// `--max-streams`), and an idle stream's retention time starts again
    /// from the event, so that a client coming back with `Last-Event-ID`
    /// within it gets what it missed.
    pub async fn publish(&self, id: &StreamId, event: NewEvent) -> Result<Seq, HubError> {
        self.publish_keyed(id, event, None, || Ok::<(), HubError>(()))
            .await
            .map(|(seq, _)| seq)
    }

    /// [`Hub::publish`] with the event's idempotency key, which a shared
    /// store keeps itself (a retry may come through another instance):
    /// returns the id and whether the store answered the key from before.
    /// `admit` is asked once the stream has a slot (a publish refused for
    /// want of one must not use up the stream's rate).
    async fn publish_keyed<E: From<HubError>>(
        &self,
        id: &StreamId,
        event: NewEvent,
        key: Option<&str>,
        admit: impl FnOnce() -> Result<(), E>,
    ) -> Result<(Seq, bool), E> {
        let mut admit = Some(admit);
        loop {
            let (stream, ()) = self.with_stream(id, false, |_| ()).await?;
            if let Some(admit) = admit.take() {
                admit()?;
            }
            let appended = stream
                .append_published(event.clone(), key.map(Box::from))
                .await
                .map_err(HubError::from)?;
            // `None`: the stream was retired meanwhile; its next life takes it.
            if let Some((seq, replayed)) = appended {
                if !replayed {
                    bump(&self.shared.stats.events_published);
                    stream.note_published();
                }
                return Ok((seq, replayed));
            }
        }
    }

    /// [`Hub::publish`] that a retry cannot repeat: with `key`, a publish
    /// with the same key on the same stream within five minutes returns
    /// the first one's sequence id and appends nothing. `admit` (the
    /// caller's rate limit) is asked only before an append, so that a
    /// replayed answer never counts against it. Returns the id and whether
    /// it is such a replayed answer.
    pub async fn publish_once<E: From<HubError>>(
        &self,
        id: &StreamId,
        key: Option<&str>,
        event: NewEvent,
        admit: impl FnOnce() -> Result<(), E>,
    ) -> Result<(Seq, bool), E> {
        let append = self.publish_keyed(id, event, key, admit);
        match key {
            None => append.await,
            Some(key) => self.shared.idempotency.once(id, key, append).await,
        }
    }

    /// Runs `under_lock` on stream `id` while the stream map is locked (so
    /// that it cannot be forgotten meanwhile), creating the stream where
    /// the store's numbering stands if it is not there.
    ///
    /// At `--max-streams` a new stream takes the place of the stream idle
    /// longest only when `may_evict` (a subscriber's): a publisher, whose
    /// rate is counted per stream, could otherwise wipe every retained
    /// stream's history by publishing to new ids.
    async fn with_stream<T>(
        &self,
        id: &StreamId,
        may_evict: bool,
        mut under_lock: impl FnMut(&Arc<Stream>) -> T,
    ) -> Result<(Arc<Stream>, T), HubError> {
        loop {
            {
                let streams = lock(&self.shared.streams);
                if let Some(stream) = streams.get(id) {
                    let stream = Arc::clone(stream);
                    let found = under_lock(&stream);
                    return Ok((stream, found));
                }
                if streams.len() >= self.shared.settings.max_streams
                    && (!may_evict || self.shared.idle_streams.load(Ordering::Acquire) == 0)
                {
                    drop(streams);
                    return Err(self.too_many_streams(id));
                }
            }
            // A new stream continues where the store's log stands; asked
            // outside the map lock, which is never held across an await.
            let newest = match self.shared.streams_context.store.newest(id).await {
                Ok(newest) => newest.unwrap_or(0),
                Err(error) => {
                    tracing::warn!(stream = %id, %error, "rejected: the store cannot open the stream");
                    return Err(error.into());
                }
            };
            let mut streams = lock(&self.shared.streams);
            if streams.contains_key(id) {
                continue;
            }
            if streams.len() >= self.shared.settings.max_streams
                && !(may_evict && self.evict_one_idle(&mut streams))
            {
                drop(streams);
                self.shared.streams_context.store.release(id);
                return Err(self.too_many_streams(id));
            }
            let stream = Stream::new(id.clone(), newest, &self.shared.streams_context);
            streams.insert(id.clone(), Arc::clone(&stream));
            self.start_driver(&stream);
            let found = under_lock(&stream);
            return Ok((stream, found));
        }
    }

    /// Counts and logs a new stream refused at `--max-streams`.
    fn too_many_streams(&self, id: &StreamId) -> HubError {
        let total = bump(&self.shared.stats.too_many_streams);
        tracing::warn!(stream = %id, rejected_total = total, "rejected: too many streams");
        HubError::TooManyStreams {
            limit: self.shared.settings.max_streams,
        }
    }

    /// Spawns `stream`'s driver, which forgets it once it has been idle for
    /// the retention time.
    fn start_driver(&self, stream: &Arc<Stream>) {
        let hub = self.clone();
        let stream = Arc::clone(stream);
        tokio::spawn(async move {
            let context = Arc::clone(&hub.shared.driver_context);
            while drive(&stream, &context).await == Outcome::RetentionOver {
                if hub.forget_if_idle(&stream) {
                    tracing::info!(stream = %stream.id(), "stream forgotten after retention");
                    return;
                }
            }
        });
    }

    /// Removes `stream` if it still has no subscriber; called by its driver
    /// when the retention time has passed. Returns whether it was removed.
    fn forget_if_idle(&self, stream: &Arc<Stream>) -> bool {
        let mut streams = lock(&self.shared.streams);
        if !stream.retire_if_idle() {
            return false;
        }
        if streams
            .get(stream.id())
            .is_some_and(|current| Arc::ptr_eq(current, stream))
        {
            streams.remove(stream.id());
            self.shared.streams_context.store.forget(stream.id());
        }
        let none_left = streams.is_empty();
        drop(streams);
        if none_left {
            release_free_memory();
        }
        true
    }

    /// Makes room for a new stream by forgetting the retained stream that
    /// has had no subscriber for longest. Returns `false` when every stream
    /// is in use.
    fn evict_one_idle(&self, streams: &mut HashMap<StreamId, Arc<Stream>>) -> bool {
        if self.shared.idle_streams.load(Ordering::Acquire) == 0 {
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
                self.shared.streams_context.store.forget(&id);
                tracing::debug!(stream = %id, "forgot an idle stream to make room");
                true
            }
            _ => false,
        }
    }

    /// The streams with subscribers, sorted by id.
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

    /// Number of known streams with no subscriber.
    pub fn idle_stream_count(&self) -> usize {
        self.shared.idle_streams.load(Ordering::Acquire)
    }

    /// Open SSE connections right now.
    pub fn connection_count(&self) -> u64 {
        self.shared.stats.connections.load(Ordering::Relaxed)
    }

    /// The kind of store events live in (`memory`, …).
    pub fn store_kind(&self) -> &'static str {
        self.shared.streams_context.store.kind()
    }

    /// Whether the store can serve now; the reason when it cannot.
    pub fn store_health(&self) -> Result<(), String> {
        self.shared.streams_context.store.health()
    }
}
