//! Command-line and environment configuration.
//!
//! One `clap` struct: every flag also reads `SSE_HUB_<FLAG>`, and its doc
//! comment is its `--help` text. [`Config::validate`] turns the parsed values
//! into the checked settings the rest of the server uses, or a
//! [`ConfigError`] whose message `main` prints before exiting with code 2.

use super::hub::HubSettings;
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

/// Every setting of the server. Run `sse-hub --help` for the same text.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sse-hub",
    version,
    about = "A Server-Sent Events hub with a live browser UI"
)]
pub struct Config {
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

    /// Allowed CORS origins, comma-separated; `*` allows all. Default: any
    /// http://localhost:<port> or http://127.0.0.1:<port>.
    #[arg(long, env = "SSE_HUB_CORS_ORIGINS")]
    pub cors_origins: Option<String>,

    /// Log filter in tracing's syntax, e.g. `info` or `sse_hub=debug`.
    #[arg(long, env = "SSE_HUB_LOG", default_value = "info")]
    pub log: String,

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

    /// Kernel send buffer per connection in bytes (SO_SNDBUF); 0 = the
    /// operating system's automatic sizing. Smaller detects stalled clients
    /// sooner and bounds kernel memory per connection.
    #[arg(long, env = "SSE_HUB_SEND_BUFFER_BYTES", default_value_t = 0)]
    pub send_buffer_bytes: u32,
}

/// Which origins may read the API from another page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    /// Any `http://localhost:<port>` or `http://127.0.0.1:<port>`.
    Localhost,
    /// Every origin (`*`).
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

impl CorsPolicy {
    /// Whether a page from `origin` (the `Origin` header) may read responses.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            Self::Localhost => is_localhost_origin(origin),
            Self::Any => true,
            Self::List(list) => list.iter().any(|allowed| allowed.as_bytes() == origin),
        }
    }
}

/// The validated settings; built only by [`Config::validate`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind.
    pub addr: SocketAddr,
    /// What the hub needs: timing, numbers, buffers and limits.
    pub hub: HubSettings,
    /// CORS policy.
    pub cors: CorsPolicy,
    /// Log filter.
    pub log: String,
    /// Base reconnection delay announced to clients.
    pub retry: Duration,
    /// How long a write may stay blocked before the connection is dropped.
    pub write_timeout: Duration,
    /// SO_SNDBUF for accepted sockets; `None` leaves the kernel's default.
    pub send_buffer_bytes: Option<u32>,
    /// Most client sockets open at once, of any kind: the open-file limit
    /// minus a small reserve, so that descriptors never run out.
    pub max_sockets: usize,
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
    /// An entry of `--cors-origins` is not an origin.
    #[error("--cors-origins entry {0:?} is not an origin like http://example.com:8080")]
    BadOrigin(String),
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
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroDuration { flag });
            }
        }
        for (flag, value) in [
            ("--history", self.history),
            ("--max-streams", self.max_streams),
            ("--max-connections", self.max_connections.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroCount { flag });
            }
        }
        Ok(Settings {
            addr: self.addr,
            hub: HubSettings {
                interval: Duration::from_millis(self.interval_ms),
                min: self.min,
                max: self.max,
                history: self.history,
                retention: Duration::from_millis(self.retention_ms),
                keep_alive: Duration::from_millis(self.keep_alive_ms),
                max_streams: self.max_streams,
                max_connections: self.max_connections.unwrap_or_else(default_max_connections),
                max_connections_per_ip: self.max_connections_per_ip,
            },
            cors: parse_cors(self.cors_origins.as_deref())?,
            log: self.log.clone(),
            retry: Duration::from_millis(self.retry_ms),
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            send_buffer_bytes: (self.send_buffer_bytes > 0).then_some(self.send_buffer_bytes),
            max_sockets: open_file_limit_minus(SOCKET_FD_RESERVE),
        })
    }
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

/// Parses `--cors-origins`.
fn parse_cors(raw: Option<&str>) -> Result<CorsPolicy, ConfigError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(CorsPolicy::Localhost);
    };
    if raw == "*" {
        return Ok(CorsPolicy::Any);
    }
    let origins = raw
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            if is_origin(origin) {
                Ok(origin.to_owned())
            } else {
                Err(ConfigError::BadOrigin(origin.to_owned()))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsPolicy::List(origins))
}

/// `scheme://host[:port]` with nothing after it, as browsers send in `Origin`.
fn is_origin(candidate: &str) -> bool {
    let Some((scheme, rest)) = candidate.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' '])
        && rest.is_ascii()
}

/// `true` for the origins the default policy admits: a page served from this
/// machine over plain HTTP on any port.
pub(crate) fn is_localhost_origin(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    ["http://localhost", "http://127.0.0.1"].iter().any(|host| {
        origin.strip_prefix(host).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                })
        })
    })
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
        assert_eq!(settings.hub.interval, Duration::from_secs(10));
        assert_eq!((settings.hub.min, settings.hub.max), (1, 1000));
        assert_eq!(settings.cors, CorsPolicy::Localhost);
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

    #[test]
    fn cors_list_and_wildcard_parse() {
        assert_eq!(parse_cors(Some("*")), Ok(CorsPolicy::Any));
        assert_eq!(
            parse_cors(Some("https://a.example, http://b.example:81")),
            Ok(CorsPolicy::List(vec![
                "https://a.example".into(),
                "http://b.example:81".into()
            ]))
        );
    }

    #[test]
    fn localhost_origins_are_recognised_exactly() {
        assert!(is_localhost_origin(b"http://localhost:3000"));
        assert!(is_localhost_origin(b"http://127.0.0.1:8080"));
        assert!(is_localhost_origin(b"http://localhost"));
        assert!(!is_localhost_origin(b"http://localhost.evil.example"));
        assert!(!is_localhost_origin(b"http://localhost:80x"));
        assert!(!is_localhost_origin(b"https://evil.example"));
    }
}
