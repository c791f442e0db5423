//! Everything that only runs on the server (`ssr`), in layers. Each layer
//! imports only from the layers below it (`tests/architecture.rs` checks
//! it), so that every feature has one obvious place:
//!
//! ```text
//! app.rs, cli.rs, config/     compose everything: settings, store, hub, transports, router
//! http/                       AppState, router, CORS, AppError, handlers; the direct path's gate
//! transport/   producers/     sockets (gateway, direct path, hyper)  |  what makes events
//! hub/                        streams, subscriptions, fan-out, admission, per-stream driver
//! store/                      where events live: the EventStore seam + implementations
//! sse/  stats  timestamp  process/     wire format, counters, time format, signals + allocator
//! ```
//!
//! An event flows producer → [`hub`] (append through the [`store`], then
//! the replay ring, the broadcast channel and the live sinks) → the
//! [`transport`]'s writer → the socket. `hub/` and `store/` never name a
//! socket, axum or hyper: the transport hands the hub a
//! [`TryWrite`](hub::TryWrite) and the framing it wants.
//!
//! [`router`] builds the whole application from an [`AppState`], separate
//! from [`serve`], so tests can drive it without a socket.

pub mod app;
mod cli;
pub mod config;
pub mod http;
pub mod hub;
pub mod process;
pub mod producers;
pub mod sse;
pub mod stats;
pub mod store;
pub mod timestamp;
pub mod transport;

pub use app::{build_state, build_state_producing, open_store, serve, ServeError};
pub use cli::main;
pub use http::{router, AppState};
pub use hub::Subscription;
