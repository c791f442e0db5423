//! CPU accounting over a measured window: the server, this loader, kernel
//! interrupt work, and everything else running on the machine.

use crate::metrics::round3;
use crate::procfs::{cpu_percent, cpu_seconds, MachineCpu};
use serde::Serialize;
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
    /// TCP receive path of the benchmark's own traffic.
    pub irq_pct: Option<f64>,
    /// Every other process: work that competed with the benchmark.
    pub other_pct: Option<f64>,
}

/// Readings at the start of a window.
pub struct CpuWindow {
    pid: Option<u32>,
    started: Instant,
    server: Option<f64>,
    own: Option<f64>,
    machine: Option<MachineCpu>,
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
        }
    }

    /// Ends the window and reports each share.
    pub fn finish(self) -> CpuReport {
        let wall = self.started.elapsed().as_secs_f64();
        let server_now = self.pid.and_then(|pid| cpu_seconds(Some(pid)).ok());
        let own_now = cpu_seconds(None).ok();
        let machine_now = MachineCpu::read().ok();
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
        let other_pct = busy_pct.map(|busy| {
            let ours =
                server_pct.unwrap_or(0.0) + loadgen_pct.unwrap_or(0.0) + irq_pct.unwrap_or(0.0);
            round3((busy - ours).max(0.0))
        });
        CpuReport {
            server_pct,
            loadgen_pct,
            irq_pct,
            other_pct,
        }
    }
}
