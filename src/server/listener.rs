//! The connections axum serves: those the [gateway](super::gateway) hands
//! over, each a [`HandedSocket`] with the bytes already read from it put back
//! in front. Every one gets a write timeout, so a client that stops reading is
//! disconnected instead of holding buffers forever, and each such disconnect
//! is counted; and an idle timeout, so that a keep-alive connection on which
//! nothing moves either way does not hold a socket forever (axum's server
//! sets no such limit).

use super::handed_socket::{HandedSocket, HandedSocketRef};
use super::open_sockets::OpenSocket;
use super::stats::{bump, Stats};
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use bytes::Bytes;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
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
pub struct HubListener {
    handoffs: mpsc::Receiver<Handoff>,
    local_addr: SocketAddr,
    write_timeout: Duration,
    idle_timeout: Duration,
    stats: Arc<Stats>,
}

impl HubListener {
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

impl Listener for HubListener {
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
        let connection = TimedConnection {
            io: Box::pin(io),
            socket,
            stats: Arc::clone(&self.stats),
            peer,
            idle: Idle::new(self.idle_timeout),
        };
        (connection, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Who sent a request, for `ConnectInfo`: the peer address, and the socket
/// so that a stream handler can take the connection over.
#[derive(Clone)]
pub struct Client {
    /// The peer address.
    pub addr: SocketAddr,
    /// The connection's socket; `None` where there is none to take (a
    /// request built in a test).
    socket: Option<HandedSocketRef>,
}

impl Client {
    /// A client at `addr` whose connection cannot be taken over.
    pub fn at(addr: SocketAddr) -> Self {
        Self { addr, socket: None }
    }

    /// Takes the connection's socket away from hyper (see
    /// [`HandedSocket::detach`]); `None` if there is none or it was taken.
    pub(crate) fn take_socket(&self) -> Option<(TcpStream, OpenSocket)> {
        self.socket.as_ref().and_then(HandedSocketRef::detach)
    }
}

impl Connected<IncomingStream<'_, HubListener>> for Client {
    fn connect_info(stream: IncomingStream<'_, HubListener>) -> Self {
        Self {
            addr: *stream.remote_addr(),
            socket: Some(stream.io().socket.clone()),
        }
    }
}

/// An accepted connection with a write timeout and an idle timeout; counts
/// the disconnects the write timeout causes.
pub struct TimedConnection {
    io: Pin<Box<TimeoutStream<HandedSocket>>>,
    /// The socket under `io`, for [`Client`].
    socket: HandedSocketRef,
    stats: Arc<Stats>,
    peer: SocketAddr,
    idle: Idle,
}

/// When a connection last moved a byte, and the timer that closes it once it
/// has been still for its timeout.
struct Idle {
    timeout: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Idle {
    fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            timeout,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Bytes moved: the connection is not idle.
    fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Ready once nothing has moved for the timeout; otherwise arms the timer
    /// to wake `cx` when that may be so.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let deadline = self.last_activity + self.timeout;
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl TimedConnection {
    /// Notes a write's progress, and counts one that timed out.
    fn wrote(&mut self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.idle.touch();
        }
        self.observe(result)
    }

    /// Counts and logs a write that timed out; passes every result through.
    fn observe<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(error)) = &result {
            if error.kind() == io::ErrorKind::TimedOut {
                let total = bump(&self.stats.slow_client_disconnected);
                tracing::warn!(client = %self.peer, disconnected_total = total, "disconnected a client that stopped reading");
            }
        }
        result
    }
}

impl AsyncRead for TimedConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = this.io.as_mut().poll_read(cx, buf);
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => this.idle.touch(),
            // Idle too long: ends the connection as if the client had closed
            // it (an idle keep-alive connection is between requests).
            Poll::Pending if this.idle.poll_expired(cx).is_ready() => {
                return Poll::Ready(Ok(()));
            }
            _ => {}
        }
        read
    }
}

impl AsyncWrite for TimedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = self.io.as_mut().poll_write(cx, buf);
        self.wrote(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = self.io.as_mut().poll_write_vectored(cx, bufs);
        self.wrote(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.io.as_mut().poll_flush(cx);
        self.observe(result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A connection as axum receives it, and the client's end of it.
    async fn handed_connection(idle_timeout: Duration) -> (TimedConnection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (server, peer) = accepted.expect("accept");
        let stats = Arc::new(Stats::default());
        let counted = OpenSocket::try_count(&stats, 1).expect("room");
        let (handoff, handoffs) = mpsc::channel(1);
        let mut hub_listener =
            HubListener::new(handoffs, addr, Duration::from_secs(30), idle_timeout, stats);
        handoff
            .send(Handoff::new(server, counted, peer, Bytes::new()))
            .await
            .expect("queued");
        let (connection, _) = hub_listener.accept().await;
        (connection, client.expect("connect"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_still_for_the_idle_timeout_reads_as_closed() {
        let minute = Duration::from_secs(60);
        let (mut connection, _client) = handed_connection(minute).await;
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
        let (mut connection, _client) = handed_connection(Duration::from_secs(600)).await;
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
            connection
                .stats
                .slow_client_disconnected
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}
