//! Resident memory and CPU time of a process, from `/proc/<pid>/…`.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often a [`PeakSampler`] reads the memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// The peak resident memory of this process (`VmHWM`), in KiB.
pub fn own_peak_kib() -> Option<u64> {
    status_field("/proc/self/status", "VmHWM:").ok()
}

/// CPU time (user + system) process `pid` has used so far, in seconds;
/// this process's own when `pid` is `None`.
pub fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |pid| format!("/proc/{pid}/stat"),
    );
    Ok(read_stat(&path)?.cpu_s)
}

/// What the loader needs from `/proc/<pid>/stat`.
struct ProcStat {
    parent: u32,
    cpu_s: f64,
}

/// Parses `/proc/<pid>/stat`.
fn read_stat(path: &str) -> Result<ProcStat> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the parenthesised command name start with field 3 (state):
    // the parent is field 4, utime and stime are fields 14 and 15.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected format of {path}"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let number = |index: usize| -> Result<u64> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .with_context(|| format!("unexpected format of {path}"))
    };
    Ok(ProcStat {
        parent: u32::try_from(number(1)?).unwrap_or(0),
        cpu_s: (number(11)? + number(12)?) as f64 / clock_ticks_per_second(),
    })
}

/// CPU seconds used so far by every user-space process except `exclude`,
/// by pid. Kernel threads (children of `kthreadd`, pid 2) are left out.
pub fn user_processes_cpu(exclude: &[u32]) -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != 2 && !exclude.contains(pid))
        .filter_map(|pid| {
            // A process may exit between listing and reading: skip it.
            let stat = read_stat(&format!("/proc/{pid}/stat")).ok()?;
            (stat.parent != 2).then_some((pid, stat.cpu_s))
        })
        .collect()
}

/// Machine-wide TCP counters from `/proc/net/netstat` that tell whether a
/// server's accept queue overflowed (the kernel then drops the SYN or the
/// final ACK, and the client retries after a second or more).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ListenCounters {
    /// `TcpExt.ListenOverflows`: the accept queue was full.
    pub overflows: u64,
    /// `TcpExt.ListenDrops`: connection requests dropped at a listener.
    pub drops: u64,
    /// `TcpExt.TCPReqQFullDoCookies`: SYN cookies sent for a full SYN queue.
    pub syn_cookies: u64,
}

impl ListenCounters {
    /// Reads the counters; zeros where they cannot be read.
    pub fn read() -> Self {
        let Ok(netstat) = std::fs::read_to_string("/proc/net/netstat") else {
            return Self::default();
        };
        let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            return Self::default();
        };
        let counters: HashMap<&str, u64> = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
            .collect();
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        Self {
            overflows: get("ListenOverflows"),
            drops: get("ListenDrops"),
            syn_cookies: get("TCPReqQFullDoCookies"),
        }
    }

    /// The increase since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            overflows: self.overflows.saturating_sub(earlier.overflows),
            drops: self.drops.saturating_sub(earlier.drops),
            syn_cookies: self.syn_cookies.saturating_sub(earlier.syn_cookies),
        }
    }
}

/// The kernel's clock ticks per second (`_SC_CLK_TCK`), usually 100.
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Machine-wide CPU time from `/proc/stat`, in seconds summed over all cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    /// Time not idle (user, nice, system, irq, softirq, steal).
    pub busy_s: f64,
    /// Of that, time in interrupt and softirq handlers: on loopback this is
    /// mostly the TCP receive path of the benchmark's own traffic.
    pub irq_s: f64,
}

impl MachineCpu {
    /// Reads the `cpu` line of `/proc/stat`.
    pub fn read() -> Result<Self> {
        let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
        let line = stat
            .lines()
            .find(|line| line.starts_with("cpu "))
            .context("no cpu line in /proc/stat")?;
        let ticks: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse::<f64>().unwrap_or(0.0))
            .collect();
        let field = |index: usize| ticks.get(index).copied().unwrap_or(0.0);
        let hz = clock_ticks_per_second();
        // user nice system idle iowait irq softirq steal (guest time is
        // already counted in user).
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        Ok(Self {
            busy_s: busy / hz,
            irq_s: (field(5) + field(6)) / hz,
        })
    }
}

/// CPU use between two readings of [`cpu_seconds`], in percent of one core.
pub fn cpu_percent(before: f64, after: f64, wall_seconds: f64) -> f64 {
    if wall_seconds <= 0.0 {
        return 0.0;
    }
    ((after - before) / wall_seconds * 1000.0).round() / 10.0
}

/// Reads one `kB` field of a `/proc/*/status` file.
fn status_field(path: &str, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

/// Samples a process's resident memory in the background and keeps the peak.
pub struct PeakSampler {
    peak: Arc<AtomicU64>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PeakSampler {
    /// Starts sampling `pid`; `initial` is the first known value in KiB.
    pub fn start(pid: u32, initial: u64) -> Self {
        let peak = Arc::new(AtomicU64::new(initial));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let peak = Arc::clone(&peak);
            let stop = stop.clone();
            async move {
                let mut ticker = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = ticker.tick() => {
                            if let Ok(kib) = rss_kib(pid) {
                                peak.fetch_max(kib, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
        });
        Self { peak, stop, task }
    }

    /// Takes a last sample, stops, and returns the peak in KiB.
    pub async fn finish(self, pid: u32) -> u64 {
        if let Ok(kib) = rss_kib(pid) {
            self.peak.fetch_max(kib, Ordering::Relaxed);
        }
        self.stop.cancel();
        // A sampler task that panicked only loses samples.
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory() {
        let kib = rss_kib(std::process::id()).expect("own status is readable");
        assert!(kib > 0);
        assert!(own_peak_kib().is_some_and(|peak| peak >= 1));
        assert!(rss_kib(u32::MAX).is_err());
    }

    #[test]
    fn reads_cpu_time() {
        let own = cpu_seconds(None).expect("own stat is readable");
        let by_pid = cpu_seconds(Some(std::process::id())).expect("stat by pid");
        assert!(own >= 0.0 && by_pid >= own);
        assert_eq!(cpu_percent(1.0, 1.5, 1.0), 50.0);
        let others = user_processes_cpu(&[std::process::id()]);
        assert!(!others.contains_key(&std::process::id()));
        let machine = MachineCpu::read().expect("/proc/stat is readable");
        assert!(machine.busy_s >= machine.irq_s && machine.busy_s > 0.0);
    }
}
