//! A second listener for one private route (`--metrics-addr`): every
//! socket it accepts counts against the same socket budget as the public
//! one, and is served by a [`Handoffs`](super::served::Handoffs) of its
//! own, so it gets the same head deadline, head size bound, idle and write
//! timeouts as every connection axum serves. Only the router differs.

use super::gateway::{is_connection_error, ACCEPT_ERROR_PAUSE};
use super::open_sockets::SocketBudget;
use super::served::Handoff;
use bytes::Bytes;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Accepts on `listener` until `shutdown`, hands each socket the budget
/// admits to `handoff`, and closes the others at once (a scraper retries;
/// a flood cannot take the descriptors the public listener needs).
pub async fn accept_private(
    listener: TcpListener,
    budget: Arc<SocketBudget>,
    handoff: mpsc::Sender<Handoff>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => match budget.try_open(peer.ip()) {
                Ok(counted) => {
                    let handed = Handoff::new(socket, counted, peer, Bytes::new());
                    // Full: the connection is dropped, like a refusal.
                    if handoff.try_send(handed).is_err() {
                        tracing::debug!(%peer, "private listener busy; connection closed");
                    }
                }
                Err(refusal) => tracing::debug!(%peer, ?refusal, "private listener: refused"),
            },
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::error!(%error, "private listener: accept failed; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}
