//! CPU accounting over a measured window: the server, this loader, kernel
//! interrupt work, and everything else running on the machine.

use crate::metrics::round3;
use crate::procfs::{cpu_percent, cpu_seconds, user_processes_cpu, MachineCpu};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

/// CPU use over a window, each in percent of one core (the machine has
/// 100 % per core).
#[derive(Debug, Clone, Serialize)]
pub struct CpuReport {
    /// The server process (user + system).
    pub server_pct: Option<f64>,
    /// This loader.
    pub loadgen_pct: Option<f64>,
    /// Interrupt and softirq handlers, machine-wide: on loopback, largely the
    /// TCP receive path of the benchmark's own traffic. Depending on the
    /// kernel's accounting, part of it is also in the processes' system time.
    pub irq_pct: Option<f64>,
    /// Every other process: work that competed with the benchmark. The larger
    /// of two estimates: the CPU time of the other user-space processes alive
    /// at the end (misses those that exited), and the machine's busy time
    /// minus the server, the loader and irq (misses irq time charged to them).
    pub other_pct: Option<f64>,
}

/// Readings at the start of a window.
pub struct CpuWindow {
    pid: Option<u32>,
    started: Instant,
    server: Option<f64>,
    own: Option<f64>,
    machine: Option<MachineCpu>,
    others: HashMap<u32, f64>,
}

impl CpuWindow {
    /// Starts a window for server `pid` (if known).
    pub fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            started: Instant::now(),
            server: pid.and_then(|pid| cpu_seconds(Some(pid)).ok()),
            own: cpu_seconds(None).ok(),
            machine: MachineCpu::read().ok(),
            others: user_processes_cpu(&excluded(pid)),
        }
    }

    /// Ends the window and reports each share.
    pub fn finish(self) -> CpuReport {
        let wall = self.started.elapsed().as_secs_f64();
        let server_now = self.pid.and_then(|pid| cpu_seconds(Some(pid)).ok());
        let own_now = cpu_seconds(None).ok();
        let machine_now = MachineCpu::read().ok();
        let others_s: f64 = user_processes_cpu(&excluded(self.pid))
            .iter()
            .map(|(pid, now)| now - self.others.get(pid).copied().unwrap_or(0.0))
            .filter(|used| *used > 0.0)
            .sum();
        let pct = |before: Option<f64>, after: Option<f64>| {
            before
                .zip(after)
                .map(|(before, after)| cpu_percent(before, after, wall))
        };
        let server_pct = pct(self.server, server_now);
        let loadgen_pct = pct(self.own, own_now);
        let machine = self.machine.zip(machine_now);
        let irq_pct = machine.map(|(before, after)| cpu_percent(before.irq_s, after.irq_s, wall));
        let busy_pct =
            machine.map(|(before, after)| cpu_percent(before.busy_s, after.busy_s, wall));
        let ours = server_pct.unwrap_or(0.0) + loadgen_pct.unwrap_or(0.0) + irq_pct.unwrap_or(0.0);
        let residual_pct = busy_pct.map_or(0.0, |busy| busy - ours);
        let scanned_pct = cpu_percent(0.0, others_s, wall);
        CpuReport {
            server_pct,
            loadgen_pct,
            irq_pct,
            other_pct: Some(round3(residual_pct.max(scanned_pct).max(0.0))),
        }
    }
}

/// The processes that are not "other": the server and this loader.
fn excluded(pid: Option<u32>) -> Vec<u32> {
    let mut excluded = vec![std::process::id()];
    excluded.extend(pid);
    excluded
}
