//! The accept loop. Each new connection's first request decides who serves
//! it: a plain `GET /sse/{id}` is streamed by the direct path on the raw
//! socket, everything else is handed, with the bytes already read, to axum
//! through [`Handoffs`](super::served::Handoffs).

use super::direct::{self, DirectPath};
use super::gate::StreamGate;
use super::open_sockets::OpenSocket;
use super::request_head::{classify, Head, StreamRequest};
use super::served::Handoff;
use crate::server::stats::bump;
use bytes::BytesMut;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// How long a new connection may take to send its first request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes first read from a new connection; most request heads fit.
const FIRST_READ: usize = 1024;

/// How long a refused connection may take to read its `503` and close.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Refused connections answered at once; beyond them (a flood) a refused
/// connection is closed unanswered, so refusals cannot use up the
/// descriptors the socket limit keeps in reserve.
const MAX_REFUSALS_ANSWERING: usize = 16;

/// Pause after an accept error that is not about one connection (such as
/// running out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections until shutdown and routes each one; `G` decides what
/// the direct path's requests mean.
pub struct Gateway<G> {
    listener: TcpListener,
    routes: Arc<Routes<G>>,
}

/// What every connection task shares: one pointer per task, not a copy.
struct Routes<G> {
    /// The HTTP layer's decisions for the direct path.
    gate: G,
    /// The direct path's settings, counters and task tracker.
    direct: DirectPath,
    /// Most client sockets open at once.
    max_sockets: usize,
    /// Where connections for axum go.
    handoff: mpsc::Sender<Handoff>,
    /// Permits for answering refused connections.
    refusals: Arc<Semaphore>,
}

impl<G: StreamGate> Gateway<G> {
    /// A gateway for a bound listener: first requests the direct path takes
    /// are decided by `gate`, connections for axum go to `handoff`, and
    /// beyond `max_sockets` open sockets new ones are refused.
    pub fn new(
        listener: TcpListener,
        gate: G,
        direct: DirectPath,
        max_sockets: usize,
        handoff: mpsc::Sender<Handoff>,
    ) -> Self {
        Self {
            listener,
            routes: Arc::new(Routes {
                gate,
                direct,
                max_sockets,
                handoff,
                refusals: Arc::new(Semaphore::new(MAX_REFUSALS_ANSWERING)),
            }),
        }
    }

    /// Accepts until the shutdown token is cancelled, then closes the
    /// listening socket (new connections are refused) and returns.
    pub async fn run(self) {
        let shutdown = self.routes.direct.shutdown().clone();
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((socket, peer)) => {
                    // Events are small and latency matters more than packet count.
                    if let Err(error) = socket.set_nodelay(true) {
                        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
                    }
                    let routes = Arc::clone(&self.routes);
                    let direct = &self.routes.direct;
                    let limit = self.routes.max_sockets;
                    // Tracked with the streams, so shutdown waits for both.
                    match OpenSocket::try_count(direct.stats(), limit) {
                        Some(counted) => {
                            direct
                                .socket_tasks()
                                .spawn(route(socket, counted, peer, routes));
                        }
                        None => refuse(socket, peer, limit, &routes),
                    }
                }
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    tracing::error!(%error, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
        tracing::debug!("stopped accepting");
    }
}

/// Reads the first request head of a connection and routes it; `counted`
/// goes with the socket.
async fn route<G: StreamGate>(
    mut socket: TcpStream,
    counted: OpenSocket,
    peer: SocketAddr,
    routes: Arc<Routes<G>>,
) {
    let shutdown = routes.direct.shutdown();
    match read_head(&mut socket, shutdown).await {
        None => {}
        Some(FirstRequest::Stream(request)) => {
            direct::serve(socket, peer, request, &routes.gate, &routes.direct).await;
            drop(counted);
        }
        Some(FirstRequest::Other(received)) => {
            let handed = Handoff::new(socket, counted, peer, received.freeze());
            // Fails only when axum has stopped accepting (shutdown).
            let _ = routes.handoff.send(handed).await;
        }
    }
}

/// Refuses a connection beyond the socket limit: counts it and, unless
/// [`MAX_REFUSALS_ANSWERING`] are being answered already, answers it in a
/// task of its own.
fn refuse<G: StreamGate>(
    socket: TcpStream,
    peer: SocketAddr,
    limit: usize,
    routes: &Arc<Routes<G>>,
) {
    let direct = &routes.direct;
    let total = bump(&direct.stats().too_many_connections);
    tracing::warn!(client = %peer, rejected_total = total, "rejected: too many connections");
    match Arc::clone(&routes.refusals).try_acquire_owned() {
        Ok(permit) => {
            let routes = Arc::clone(routes);
            direct.socket_tasks().spawn(async move {
                answer_refusal(socket, limit, &routes).await;
                drop(permit);
            });
        }
        // Closed unanswered.
        Err(_) => drop(socket),
    }
}

/// Answers a refused connection with the JSON `503 too_many_connections`
/// and closes it, all within [`REFUSAL_TIMEOUT`].
async fn answer_refusal<G: StreamGate>(mut socket: TcpStream, limit: usize, routes: &Routes<G>) {
    let answer = async {
        // HTTP clients expect the answer after their request, not before.
        if read_head(&mut socket, routes.direct.shutdown())
            .await
            .is_none()
        {
            return;
        }
        direct::write_error(&mut socket, routes.gate.refuse_connection(limit)).await;
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer).await;
}

/// What a connection's first bytes asked for.
enum FirstRequest {
    /// A stream the direct path answers.
    Stream(StreamRequest),
    /// Anything else, with the bytes read so far, for axum.
    Other(BytesMut),
}

/// Reads until the bytes received form a complete request head (or are
/// certainly not one the direct path takes). `None` when the client closed,
/// failed or took longer than [`HEAD_TIMEOUT`], or at shutdown.
async fn read_head(socket: &mut TcpStream, shutdown: &CancellationToken) -> Option<FirstRequest> {
    let deadline = tokio::time::sleep(HEAD_TIMEOUT);
    tokio::pin!(deadline);
    let mut received = BytesMut::with_capacity(FIRST_READ);
    loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => return None,
            () = &mut deadline => return None,
            read = socket.read_buf(&mut received) => read,
        };
        match read {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        match classify(&received) {
            Head::Incomplete => {}
            Head::Stream(request) => return Some(FirstRequest::Stream(request)),
            Head::Other => return Some(FirstRequest::Other(received)),
        }
    }
}

/// Accept errors that concern one connection only (as axum's own loop treats
/// them): skip it and accept the next.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
