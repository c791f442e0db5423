//! The connections axum serves: those the [gateway](super::gateway) hands
//! over, each a [`HandedSocket`] with the bytes already read from it put back
//! in front. Every one gets a write timeout, so a client that stops reading is
//! disconnected instead of holding buffers forever, and each such disconnect
//! is counted.

use super::handed_socket::HandedSocket;
use super::open_sockets::OpenSocket;
use super::stats::{bump, Stats};
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
/// over, with a write timeout on each.
pub struct HubListener {
    handoffs: mpsc::Receiver<Handoff>,
    local_addr: SocketAddr,
    write_timeout: Duration,
    stats: Arc<Stats>,
}

impl HubListener {
    /// Serves what arrives on `handoffs`; `local_addr` is the gateway's.
    pub fn new(
        handoffs: mpsc::Receiver<Handoff>,
        local_addr: SocketAddr,
        write_timeout: Duration,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            handoffs,
            local_addr,
            write_timeout,
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
        io.set_write_timeout(Some(self.write_timeout));
        let connection = TimedConnection {
            io: Box::pin(io),
            socket,
            stats: Arc::clone(&self.stats),
            peer,
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
    socket: Option<HandedSocket>,
}

impl Client {
    /// A client at `addr` whose connection cannot be taken over.
    pub fn at(addr: SocketAddr) -> Self {
        Self { addr, socket: None }
    }

    /// Takes the connection's socket away from hyper (see
    /// [`HandedSocket::detach`]); `None` if there is none or it was taken.
    pub(crate) fn take_socket(&self) -> Option<(TcpStream, OpenSocket)> {
        self.socket.as_ref().and_then(HandedSocket::detach)
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

/// An accepted connection with a write timeout; counts the disconnects the
/// timeout causes.
pub struct TimedConnection {
    io: Pin<Box<TimeoutStream<HandedSocket>>>,
    /// The socket under `io`, for [`Client`].
    socket: HandedSocket,
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
