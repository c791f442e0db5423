//! `publish` mode: how fast the server acknowledges published events while
//! subscribers listen, and whether every subscriber gets them.
//!
//! Phases: *subscribe* (`--subscribers` connections to `/sse/<prefix>-<i mod
//! S>` are opened at `--ramp` per second, then the loader waits until every
//! attempt has succeeded or failed), *publish* (`--publishers` tasks, each
//! with one keep-alive connection, `POST` one event after another for
//! `--duration`, each as soon as the previous one is answered), *drain*
//! (`--drain` for the last deliveries), *stop* (every subscriber closes).
//!
//! A publisher has one request in flight at a time, so the acknowledgement
//! rate is `publishers / latency`: the figure is the server's answer time
//! under this much concurrency, not an offered load it may fall behind.

use crate::cli::PublishArgs;
use crate::conn::{describe, Failure, Subscription};
use crate::cpu::{CpuReport, CpuWindow};
use crate::http::{complete_response, json_post, ResponseHead};
use crate::metrics::{round3, LatencyRecorder, LatencySummary, Reasons};
use crate::procfs::own_peak_kib;
use crate::sse::{Item, Kind};
use crate::target::{default_sources, open_file_limit, Target};
use anyhow::{bail, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// The event type published. Subscribers count every event with a type
/// other than `message` (generated ticks) or `gap` as a published one: on
/// these streams only this mode sends typed events.
const EVENT_TYPE: &str = "bench";

/// Bytes a publisher reads its answer into (head and body); the server's
/// answers, errors included, are a few hundred bytes.
const ANSWER_BUFFER: usize = 16 * 1024;

/// Pause after a publisher's connect failed, so that a server refusing
/// connections is not asked again in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// Descriptors the loader keeps for itself beyond one per connection.
const OWN_FDS: u64 = 32;

/// The JSON summary of a `publish` run.
#[derive(Debug, Serialize)]
pub struct PublishReport {
    /// Always `"publish"`.
    pub mode: &'static str,
    /// The `--label` given.
    pub label: String,
    /// Publisher tasks (one connection and one request in flight each).
    pub publishers: usize,
    /// Streams published to.
    pub streams: usize,
    /// Subscribers requested.
    pub subscribers: usize,
    /// Subscribers that had their stream open (status 200 read) when
    /// publishing began.
    pub subscribers_connected: usize,
    /// Subscribers still open at the end of the drain.
    pub subscribers_held: usize,
    /// Subscribers that failed to connect or dropped, by reason.
    pub subscriber_failures: Reasons,
    /// Length of the padding string in each event's data, bytes.
    pub payload_bytes: usize,
    /// Seconds the subscribers took to connect.
    pub ramp_s: f64,
    /// Seconds from the first publish until the last publisher stopped
    /// (`--duration` plus the answers in flight at its end).
    pub duration_s: f64,
    /// Publishes answered `201`.
    pub acked: u64,
    /// `acked` per second of `duration_s`.
    pub acked_per_s: f64,
    /// Time from sending a publish to having read its whole `201` answer.
    pub ack_latency: LatencySummary,
    /// Publishes not acknowledged: by status code (`"429"`), or `timeout`,
    /// `closed` (the server closed before answering), `connect: …`, `io: …`,
    /// `protocol: …`.
    pub errors: Reasons,
    /// Publisher connections made again after the first (after an error or
    /// a `Connection: close` answer).
    pub reconnects: u64,
    /// Published events received, summed over all subscribers.
    pub delivered: u64,
    /// `delivered` per second of `duration_s`.
    pub delivered_per_s: f64,
    /// Acknowledged events times the subscribers connected to their stream
    /// when publishing began: what `delivered` should reach. It can be
    /// exceeded by events appended whose answer was lost (a timeout).
    pub expected_deliveries: u64,
    /// Generated (`message`) events received, summed over all subscribers.
    pub ticks_received: u64,
    /// Jumps forward in one subscriber's `id:` sequence.
    pub gaps: u64,
    /// Events skipped by those jumps, and by `event: gap` notices.
    pub missing_events: u64,
    /// `id:` values not above the previous one.
    pub duplicates: u64,
    /// `event: gap` notices from the server.
    pub gap_notices: u64,
    /// CPU use during the publish window (without the drain).
    pub cpu: CpuReport,
    /// Loopback source addresses used.
    pub sources: usize,
    /// Connections that had to pick another local port after `connect`
    /// refused the first (a loader-side port clash, not a server failure).
    pub local_port_retries: usize,
    /// Peak resident memory of this loader, KiB.
    pub loadgen_peak_rss_kib: Option<u64>,
}

/// State shared by the driver, the subscribers and the publishers.
struct Shared {
    target: Target,
    connect_timeout: Duration,
    request_timeout: Duration,
    read_buffer: usize,
    /// `/sse/<id>` of each stream.
    sse_paths: Vec<String>,
    /// `/api/streams/<id>/events` of each stream.
    publish_paths: Vec<String>,
    token: String,
    /// The `pad` string of every event.
    pad: String,
    publishers: usize,
    /// Connection number of publisher 0 (after the subscribers'), which
    /// picks its source address.
    first_publisher_connection: usize,
    /// True from the first publish on.
    publishing: AtomicBool,
    /// Subscribers with an open stream right now.
    open: AtomicUsize,
    /// Subscribe attempts that have succeeded or failed.
    resolved: AtomicUsize,
    ack_latency: LatencyRecorder,
    stop: CancellationToken,
}

/// What a subscriber counts of the items it receives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Deliveries {
    published: u64,
    ticks: u64,
    gaps: u64,
    missing_events: u64,
    duplicates: u64,
    gap_notices: u64,
    last_id: Option<u64>,
}

impl Deliveries {
    /// Counts one SSE item.
    fn on_item(&mut self, item: Item<'_>) {
        let Item::Message(message) = item else {
            return;
        };
        match message.kind {
            Kind::Gap => {
                self.gap_notices += 1;
                if let Some(gap) = crate::event::parse_gap(message.data) {
                    self.missing_events += gap.last.saturating_sub(gap.first) + 1;
                }
                return;
            }
            Kind::Other => self.published += 1,
            Kind::Message => self.ticks += 1,
        }
        if let Some(id) = message.id {
            match self.last_id {
                Some(last) if id == last + 1 => {}
                Some(last) if id > last => {
                    self.gaps += 1;
                    self.missing_events += id - last - 1;
                }
                Some(_) => self.duplicates += 1,
                None => {}
            }
            self.last_id = Some(id);
        }
    }

    /// Adds another subscriber's counts.
    fn merge(&mut self, other: &Self) {
        self.published += other.published;
        self.ticks += other.ticks;
        self.gaps += other.gaps;
        self.missing_events += other.missing_events;
        self.duplicates += other.duplicates;
        self.gap_notices += other.gap_notices;
    }
}

/// What a subscriber task hands back.
struct SubscriberResult {
    stream: usize,
    /// Its stream was open before publishing began.
    connected_early: bool,
    failure: Option<Failure>,
    deliveries: Deliveries,
}

/// What a publisher task hands back (its latencies are in the shared recorder).
struct PublisherResult {
    acked: u64,
    acked_per_stream: Vec<u64>,
    errors: Reasons,
    reconnects: u64,
}

/// Runs the `publish` mode.
pub async fn run(args: PublishArgs) -> Result<PublishReport> {
    if args.streams == 0 || args.publishers == 0 {
        bail!("--streams and --publishers must be at least 1");
    }
    if !(args.ramp.is_finite() && args.ramp > 0.0) {
        bail!("--ramp must be a positive number of connections per second");
    }
    if args.read_buffer < 256 {
        bail!("--read-buffer must be at least 256 bytes");
    }
    if args.token.is_empty() || !args.token.bytes().all(|byte| byte.is_ascii_graphic()) {
        bail!("--token must be printable ASCII without spaces");
    }
    let connections = args.subscribers + args.publishers;
    let sources = args
        .server
        .sources
        .unwrap_or_else(|| default_sources(connections));
    let (url, pid) = args.server.single()?;
    let target = Target::new(url, sources)?;
    if let Some(limit) = open_file_limit() {
        if (connections as u64) + OWN_FDS > limit {
            eprintln!(
                "sse-loadgen: warning: {connections} connections need more descriptors than the limit of {limit}"
            );
        }
    }
    let ids: Vec<String> = (0..args.streams)
        .map(|n| format!("{}-{n}", args.stream_prefix))
        .collect();
    let shared = Arc::new(Shared {
        target,
        connect_timeout: args.server.connect_timeout,
        request_timeout: args.request_timeout,
        read_buffer: args.read_buffer,
        sse_paths: ids.iter().map(|id| format!("/sse/{id}")).collect(),
        publish_paths: ids
            .iter()
            .map(|id| format!("/api/streams/{id}/events"))
            .collect(),
        token: args.token.clone(),
        pad: "x".repeat(args.payload_bytes),
        publishers: args.publishers,
        first_publisher_connection: args.subscribers,
        publishing: AtomicBool::new(false),
        open: AtomicUsize::new(0),
        resolved: AtomicUsize::new(0),
        ack_latency: LatencyRecorder::new(args.publishers)?,
        stop: CancellationToken::new(),
    });

    // Subscribe.
    let ramp_started = Instant::now();
    let mut subscribers = JoinSet::new();
    for n in 0..args.subscribers {
        sleep_until(ramp_started + Duration::from_secs_f64(n as f64 / args.ramp)).await;
        subscribers.spawn(subscriber(Arc::clone(&shared), n));
    }
    let deadline = Instant::now() + args.server.connect_timeout + Duration::from_secs(1);
    while shared.resolved.load(Ordering::Relaxed) < args.subscribers && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = ramp_started.elapsed().as_secs_f64();

    // Publish.
    let cpu_window = CpuWindow::start(pid.as_slice(), &[]);
    shared.publishing.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let stop_publishing = started + args.duration;
    let mut publishers = JoinSet::new();
    for index in 0..args.publishers {
        publishers.spawn(publisher(Arc::clone(&shared), index, stop_publishing));
    }
    let mut acked = 0;
    let mut acked_per_stream = vec![0_u64; args.streams];
    let mut errors = Reasons::default();
    let mut reconnects = 0;
    while let Some(joined) = publishers.join_next().await {
        match joined {
            Ok(result) => {
                acked += result.acked;
                for (total, count) in acked_per_stream.iter_mut().zip(&result.acked_per_stream) {
                    *total += count;
                }
                for (reason, count) in result.errors.0 {
                    *errors.0.entry(reason).or_default() += count;
                }
                reconnects += result.reconnects;
            }
            Err(error) => errors.add(format!("task: {error}")),
        }
    }
    let duration_s = started.elapsed().as_secs_f64();
    let cpu = cpu_window.finish();

    // Drain, then stop.
    sleep(args.drain).await;
    let subscribers_held = shared.open.load(Ordering::Relaxed);
    shared.stop.cancel();
    let mut totals = Deliveries::default();
    let mut subscriber_failures = Reasons::default();
    let mut connected_per_stream = vec![0_u64; args.streams];
    while let Some(joined) = subscribers.join_next().await {
        match joined {
            Ok(result) => {
                totals.merge(&result.deliveries);
                connected_per_stream[result.stream] += u64::from(result.connected_early);
                if let Some(failure) = result.failure {
                    subscriber_failures.add(failure.to_string());
                }
            }
            Err(error) => subscriber_failures.add(format!("task: {error}")),
        }
    }
    let expected_deliveries = acked_per_stream
        .iter()
        .zip(&connected_per_stream)
        .map(|(acked, connected)| acked * connected)
        .sum();
    let per_s = |count: u64| round3(count as f64 / duration_s.max(f64::EPSILON));
    Ok(PublishReport {
        mode: "publish",
        label: args.server.label,
        publishers: args.publishers,
        streams: args.streams,
        subscribers: args.subscribers,
        subscribers_connected: usize::try_from(connected_per_stream.iter().sum::<u64>())
            .unwrap_or(usize::MAX),
        subscribers_held,
        subscriber_failures,
        payload_bytes: args.payload_bytes,
        ramp_s: round3(ramp_s),
        duration_s: round3(duration_s),
        acked,
        acked_per_s: per_s(acked),
        ack_latency: LatencySummary::from_micros(&shared.ack_latency.merged()?),
        errors,
        reconnects,
        delivered: totals.published,
        delivered_per_s: per_s(totals.published),
        expected_deliveries,
        ticks_received: totals.ticks,
        gaps: totals.gaps,
        missing_events: totals.missing_events,
        duplicates: totals.duplicates,
        gap_notices: totals.gap_notices,
        cpu,
        sources: shared.target.source_count(),
        local_port_retries: shared.target.port_retries(),
        loadgen_peak_rss_kib: own_peak_kib(),
    })
}

/// One subscriber: open its stream, count what arrives until stopped.
async fn subscriber(shared: Arc<Shared>, n: usize) -> SubscriberResult {
    let stream = n % shared.sse_paths.len();
    let mut buf = vec![0_u8; shared.read_buffer];
    let mut deliveries = Deliveries::default();
    let opened = tokio::select! {
        opened = timeout(
            shared.connect_timeout,
            Subscription::open(&shared.target, n, None, &shared.sse_paths[stream], &mut buf),
        ) => opened.unwrap_or(Err(Failure::Timeout)),
        () = shared.stop.cancelled() => Err(Failure::Connect("still connecting when the run stopped".into())),
    };
    shared.resolved.fetch_add(1, Ordering::Relaxed);
    let (mut subscription, (start, end)) = match opened {
        Ok(opened) => opened,
        Err(failure) => {
            return SubscriberResult {
                stream,
                connected_early: false,
                failure: Some(failure),
                deliveries,
            }
        }
    };
    let connected_early = !shared.publishing.load(Ordering::Relaxed);
    shared.open.fetch_add(1, Ordering::Relaxed);
    let mut pending = Some((start, end));
    let failure = loop {
        let (from, to) = match pending.take() {
            Some(range) => range,
            None => {
                let read = tokio::select! {
                    biased;
                    () = shared.stop.cancelled() => break None,
                    read = subscription.read(&mut buf) => read,
                };
                match read {
                    Ok(0) => break Some(Failure::Dropped("closed by the server".into())),
                    Ok(len) => (0, len),
                    Err(error) => break Some(Failure::Dropped(describe(&error))),
                }
            }
        };
        match subscription.feed(&buf[from..to], &mut |item| deliveries.on_item(item)) {
            Ok(false) => {}
            Ok(true) => break Some(Failure::Dropped("response ended".into())),
            Err(failure) => break Some(failure),
        }
    };
    shared.open.fetch_sub(1, Ordering::Relaxed);
    SubscriberResult {
        stream,
        connected_early,
        failure,
        deliveries,
    }
}

/// One publisher: until `deadline`, publish to stream after stream on one
/// keep-alive connection (made again after an error or a
/// `Connection: close`), each publish sent when the previous one is answered.
async fn publisher(shared: Arc<Shared>, index: usize, deadline: Instant) -> PublisherResult {
    let streams = shared.publish_paths.len();
    let mut result = PublisherResult {
        acked: 0,
        acked_per_stream: vec![0; streams],
        errors: Reasons::default(),
        reconnects: 0,
    };
    let mut buf = vec![0_u8; ANSWER_BUFFER];
    let mut connection: Option<TcpStream> = None;
    let mut connects = 0_u64;
    let mut stream = index % streams;
    let mut n = 0_u64;
    while Instant::now() < deadline {
        let tcp = match connection.as_mut() {
            Some(tcp) => tcp,
            None => {
                let number = shared.first_publisher_connection + index;
                match timeout(shared.request_timeout, shared.target.connect(number)).await {
                    Ok(Ok(tcp)) => {
                        // Each request leaves in one write anyway; no Nagle
                        // delay can depend on the kernel's ACK timing then.
                        let _ = tcp.set_nodelay(true);
                        connects += 1;
                        connection.insert(tcp)
                    }
                    Ok(Err(error)) => {
                        result.errors.add(format!("connect: {}", describe(&error)));
                        sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                    Err(_) => {
                        result.errors.add("connect: timed out");
                        continue;
                    }
                }
            }
        };
        let body = event_body(index, n, &shared.pad);
        let request = json_post(
            &shared.target.host,
            &shared.publish_paths[stream],
            &shared.token,
            &body,
        );
        let sent = Instant::now();
        match timeout(shared.request_timeout, exchange(tcp, &request, &mut buf)).await {
            Ok(Ok(head)) => {
                if head.status == 201 {
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    shared.ack_latency.record(index, micros);
                    result.acked += 1;
                    result.acked_per_stream[stream] += 1;
                } else {
                    result.errors.add(head.status.to_string());
                }
                if head.close {
                    connection = None;
                }
            }
            Ok(Err(error)) => {
                result.errors.add(error);
                connection = None;
            }
            Err(_) => {
                result.errors.add("timeout");
                connection = None;
            }
        }
        n += 1;
        stream = next_stream(stream, shared.publishers, streams);
    }
    result.reconnects = connects.saturating_sub(1);
    result
}

/// The stream a publisher uses after `stream`: publisher i's message j goes
/// to stream (i + j·publishers) mod streams, so that the publishers together
/// cover every stream and no two of them start on the same one.
fn next_stream(stream: usize, publishers: usize, streams: usize) -> usize {
    (stream + publishers % streams) % streams
}

/// The JSON body of publisher `publisher`'s message `n`.
fn event_body(publisher: usize, n: u64, pad: &str) -> String {
    format!(r#"{{"event":"{EVENT_TYPE}","data":{{"p":{publisher},"n":{n},"pad":"{pad}"}}}}"#)
}

/// Sends `request` and reads its whole answer into `buf`. Errors are the
/// keys they are counted under.
async fn exchange(
    tcp: &mut TcpStream,
    request: &[u8],
    buf: &mut [u8],
) -> Result<ResponseHead, String> {
    tcp.write_all(request)
        .await
        .map_err(|error| format!("io: {}", describe(&error)))?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Err(format!("protocol: answer larger than {} bytes", buf.len()));
        }
        let read = tcp
            .read(&mut buf[filled..])
            .await
            .map_err(|error| format!("io: {}", describe(&error)))?;
        if read == 0 {
            return Err("closed".into());
        }
        filled += read;
        match complete_response(&buf[..filled]) {
            Err(error) => return Err(format!("protocol: {error}")),
            Ok(None) => {}
            Ok(Some((head, len))) if len == filled => return Ok(head),
            // One request is in flight at a time: nothing may follow its
            // answer, and the connection can no longer be trusted if it does.
            Ok(Some(_)) => return Err("protocol: bytes after the answer".into()),
        }
    }
}

/// The one-line human summary.
pub fn human(report: &PublishReport) -> String {
    let pct = |pct: Option<f64>| pct.map_or("n/a".to_owned(), |pct| format!("{pct:.0}%"));
    format!(
        "publish {}: {} publishers over {} streams, {} of {} subscribers; {} acked in {:.1} s = {:.0}/s; ack p50 {:.2} p99 {:.2} max {:.2} ms; {} errors, {} reconnects; delivered {} of {} expected ({:.0}/s), {} gaps; CPU server {} loadgen {} irq {} other {}",
        report.label,
        report.publishers,
        report.streams,
        report.subscribers_connected,
        report.subscribers,
        report.acked,
        report.duration_s,
        report.acked_per_s,
        report.ack_latency.p50_ms,
        report.ack_latency.p99_ms,
        report.ack_latency.max_ms,
        report.errors.total(),
        report.reconnects,
        report.delivered,
        report.expected_deliveries,
        report.delivered_per_s,
        report.gaps,
        pct(report.cpu.server_pct),
        pct(report.cpu.loadgen_pct),
        pct(report.cpu.irq_pct),
        pct(report.cpu.other_pct),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use std::collections::BTreeSet;

    #[test]
    fn an_event_body_is_the_publish_contract_with_its_padding() {
        let body = event_body(3, 41, &"x".repeat(100));
        let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(value["event"], EVENT_TYPE);
        assert_eq!(value["data"]["p"], 3);
        assert_eq!(value["data"]["n"], 41);
        assert_eq!(value["data"]["pad"].as_str().map(str::len), Some(100));
        assert_eq!(value.as_object().map(serde_json::Map::len), Some(2));
        assert!(event_body(0, 0, "").contains(r#""pad":"""#));
    }

    fn streams_used(publishers: usize, streams: usize, messages: usize) -> BTreeSet<usize> {
        let mut used = BTreeSet::new();
        for publisher in 0..publishers {
            let mut stream = publisher % streams;
            for _ in 0..messages {
                used.insert(stream);
                stream = next_stream(stream, publishers, streams);
            }
        }
        used
    }

    #[test]
    fn the_publishers_together_cover_every_stream() {
        for (publishers, streams) in [(50, 100), (3, 10), (4, 6), (7, 3), (1, 5), (10, 10)] {
            let used = streams_used(publishers, streams, streams);
            assert_eq!(
                used.len(),
                streams,
                "{publishers} publishers, {streams} streams"
            );
        }
        // Publisher 1 of 50 over 100 streams alternates between two.
        assert_eq!(next_stream(1, 50, 100), 51);
        assert_eq!(next_stream(51, 50, 100), 1);
    }

    #[test]
    fn subscribers_tell_published_events_from_ticks_and_count_gaps() {
        let input = "retry: 3000\n\nid: 1\ndata: {\"number\":5}\n\n\
                     id: 2\nevent: bench\ndata: {\"p\":0}\n\n\
                     id: 5\nevent: bench\ndata: {\"p\":1}\n\n: keep-alive\n\n\
                     event: gap\ndata: {\"first\":6,\"last\":7}\n\n\
                     id: 5\nevent: bench\ndata: {\"p\":2}\n\n";
        let mut parser = SseParser::default();
        let mut deliveries = Deliveries::default();
        parser.feed(input.as_bytes(), &mut |item| deliveries.on_item(item));
        assert_eq!(
            deliveries,
            Deliveries {
                published: 3,
                ticks: 1,
                gaps: 1,
                missing_events: 2 + 2,
                duplicates: 1,
                gap_notices: 1,
                last_id: Some(5),
            }
        );
    }
}
