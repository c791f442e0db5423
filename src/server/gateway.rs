//! The accept loop. Each new connection's first request decides who serves
//! it: a plain `GET /sse/{id}` is streamed by [`direct_stream`] on the raw
//! socket, everything else is handed, with the bytes already read, to axum
//! through [`HubListener`](super::listener::HubListener).

use super::direct_stream;
use super::listener::Handoff;
use super::request_head::{classify, Head, StreamRequest};
use super::AppState;
use bytes::BytesMut;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a new connection may take to send its first request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes first read from a new connection; most request heads fit.
const FIRST_READ: usize = 1024;

/// Pause after an accept error that is not about one connection (such as
/// running out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections until shutdown and routes each one.
pub(crate) struct Gateway {
    listener: TcpListener,
    routes: Arc<Routes>,
}

/// What every connection task shares: one pointer per task, not a copy.
struct Routes {
    state: AppState,
    /// Where connections for axum go.
    handoff: mpsc::Sender<Handoff>,
}

impl Gateway {
    /// A gateway for a bound listener; connections for axum go to `handoff`.
    pub(crate) fn new(
        listener: TcpListener,
        state: AppState,
        handoff: mpsc::Sender<Handoff>,
    ) -> Self {
        Self {
            listener,
            routes: Arc::new(Routes { state, handoff }),
        }
    }

    /// Accepts until the hub's shutdown token is cancelled, then closes the
    /// listening socket (new connections are refused) and returns.
    pub(crate) async fn run(self) {
        let shutdown = self.routes.state.hub.shutdown_token().clone();
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
                    // Tracked with the streams, so shutdown waits for both.
                    self.routes.state.direct_streams.spawn(route(
                        socket,
                        peer,
                        Arc::clone(&self.routes),
                    ));
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

/// Reads the first request head of a connection and routes it.
async fn route(mut socket: TcpStream, peer: SocketAddr, routes: Arc<Routes>) {
    let shutdown = routes.state.hub.shutdown_token();
    match read_head(&mut socket, shutdown).await {
        None => {}
        Some(FirstRequest::Stream(request)) => {
            direct_stream::serve(socket, peer, request, &routes.state).await;
        }
        Some(FirstRequest::Other(received)) => {
            let handed = Handoff::new(socket, peer, received.freeze());
            // Fails only when axum has stopped accepting (shutdown).
            let _ = routes.handoff.send(handed).await;
        }
    }
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
