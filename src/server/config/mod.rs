//! Command-line and environment configuration.
//!
//! One `clap` struct: every flag also reads `SSE_HUB_<FLAG>`, and its doc
//! comment is its `--help` text. [`Config::validate`] turns the parsed values
//! into the checked [`Settings`], built from each layer's own settings
//! struct, or a [`ConfigError`] whose message `main` prints before exiting
//! with code 2.

mod secret;

pub use secret::SecretArgs;

use super::http::tokens::TokenKeys;
use super::http::{AllowedHosts, Auth, BadOrigin, CorsPolicy, HttpSettings, PublishSettings};
use super::hub::HubSettings;
use super::producers::RandomSettings;
use super::store::{LocationError, StoreLocation};
use super::transport::TransportSettings;
use crate::model::{PatternError, StreamPatterns};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

/// File descriptors kept back from `--max-connections`' default for the
/// listener, logs, the static files being served and plain HTTP requests.
pub(crate) const FD_RESERVE: u64 = 256;

/// File descriptors never used for client sockets of any kind (the listener,
/// logs, static files): beyond the open-file limit minus these, the gateway
/// refuses new connections.
const SOCKET_FD_RESERVE: u64 = 64;

/// The smallest default per-address share of the socket budget: enough
/// for a household or an office behind one NAT address.
const MIN_SOCKETS_PER_IP: usize = 64;

/// Every setting of the server. Run `sse-hub --help` for the same text.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sse-hub",
    version,
    about = "A Server-Sent Events hub with a live browser UI"
)]
pub struct Config {
    /// A command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, env = "SSE_HUB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Milliseconds between two events of a stream.
    #[arg(long, env = "SSE_HUB_INTERVAL_MS", default_value_t = 10_000)]
    pub interval_ms: u64,

    /// Smallest number a generator emits.
    #[arg(long, env = "SSE_HUB_MIN", default_value_t = 1)]
    pub min: u32,

    /// Largest number a generator emits.
    #[arg(long, env = "SSE_HUB_MAX", default_value_t = 1000)]
    pub max: u32,

    /// Streams that get generated random numbers while they have
    /// subscribers: comma-separated exact ids, `*`, or prefixes ending in
    /// `*`; `none` for no generator. Other streams carry only published
    /// events.
    #[arg(long, env = "SSE_HUB_GENERATE", default_value = "*")]
    pub generate: String,

    /// Allowed CORS origins, comma-separated; `*` allows all. Default: any
    /// http://localhost:<port> or http://127.0.0.1:<port>.
    #[arg(long, env = "SSE_HUB_CORS_ORIGINS")]
    pub cors_origins: Option<String>,

    /// Log filter in tracing's syntax, e.g. `info` or `sse_hub=debug`.
    #[arg(long, env = "SSE_HUB_LOG", default_value = "info")]
    pub log: String,

    /// Log line format on stderr: `text` (for people) or `json` (one JSON
    /// object per line, for a log shipper).
    #[arg(long, env = "SSE_HUB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve `GET /metrics` on this address instead of the public one (a
    /// private network's scraper); without it, `/metrics` is on --addr.
    #[arg(long, env = "SSE_HUB_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Events each stream keeps for clients resuming with Last-Event-ID.
    #[arg(long, env = "SSE_HUB_HISTORY", default_value_t = 100)]
    pub history: usize,

    /// Milliseconds a stream's replay buffer is kept after its last client leaves.
    #[arg(long, env = "SSE_HUB_RETENTION_MS", default_value_t = 300_000)]
    pub retention_ms: u64,

    /// Milliseconds without an event after which a `: keep-alive` comment is sent.
    #[arg(long, env = "SSE_HUB_KEEP_ALIVE_MS", default_value_t = 15_000)]
    pub keep_alive_ms: u64,

    /// Reconnection delay sent to clients in `retry:` (plus up to 50% random jitter).
    #[arg(long, env = "SSE_HUB_RETRY_MS", default_value_t = 3_000)]
    pub retry_ms: u64,

    /// Most streams active at once; a new stream beyond it gets 503.
    #[arg(long, env = "SSE_HUB_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: usize,

    /// Most SSE connections open at once; beyond it 503. Default: the
    /// process's open-file limit minus a reserve of 256.
    #[arg(long, env = "SSE_HUB_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Most SSE connections from one IP address; beyond it 429. 0 = unlimited.
    #[arg(long, env = "SSE_HUB_MAX_CONNECTIONS_PER_IP", default_value_t = 0)]
    pub max_connections_per_ip: usize,

    /// Milliseconds a client may leave written data unread before it is disconnected.
    #[arg(long, env = "SSE_HUB_WRITE_TIMEOUT_MS", default_value_t = 30_000)]
    pub write_timeout_ms: u64,

    /// Most client sockets open at once, of any kind (streams, pages, idle
    /// connections). Default: the open-file limit minus 64.
    #[arg(long, env = "SSE_HUB_MAX_SOCKETS")]
    pub max_sockets: Option<usize>,

    /// Most client sockets open at once from one IP address; beyond it a
    /// new connection gets 429. Default: a tenth of --max-sockets, at least
    /// 64. 0 = no per-address share.
    #[arg(long, env = "SSE_HUB_MAX_SOCKETS_PER_IP")]
    pub max_sockets_per_ip: Option<usize>,

    /// New connections a second from one IP address (as a burst, refilled
    /// at that rate); beyond it 429. 0 = unlimited.
    #[arg(
        long,
        env = "SSE_HUB_MAX_CONNECTION_RATE_PER_IP",
        default_value_t = 500
    )]
    pub max_connection_rate_per_ip: u32,

    /// Milliseconds a request head (the first on a connection or any later
    /// one) may take to arrive before the connection is closed; a publish
    /// body has as long again after its head.
    #[arg(long, env = "SSE_HUB_HEAD_TIMEOUT_MS", default_value_t = 30_000)]
    pub head_timeout_ms: u64,

    /// Host names (the Host header, port ignored) this server answers for,
    /// comma-separated; `*` answers for any. Default: the --addr host,
    /// localhost, 127.0.0.1 and [::1] (and any IP address when --addr is
    /// 0.0.0.0 or [::]).
    #[arg(long, env = "SSE_HUB_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Streams only a token's `subscribe` grant opens, in the --generate
    /// syntax; default none.
    #[arg(long, env = "SSE_HUB_PRIVATE_STREAMS", default_value = "none")]
    pub private_streams: String,

    /// Largest publish body in bytes; a larger one gets 413.
    #[arg(long, env = "SSE_HUB_MAX_EVENT_BYTES", default_value_t = 65_536)]
    pub max_event_bytes: usize,

    /// Events a second one stream may be published (as a burst, refilled
    /// at that rate); beyond it 429. 0 = unlimited.
    #[arg(long, env = "SSE_HUB_MAX_PUBLISH_RATE", default_value_t = 1000)]
    pub max_publish_rate: u32,

    /// The token secret.
    #[command(flatten)]
    pub secret: SecretArgs,

    /// Where events are kept: a directory for the embedded durable store
    /// (created if missing; relative to the working directory), `memory`
    /// for nothing that outlives the process, or `redis://HOST:PORT[/DB]`
    /// (or `redis+cluster://HOST:PORT[,HOST:PORT…]`) for a store several
    /// instances share.
    #[arg(long, env = "SSE_HUB_STORE", default_value = "data")]
    pub store: String,

    /// This instance's name in a shared store's leases and in the logs.
    /// Default: the host name and a random suffix.
    #[arg(long, env = "SSE_HUB_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// With a shared store: how long a stream's lease (which makes one
    /// instance its generator) holds without renewal, in milliseconds; a
    /// dead leader is replaced within about this time.
    #[arg(long, env = "SSE_HUB_LEASE_MS", default_value_t = 3000)]
    pub lease_ms: u64,

    /// With a shared store: what every key name starts with, so that
    /// several hubs can share one Redis.
    #[arg(long, env = "SSE_HUB_KEY_PREFIX", default_value = "sse-hub")]
    pub key_prefix: String,

    /// Longest a generated event waits before it is committed to the disk
    /// store, in milliseconds: what a crash may lose of them. Published
    /// events are committed before they are acknowledged.
    #[arg(long, env = "SSE_HUB_STORE_FLUSH_MS", default_value_t = 100)]
    pub store_flush_ms: u64,

    /// Kernel send buffer per connection in bytes (SO_SNDBUF); 0 = the
    /// operating system's automatic sizing. Smaller detects stalled clients
    /// sooner and bounds kernel memory per connection.
    #[arg(long, env = "SSE_HUB_SEND_BUFFER_BYTES", default_value_t = 0)]
    pub send_buffer_bytes: u32,
}

/// The validated settings; built only by [`Config::validate`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Log filter.
    pub log: String,
    /// `--log-format`.
    pub log_format: LogFormat,
    /// `--metrics-addr`: where `/metrics` is served when not on `addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// What the hub needs: buffers, retention and limits.
    pub hub: HubSettings,
    /// What the random-number producer needs: its interval and range.
    pub random: RandomSettings,
    /// Which streams the random-number producer serves (`--generate`).
    pub generate: StreamPatterns,
    /// What the transports need: timeouts, socket budget, buffers.
    pub transport: TransportSettings,
    /// What the HTTP layer needs: CORS, the reconnection hint, tokens.
    pub http: HttpSettings,
    /// Whether the token secret is a random one made at start (no secret
    /// configured): the server then prints a token for it.
    pub random_secret: bool,
    /// Where events live and how often generated ones are committed.
    pub store: StoreSettings,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// tracing's readable lines.
    Text,
    /// One JSON object per line: timestamp, level, target, message and
    /// every field (stream, client, subscribers…) as its own key.
    Json,
}

/// The store part of [`Settings`].
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `--store`.
    pub location: StoreLocation,
    /// `--store-flush-ms`.
    pub flush: Duration,
    /// `--instance-id`, or the host name and a random suffix.
    pub instance_id: String,
    /// `--key-prefix`.
    pub key_prefix: String,
}

/// Longest `--instance-id` or `--key-prefix`.
const MAX_NAME_LEN: usize = 64;

/// Whether `name` is 1 to [`MAX_NAME_LEN`] characters of letters, digits
/// and `. _ - :` (safe in a Redis key, a lease token and a log line).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

/// `--instance-id`, checked, or a default: the host name (made plain) and
/// a random suffix, so that two instances on one host differ.
fn instance_id(given: Option<&str>) -> Result<String, ConfigError> {
    match given {
        Some(name) if is_plain_name(name) => Ok(name.to_owned()),
        Some(name) => Err(ConfigError::BadName {
            flag: "--instance-id",
            value: name.to_owned(),
        }),
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                .take(40)
                .collect::<String>();
            let host = if host.is_empty() {
                "sse-hub".to_owned()
            } else {
                host
            };
            Ok(format!("{host}-{:06x}", rand::random::<u32>() & 0xff_ffff))
        }
    }
}

/// `--key-prefix`, checked.
fn key_prefix(given: &str) -> Result<String, ConfigError> {
    if is_plain_name(given) {
        Ok(given.to_owned())
    } else {
        Err(ConfigError::BadName {
            flag: "--key-prefix",
            value: given.to_owned(),
        })
    }
}

/// What `sse-hub` can do besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Mint a token from the configured secret and print it.
    Token(TokenArgs),
    /// Look after a disk store.
    #[command(subcommand)]
    Store(StoreCommand),
}

/// `sse-hub store …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum StoreCommand {
    /// Print how many streams and events the store holds and its size.
    Stats(StorePath),
    /// Give a stopped store's free space back to the file system.
    Compact(StorePath),
}

/// The store a `sse-hub store` command works on.
#[derive(Debug, Clone, clap::Args)]
pub struct StorePath {
    /// The store's directory, as given to --store [default: --store,
    /// SSE_HUB_STORE or data].
    pub path: Option<String>,
}

/// `sse-hub token`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Streams the token may publish to (patterns as for --generate).
    #[arg(long, default_value = "")]
    pub publish: String,

    /// Private streams the token may read (patterns as for --generate).
    #[arg(long, default_value = "")]
    pub subscribe: String,

    /// How long the token is valid, e.g. 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,

    /// Who the token is for (its `sub` claim, logged by the server).
    #[arg(long)]
    pub sub: Option<String>,

    /// The secret to sign with.
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// A configuration that cannot work; the message is printed as is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `--min` above `--max`.
    #[error("--min ({min}) must not be greater than --max ({max})")]
    MinAboveMax {
        /// The given minimum.
        min: u32,
        /// The given maximum.
        max: u32,
    },
    /// A name flag (`--instance-id`, `--key-prefix`) with other characters.
    #[error("{flag} {value:?}: use 1 to 64 letters, digits and . _ - :")]
    BadName {
        /// The offending flag.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// A duration flag that must be positive is 0.
    #[error("{flag} must be at least 1 millisecond")]
    ZeroDuration {
        /// The offending flag.
        flag: &'static str,
    },
    /// A count flag that must be positive is 0.
    #[error("{flag} must be at least 1")]
    ZeroCount {
        /// The offending flag.
        flag: &'static str,
    },
    /// `--generate` does not parse.
    #[error("--generate: {0}")]
    BadPattern(#[from] PatternError),
    /// `--private-streams` does not parse.
    #[error("--private-streams: {0}")]
    BadPrivatePattern(PatternError),
    /// The secret file cannot be read.
    #[error("--jwt-secret-file {path}: {reason}")]
    SecretFile {
        /// The path given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The secret is empty.
    #[error("the token secret is empty")]
    EmptySecret,
    /// The secret cannot key HS256.
    #[error("the token secret cannot be used: {0}")]
    BadSecret(String),
    /// An entry of `--cors-origins` is not an origin.
    #[error(transparent)]
    BadOrigin(#[from] BadOrigin),
    /// `--store` names nothing this build can use.
    #[error(transparent)]
    BadStore(#[from] LocationError),
}

impl Config {
    /// Checks the values against each other and fills in computed defaults.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        if self.min > self.max {
            return Err(ConfigError::MinAboveMax {
                min: self.min,
                max: self.max,
            });
        }
        for (flag, value) in [
            ("--interval-ms", self.interval_ms),
            ("--keep-alive-ms", self.keep_alive_ms),
            ("--retry-ms", self.retry_ms),
            ("--write-timeout-ms", self.write_timeout_ms),
            ("--head-timeout-ms", self.head_timeout_ms),
            ("--store-flush-ms", self.store_flush_ms),
            ("--lease-ms", self.lease_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroDuration { flag });
            }
        }
        for (flag, value) in [
            ("--history", self.history),
            ("--max-streams", self.max_streams),
            ("--max-connections", self.max_connections.unwrap_or(1)),
            ("--max-sockets", self.max_sockets.unwrap_or(1)),
            ("--max-event-bytes", self.max_event_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroCount { flag });
            }
        }
        let retry = Duration::from_millis(self.retry_ms);
        let max_sockets = self
            .max_sockets
            .unwrap_or_else(|| open_file_limit_minus(SOCKET_FD_RESERVE));
        let max_sockets_per_ip = self
            .max_sockets_per_ip
            .unwrap_or_else(|| default_sockets_per_ip(max_sockets));
        let private =
            StreamPatterns::parse(&self.private_streams).map_err(ConfigError::BadPrivatePattern)?;
        let configured = self.secret.keys()?;
        let random_secret = configured.is_none();
        let keys = match configured {
            Some(keys) => keys,
            None => {
                TokenKeys::random().map_err(|error| ConfigError::BadSecret(error.to_string()))?
            }
        };
        let store = StoreSettings {
            location: StoreLocation::parse(&self.store)?,
            flush: Duration::from_millis(self.store_flush_ms),
            instance_id: instance_id(self.instance_id.as_deref())?,
            key_prefix: key_prefix(&self.key_prefix)?,
        };
        Ok(Settings {
            store,
            random_secret,
            addr: self.addr,
            log: self.log.clone(),
            log_format: self.log_format,
            metrics_addr: self.metrics_addr,
            hub: HubSettings {
                history: self.history,
                retention: Duration::from_millis(self.retention_ms),
                keep_alive: Duration::from_millis(self.keep_alive_ms),
                max_streams: self.max_streams,
                max_connections: self.max_connections.unwrap_or_else(default_max_connections),
                max_connections_per_ip: self.max_connections_per_ip,
                lease: Duration::from_millis(self.lease_ms),
            },
            generate: StreamPatterns::parse(&self.generate)?,
            random: RandomSettings {
                interval: Duration::from_millis(self.interval_ms),
                min: self.min,
                max: self.max,
            },
            transport: TransportSettings {
                write_timeout: Duration::from_millis(self.write_timeout_ms),
                retry,
                send_buffer_bytes: (self.send_buffer_bytes > 0).then_some(self.send_buffer_bytes),
                max_sockets,
                max_sockets_per_ip,
                connection_rate_per_ip: self.max_connection_rate_per_ip,
                head_timeout: Duration::from_millis(self.head_timeout_ms),
            },
            http: HttpSettings {
                cors: CorsPolicy::parse(self.cors_origins.as_deref())?,
                allowed_hosts: AllowedHosts::parse(self.allowed_hosts.as_deref(), self.addr),
                retry,
                auth: Auth { keys, private },
                publish: PublishSettings {
                    max_event_bytes: self.max_event_bytes,
                    max_publish_rate: self.max_publish_rate,
                    body_timeout: Duration::from_millis(self.head_timeout_ms),
                },
            },
        })
    }
}

/// One address's default share of `max_sockets`: a tenth, at least
/// [`MIN_SOCKETS_PER_IP`], never more than all.
fn default_sockets_per_ip(max_sockets: usize) -> usize {
    (max_sockets / 10).max(MIN_SOCKETS_PER_IP).min(max_sockets)
}

/// The open-file limit minus [`FD_RESERVE`]: each SSE connection holds one
/// socket, and the server needs a few descriptors of its own.
fn default_max_connections() -> usize {
    open_file_limit_minus(FD_RESERVE)
}

/// The process's open-file limit minus `reserve` (at least 1).
fn open_file_limit_minus(reserve: u64) -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _hard)| soft)
        .unwrap_or(1024);
    let usable = soft.saturating_sub(reserve).max(1);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["sse-hub"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).expect("arguments parse")
    }

    #[test]
    fn defaults_match_the_documentation() {
        let settings = config(&[]).validate().expect("defaults are valid");
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.random.interval, Duration::from_secs(10));
        assert_eq!((settings.random.min, settings.random.max), (1, 1000));
        assert_eq!(settings.http.cors, CorsPolicy::Localhost);
        assert_eq!(settings.hub.history, 100);
        assert!(settings.hub.max_connections >= 1);
    }

    #[test]
    fn rejects_inconsistent_values() {
        assert_eq!(
            config(&["--min", "5", "--max", "4"]).validate().err(),
            Some(ConfigError::MinAboveMax { min: 5, max: 4 })
        );
        assert_eq!(
            config(&["--interval-ms", "0"]).validate().err(),
            Some(ConfigError::ZeroDuration {
                flag: "--interval-ms"
            })
        );
        assert!(matches!(
            config(&["--cors-origins", "not an origin"]).validate(),
            Err(ConfigError::BadOrigin(_))
        ));
    }
}
