//! `hold` mode: ramp up N connections over S streams, hold them, and measure
//! what arrives.
//!
//! Phases: *ramp* (connections are opened at `--ramp` per second, then the
//! loader waits until every attempt has succeeded or failed), *measure* (the
//! `--hold` window: latency and events/s are taken only here), *stop* (every
//! connection is closed). Consistency and gaps are checked in every phase.

use crate::check::EventChecker;
use crate::cli::HoldArgs;
use crate::conn::{Failure, Subscription};
use crate::cpu::{CpuReport, CpuWindow};
use crate::event::now_us;
use crate::metrics::{round3, Consistency, LatencyRecorder, LatencySummary, Reasons, Tally};
use crate::procfs::{own_peak_kib, rss_kib, ListenCounters, PeakSampler};
use crate::target::{default_sources, open_file_limit, Target};
use anyhow::{bail, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Descriptors the loader keeps for itself beyond one per connection.
const OWN_FDS: u64 = 32;

/// The JSON summary of a `hold` run.
#[derive(Debug, Serialize)]
pub struct HoldReport {
    /// Always `"hold"`.
    pub mode: &'static str,
    /// The `--label` given.
    pub label: String,
    /// Connections attempted.
    pub attempted: usize,
    /// Connections that got a 200 and their response head.
    pub established: usize,
    /// Connections open at the end of the hold window.
    pub held: usize,
    /// Attempts that failed or connections that dropped before the end.
    pub failed: u64,
    /// `failed`, by category: connect, status, protocol, dropped.
    pub failed_by_category: Reasons,
    /// `failed`, by reason.
    pub failure_reasons: Reasons,
    /// Streams the connections were spread over.
    pub streams: usize,
    /// Loopback source addresses used.
    pub sources: usize,
    /// Requested ramp rate, connections per second.
    pub ramp_per_s: f64,
    /// Seconds from the first attempt until every attempt was resolved.
    pub ramp_s: f64,
    /// Length of the measured window in seconds.
    pub measured_s: f64,
    /// Events received in the measured window, per second.
    pub events_per_s: f64,
    /// Delivery latency in the measured window: receive time minus the
    /// event's `timestamp` (which has millisecond resolution).
    pub latency: LatencySummary,
    /// Two clients of one stream got different numbers for one tick (its
    /// timestamp, and its `id:` when the server sends ids).
    pub mismatches: u64,
    /// Ticks that shared their millisecond timestamp with an earlier tick of
    /// the same stream (told apart by their `id:`).
    pub timestamp_collisions: u64,
    /// Distinct ticks per stream per second whose timestamp falls in the
    /// measured window: the rate the server actually generated.
    pub ticks_per_stream_per_s: f64,
    /// CPU use during the measured window.
    pub cpu: CpuReport,
    /// Accept-queue overflows on this machine from the first attempt to the
    /// end of the window (on loopback: the server under test).
    pub listen: ListenCounters,
    /// Connections that had to pick another local port after `connect`
    /// refused the first (a loader-side port clash, not a server failure).
    pub local_port_retries: usize,
    /// All counts over every connection and phase.
    pub totals: Tally,
    /// Server memory, when `--server-pid` was given.
    pub server_rss: Option<RssReport>,
    /// Peak resident memory of this loader, KiB.
    pub loadgen_peak_rss_kib: Option<u64>,
    /// The `--stats-path` document at the end of the window (or the error);
    /// with several servers, the first one's.
    pub server_stats: Option<serde_json::Value>,
    /// The measured window, in milliseconds since the Unix epoch (for
    /// matching readings taken outside the loader, such as a store's
    /// command counter).
    pub window_start_unix_ms: u64,
    /// The end of the measured window, likewise.
    pub window_end_unix_ms: u64,
    /// With several `--url`s, each server's share (empty with one; the
    /// totals above then cover all of them: `server_rss` adds their
    /// baselines and peaks up, `cpu.server_pct` their CPU).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerReport>,
}

/// One server of a run over several (`--url` given more than once).
#[derive(Debug, Serialize)]
pub struct ServerReport {
    /// Its `--url`.
    pub url: String,
    /// Its `--server-pid`, if given.
    pub pid: Option<u32>,
    /// Connections assigned to it.
    pub attempted: usize,
    /// Of those, open at the end of the hold window.
    pub held: usize,
    /// Its memory; per connection over its own held connections.
    pub server_rss: Option<RssReport>,
    /// Its CPU over the measured window (100 % = one core).
    pub cpu_pct: Option<f64>,
    /// Its `--stats-path` document at the end of the window.
    pub stats: Option<serde_json::Value>,
}

/// Server memory during a hold run.
#[derive(Debug, Serialize)]
pub struct RssReport {
    /// Before the first connection, KiB.
    pub baseline_kib: u64,
    /// Highest sample while connections were open, KiB.
    pub peak_kib: u64,
    /// (peak − baseline) / held, KiB.
    pub per_connection_kib: Option<f64>,
}

impl RssReport {
    /// The report for `held` connections between these two readings.
    fn new(baseline_kib: u64, peak_kib: u64, held: usize) -> Self {
        Self {
            baseline_kib,
            peak_kib,
            per_connection_kib: (held > 0)
                .then(|| round3(peak_kib.saturating_sub(baseline_kib) as f64 / held as f64)),
        }
    }
}

/// The server (index into the `--url`s) of connection `n`, which joins
/// stream `n % streams`: `(n % streams + n / streams) % servers`. Each run of
/// `streams` consecutive connections alternates servers, and the next run
/// starts one server further, so that every stream's clients are spread over
/// every server (plain `n % servers` would put all of a stream's clients on
/// one server whenever the server count divides the stream count).
pub fn server_of(n: usize, streams: usize, servers: usize) -> usize {
    let streams = streams.max(1);
    (n % streams + n / streams) % servers.max(1)
}

/// State shared by the driver and every connection task.
struct Shared {
    /// One per `--url`.
    targets: Vec<Target>,
    /// Connections with an open stream right now, per server.
    open_by_server: Vec<AtomicUsize>,
    connect_timeout: Duration,
    read_buffer: usize,
    /// Request path of each stream.
    paths: Vec<String>,
    /// What to fetch on each connection before its stream, if anything.
    first_request: Option<String>,
    /// Stream id of each stream, as the payload's `id` field carries it.
    ids: Vec<String>,
    /// True during the measured window.
    measuring: AtomicBool,
    /// Connections with an open stream right now.
    open: AtomicUsize,
    /// Attempts that have succeeded or failed.
    resolved: AtomicUsize,
    latency: LatencyRecorder,
    consistency: Consistency,
    stop: CancellationToken,
}

/// What a connection task hands back.
struct ClientResult {
    failure: Option<Failure>,
    established: bool,
    tally: Tally,
}

/// Runs the `hold` mode.
pub async fn run(args: HoldArgs, threads: usize) -> Result<HoldReport> {
    if args.connections == 0 || args.streams == 0 {
        bail!("--connections and --streams must be at least 1");
    }
    if !(args.ramp.is_finite() && args.ramp > 0.0) {
        bail!("--ramp must be a positive number of connections per second");
    }
    if args.read_buffer < 256 {
        bail!("--read-buffer must be at least 256 bytes");
    }
    let sources = args
        .server
        .sources
        .unwrap_or_else(|| default_sources(args.connections));
    let servers = args.server.servers()?;
    let targets = servers
        .iter()
        .map(|(url, _)| Target::new(url, sources))
        .collect::<Result<Vec<_>>>()?;
    // Either none or one per server (`ServerArgs::servers` checks).
    let pids: Vec<u32> = servers.iter().filter_map(|(_, pid)| *pid).collect();
    if let Some(limit) = open_file_limit() {
        if (args.connections as u64) + OWN_FDS > limit {
            eprintln!(
                "sse-loadgen: warning: {} connections need more descriptors than the limit of {limit}",
                args.connections
            );
        }
    }

    let ids: Vec<String> = (0..args.streams)
        .map(|n| format!("{}-{n}", args.stream_prefix))
        .collect();
    let shared = Arc::new(Shared {
        paths: ids.iter().map(|id| format!("/sse/{id}")).collect(),
        first_request: args.first_request.clone(),
        ids,
        open_by_server: targets.iter().map(|_| AtomicUsize::new(0)).collect(),
        targets,
        connect_timeout: args.server.connect_timeout,
        read_buffer: args.read_buffer,
        measuring: AtomicBool::new(false),
        open: AtomicUsize::new(0),
        resolved: AtomicUsize::new(0),
        latency: LatencyRecorder::new(threads.max(1) * 8)?,
        consistency: Consistency::new(args.streams),
        stop: CancellationToken::new(),
    });

    let baselines = pids
        .iter()
        .map(|pid| rss_kib(*pid))
        .collect::<Result<Vec<_>>>()?;
    let samplers: Vec<PeakSampler> = pids
        .iter()
        .zip(&baselines)
        .map(|(pid, kib)| PeakSampler::start(*pid, *kib))
        .collect();

    // Ramp.
    let listen_before = ListenCounters::read();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..args.connections {
        sleep_until(started + Duration::from_secs_f64(n as f64 / args.ramp)).await;
        tasks.spawn(client(Arc::clone(&shared), n));
    }
    let deadline = Instant::now() + args.server.connect_timeout + Duration::from_secs(1);
    while shared.resolved.load(Ordering::Relaxed) < args.connections && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = started.elapsed().as_secs_f64();

    // Measure.
    let cpu_window = CpuWindow::start(&pids, &args.watch_pid);
    shared.measuring.store(true, Ordering::Relaxed);
    let window_start = Instant::now();
    let window_start_ms = now_us() / 1000;
    sleep(args.hold).await;
    let held = shared.open.load(Ordering::Relaxed);
    let held_by_server: Vec<usize> = shared
        .open_by_server
        .iter()
        .map(|open| open.load(Ordering::Relaxed))
        .collect();
    shared.measuring.store(false, Ordering::Relaxed);
    let measured_s = window_start.elapsed().as_secs_f64();
    let window_end_ms = now_us() / 1000;
    let cpu = cpu_window.finish();
    let listen = ListenCounters::read().since(listen_before);
    let mut stats_by_server = Vec::with_capacity(shared.targets.len());
    for target in &shared.targets {
        stats_by_server.push(match &args.stats_path {
            Some(path) => Some(fetch_json(target, path).await),
            None => None,
        });
    }
    let mut peaks = Vec::with_capacity(samplers.len());
    for (sampler, pid) in samplers.into_iter().zip(&pids) {
        peaks.push(sampler.finish(*pid).await);
    }

    // Stop.
    shared.stop.cancel();
    let mut totals = Tally::default();
    let mut by_category = Reasons::default();
    let mut reasons = Reasons::default();
    let mut established = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => {
                totals.merge(&result.tally);
                established += usize::from(result.established);
                if let Some(failure) = result.failure {
                    by_category.add(failure.category());
                    reasons.add(failure.to_string());
                }
            }
            Err(error) => {
                by_category.add("task");
                reasons.add(format!("task: {error}"));
            }
        }
    }
    let latency = LatencySummary::from_micros(&shared.latency.merged()?);
    let window_ticks = shared
        .consistency
        .ticks_between(window_start_ms, window_end_ms);
    let window_s = (window_end_ms.saturating_sub(window_start_ms)) as f64 / 1000.0;
    // With several servers: their baselines and peaks added up, over all
    // held connections.
    let server_rss = (!pids.is_empty())
        .then(|| RssReport::new(baselines.iter().sum(), peaks.iter().sum(), held));
    let server_stats = stats_by_server.first().cloned().flatten();
    let servers = if shared.targets.len() > 1 {
        servers
            .iter()
            .enumerate()
            .map(|(index, (url, pid))| ServerReport {
                url: (*url).to_owned(),
                pid: *pid,
                attempted: (0..args.connections)
                    .filter(|n| server_of(*n, args.streams, shared.targets.len()) == index)
                    .count(),
                held: held_by_server[index],
                server_rss: baselines
                    .get(index)
                    .zip(peaks.get(index))
                    .map(|(base, peak)| RssReport::new(*base, *peak, held_by_server[index])),
                cpu_pct: cpu.per_server_pct.get(index).copied().flatten(),
                stats: stats_by_server[index].clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(HoldReport {
        mode: "hold",
        label: args.server.label,
        attempted: args.connections,
        established,
        held,
        failed: by_category.total(),
        failed_by_category: by_category,
        failure_reasons: reasons,
        streams: args.streams,
        sources: shared.targets[0].source_count(),
        ramp_per_s: args.ramp,
        ramp_s: round3(ramp_s),
        measured_s: round3(measured_s),
        events_per_s: round3(totals.events_measured as f64 / measured_s),
        latency,
        mismatches: shared.consistency.mismatches(),
        timestamp_collisions: shared.consistency.collisions(),
        ticks_per_stream_per_s: round3(
            window_ticks as f64 / window_s.max(0.001) / args.streams as f64,
        ),
        cpu,
        listen,
        local_port_retries: shared.targets.iter().map(Target::port_retries).sum(),
        totals,
        server_rss,
        loadgen_peak_rss_kib: own_peak_kib(),
        server_stats,
        window_start_unix_ms: window_start_ms,
        window_end_unix_ms: window_end_ms,
        servers,
    })
}

/// Fetches a JSON document; an error becomes a JSON string describing it.
async fn fetch_json(target: &Target, path: &str) -> serde_json::Value {
    match crate::http::get(target.addr, &target.host, path, Duration::from_secs(5)).await {
        Ok((200, body)) => serde_json::from_slice(&body)
            .unwrap_or_else(|error| serde_json::Value::String(format!("invalid JSON: {error}"))),
        Ok((status, _)) => serde_json::Value::String(format!("status {status}")),
        Err(error) => serde_json::Value::String(format!("{error:#}")),
    }
}

/// One connection: subscribe, read until stopped, count everything.
async fn client(shared: Arc<Shared>, n: usize) -> ClientResult {
    let stream = n % shared.paths.len();
    let server = server_of(n, shared.paths.len(), shared.targets.len());
    let mut buf = vec![0_u8; shared.read_buffer];
    let mut checker = EventChecker {
        latency: &shared.latency,
        consistency: &shared.consistency,
        measuring: &shared.measuring,
        expected_id: &shared.ids[stream],
        key: n,
        stream,
        last_id: None,
        tally: Tally::default(),
    };
    let opened = tokio::select! {
        opened = timeout(
            shared.connect_timeout,
            Subscription::open(
                &shared.targets[server],
                n,
                shared.first_request.as_deref(),
                &shared.paths[stream],
                &mut buf,
            ),
        ) => opened.unwrap_or(Err(Failure::Timeout)),
        () = shared.stop.cancelled() => Err(Failure::Connect("still connecting when the run stopped".into())),
    };
    shared.resolved.fetch_add(1, Ordering::Relaxed);
    let (mut subscription, (start, end)) = match opened {
        Ok(opened) => opened,
        Err(failure) => {
            return ClientResult {
                failure: Some(failure),
                established: false,
                tally: checker.tally,
            }
        }
    };
    shared.open.fetch_add(1, Ordering::Relaxed);
    shared.open_by_server[server].fetch_add(1, Ordering::Relaxed);
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
                    Err(error) => break Some(Failure::Dropped(crate::conn::describe(&error))),
                }
            }
        };
        let now = now_us();
        match subscription.feed(&buf[from..to], &mut |item| checker.on_item(item, now)) {
            Ok(false) => {}
            Ok(true) => break Some(Failure::Dropped("response ended".into())),
            Err(failure) => break Some(failure),
        }
    };
    shared.open.fetch_sub(1, Ordering::Relaxed);
    shared.open_by_server[server].fetch_sub(1, Ordering::Relaxed);
    ClientResult {
        failure,
        established: true,
        tally: checker.tally,
    }
}

/// The one-line human summary.
pub fn human(report: &HoldReport) -> String {
    let memory = report.server_rss.as_ref().map_or(String::new(), |rss| {
        format!(
            ", server RSS {} → {} KiB ({} KiB/conn)",
            rss.baseline_kib,
            rss.peak_kib,
            rss.per_connection_kib
                .map_or("n/a".to_owned(), |kib| format!("{kib:.2}"))
        )
    });
    let pct = |pct: Option<f64>| pct.map_or("n/a".to_owned(), |pct| format!("{pct:.0}%"));
    let watched: String = report
        .cpu
        .watched
        .iter()
        .map(|(name, share)| format!(" {name} {}", pct(*share)))
        .collect();
    let servers: String = report
        .servers
        .iter()
        .map(|server| {
            let per_connection = server
                .server_rss
                .as_ref()
                .and_then(|rss| rss.per_connection_kib)
                .map_or("n/a".to_owned(), |kib| format!("{kib:.2}"));
            format!(
                "; {}: {} of {} held, CPU {}, {per_connection} KiB/conn",
                server.url,
                server.held,
                server.attempted,
                pct(server.cpu_pct)
            )
        })
        .collect();
    format!(
        "hold {}: {} attempted, {} held, {} failed; {:.0} events/s ({:.1} ticks/stream/s); latency p50 {:.1} p90 {:.1} p99 {:.1} max {:.1} ms; {} mismatches, {} timestamp collisions, {} gaps, {} gap notices; CPU server {}{watched} loadgen {} irq {} other {}{memory}{servers}",
        report.label,
        report.attempted,
        report.held,
        report.failed,
        report.events_per_s,
        report.ticks_per_stream_per_s,
        report.latency.p50_ms,
        report.latency.p90_ms,
        report.latency.p99_ms,
        report.latency.max_ms,
        report.mismatches,
        report.timestamp_collisions,
        report.totals.gaps,
        report.totals.gap_notices,
        pct(report.cpu.server_pct),
        pct(report.cpu.loadgen_pct),
        pct(report.cpu.irq_pct),
        pct(report.cpu.other_pct),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections per (stream, server) for `n` connections.
    fn spread(n: usize, streams: usize, servers: usize) -> Vec<Vec<usize>> {
        let mut counts = vec![vec![0; servers]; streams];
        for connection in 0..n {
            counts[connection % streams][server_of(connection, streams, servers)] += 1;
        }
        counts
    }

    #[test]
    fn connections_alternate_servers_and_every_stream_is_on_each() {
        // The capacity scenario over two instances: 2 × 9,750 on 100 streams,
        // each stream's 195 clients split 98 / 97.
        let counts = spread(19_500, 100, 2);
        let per_server: Vec<usize> = (0..2).map(|s| counts.iter().map(|c| c[s]).sum()).collect();
        assert_eq!(per_server, [9_750, 9_750]);
        assert!(
            counts.iter().all(|c| c[0].abs_diff(c[1]) <= 1),
            "{counts:?}"
        );
        // Quick size: 2 × 250, every stream on both.
        let counts = spread(500, 100, 2);
        assert!(
            counts.iter().all(|c| c == &[3, 2] || c == &[2, 3]),
            "{counts:?}"
        );
        // Consecutive connections alternate.
        let first: Vec<usize> = (0..6).map(|n| server_of(n, 100, 2)).collect();
        assert_eq!(first, [0, 1, 0, 1, 0, 1]);
        // One stream: plain round-robin; three servers, ten streams: each
        // stream's clients go round all three.
        let one: Vec<usize> = (0..5).map(|n| server_of(n, 1, 2)).collect();
        assert_eq!(one, [0, 1, 0, 1, 0]);
        assert!(spread(300, 10, 3).iter().all(|c| c == &[10, 10, 10]));
        // One server: everything on it.
        assert!((0..1000).all(|n| server_of(n, 7, 1) == 0));
    }

    /// `sse-loadgen hold ARGS…` parsed.
    fn hold_args(args: &[&str]) -> Result<HoldArgs, clap::Error> {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["sse-loadgen", "hold"].iter().chain(args))?;
        match cli.command {
            crate::cli::Command::Hold(args) => Ok(args),
            other => panic!("not hold: {other:?}"),
        }
    }

    #[test]
    fn several_urls_and_pids_are_taken_in_order() {
        let (a, b) = ("http://127.0.0.1:1", "http://127.0.0.1:2");
        let args = hold_args(&[
            "--url",
            a,
            "--url",
            b,
            "--server-pid",
            "11",
            "--server-pid",
            "22",
            "--watch-pid",
            "redis=33",
        ])
        .expect("parses");
        let servers = args.server.servers().expect("one pid per URL");
        assert_eq!(servers, [(a, Some(11)), (b, Some(22))]);
        assert_eq!(args.watch_pid, [("redis".to_owned(), 33)]);
        assert!(args.server.single().is_err(), "churn and publish take one");
        // Without pids, or with one pid per URL only.
        let args = hold_args(&["--url", a, "--url", b]).expect("parses");
        assert_eq!(
            args.server.servers().expect("no pids"),
            [(a, None), (b, None)]
        );
        let args = hold_args(&["--url", a, "--url", b, "--server-pid", "11"]).expect("parses");
        assert!(args.server.servers().is_err());
        // The single-server defaults are unchanged.
        let args = hold_args(&["--server-pid", "5"]).expect("parses");
        let single = args.server.single().expect("one server");
        assert_eq!(single, ("http://127.0.0.1:3000", Some(5)));
        assert!(hold_args(&["--watch-pid", "7"]).is_err());
    }
}
