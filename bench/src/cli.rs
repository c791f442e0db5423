//! Command-line interface.

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use std::time::Duration;

/// Load generator for Server-Sent Events servers (sse-hub and its Express
/// reference). Prints a human summary line, then one JSON line.
#[derive(Debug, Parser)]
#[command(name = "sse-loadgen", version, about)]
pub struct Cli {
    /// Runtime worker threads; 0 = one per CPU.
    #[arg(long, global = true, default_value_t = 0)]
    pub threads: usize,

    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open N connections over S streams, hold them, measure delivery.
    Hold(HoldArgs),
    /// Connect and disconnect many times, then check the server forgot it all.
    Churn(ChurnArgs),
    /// Publish events as fast as they are acknowledged while subscribers
    /// listen; measure acknowledgements and deliveries.
    Publish(PublishArgs),
}

/// Options shared by all modes.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the server. `hold` takes several (`--url A --url B`),
    /// instances of one hub sharing a store: connection i joins stream
    /// i mod S on server (i mod S + i div S) mod U, so that consecutive
    /// connections alternate servers and every stream has clients on each.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: Vec<String>,

    /// Process id of the server, for its resident memory (VmRSS) and CPU.
    /// With several `--url`s, one per URL in the same order (or none).
    #[arg(long)]
    pub server_pid: Vec<u32>,

    /// Loopback source addresses to spread connections over (127.0.0.1,
    /// 127.0.0.2, …). Default: one per 25,000 connections.
    #[arg(long)]
    pub sources: Option<usize>,

    /// Free-form label copied into the JSON summary.
    #[arg(long, default_value = "")]
    pub label: String,

    /// Time allowed to connect and receive the response head.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
}

impl ServerArgs {
    /// The server's URL and process id, for the modes that take one server.
    pub fn single(&self) -> Result<(&str, Option<u32>)> {
        let [url] = self.url.as_slice() else {
            bail!("this mode takes one --url, got {}", self.url.len());
        };
        match self.server_pid.as_slice() {
            [] => Ok((url, None)),
            [pid] => Ok((url, Some(*pid))),
            more => bail!("this mode takes one --server-pid, got {}", more.len()),
        }
    }

    /// Each server's URL with its process id, if the pids were given.
    pub fn servers(&self) -> Result<Vec<(&str, Option<u32>)>> {
        if self.url.is_empty() {
            bail!("--url is required");
        }
        if !self.server_pid.is_empty() && self.server_pid.len() != self.url.len() {
            bail!(
                "give one --server-pid per --url, in the same order ({} URLs, {} pids)",
                self.url.len(),
                self.server_pid.len()
            );
        }
        Ok(self
            .url
            .iter()
            .enumerate()
            .map(|(n, url)| (url.as_str(), self.server_pid.get(n).copied()))
            .collect())
    }
}

/// Parses `NAME=PID` (`--watch-pid`).
fn name_and_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {text:?}"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=PID, got {text:?}"));
    }
    let pid = pid
        .parse()
        .map_err(|_| format!("{pid:?} is not a process id"))?;
    Ok((name.to_owned(), pid))
}

/// `hold` mode.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// Server and source options.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Connections to open.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,

    /// Streams the connections are spread over (connection i joins stream i mod S).
    #[arg(long, short = 's', default_value_t = 10)]
    pub streams: usize,

    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,

    /// How long to hold all connections once they are open; latency and
    /// events/s are measured over this window.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub hold: Duration,

    /// Stream ids are `<prefix>-<n>`.
    #[arg(long, default_value = "bench")]
    pub stream_prefix: String,

    /// A JSON endpoint to fetch at the end of the hold, e.g. `/api/stats`.
    #[arg(long)]
    pub stats_path: Option<String>,

    /// Bytes each connection reads at a time.
    #[arg(long, default_value_t = 2048)]
    pub read_buffer: usize,

    /// A path to `GET` first on each connection (reading its whole response)
    /// before the stream request, as a browser's `EventSource` usually
    /// reuses a keep-alive connection that fetched the page, e.g. `/healthz`.
    #[arg(long)]
    pub first_request: Option<String>,

    /// Another process of the system under test, as `NAME=PID` (e.g. the
    /// shared store, `redis=1234`; repeatable): its CPU over the measured
    /// window is reported as `cpu.watched.NAME` and not counted as other
    /// processes'.
    #[arg(long, value_parser = name_and_pid)]
    pub watch_pid: Vec<(String, u32)>,
}

/// `churn` mode.
#[derive(Debug, Args)]
pub struct ChurnArgs {
    /// Server and source options.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Connect/disconnect cycles.
    #[arg(long, short = 'c', default_value_t = 2000)]
    pub cycles: usize,

    /// Stream ids the cycles go round (cycle k uses id k mod I).
    #[arg(long, default_value_t = 100)]
    pub ids: usize,

    /// Cycles in flight at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,

    /// Rounds of `--cycles` cycles, each followed by a drain and a memory
    /// reading: memory that keeps growing round after round is a leak, memory
    /// that stays level is the allocator's high-water mark.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,

    /// Cycles run before the memory baseline is taken (0 = baseline on the
    /// fresh server); the cold value is reported as well.
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,

    /// Stream ids are `<prefix>-<n>`.
    #[arg(long, default_value = "churn")]
    pub id_prefix: String,

    /// A path to `GET` first on each cycle's connection before the stream
    /// request (as `hold --first-request`): measures streams taken over
    /// from hyper instead of the direct path.
    #[arg(long)]
    pub first_request: Option<String>,

    /// Endpoint listing the active streams as a JSON array.
    #[arg(long, default_value = "/api/streams")]
    pub streams_path: String,

    /// How long to wait for that list to become empty.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Wait after the list is empty before measuring memory (let idle
    /// streams' retention run out).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
}

/// `publish` mode.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Server and source options.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Streams published to and subscribed to (`<prefix>-0` … `<prefix>-{S-1}`).
    #[arg(long, short = 's', default_value_t = 100)]
    pub streams: usize,

    /// Subscriber connections, spread round-robin over the streams
    /// (subscriber i joins stream i mod S); 0 measures publishing alone.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,

    /// Publisher tasks, each with one keep-alive connection and one request
    /// in flight at a time.
    #[arg(long, default_value_t = 50)]
    pub publishers: usize,

    /// How long the publishers run; acknowledgements and deliveries per
    /// second are over this window.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// Token with a `publish` grant on the streams, sent as
    /// `Authorization: Bearer <token>` (see `sse-hub token --publish`).
    #[arg(long)]
    pub token: String,

    /// Length of the padding string in each event's data, in bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,

    /// New subscriber connections per second while ramping up.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,

    /// Time allowed for one publish: connecting (when the connection must be
    /// made again) and, separately, sending and reading its whole answer. A
    /// publish that takes longer counts as `timeout` and its connection is
    /// dropped.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Wait after the publishers stop for the last deliveries to arrive,
    /// before the subscribers close.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub drain: Duration,

    /// Stream ids are `<prefix>-<n>`.
    #[arg(long, default_value = "pub")]
    pub stream_prefix: String,

    /// Bytes each subscriber reads at a time.
    #[arg(long, default_value_t = 2048)]
    pub read_buffer: usize,
}
