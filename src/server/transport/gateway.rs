//! The accept loop. Each new connection's first request decides who serves
//! it: a plain `GET /sse/{id}` is streamed by the direct path on the raw
//! socket, everything else is handed, with the bytes already read, to axum
//! through [`Handoffs`](super::served::Handoffs).
//!
//! Before it reads a byte of a new connection it checks the address's rate
//! of new connections and counts the socket against the budget (in all and
//! per address); a connection over either is refused. The first request
//! head must arrive within the head deadline and fit in
//! [`MAX_HEAD_BYTES`](super::request_head::MAX_HEAD_BYTES), else the connection is closed (or answered `431`).

use super::connection_rate::ConnectionRate;
use super::direct::{self, DirectPath};
use super::gate::StreamGate;
use super::open_sockets::{OpenSocket, Refusal, SocketBudget};
use super::request_head::{classify, Head, HeadLimit, StreamRequest};
use super::served::Handoff;
use super::TransportSettings;
use crate::server::stats::{bump, Stats};
use bytes::BytesMut;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

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
pub(crate) const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections until shutdown and routes each one; `G` decides what
/// the direct path's requests mean.
pub struct Gateway<G> {
    listener: TcpListener,
    routes: Arc<Routes<G>>,
    /// New connections per second per address.
    rate: ConnectionRate,
}

/// What every connection task shares: one pointer per task, not a copy.
struct Routes<G> {
    /// The HTTP layer's decisions for the direct path.
    gate: G,
    /// The direct path's settings, counters and task tracker.
    direct: DirectPath,
    /// Open client sockets, in all and per address.
    budget: Arc<SocketBudget>,
    /// How long a request head may take to arrive.
    head_timeout: Duration,
    /// Where connections for axum go.
    handoff: mpsc::Sender<Handoff>,
    /// Permits for answering refused connections.
    refusals: Arc<Semaphore>,
}

impl<G: StreamGate> Gateway<G> {
    /// A gateway for a bound listener: first requests the direct path takes
    /// are decided by `gate`, connections for axum go to `handoff`, and the
    /// socket limits and head deadline are those of `settings`.
    pub fn new(
        listener: TcpListener,
        gate: G,
        direct: DirectPath,
        settings: &TransportSettings,
        handoff: mpsc::Sender<Handoff>,
    ) -> Self {
        let budget = SocketBudget::new(
            Arc::clone(direct.stats()),
            settings.max_sockets,
            settings.max_sockets_per_ip,
        );
        Self {
            listener,
            routes: Arc::new(Routes {
                gate,
                direct,
                budget,
                head_timeout: settings.head_timeout,
                handoff,
                refusals: Arc::new(Semaphore::new(MAX_REFUSALS_ANSWERING)),
            }),
            rate: ConnectionRate::new(settings.connection_rate_per_ip),
        }
    }

    /// The socket budget this gateway counts against, for another listener
    /// of the same process to share.
    pub fn budget(&self) -> Arc<SocketBudget> {
        Arc::clone(&self.routes.budget)
    }

    /// Accepts until the shutdown token is cancelled, then closes the
    /// listening socket (new connections are refused) and returns.
    pub async fn run(mut self) {
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
                    let routes = &self.routes;
                    let counted = self
                        .rate
                        .admit(peer.ip())
                        .and_then(|()| routes.budget.try_open(peer.ip()));
                    match counted {
                        // Tracked with the streams, so shutdown waits for both.
                        Ok(counted) => {
                            let task = route(socket, counted, peer, Arc::clone(routes));
                            routes.direct.socket_tasks().spawn(task);
                        }
                        Err(refusal) => refuse(socket, peer, refusal, routes),
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
    mut counted: OpenSocket,
    peer: SocketAddr,
    routes: Arc<Routes<G>>,
) {
    let shutdown = routes.direct.shutdown();
    match read_head(&mut socket, routes.head_timeout, shutdown).await {
        None => {}
        Some(FirstRequest::TooLarge(limit)) => {
            Box::pin(answer_too_large(&mut socket, limit, &routes.gate)).await;
            drop(counted);
        }
        Some(FirstRequest::Stream(request)) => {
            direct::serve(
                (socket, counted),
                peer,
                request,
                &routes.gate,
                &routes.direct,
            )
            .await;
        }
        Some(FirstRequest::Other(received)) => {
            // hyper may open a file for it: counted before it is served.
            if let Err(refusal) = counted.count_file_slot() {
                refusal_counter(routes.direct.stats(), refusal).map(bump);
                Box::pin(direct::write_error(
                    &mut socket,
                    routes.gate.refuse(refusal),
                ))
                .await;
                return;
            }
            let handed = Handoff::new(socket, counted, peer, received.freeze());
            // Fails only when axum has stopped accepting (shutdown).
            let _ = routes.handoff.send(handed).await;
        }
    }
}

/// Answers a head over `limit` with `431`, within [`REFUSAL_TIMEOUT`].
async fn answer_too_large<G: StreamGate>(socket: &mut TcpStream, limit: HeadLimit, gate: &G) {
    let refusal = Refusal::HeadTooLarge { limit };
    let answer = direct::write_error(socket, gate.refuse(refusal));
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer).await;
}

/// Refuses a connection before reading from it: counts it and, unless
/// [`MAX_REFUSALS_ANSWERING`] are being answered already, answers it in a
/// task of its own; otherwise closes it unanswered.
fn refuse<G: StreamGate>(
    socket: TcpStream,
    peer: SocketAddr,
    refusal: Refusal,
    routes: &Arc<Routes<G>>,
) {
    let direct = &routes.direct;
    let total = refusal_counter(direct.stats(), refusal).map_or(0, bump);
    // One line per refusal would let a flood fill the log: the count says it.
    if total.is_power_of_two() {
        tracing::warn!(client = %peer, ?refusal, rejected_total = total, "refused a new connection");
    }
    match Arc::clone(&routes.refusals).try_acquire_owned() {
        Ok(permit) => {
            let routes = Arc::clone(routes);
            direct.socket_tasks().spawn(async move {
                answer_refusal(socket, refusal, &routes).await;
                drop(permit);
            });
        }
        // Closed unanswered.
        Err(_) => drop(socket),
    }
}

/// The counter a refusal of a new connection adds to (a head too large is
/// a bad request, not a refusal of the connection, and is not counted).
fn refusal_counter(stats: &Stats, refusal: Refusal) -> Option<&std::sync::atomic::AtomicU64> {
    Some(match refusal {
        Refusal::HeadTooLarge { .. } => return None,
        Refusal::TooManySockets { .. } => &stats.too_many_connections,
        Refusal::TooManySocketsFromAddress { .. } => &stats.too_many_sockets_from_ip,
        Refusal::ConnectionRate { .. } => &stats.connection_rate_limited,
    })
}

/// Answers a refused connection with its JSON error and closes it, all
/// within [`REFUSAL_TIMEOUT`].
async fn answer_refusal<G: StreamGate>(
    mut socket: TcpStream,
    refusal: Refusal,
    routes: &Routes<G>,
) {
    let answer = async {
        // HTTP clients expect the answer after their request, not before.
        let shutdown = routes.direct.shutdown();
        if read_head(&mut socket, REFUSAL_TIMEOUT, shutdown)
            .await
            .is_none()
        {
            return;
        }
        direct::write_error(&mut socket, routes.gate.refuse(refusal)).await;
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer).await;
}

/// What a connection's first bytes asked for.
enum FirstRequest {
    /// A stream the direct path answers.
    Stream(StreamRequest),
    /// Anything else, with the bytes read so far, for axum.
    Other(BytesMut),
    /// A head over [`super::request_head::MAX_HEAD_BYTES`] or with too many header lines.
    TooLarge(HeadLimit),
}

/// Reads until the bytes received form a complete request head (or are
/// certainly not one the direct path takes). `None` when the client closed,
/// failed or took longer than `timeout`, or at shutdown.
async fn read_head(
    socket: &mut TcpStream,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> Option<FirstRequest> {
    let deadline = tokio::time::sleep(timeout);
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
            Head::TooLarge(limit) => return Some(FirstRequest::TooLarge(limit)),
        }
    }
}

/// Accept errors that concern one connection only (as axum's own loop treats
/// them): skip it and accept the next.
pub(crate) fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
