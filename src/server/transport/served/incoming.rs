//! The [`Listener`] axum serves: the connections the gateway hands over,
//! each given a write timeout and an idle timeout on the way in.

use super::connection::{Idle, TimedConnection};
use super::handed_socket::HandedSocket;
use crate::server::stats::Stats;
use crate::server::transport::open_sockets::OpenSocket;
use axum::serve::Listener;
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_io_timeout::TimeoutStream;

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

/// The [`Listener`] axum serves: it yields the connections the gateway hands
/// over, with a write timeout and an idle timeout on each.
pub struct Handoffs {
    handoffs: mpsc::Receiver<Handoff>,
    local_addr: SocketAddr,
    write_timeout: Duration,
    idle_timeout: Duration,
    stats: Arc<Stats>,
}

impl Handoffs {
    /// Serves what arrives on `handoffs`; `local_addr` is the gateway's. A
    /// connection on which no byte moves either way for `idle_timeout` is
    /// closed: it must exceed the longest silence of an open stream.
    pub fn new(
        handoffs: mpsc::Receiver<Handoff>,
        local_addr: SocketAddr,
        write_timeout: Duration,
        idle_timeout: Duration,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            handoffs,
            local_addr,
            write_timeout,
            idle_timeout,
            stats,
        }
    }
}

impl Listener for Handoffs {
    type Io = TimedConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let Some(Handoff { socket, peer }) = self.handoffs.recv().await else {
            // The gateway has stopped: nothing more will come.
            return std::future::pending().await;
        };
        let mut io = TimeoutStream::new(socket.clone());
        let socket = socket.downgrade();
        io.set_write_timeout(Some(self.write_timeout));
        let connection = TimedConnection::new(
            Box::pin(io),
            socket,
            Arc::clone(&self.stats),
            peer,
            Idle::new(self.idle_timeout),
        );
        (connection, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let counted = OpenSocket::try_count(&stats, 1).expect("room");
        let (handoff, handoffs) = mpsc::channel(1);
        let mut hub_listener = Handoffs::new(
            handoffs,
            addr,
            Duration::from_secs(30),
            idle_timeout,
            Arc::clone(&stats),
        );
        handoff
            .send(Handoff::new(server, counted, peer, Bytes::new()))
            .await
            .expect("queued");
        let (connection, _) = hub_listener.accept().await;
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
