//! `GET /metrics`: the hub's counters in the Prometheus text exposition
//! format (0.0.4, what `promtool check metrics` and every scraper read),
//! from the official `prometheus-client` crate with an explicit registry.
//!
//! Nothing on the hot path knows about this module: the counters are the
//! plain atomics of [`Stats`](crate::server::stats::Stats), bumped once per
//! event per stream (deliveries are added as the stream's subscriber count,
//! not one by one), and [`HubCollector`] reads them only when scraped. The
//! store append latency is the one metric kept by the crate itself (a
//! histogram), observed once per append.
//!
//! Every name and its meaning is in README's *Operating* section; a counter
//! named `x` here is exposed as `sse_hub_x_total`.

use crate::server::hub::Hub;
use crate::server::stats::Stats;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The prefix of every name.
const PREFIX: &str = "sse_hub";

/// The registry `/metrics` renders: built once at start, read by every
/// scrape.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
}

impl Metrics {
    /// Registers the hub's counters and gauges (read at scrape time) and
    /// its append latency histogram.
    pub fn new(hub: Hub) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let stats = Arc::clone(hub.stats());
        registry.register(
            "store_append_seconds",
            "How long each store append took (generated events one by one, concurrent publishes to a stream as one batch)",
            stats.store_append_seconds.clone(),
        );
        registry.register_collector(Box::new(HubCollector { hub }));
        Self {
            registry: Arc::new(registry),
        }
    }

    /// The exposition text of every metric now.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `GET /metrics`: the text with its content type, or a 500 naming the
/// failure (formatting into a `String` does not fail in practice).
pub(crate) async fn metrics(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the metrics could not be rendered");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Reads the hub's atomics at each scrape.
struct HubCollector {
    hub: Hub,
}

impl std::fmt::Debug for HubCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubCollector").finish_non_exhaustive()
    }
}

/// A counter's name (without `_total`), help and value.
type CounterRow<'a> = (&'a str, &'a str, &'a AtomicU64);

impl HubCollector {
    /// The plain counters, in the order they are exposed.
    fn counters(stats: &Stats) -> [CounterRow<'_>; 10] {
        [
            ("events", "Events appended to streams here, generated and published (each once, however many clients got it)", &stats.events_sent),
            ("events_generated", "Events this instance's generator appended (with a shared store: the streams it leads)", &stats.events_generated),
            ("events_published", "Events published through the API here", &stats.events_published),
            ("deliveries", "Copies of events owed to clients, counted at append: an event appended to a stream with 3 subscribers adds 3 (a client cut off before its copy was written still counts)", &stats.deliveries),
            ("delivered_bytes", "Bytes of those copies, as SSE messages, counted at append", &stats.delivered_bytes),
            ("replayed_events", "Events replayed to clients resuming with Last-Event-ID", &stats.replayed_events),
            ("gap_notices", "event: gap notices sent (one per stream for a hole in its live numbering, one per client whose resume found events gone)", &stats.gap_notices),
            ("slow_clients_disconnected", "Clients cut off because a write made no progress for --write-timeout-ms", &stats.slow_client_disconnected),
            ("fenced_appends", "Generated appends a shared store refused because another instance held the stream's lease", &stats.fenced_appends),
            ("store_errors", "Appends the store refused or did not answer in time", &stats.store_errors),
        ]
    }
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.hub.stats();
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        for (name, help, value) in Self::counters(stats) {
            counter(&mut encoder, name, help, read(value))?;
        }
        let rejections = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "rejections",
            "Requests and connections refused, by the code of their JSON error (the codes README lists for this metric)",
            None,
            rejections.metric_type(),
        )?;
        for (code, value) in stats.rejections_by_code() {
            ConstCounter::new(value).encode(family.encode_family(&[("code", code)])?)?;
        }
        let uptime = self.hub.stats().uptime().as_secs_f64();
        gauge(
            &mut encoder,
            "connections",
            "Open SSE connections",
            count(self.hub.connection_count()),
        )?;
        gauge(
            &mut encoder,
            "open_sockets",
            "Open client sockets of any kind",
            count(read(&stats.open_sockets)),
        )?;
        gauge(
            &mut encoder,
            "dashboard_feeds",
            "Open dashboard feeds (GET /api/stats/stream)",
            count(read(&stats.dashboard_feeds)),
        )?;
        gauge(
            &mut encoder,
            "streams",
            "Streams with at least one subscriber here",
            count(self.hub.active_stream_count()),
        )?;
        gauge(
            &mut encoder,
            "streams_known",
            "Streams held here, idle ones kept for --retention-ms included",
            count(self.hub.known_stream_count() as u64),
        )?;
        gauge(
            &mut encoder,
            "leading_streams",
            "Streams whose lease this instance holds (a shared store): it generates their events",
            count(read(&stats.leading_streams)),
        )?;
        gauge(
            &mut encoder,
            "uptime_seconds",
            "Seconds since the server started",
            uptime,
        )?;
        let build = ConstGauge::new(1i64);
        let mut info = encoder.encode_descriptor(
            "build_info",
            "Always 1: the version and store kind as labels",
            None,
            build.metric_type(),
        )?;
        build.encode(info.encode_family(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("store", self.hub.store_kind()),
        ])?)?;
        Ok(())
    }
}

/// Writes one counter.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Writes one gauge (a count as an integer, a duration as a float).
fn gauge<N>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A count as a gauge value (saturating; no count comes near `i64::MAX`).
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
