//! Serves `GET /sse/{id}` on the raw socket, outside hyper: when it is the
//! first request of a connection (see the gateway), and when the axum
//! handler takes a keep-alive connection over (see `served/handed_socket`).
//!
//! # Why it is hand-written
//! Holding tens of thousands of open streams is what sse-hub is for. hyper
//! keeps an 8 KiB read buffer and an 8 KiB header buffer for every connection
//! for as long as it is open; an open stream here costs its task, its socket
//! and its subscription only, and each event goes out in one `writev` of the
//! stream's shared bytes framed as an HTTP/1.1 chunk (measured: 18.2 → 2.4
//! KiB per open stream; README, Performance).
//!
//! The response is the same as the axum handler's: the same headers (the
//! HTTP layer decides CORS and errors for both, through the
//! [`StreamGate`](super::StreamGate)), `retry:` hint, replay, keep-alives, a
//! write timeout for clients that stop reading, and a clean end (the last
//! chunk) on shutdown.
//!
//! - `pump.rs`: the loop that writes a stream, and its write timeout.
//! - `socket.rs`: shared-socket writes, the hub's `TryWrite`, client gone.
//! - `response.rs`: the response head, and error responses.
//! - `chunk.rs`: HTTP/1.1 chunk framing.

mod chunk;
mod pump;
mod response;
mod socket;

pub use chunk::encode_chunk;

use super::gate::{OpenedStream, StreamGate};
use super::open_sockets::OpenSocket;
use super::request_head::StreamRequest;
use crate::server::hub::{LiveSink, Subscription, TryWrite};
use crate::server::sse::retry_frame;
use crate::server::stats::{bump, Stats};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use chunk::encode_chunk_into;
use futures_util::future::Either;
use pump::{pump, End};
use socket::end_cleanly;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

/// How long the last chunk may take at shutdown.
const LAST_CHUNK_GRACE: Duration = Duration::from_millis(500);

/// How long a refused client has to read its answer and close.
const ERROR_LINGER: Duration = Duration::from_secs(2);

/// What every direct-path stream shares: a cheap, clonable handle.
#[derive(Clone)]
pub struct DirectPath {
    shared: Arc<DirectShared>,
}

/// State behind every [`DirectPath`] handle.
struct DirectShared {
    write_timeout: Duration,
    retry: Duration,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    /// Every task that owns a client socket outside hyper, so that shutdown
    /// can wait for each to end its response cleanly.
    socket_tasks: TaskTracker,
}

impl DirectPath {
    /// Streams with a `write_timeout`, announcing `retry`, counted in
    /// `stats`, ended by `shutdown`, their tasks tracked by `socket_tasks`.
    pub fn new(
        write_timeout: Duration,
        retry: Duration,
        stats: Arc<Stats>,
        shutdown: CancellationToken,
        socket_tasks: TaskTracker,
    ) -> Self {
        Self {
            shared: Arc::new(DirectShared {
                write_timeout,
                retry,
                stats,
                shutdown,
                socket_tasks,
            }),
        }
    }

    /// The tasks that own client sockets outside hyper.
    pub fn socket_tasks(&self) -> &TaskTracker {
        &self.shared.socket_tasks
    }

    /// Ends every stream when cancelled.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Arc<Stats> {
        &self.shared.stats
    }
}

/// Answers a stream request on `socket`: asks the gate, then streams in a
/// task of its own, or writes the error the gate answered.
///
/// The stream gets a new task rather than going on in this one (the
/// gateway's, which read the request head): that task's future is as large
/// as everything it ever awaited, head reading and the gate's decision
/// included, and it would be kept for the stream's whole life. Measured in
/// a release build with 10,000 streams over 100 ids: 2.83 KiB per stream
/// inline, 2.59 KiB in a task of its own (2.65 for a stream taken over from
/// hyper, `take_over`).
pub(crate) async fn serve(
    (mut socket, counted): (TcpStream, OpenSocket),
    peer: SocketAddr,
    request: StreamRequest,
    gate: &impl StreamGate,
    direct: &DirectPath,
) {
    match gate.open(request, peer).await {
        Ok(opened) => take_over((socket, counted), peer, opened, direct),
        Err(response) => {
            write_error(&mut socket, response).await;
            drop(counted);
        }
    }
}

/// Writes an error response and closes, within [`ERROR_LINGER`].
pub(crate) async fn write_error(socket: &mut TcpStream, response: Response) {
    // The client may already be gone; there is no one to tell.
    let _ = tokio::time::timeout(ERROR_LINGER, response::write_response(socket, response)).await;
}

/// Streams `subscription` on `socket` in a task of its own: a socket taken
/// over from hyper (the handler that took it returns at once), or one whose
/// first request the gateway read ([`serve`]).
pub fn take_over(
    (socket, counted): (TcpStream, OpenSocket),
    peer: SocketAddr,
    opened: OpenedStream,
    direct: &DirectPath,
) {
    let direct = direct.clone();
    // Taken apart here, so that the task holds each part once.
    let OpenedStream {
        subscription,
        headers,
        ends_after,
    } = opened;
    direct.socket_tasks().clone().spawn(async move {
        stream(socket, peer, subscription, headers, ends_after, &direct).await;
        drop(counted);
    });
}

/// What ends a stream early: shutdown, or also `ends_after` (a private
/// stream's token expiry). Only a stream with an expiry pays for its timer
/// (boxed, so that the others' tasks stay as small as they were).
pub fn ends_at(
    shutdown: &CancellationToken,
    ends_after: Option<Duration>,
) -> Either<WaitForCancellationFuture<'_>, Pin<Box<dyn Future<Output = ()> + Send + '_>>> {
    match ends_after {
        None => Either::Left(shutdown.cancelled()),
        Some(after) => Either::Right(Box::pin(async move {
            let shutdown = shutdown.cancelled();
            tokio::select! {
                () = shutdown => {}
                () = tokio::time::sleep(after) => {}
            }
        })),
    }
}

/// Writes the response head and then every message until one side ends it.
async fn stream(
    socket: TcpStream,
    peer: SocketAddr,
    mut subscription: Subscription,
    headers: Vec<(HeaderName, HeaderValue)>,
    ends_after: Option<Duration>,
    direct: &DirectPath,
) {
    let write_timeout = direct.shared.write_timeout;
    socket::detect_vanished_peer(&socket);
    let mut head = response::response_head(&headers);
    drop(headers);
    encode_chunk_into(&mut head, &retry_frame(direct.shared.retry));
    let mut shutdown = pin!(ends_at(direct.shutdown(), ends_after));
    let socket = Arc::new(socket);
    let sink = LiveSink::new(Arc::clone(&socket) as Arc<dyn TryWrite>);
    let registration = subscription.register_sink(&sink);
    let end = pump(
        &socket,
        &sink,
        &mut subscription,
        head,
        shutdown.as_mut(),
        write_timeout,
    )
    .await;
    // The producer stops writing; then the client leaves the stream before
    // the goodbye, which may take a moment.
    let handover = sink.take_over();
    drop(registration);
    drop(subscription);
    let grace = write_timeout.min(LAST_CHUNK_GRACE);
    match end {
        // At most one of the two holds bytes: the task writes only while the
        // producer does not.
        End::Shutdown { unsent } => end_cleanly(&socket, [unsent, handover.unsent], grace).await,
        End::StreamClosed => end_cleanly(&socket, [None, handover.unsent], grace).await,
        End::TimedOut => {
            let total = bump(&direct.stats().slow_client_disconnected);
            tracing::warn!(client = %peer, disconnected_total = total, "disconnected a client that stopped reading");
        }
        End::ClientGone => {}
    }
}
