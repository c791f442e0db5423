//! The TCP listener: every accepted connection gets a write timeout, so a
//! client that stops reading is disconnected instead of holding buffers
//! forever, and each such disconnect is counted.

use super::stats::{bump, Stats};
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;

/// A [`TcpListener`] whose connections time out blocked writes.
pub struct HubListener {
    inner: TcpListener,
    write_timeout: Duration,
    stats: Arc<Stats>,
}

impl HubListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, write_timeout: Duration, stats: Arc<Stats>) -> Self {
        Self {
            inner,
            write_timeout,
            stats,
        }
    }
}

impl Listener for HubListener {
    type Io = TimedConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept loop logs and backs off on errors such as EMFILE.
        let (socket, peer) = Listener::accept(&mut self.inner).await;
        // Events are small and latency matters more than packet count.
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
        }
        let mut io = TimeoutStream::new(socket);
        io.set_write_timeout(Some(self.write_timeout));
        let connection = TimedConnection {
            io: Box::pin(io),
            stats: Arc::clone(&self.stats),
            peer,
        };
        (connection, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The peer address of a connection, for `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, HubListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, HubListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// An accepted connection with a write timeout; counts the disconnects the
/// timeout causes.
pub struct TimedConnection {
    io: Pin<Box<TimeoutStream<TcpStream>>>,
    stats: Arc<Stats>,
    peer: SocketAddr,
}

impl TimedConnection {
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = self.io.as_mut().poll_write(cx, buf);
        self.observe(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = self.io.as_mut().poll_write_vectored(cx, bufs);
        self.observe(result)
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
