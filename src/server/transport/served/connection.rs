//! A connection axum serves, with a write timeout and an idle timeout;
//! counts the disconnects the write timeout causes.

use super::handed_socket::HandedSocket;
use crate::server::stats::{bump, Stats};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_io_timeout::TimeoutStream;

/// An accepted connection with a write timeout and an idle timeout; counts
/// the disconnects the write timeout causes.
pub struct TimedConnection {
    io: Pin<Box<TimeoutStream<HandedSocket>>>,
    stats: Arc<Stats>,
    peer: SocketAddr,
    idle: Idle,
}

/// When a connection last moved a byte, and the timer that closes it once it
/// has been still for its timeout.
pub(crate) struct Idle {
    timeout: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Idle {
    /// Closes after `timeout` with nothing moving.
    pub(crate) fn new(timeout: Duration) -> Self {
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
    /// Wraps `io` for a client at `peer`.
    pub(crate) fn new(
        io: Pin<Box<TimeoutStream<HandedSocket>>>,
        stats: Arc<Stats>,
        peer: SocketAddr,
        idle: Idle,
    ) -> Self {
        Self {
            io,
            stats,
            peer,
            idle,
        }
    }

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
