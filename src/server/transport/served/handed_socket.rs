//! The socket of a connection the [gateway](super::gateway) hands to axum,
//! shared so that the stream handler can take it back.
//!
//! Browsers open their `EventSource` on a keep-alive connection that already
//! carried the page or its files, so most browser streams arrive at axum, not
//! as the first request the gateway sees. hyper keeps two 8 KiB buffers per
//! connection for as long as it is open; a stream that stayed in hyper would
//! cost four times what one on the direct path costs. So the handler takes
//! the socket over ([`HandedSocket::detach`]) and streams on it directly, as
//! the gateway does with a connection whose first request is a stream; hyper
//! is left with a connection that swallows what it writes (the placeholder
//! response) and reads as closed, so it finishes and frees its buffers.

use crate::server::transport::open_sockets::OpenSocket;
use bytes::{Buf, Bytes};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A handed-over socket, with the bytes the gateway already read from it put
/// back in front. hyper reads and writes it; [`detach`](Self::detach) moves the
/// socket out. Clones share the socket.
#[derive(Clone)]
pub struct HandedSocket {
    shared: Arc<Mutex<Handed>>,
}

/// What the clones share.
struct Handed {
    /// Bytes read by the gateway that hyper has not read yet.
    unread: Bytes,
    /// The socket, until it is taken over.
    socket: Option<TcpStream>,
    /// Counts the socket as open; leaves with it.
    counted: Option<OpenSocket>,
    /// hyper offered bytes the socket did not take (yet): it still holds
    /// part of a response, which a new owner would cut off. Cleared when
    /// hyper's flush reaches the socket, which it does only once its own
    /// buffer is empty.
    output_pending: bool,
    /// Who waits for the socket to become readable (hyper, between
    /// requests). The new owner's reads take the socket's one read waker
    /// slot, so [`HandedSocket::detach`] wakes this one itself: hyper then
    /// reads the end of the connection and lets it go.
    waiting_reader: Option<Waker>,
}

impl HandedSocket {
    /// `received` are the bytes read from `socket` so far; reads return them
    /// first.
    pub(crate) fn new(socket: TcpStream, counted: OpenSocket, received: Bytes) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Handed {
                unread: received,
                socket: Some(socket),
                counted: Some(counted),
                output_pending: false,
                waiting_reader: None,
            })),
        }
    }

    /// A handle that can [`detach`](HandedSocketRef::detach) this socket
    /// without keeping it open: what requests carry, so that a request kept
    /// after its connection ended does not hold the socket.
    pub(crate) fn downgrade(&self) -> HandedSocketRef {
        HandedSocketRef(Arc::downgrade(&self.shared))
    }

    /// Takes the socket away from hyper, which from then on reads the end of
    /// the connection and whose writes go nowhere. `None` if it was taken
    /// already, or while hyper still has part of a response to write. Bytes
    /// received but not read yet are dropped: a client sends nothing after a
    /// stream request (and the stream handler's placeholder answer tells
    /// hyper to parse nothing more).
    pub(crate) fn detach(&self) -> Option<(TcpStream, OpenSocket)> {
        let (socket, counted, reader) = {
            let mut handed = self.lock();
            if handed.output_pending {
                return None;
            }
            handed.unread.clear();
            (
                handed.socket.take(),
                handed.counted.take(),
                handed.waiting_reader.take(),
            )
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        // Out of hyper: no file will be opened for it.
        let counted = counted.map(|mut counted| {
            counted.release_file_slot();
            counted
        });
        socket.zip(counted)
    }

    /// The shared state. Nothing here can panic while holding the lock, but a
    /// poisoned lock still holds a usable socket.
    fn lock(&self) -> MutexGuard<'_, Handed> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Handed {
    /// Remembers whether a write left some of what hyper offered unwritten.
    fn note_write(&mut self, wrote: &Poll<io::Result<usize>>, offered: usize) {
        match wrote {
            Poll::Ready(Ok(written)) if *written >= offered => {}
            _ => self.output_pending = true,
        }
    }
}

/// A [`HandedSocket`] that does not keep the connection open.
#[derive(Clone)]
pub(crate) struct HandedSocketRef(Weak<Mutex<Handed>>);

impl HandedSocketRef {
    /// [`HandedSocket::detach`], while the connection is still open.
    pub(crate) fn detach(&self) -> Option<(TcpStream, OpenSocket)> {
        let shared = self.0.upgrade()?;
        HandedSocket { shared }.detach()
    }
}

impl AsyncRead for HandedSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut handed = self.lock();
        if !handed.unread.is_empty() {
            let n = handed.unread.len().min(buf.remaining());
            buf.put_slice(&handed.unread[..n]);
            handed.unread.advance(n);
            return Poll::Ready(Ok(()));
        }
        let Some(socket) = handed.socket.as_mut() else {
            // Taken over: the end of the connection, as far as hyper knows.
            return Poll::Ready(Ok(()));
        };
        let read = Pin::new(socket).poll_read(cx, buf);
        handed.waiting_reader = read.is_pending().then(|| cx.waker().clone());
        read
    }
}

impl AsyncWrite for HandedSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut handed = self.lock();
        let Some(socket) = handed.socket.as_mut() else {
            return Poll::Ready(Ok(buf.len()));
        };
        let wrote = Pin::new(socket).poll_write(cx, buf);
        handed.note_write(&wrote, buf.len());
        wrote
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let offered = bufs.iter().map(|buf| buf.len()).sum();
        let mut handed = self.lock();
        let Some(socket) = handed.socket.as_mut() else {
            return Poll::Ready(Ok(offered));
        };
        let wrote = Pin::new(socket).poll_write_vectored(cx, bufs);
        handed.note_write(&wrote, offered);
        wrote
    }

    fn is_write_vectored(&self) -> bool {
        // A TCP socket writes vectors, and so does the void.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut handed = self.lock();
        let Some(socket) = handed.socket.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let flushed = Pin::new(socket).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            handed.output_pending = false;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.lock().socket.as_mut() {
            Some(socket) => Pin::new(socket).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::transport::test_pair::connected_pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A counted socket, as the gateway makes them.
    fn counted() -> OpenSocket {
        crate::server::transport::open_sockets::test_socket(1)
    }

    #[tokio::test]
    async fn reads_what_was_received_first_then_the_socket() {
        let (server, mut client) = connected_pair().await;
        let mut handed = HandedSocket::new(server, counted(), Bytes::from_static(b"GET / "));
        client.write_all(b"HTTP/1.1\r\n").await.expect("send");
        let mut received = vec![0u8; 16];
        let mut total = 0;
        while total < 16 {
            total += handed.read(&mut received[total..]).await.expect("read");
        }
        assert_eq!(received, b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn once_taken_hyper_reads_the_end_and_writes_nowhere() {
        let (server, mut client) = connected_pair().await;
        let mut handed = HandedSocket::new(server, counted(), Bytes::from_static(b"unread"));
        let (mut taken, _counted) = handed.detach().expect("the socket");
        assert!(handed.detach().is_none(), "taken once only");

        let mut buf = [0u8; 8];
        assert_eq!(handed.read(&mut buf).await.expect("read"), 0);
        handed.write_all(b"placeholder").await.expect("swallowed");
        handed.shutdown().await.expect("a no-op");
        drop(handed);

        // The client hears only the new owner, on a connection still open.
        taken.write_all(b"stream").await.expect("write");
        drop(taken);
        let mut heard = Vec::new();
        client.read_to_end(&mut heard).await.expect("read");
        assert_eq!(heard, b"stream");
    }

    #[tokio::test]
    async fn a_reader_waiting_on_the_socket_reads_the_end_once_it_is_taken() {
        let (server, _client) = connected_pair().await;
        let handed = HandedSocket::new(server, counted(), Bytes::new());
        let mut hyper_side = handed.clone();
        let waiting = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            hyper_side.read(&mut buf).await
        });
        // Let the reader park on the socket (nothing arrives), then take it.
        while handed.lock().waiting_reader.is_none() {
            tokio::task::yield_now().await;
        }
        let _taken = handed.detach().expect("the socket");
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken, not left waiting")
            .expect("the task ran");
        assert_eq!(read.expect("read"), 0);
    }

    #[tokio::test]
    async fn a_response_hyper_has_not_finished_writing_keeps_the_socket() {
        let (server, mut client) = connected_pair().await;
        let mut handed = HandedSocket::new(server, counted(), Bytes::new());
        // The client reads nothing, so this write cannot finish.
        let big = vec![b'x'; 16 * 1024 * 1024];
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            handed.write_all(&big),
        )
        .await;
        assert!(blocked.is_err(), "the socket took 16 MiB unread");
        assert!(handed.detach().is_none(), "part of a response is unwritten");

        // Once the client has read it all and hyper's flush reaches the
        // socket, it may be taken.
        let reader = tokio::spawn(async move {
            let mut sink = vec![0u8; 1024 * 1024];
            while client.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        handed.write_all(b"the rest").await.expect("written");
        handed.flush().await.expect("flushed");
        let (taken, _counted) = handed.detach().expect("the socket");
        drop(taken);
        reader.await.expect("the reader ends with the connection");
    }

    #[tokio::test]
    async fn a_weak_handle_neither_keeps_the_socket_open_nor_takes_a_closed_one() {
        let (server, mut client) = connected_pair().await;
        let handed = HandedSocket::new(server, counted(), Bytes::new());
        let handle = handed.downgrade();
        drop(handed);
        assert!(handle.detach().is_none());
        let mut heard = Vec::new();
        client.read_to_end(&mut heard).await.expect("closed");
        assert!(heard.is_empty());
    }
}
