//! CPU accounting over a measured window: the server, this loader, kernel
//! interrupt work, and everything else running on the machine.

use crate::metrics::round3;
use crate::procfs::{cpu_percent, cpu_seconds, user_processes_cpu, MachineCpu};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// CPU use over a window, each in percent of one core (the machine has
/// 100 % per core).
#[derive(Debug, Clone, Serialize)]
pub struct CpuReport {
    /// The server process (user + system); with several servers, their sum.
    pub server_pct: Option<f64>,
    /// With several servers, each one's share, in the order they were given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_server_pct: Vec<Option<f64>>,
    /// Other processes of the system under test (`--watch-pid NAME=PID`,
    /// such as a shared store), by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub watched: BTreeMap<String, Option<f64>>,
    /// This loader.
    pub loadgen_pct: Option<f64>,
    /// Interrupt and softirq handlers, machine-wide: on loopback, largely the
    /// TCP receive path of the benchmark's own traffic. Depending on the
    /// kernel's accounting, part of it is also in the processes' system time.
    pub irq_pct: Option<f64>,
    /// Every other process: work that competed with the benchmark. The larger
    /// of two estimates: the CPU time of the other user-space processes alive
    /// at the end (misses those that exited), and the machine's busy time
    /// minus the servers, the watched processes, the loader and irq (misses
    /// irq time charged to them).
    pub other_pct: Option<f64>,
}

/// Readings at the start of a window.
pub struct CpuWindow {
    servers: Vec<u32>,
    watched: Vec<(String, u32)>,
    started: Instant,
    server: Vec<Option<f64>>,
    watched_before: Vec<Option<f64>>,
    own: Option<f64>,
    machine: Option<MachineCpu>,
    others: HashMap<u32, f64>,
}

impl CpuWindow {
    /// Starts a window for the server processes `servers` (none, one or
    /// several) and the other processes of the system under test `watched`.
    pub fn start(servers: &[u32], watched: &[(String, u32)]) -> Self {
        let read = |pid: u32| cpu_seconds(Some(pid)).ok();
        Self {
            servers: servers.to_vec(),
            watched: watched.to_vec(),
            started: Instant::now(),
            server: servers.iter().map(|pid| read(*pid)).collect(),
            watched_before: watched.iter().map(|(_, pid)| read(*pid)).collect(),
            own: cpu_seconds(None).ok(),
            machine: MachineCpu::read().ok(),
            others: user_processes_cpu(&excluded(servers, watched)),
        }
    }

    /// Ends the window and reports each share.
    pub fn finish(self) -> CpuReport {
        let wall = self.started.elapsed().as_secs_f64();
        let read = |pid: u32| cpu_seconds(Some(pid)).ok();
        let server_now: Vec<Option<f64>> = self.servers.iter().map(|pid| read(*pid)).collect();
        let watched_now: Vec<Option<f64>> =
            self.watched.iter().map(|(_, pid)| read(*pid)).collect();
        let own_now = cpu_seconds(None).ok();
        let machine_now = MachineCpu::read().ok();
        let others_s: f64 = user_processes_cpu(&excluded(&self.servers, &self.watched))
            .iter()
            .map(|(pid, now)| now - self.others.get(pid).copied().unwrap_or(0.0))
            .filter(|used| *used > 0.0)
            .sum();
        let pct = |before: Option<f64>, after: Option<f64>| {
            before
                .zip(after)
                .map(|(before, after)| cpu_percent(before, after, wall))
        };
        let per_server: Vec<Option<f64>> = self
            .server
            .iter()
            .zip(&server_now)
            .map(|(before, after)| pct(*before, *after))
            .collect();
        // The sum only when every server could be read (one that died has none).
        let server_pct = if per_server.is_empty() {
            None
        } else {
            per_server.iter().copied().sum::<Option<f64>>().map(round3)
        };
        let watched: BTreeMap<String, Option<f64>> = self
            .watched
            .iter()
            .zip(self.watched_before.iter().zip(&watched_now))
            .map(|((name, _), (before, after))| (name.clone(), pct(*before, *after)))
            .collect();
        let loadgen_pct = pct(self.own, own_now);
        let machine = self.machine.zip(machine_now);
        let irq_pct = machine.map(|(before, after)| cpu_percent(before.irq_s, after.irq_s, wall));
        let busy_pct =
            machine.map(|(before, after)| cpu_percent(before.busy_s, after.busy_s, wall));
        let ours = per_server.iter().flatten().sum::<f64>()
            + watched.values().flatten().sum::<f64>()
            + loadgen_pct.unwrap_or(0.0)
            + irq_pct.unwrap_or(0.0);
        let residual_pct = busy_pct.map_or(0.0, |busy| busy - ours);
        let scanned_pct = cpu_percent(0.0, others_s, wall);
        CpuReport {
            server_pct,
            per_server_pct: if per_server.len() > 1 {
                per_server
            } else {
                Vec::new()
            },
            watched,
            loadgen_pct,
            irq_pct,
            other_pct: Some(round3(residual_pct.max(scanned_pct).max(0.0))),
        }
    }
}

/// The processes that are not "other": the servers, the watched processes
/// and this loader.
fn excluded(servers: &[u32], watched: &[(String, u32)]) -> Vec<u32> {
    let mut excluded = vec![std::process::id()];
    excluded.extend(servers);
    excluded.extend(watched.iter().map(|(_, pid)| *pid));
    excluded
}
