//! The connections axum serves: those the [gateway](super::gateway) hands
//! over, each a [`HandedSocket`](handed_socket::HandedSocket) with the bytes
//! already read from it put back in front. Every one gets a write timeout, so
//! a client that stops reading is disconnected instead of holding buffers
//! forever, and each such disconnect is counted; and an idle timeout, so that
//! a keep-alive connection on which nothing moves either way does not hold a
//! socket forever (axum's server sets no such limit).
//!
//! - `incoming.rs`: [`Handoffs`], hyper's server for what the gateway hands
//!   over, with a deadline and a size bound on every request head.
//! - `connection.rs`: one served connection with its timeouts.
//! - `handed_socket.rs`: its socket, which the stream handler can take back.
//! - `client.rs`: [`Client`], the `ConnectInfo` handlers see.

mod client;
mod connection;
mod handed_socket;
mod incoming;

pub use client::Client;
pub use connection::TimedConnection;
pub use incoming::{Handoff, Handoffs, ServedTimeouts};
