//! How bytes reach clients: the accept loop, the direct stream path on raw
//! sockets, and the connections hyper (through axum) serves. Above the hub,
//! beside the producers; the HTTP layer above decides what requests mean
//! (through [`StreamGate`]) and serves what the direct path does not.
//!
//! - `gateway.rs`: [`Gateway`], the accept loop; routes each new connection
//!   by its first request.
//! - `request_head.rs`: recognises `GET /sse/{id}` from the first bytes.
//! - `gate.rs`: [`StreamGate`], the HTTP layer's decisions for the direct path.
//! - `direct/`: streams on the raw socket, outside hyper (its module doc says
//!   why it is hand-written).
//! - `served/`: the connections axum serves, with write and idle timeouts,
//!   whose socket a stream handler can take back.
//! - `open_sockets.rs`: counts every client socket against the fd budget,
//!   in all and per address.
//! - `connection_rate.rs`: new connections per second per address.
//! - `private_listener.rs`: [`accept_private`], a second listener (metrics)
//!   under the same budget and timeouts.
//! - `test_pair.rs`: a connected loopback pair for the socket tests.

mod connection_rate;
pub mod direct;
mod gate;
mod gateway;
pub mod open_sockets;
mod private_listener;
pub mod request_head;
pub mod served;
#[cfg(test)]
mod test_pair;

pub use direct::DirectPath;
pub use gate::{OpenedStream, StreamGate};
pub use gateway::Gateway;
pub use open_sockets::Refusal;
pub use private_listener::accept_private;
pub use served::{Client, Handoff, Handoffs, ServedTimeouts};

use std::time::Duration;

/// What the transports need from the configuration.
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// How long a write may stay blocked before the connection is dropped.
    pub write_timeout: Duration,
    /// Base reconnection delay announced to clients.
    pub retry: Duration,
    /// SO_SNDBUF for accepted sockets; `None` leaves the kernel's default.
    pub send_buffer_bytes: Option<u32>,
    /// Most client sockets open at once, of any kind: the open-file limit
    /// minus a small reserve, so that descriptors never run out.
    pub max_sockets: usize,
    /// Most client sockets open at once from one address; `0` for no share.
    pub max_sockets_per_ip: usize,
    /// New connections a second from one address; `0` for no limit.
    pub connection_rate_per_ip: u32,
    /// How long any request head may take to arrive, on either path.
    pub head_timeout: Duration,
}
