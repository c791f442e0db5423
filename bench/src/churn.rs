//! `churn` mode: many short subscriptions, then a check that the server
//! forgot them all.
//!
//! A cycle connects to `/sse/<prefix>-<k mod ids>`, waits for the first frame
//! (the `retry:` line or the first event, whichever comes first) and
//! disconnects. `--concurrency` cycles run at once. Afterwards the loader
//! polls the streams endpoint until it lists nothing, waits `--settle`, and
//! compares the server's resident memory with the baseline.

use crate::cli::ChurnArgs;
use crate::conn::{describe, Failure, Subscription};
use crate::cpu::{CpuReport, CpuWindow};
use crate::metrics::{new_histogram, round3, LatencyRecorder, LatencySummary, Reasons};
use crate::procfs::{own_peak_kib, rss_kib, PeakSampler};
use crate::sse::Item;
use crate::target::{default_sources, Target};
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};

/// How often the streams endpoint is polled while draining.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// The JSON summary of a `churn` run.
#[derive(Debug, Serialize)]
pub struct ChurnReport {
    /// Always `"churn"`.
    pub mode: &'static str,
    /// The `--label` given.
    pub label: String,
    /// Cycles per round (after the warm-up).
    pub cycles: usize,
    /// Rounds of `cycles` cycles, each followed by a drain and a memory reading.
    pub rounds: usize,
    /// Cycles that got their first frame, over all rounds.
    pub completed: u64,
    /// Cycles that did not, over all rounds.
    pub failed: u64,
    /// `failed`, by reason.
    pub failure_reasons: Reasons,
    /// Distinct stream ids.
    pub ids: usize,
    /// Cycles in flight at once.
    pub concurrency: usize,
    /// Warm-up cycles run before the baseline.
    pub warmup: usize,
    /// Loopback source addresses used.
    pub sources: usize,
    /// Seconds the cycles took, over all rounds.
    pub elapsed_s: f64,
    /// Cycles per second.
    pub cycles_per_s: f64,
    /// Time from starting to connect until the first frame.
    pub first_frame: LatencySummary,
    /// Streams the endpoint still listed after the last round (`None`: unreadable).
    pub streams_left: Option<usize>,
    /// Seconds after the last round until the endpoint listed no stream
    /// (`None`: it never did within `--drain-timeout`).
    pub drained_after_s: Option<f64>,
    /// The last error reading the streams endpoint, if any.
    pub streams_error: Option<String>,
    /// Each round on its own.
    pub per_round: Vec<RoundReport>,
    /// Server memory, when `--server-pid` was given.
    pub server_rss: Option<ChurnRss>,
    /// CPU use while the cycles of the last round ran.
    pub cpu: Option<CpuReport>,
    /// Cycles that had to pick another local port after `connect` refused
    /// the first (a loader-side port clash, not a server failure).
    pub local_port_retries: usize,
    /// Peak resident memory of this loader, KiB.
    pub loadgen_peak_rss_kib: Option<u64>,
}

/// One round of cycles.
#[derive(Debug, Serialize)]
pub struct RoundReport {
    /// Cycles that got their first frame.
    pub completed: u64,
    /// Cycles that did not.
    pub failed: u64,
    /// Cycles per second.
    pub cycles_per_s: f64,
    /// Streams listed after the drain.
    pub streams_left: Option<usize>,
    /// Server memory after the drain and settle, KiB.
    pub rss_after_kib: Option<u64>,
}

/// Server memory around a churn run, KiB.
#[derive(Debug, Serialize)]
pub struct ChurnRss {
    /// The fresh server, before any cycle.
    pub cold_kib: u64,
    /// The baseline: after the warm-up (equal to `cold_kib` without one).
    pub baseline_kib: u64,
    /// Highest sample during the cycles.
    pub peak_kib: u64,
    /// After the last round, drained and settled.
    pub after_kib: u64,
    /// (after − baseline) / baseline, in percent.
    pub change_pct: f64,
    /// (after − cold) / cold, in percent.
    pub change_vs_cold_pct: f64,
    /// Growth over the last round: (after − after the previous round) /
    /// after the previous round, in percent; `None` with a single round.
    pub last_round_growth_pct: Option<f64>,
}

/// What a batch of cycles produced.
struct Batch {
    completed: u64,
    reasons: Reasons,
    elapsed: Duration,
    first_frame: Histogram<u64>,
}

/// Runs the `churn` mode.
pub async fn run(args: ChurnArgs) -> Result<ChurnReport> {
    if args.cycles == 0 || args.ids == 0 || args.concurrency == 0 || args.rounds == 0 {
        bail!("--cycles, --ids, --concurrency and --rounds must be at least 1");
    }
    let sources = args
        .server
        .sources
        .unwrap_or_else(|| default_sources(args.cycles * args.rounds + args.warmup));
    let (url, pid) = args.server.single()?;
    let target = Arc::new(Target::new(url, sources)?);
    let cold = pid.map(rss_kib).transpose()?;

    if args.warmup > 0 {
        let warmup = cycles(&target, &args, args.warmup).await?;
        if warmup.completed == 0 {
            bail!("no warm-up cycle succeeded: {:?}", warmup.reasons.0);
        }
        drain(&target, &args).await;
        sleep(args.settle).await;
    }
    let baseline = pid.map(rss_kib).transpose()?;

    let mut per_round = Vec::with_capacity(args.rounds);
    let mut reasons = Reasons::default();
    let mut first_frame = new_histogram()?;
    let (mut completed, mut elapsed, mut cpu) = (0, Duration::ZERO, None);
    let mut peak = baseline;
    let mut drained = None;
    for _ in 0..args.rounds {
        let round = round(&target, &args, pid, baseline).await?;
        per_round.push(round.report);
        peak = peak.max(round.peak_kib);
        cpu = Some(round.cpu);
        completed += round.batch.completed;
        elapsed += round.batch.elapsed;
        for (reason, count) in round.batch.reasons.0 {
            *reasons.0.entry(reason).or_default() += count;
        }
        first_frame
            .add(&round.batch.first_frame)
            .context("cannot merge latency histograms")?;
        drained = Some(round.drained);
    }
    let drained = drained.context("no round ran")?;

    let afters: Vec<u64> = per_round.iter().filter_map(|r| r.rss_after_kib).collect();
    let server_rss = match (cold, baseline, peak, afters.last()) {
        (Some(cold_kib), Some(baseline_kib), Some(peak_kib), Some(&after_kib)) => Some(ChurnRss {
            cold_kib,
            baseline_kib,
            peak_kib,
            after_kib,
            change_pct: percent_change(baseline_kib, after_kib),
            change_vs_cold_pct: percent_change(cold_kib, after_kib),
            last_round_growth_pct: (afters.len() > 1)
                .then(|| percent_change(afters[afters.len() - 2], after_kib)),
        }),
        _ => None,
    };
    Ok(ChurnReport {
        mode: "churn",
        label: args.server.label,
        cycles: args.cycles,
        rounds: args.rounds,
        completed,
        failed: reasons.total(),
        failure_reasons: reasons,
        ids: args.ids,
        concurrency: args.concurrency,
        warmup: args.warmup,
        sources: target.source_count(),
        elapsed_s: round3(elapsed.as_secs_f64()),
        cycles_per_s: rate(completed, elapsed),
        first_frame: LatencySummary::from_micros(&first_frame),
        streams_left: drained.left,
        drained_after_s: drained.after.map(|d| round3(d.as_secs_f64())),
        streams_error: drained.error,
        per_round,
        server_rss,
        cpu,
        local_port_retries: target.port_retries(),
        loadgen_peak_rss_kib: own_peak_kib(),
    })
}

/// One round's results.
struct Round {
    report: RoundReport,
    batch: Batch,
    drained: Drained,
    peak_kib: Option<u64>,
    cpu: CpuReport,
}

/// Runs one round: the cycles, the drain, the settle, the memory reading.
async fn round(
    target: &Arc<Target>,
    args: &ChurnArgs,
    pid: Option<u32>,
    baseline: Option<u64>,
) -> Result<Round> {
    let sampler = pid
        .zip(baseline)
        .map(|(pid, kib)| PeakSampler::start(pid, kib));
    let cpu_window = CpuWindow::start(pid.as_slice(), &[]);
    let batch = cycles(target, args, args.cycles).await?;
    let cpu = cpu_window.finish();
    let peak_kib = match (sampler, pid) {
        (Some(sampler), Some(pid)) => Some(sampler.finish(pid).await),
        _ => None,
    };
    let drained = drain(target, args).await;
    sleep(args.settle).await;
    let rss_after_kib = pid.map(rss_kib).transpose()?;
    Ok(Round {
        report: RoundReport {
            completed: batch.completed,
            failed: batch.reasons.total(),
            cycles_per_s: rate(batch.completed, batch.elapsed),
            streams_left: drained.left,
            rss_after_kib,
        },
        batch,
        drained,
        peak_kib,
        cpu,
    })
}

/// Completed cycles per second.
fn rate(completed: u64, elapsed: Duration) -> f64 {
    round3(completed as f64 / elapsed.as_secs_f64().max(f64::EPSILON))
}

/// `(to − from) / from` in percent, rounded.
fn percent_change(from: u64, to: u64) -> f64 {
    if from == 0 {
        return 0.0;
    }
    round3((to as f64 - from as f64) / from as f64 * 100.0)
}

/// Runs `count` cycles with `--concurrency` workers.
async fn cycles(target: &Arc<Target>, args: &ChurnArgs, count: usize) -> Result<Batch> {
    let next = Arc::new(AtomicUsize::new(0));
    let latency = Arc::new(LatencyRecorder::new(args.concurrency.min(64))?);
    let reasons = Arc::new(Mutex::new(Reasons::default()));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..args.concurrency.min(count) {
        let (target, next, latency, reasons) = (
            Arc::clone(target),
            Arc::clone(&next),
            Arc::clone(&latency),
            Arc::clone(&reasons),
        );
        let prefix = args.id_prefix.clone();
        let first_request = args.first_request.clone();
        let (ids, limit) = (args.ids, args.server.connect_timeout);
        workers.spawn(async move {
            let mut completed = 0_u64;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    return completed;
                }
                let path = format!("/sse/{prefix}-{}", k % ids);
                let began = Instant::now();
                let first = first_request.as_deref();
                match timeout(limit, cycle(&target, k, first, &path)).await {
                    Ok(Ok(())) => {
                        completed += 1;
                        let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                        latency.record(worker, micros);
                    }
                    Ok(Err(failure)) => add_reason(&reasons, failure.to_string()),
                    Err(_) => add_reason(&reasons, "timed out before the first frame".into()),
                }
            }
        });
    }
    let mut completed = 0;
    while let Some(joined) = workers.join_next().await {
        completed += joined.context("a churn worker panicked")?;
    }
    let elapsed = started.elapsed();
    let reasons = std::mem::take(&mut *reasons.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Batch {
        completed,
        reasons,
        elapsed,
        first_frame: latency.merged()?,
    })
}

fn add_reason(reasons: &Mutex<Reasons>, reason: String) {
    reasons
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .add(reason);
}

/// One cycle: (fetch `first_request`,) subscribe, read up to the first
/// frame, disconnect.
async fn cycle(
    target: &Target,
    k: usize,
    first_request: Option<&str>,
    path: &str,
) -> Result<(), Failure> {
    let mut buf = [0_u8; 1024];
    let (mut subscription, (mut from, mut to)) =
        Subscription::open(target, k, first_request, path, &mut buf).await?;
    loop {
        let mut first_frame = false;
        let ended = subscription.feed(&buf[from..to], &mut |item| {
            first_frame |= matches!(item, Item::Retry | Item::Message(_));
        })?;
        if first_frame {
            return Ok(());
        }
        if ended {
            return Err(Failure::Dropped(
                "response ended before the first frame".into(),
            ));
        }
        let read = subscription
            .read(&mut buf)
            .await
            .map_err(|error| Failure::Dropped(describe(&error)))?;
        if read == 0 {
            return Err(Failure::Dropped("closed before the first frame".into()));
        }
        (from, to) = (0, read);
    }
}

/// The end state of the streams endpoint.
struct Drained {
    left: Option<usize>,
    after: Option<Duration>,
    error: Option<String>,
}

/// Polls the streams endpoint until it lists nothing or `--drain-timeout`.
async fn drain(target: &Target, args: &ChurnArgs) -> Drained {
    let started = Instant::now();
    let mut last = Drained {
        left: None,
        after: None,
        error: None,
    };
    loop {
        match count_streams(target, &args.streams_path).await {
            Ok(0) => {
                return Drained {
                    left: Some(0),
                    after: Some(started.elapsed()),
                    error: None,
                }
            }
            Ok(left) => last.left = Some(left),
            Err(error) => last.error = Some(format!("{error:#}")),
        }
        if started.elapsed() >= args.drain_timeout {
            return last;
        }
        sleep(DRAIN_POLL).await;
    }
}

/// The length of the JSON array the streams endpoint returns.
async fn count_streams(target: &Target, path: &str) -> Result<usize> {
    let (status, body) =
        crate::http::get(target.addr, &target.host, path, Duration::from_secs(5)).await?;
    if status != 200 {
        bail!("GET {path}: status {status}");
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: not a JSON array"))?;
    Ok(list.len())
}

/// The one-line human summary.
pub fn human(report: &ChurnReport) -> String {
    let memory =
        report.server_rss.as_ref().map_or(String::new(), |rss| {
            format!(
            ", server RSS cold {} / baseline {} / peak {} / after {} KiB ({:+.1}% vs baseline{})",
            rss.cold_kib,
            rss.baseline_kib,
            rss.peak_kib,
            rss.after_kib,
            rss.change_pct,
            rss.last_round_growth_pct
                .map_or(String::new(), |pct| format!(", {pct:+.1}% over the last round"))
        )
        });
    format!(
        "churn {}: {} of {} cycles ok ({} failed) in {:.1} s = {:.0}/s; first frame p50 {:.1} p99 {:.1} ms; streams left {}{memory}",
        report.label,
        report.completed,
        report.cycles * report.rounds,
        report.failed,
        report.elapsed_s,
        report.cycles_per_s,
        report.first_frame.p50_ms,
        report.first_frame.p99_ms,
        report.streams_left
            .map_or("unknown".to_owned(), |left| left.to_string()),
    )
}
