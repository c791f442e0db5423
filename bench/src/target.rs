//! The server under test: its address, and the loopback source addresses
//! the load is spread over.

use anyhow::{bail, Context, Result};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpSocket, TcpStream};

/// Connections one source address is planned for: comfortably below the
/// ~28,000 ephemeral ports Linux offers by default, which is what a client
/// that lets the kernel pick its port can count on.
pub const CONNECTIONS_PER_SOURCE: usize = 25_000;

/// Lowest local port the loader binds to.
const FIRST_PORT: u16 = 10_000;

/// Where to connect and what to send as `Host`.
#[derive(Debug)]
pub struct Target {
    /// Resolved server address.
    pub addr: SocketAddr,
    /// The `host:port` part of the URL, for the `Host` header.
    pub host: String,
    /// Source addresses to bind to, used round-robin, each with the next
    /// port to try; empty = let the kernel pick.
    sources: Vec<Source>,
    /// Connects retried on another local port.
    port_retries: AtomicUsize,
}

/// One loopback source address and its port cursor.
#[derive(Debug)]
struct Source {
    ip: IpAddr,
    next_port: AtomicUsize,
}

impl Target {
    /// Parses an `http://host:port` URL and plans `sources` loopback source
    /// addresses (127.0.0.1, 127.0.0.2, …) when the server is on loopback.
    pub fn new(url: &str, sources: usize) -> Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("only http:// URLs are supported, got {url:?}");
        };
        let host = rest.split('/').next().unwrap_or_default().to_owned();
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host:?}"))?
            .find(SocketAddr::is_ipv4)
            .with_context(|| format!("{host:?} has no IPv4 address"))?;
        let sources = if addr.ip().is_loopback() {
            loopback_sources(sources)?
        } else {
            Vec::new()
        };
        Ok(Self {
            addr,
            host,
            sources,
            port_retries: AtomicUsize::new(0),
        })
    }

    /// How many source addresses connections are spread over.
    pub fn source_count(&self) -> usize {
        self.sources.len().max(1)
    }

    /// Opens connection number `n`, bound to its source address.
    ///
    /// The loader picks the local port itself, walking the range from a
    /// random start: when the kernel picks it, `connect` searches the port
    /// range for a free 4-tuple toward the one server address, a cost that
    /// grows with every open connection and, at ~20,000 of them, keeps the
    /// loader's threads busy in the kernel instead of reading.
    pub async fn connect(&self, n: usize) -> io::Result<TcpStream> {
        let Some(source) = self.sources.get(n % self.sources.len().max(1)) else {
            return TcpSocket::new_v4()?.connect(self.addr).await;
        };
        let mut attempt = 0;
        loop {
            let socket = TcpSocket::new_v4()?;
            // Lets the port of a TIME_WAIT socket from an earlier run (toward
            // another server port) be bound again: three scenarios back to
            // back leave more of them than the port range holds.
            socket.set_reuseaddr(true)?;
            bind_free_port(&socket, source)?;
            match socket.connect(self.addr).await {
                // The 4-tuple clashed with a socket that still holds it (such
                // as a TIME_WAIT one): that is the loader's port choice, so
                // try the next port.
                Err(error) if is_local_clash(&error) && attempt < CONNECT_ATTEMPTS => {
                    attempt += 1;
                    self.port_retries.fetch_add(1, Ordering::Relaxed);
                }
                result => return result,
            }
        }
    }

    /// How many connects were retried on another local port so far.
    pub fn port_retries(&self) -> usize {
        self.port_retries.load(Ordering::Relaxed)
    }
}

/// Extra local ports tried when `connect` reports a clash.
const CONNECT_ATTEMPTS: usize = 8;

/// `connect` errors that mean the local address, not the server, is at fault.
fn is_local_clash(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable
    )
}

/// Binds `socket` to the source address and the next free port.
fn bind_free_port(socket: &TcpSocket, source: &Source) -> io::Result<()> {
    let range = usize::from(u16::MAX - FIRST_PORT) + 1;
    let mut last_error = None;
    // Ports held by other sockets, such as the `TIME_WAIT` ones an earlier run
    // left behind, are skipped; the cursor is shared, so each is skipped once.
    for _ in 0..range {
        let offset = source.next_port.fetch_add(1, Ordering::Relaxed) % range;
        let port = FIRST_PORT + u16::try_from(offset).unwrap_or(0);
        match socket.bind(SocketAddr::new(source.ip, port)) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

/// 127.0.0.1 … 127.0.0.`count`, each starting at a random port.
fn loopback_sources(count: usize) -> Result<Vec<Source>> {
    if count == 0 || count > 254 {
        bail!("--sources must be between 1 and 254, got {count}");
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize)
        ^ (std::process::id() as usize).wrapping_mul(7919);
    Ok((1..=count)
        .map(|last| Source {
            ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, last as u8)),
            next_port: AtomicUsize::new(seed.wrapping_add(last * 4099) % 65_536),
        })
        .collect())
}

/// The default number of source addresses for `connections` connections.
pub fn default_sources(connections: usize) -> usize {
    connections.div_ceil(CONNECTIONS_PER_SOURCE).max(1)
}

/// The process's open-file limit (soft), if it can be read.
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_default_to_one_per_25000_connections() {
        assert_eq!(default_sources(1), 1);
        assert_eq!(default_sources(19_500), 1);
        assert_eq!(default_sources(25_001), 2);
        assert_eq!(default_sources(60_000), 3);
    }

    #[test]
    fn parses_the_url_and_plans_loopback_sources() {
        let target = Target::new("http://127.0.0.1:8080/ignored", 3).expect("valid");
        assert_eq!(target.addr, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(target.host, "127.0.0.1:8080");
        assert_eq!(target.source_count(), 3);
        assert!(Target::new("https://127.0.0.1:1", 1).is_err());
        assert!(Target::new("http://127.0.0.1:1", 0).is_err());
    }
}
