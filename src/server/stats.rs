//! Process-wide counters behind `GET /api/stats` and the rejection logs.
//!
//! Plain atomics: they are bumped on hot paths by many tasks at once and only
//! read together for a snapshot, where a value a few increments stale is fine.

use crate::model::{HubStats, RejectionCounts};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Upper bounds of the store append latency buckets, in seconds: 100 µs
/// (a memory append) to 1.6 s (past Redis's 1 s timeout), each 4× the
/// last, which spans an fsync (a few ms) and a Redis round trip.
fn append_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_1, 4.0, 8)
}

/// The counters; shared as `Arc<Stats>` by the hub, the handlers and the
/// listener.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    /// The same moment on the wall clock, for the dashboard feed.
    started_wall: SystemTime,
    /// Open SSE connections.
    pub(crate) connections: AtomicU64,
    /// Open client sockets of any kind (see `open_sockets`).
    pub(crate) open_sockets: AtomicU64,
    /// Open dashboard feeds (`GET /api/stats/stream`).
    pub(crate) dashboard_feeds: AtomicU64,
    /// Events generated over all streams.
    pub(crate) events_sent: AtomicU64,
    pub(crate) too_many_streams: AtomicU64,
    pub(crate) too_many_connections: AtomicU64,
    pub(crate) too_many_connections_from_ip: AtomicU64,
    pub(crate) invalid_stream_id: AtomicU64,
    pub(crate) too_many_sockets_from_ip: AtomicU64,
    pub(crate) connection_rate_limited: AtomicU64,
    pub(crate) host_not_allowed: AtomicU64,
    /// HTTP/1.1 requests with no `Host` header.
    pub(crate) missing_host: AtomicU64,
    /// Requests with more than one `Host` header or one that is no host.
    pub(crate) invalid_host: AtomicU64,
    /// First requests whose head passed `MAX_HEAD_BYTES` (431).
    pub(crate) head_too_large: AtomicU64,
    /// Publishes answered 503 because the store did not take the event.
    pub(crate) store_unavailable: AtomicU64,
    pub(crate) slow_client_disconnected: AtomicU64,
    /// Events published through the API, over all streams.
    pub(crate) events_published: AtomicU64,
    pub(crate) missing_token: AtomicU64,
    pub(crate) invalid_token: AtomicU64,
    pub(crate) forbidden: AtomicU64,
    pub(crate) invalid_event: AtomicU64,
    pub(crate) invalid_event_type: AtomicU64,
    pub(crate) event_too_large: AtomicU64,
    pub(crate) unsupported_media_type: AtomicU64,
    pub(crate) publish_rate_limited: AtomicU64,
    pub(crate) invalid_idempotency_key: AtomicU64,
    /// Events the generator appended on this instance (with a shared
    /// store, only the streams it leads).
    pub(crate) events_generated: AtomicU64,
    /// Streams whose lease this instance holds (a shared store): it is
    /// their generator.
    pub(crate) leading_streams: AtomicU64,
    /// Generated appends a shared store refused because the lease had
    /// passed to another instance.
    pub(crate) fenced_appends: AtomicU64,
    /// Copies of events owed to clients, counted at append: each event adds
    /// the number of subscribers its stream had then (one add per event,
    /// not one per subscriber), whether or not each copy is then written.
    pub(crate) deliveries: AtomicU64,
    /// Bytes of those copies (the event's SSE message times its
    /// subscribers), the same way.
    pub(crate) delivered_bytes: AtomicU64,
    /// `event: gap` notices sent: one per stream for a hole in its live
    /// numbering, one per client whose resume found events gone.
    pub(crate) gap_notices: AtomicU64,
    /// Events replayed to clients resuming with `Last-Event-ID`.
    pub(crate) replayed_events: AtomicU64,
    /// Appends the store refused or did not answer in time (not fenced
    /// ones, which are the lease working).
    pub(crate) store_errors: AtomicU64,
    /// How long each append took the store (generated and published; a
    /// batch of concurrent publishes is one append). A histogram from the
    /// metrics crate: its buckets are atomics behind one lock per observe.
    pub(crate) store_append_seconds: Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            connections: AtomicU64::new(0),
            open_sockets: AtomicU64::new(0),
            dashboard_feeds: AtomicU64::new(0),
            events_sent: AtomicU64::new(0),
            too_many_streams: AtomicU64::new(0),
            too_many_connections: AtomicU64::new(0),
            too_many_connections_from_ip: AtomicU64::new(0),
            invalid_stream_id: AtomicU64::new(0),
            too_many_sockets_from_ip: AtomicU64::new(0),
            connection_rate_limited: AtomicU64::new(0),
            host_not_allowed: AtomicU64::new(0),
            missing_host: AtomicU64::new(0),
            invalid_host: AtomicU64::new(0),
            head_too_large: AtomicU64::new(0),
            store_unavailable: AtomicU64::new(0),
            slow_client_disconnected: AtomicU64::new(0),
            events_published: AtomicU64::new(0),
            missing_token: AtomicU64::new(0),
            invalid_token: AtomicU64::new(0),
            forbidden: AtomicU64::new(0),
            invalid_event: AtomicU64::new(0),
            invalid_event_type: AtomicU64::new(0),
            event_too_large: AtomicU64::new(0),
            unsupported_media_type: AtomicU64::new(0),
            publish_rate_limited: AtomicU64::new(0),
            invalid_idempotency_key: AtomicU64::new(0),
            events_generated: AtomicU64::new(0),
            leading_streams: AtomicU64::new(0),
            fenced_appends: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            delivered_bytes: AtomicU64::new(0),
            gap_notices: AtomicU64::new(0),
            replayed_events: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            store_append_seconds: Histogram::new(append_buckets()),
        }
    }
}

/// Adds `amount` to a counter.
pub(crate) fn add(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

/// Adds one to a counter and returns the new total, for the log line.
pub(crate) fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

impl Stats {
    /// Every counted rejection with its error code (the `code` of its JSON
    /// body), for the metrics' labelled family: `/api/stats`'s list but
    /// slow clients cut off, which are not a refusal and are counted apart.
    pub fn rejections_by_code(&self) -> impl Iterator<Item = (&'static str, u64)> {
        self.rejections()
            .by_code()
            .into_iter()
            .filter(|(code, _)| *code != "slow_client_disconnected")
    }

    /// The rejection counters as the API shows them.
    fn rejections(&self) -> RejectionCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RejectionCounts {
            too_many_streams: read(&self.too_many_streams),
            too_many_connections: read(&self.too_many_connections),
            too_many_connections_from_ip: read(&self.too_many_connections_from_ip),
            invalid_stream_id: read(&self.invalid_stream_id),
            too_many_sockets_from_ip: read(&self.too_many_sockets_from_ip),
            connection_rate_limited: read(&self.connection_rate_limited),
            host_not_allowed: read(&self.host_not_allowed),
            slow_client_disconnected: read(&self.slow_client_disconnected),
            missing_token: read(&self.missing_token),
            invalid_token: read(&self.invalid_token),
            forbidden: read(&self.forbidden),
            invalid_event: read(&self.invalid_event),
            invalid_event_type: read(&self.invalid_event_type),
            event_too_large: read(&self.event_too_large),
            unsupported_media_type: read(&self.unsupported_media_type),
            publish_rate_limited: read(&self.publish_rate_limited),
            invalid_idempotency_key: read(&self.invalid_idempotency_key),
            missing_host: read(&self.missing_host),
            invalid_host: read(&self.invalid_host),
            head_too_large: read(&self.head_too_large),
            store_unavailable: read(&self.store_unavailable),
        }
    }

    /// Records one store append that took `took`.
    pub(crate) fn observe_append(&self, took: Duration) {
        self.store_append_seconds.observe(took.as_secs_f64());
    }

    /// When the process started, in milliseconds since the Unix epoch:
    /// tells one process's counters from another's.
    pub fn started_at_ms(&self) -> u64 {
        let since = self.started_wall.duration_since(SystemTime::UNIX_EPOCH);
        since.map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// How long the process has served.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// A snapshot for the API; `streams` comes from the hub.
    pub fn snapshot(&self, streams: u64) -> HubStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HubStats {
            connections: read(&self.connections),
            streams,
            rejected: self.rejections(),
            events_sent: read(&self.events_sent),
            events_published: read(&self.events_published),
            events_generated: read(&self.events_generated),
            leading_streams: read(&self.leading_streams),
            fenced_appends: read(&self.fenced_appends),
            deliveries: read(&self.deliveries),
            delivered_bytes: read(&self.delivered_bytes),
            dashboard_feeds: read(&self.dashboard_feeds),
            uptime_s: self.started.elapsed().as_secs(),
        }
    }
}
