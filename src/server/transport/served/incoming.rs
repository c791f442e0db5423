//! Serves the connections the gateway hands over with hyper's HTTP/1.1
//! server, driven here rather than through `axum::serve` so that hyper has a
//! timer: every request head on a connection, the first and each one after
//! it on a keep-alive connection, must arrive within the head deadline, and
//! no head may outgrow [`MAX_HEAD_BYTES`] (hyper answers `431`). Each
//! connection also gets a write timeout and an idle timeout on the way in.

use super::client::Client;
use super::connection::{Idle, TimedConnection};
use super::handed_socket::HandedSocket;
use crate::server::stats::Stats;
use crate::server::transport::open_sockets::OpenSocket;
use crate::server::transport::request_head::MAX_HEAD_BYTES;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A connection the gateway hands to axum, with what it already read.
pub struct Handoff {
    socket: HandedSocket,
    peer: SocketAddr,
}

impl Handoff {
    /// `received` are the bytes read from `socket` so far; axum reads them
    /// first.
    pub(crate) fn new(
        socket: TcpStream,
        counted: OpenSocket,
        peer: SocketAddr,
        received: Bytes,
    ) -> Self {
        Self {
            socket: HandedSocket::new(socket, counted, received),
            peer,
        }
    }
}

/// The timeouts of every connection hyper serves.
#[derive(Debug, Clone, Copy)]
pub struct ServedTimeouts {
    /// How long a write may stay blocked before the connection is dropped.
    pub write: Duration,
    /// How long a connection may sit with no byte moving either way; must
    /// exceed the longest silence of an open stream.
    pub idle: Duration,
    /// How long a request head may take to arrive, from the moment hyper
    /// starts waiting for it.
    pub head: Duration,
}

/// Serves what the gateway hands over until shutdown, then lets the open
/// connections finish their responses (hyper's graceful shutdown).
pub struct Handoffs {
    handoffs: mpsc::Receiver<Handoff>,
    timeouts: ServedTimeouts,
    stats: Arc<Stats>,
}

impl Handoffs {
    /// Serves what arrives on `handoffs`.
    pub fn new(
        handoffs: mpsc::Receiver<Handoff>,
        timeouts: ServedTimeouts,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            handoffs,
            timeouts,
            stats,
        }
    }

    /// Serves `app` on every handed-over connection until `shutdown` is
    /// cancelled, then tells each connection to finish after its current
    /// response and waits for them.
    pub async fn serve(mut self, app: Router, shutdown: CancellationToken) {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.timeouts.head)
            // hyper's read buffer: a head that does not fit is refused
            // with 431. hyper's minimum is 8 KiB.
            .max_buf_size(MAX_HEAD_BYTES.max(8 * 1024))
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        loop {
            let handoff = tokio::select! {
                () = shutdown.cancelled() => break,
                handoff = self.handoffs.recv() => handoff,
            };
            // The gateway has stopped: nothing more will come.
            let Some(handoff) = handoff else { break };
            let (connection, client) = self.timed(handoff);
            let app = app.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(client.clone()));
                    app.clone().oneshot(request)
                });
            let served = graceful.watch(http.serve_connection(TokioIo::new(connection), service));
            tokio::spawn(async move {
                if let Err(error) = served.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(self.handoffs);
        graceful.shutdown().await;
    }

    /// `handoff` with its timeouts, and who it comes from.
    fn timed(&self, handoff: Handoff) -> (TimedConnection, Client) {
        let Handoff { socket, peer } = handoff;
        let mut io = TimeoutStream::new(socket.clone());
        io.set_write_timeout(Some(self.timeouts.write));
        let client = Client::new(peer, socket.downgrade());
        let connection = TimedConnection::new(
            Box::pin(io),
            Arc::clone(&self.stats),
            peer,
            Idle::new(self.timeouts.idle),
        );
        (connection, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::transport::open_sockets::test_socket;
    use std::io;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::time::Instant;

    /// A connection as axum receives it, and the client's end of it.
    async fn handed_connection(idle_timeout: Duration) -> (TimedConnection, TcpStream, Arc<Stats>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (server, peer) = accepted.expect("accept");
        let stats = Arc::new(Stats::default());
        let (_handoff, handoffs) = mpsc::channel(1);
        let timeouts = ServedTimeouts {
            write: Duration::from_secs(30),
            idle: idle_timeout,
            head: Duration::from_secs(30),
        };
        let served = Handoffs::new(handoffs, timeouts, Arc::clone(&stats));
        let handoff = Handoff::new(server, test_socket(1), peer, Bytes::new());
        let (connection, _) = served.timed(handoff);
        (connection, client.expect("connect"), stats)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_still_for_the_idle_timeout_reads_as_closed() {
        let minute = Duration::from_secs(60);
        let (mut connection, _client, _stats) = handed_connection(minute).await;
        let mut buf = [0u8; 8];
        let started = Instant::now();
        assert!(
            tokio::time::timeout(minute / 2, connection.read(&mut buf))
                .await
                .is_err(),
            "open while it has been still for less than the timeout"
        );
        // A byte written counts as activity.
        connection.write_all(b"x").await.expect("write");
        let wrote_at = Instant::now();
        assert!(
            tokio::time::timeout(minute * 3 / 4, connection.read(&mut buf))
                .await
                .is_err(),
            "a write restarts the clock"
        );
        let read = tokio::time::timeout(minute * 2, connection.read(&mut buf))
            .await
            .expect("closed once idle");
        assert_eq!(read.expect("read"), 0, "read as the end of the connection");
        let still_for = wrote_at.elapsed();
        assert!(
            still_for >= minute && still_for < minute + Duration::from_secs(1),
            "closed {still_for:?} after the last write ({:?} in all)",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout_and_counted() {
        let (mut connection, _client, stats) = handed_connection(Duration::from_secs(600)).await;
        let chunk = vec![b'x'; 64 * 1024];
        let started = Instant::now();
        let failed = loop {
            // The client reads nothing: the socket buffers fill, then a
            // write blocks until the 30 s write timeout.
            if let Err(error) = connection.write_all(&chunk).await {
                break error;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "never timed out"
            );
        };
        assert_eq!(failed.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(30));
        assert_eq!(
            stats
                .slow_client_disconnected
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}
