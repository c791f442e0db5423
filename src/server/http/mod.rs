//! The HTTP API on top of everything: application state, the router, CORS,
//! the one error type, and the handlers. It decides what requests mean for
//! both transport paths: axum calls its handlers, and the direct path asks
//! its [`StreamGate`](crate::server::transport::StreamGate) implementation.
//!
//! - `state.rs`: [`AppState`], and the gate the direct path asks.
//! - `router.rs`: [`router`], every route.
//! - `cors.rs`: [`CorsPolicy`], one policy for both paths.
//! - `hosts.rs`: [`AllowedHosts`], the `Host` check for both paths.
//! - `error.rs`: [`AppError`] → JSON error responses.
//! - `sse.rs`: `GET /sse/{id}` through axum.
//! - `tokens.rs`: signed tokens (JWT, HS256): what they grant, checking and
//!   making them.
//! - `auth.rs`: [`Auth`], who may publish and who may read a private
//!   stream, for both paths and the publish API.
//! - `publish.rs`: `POST /api/streams/{id}/events`; `publish_rate.rs`: each
//!   stream's publish rate, and the publish settings.
//! - `api.rs`: `/api/streams`, `/api/stats`, `/healthz`, JSON 404 and 405.
//! - `metrics.rs`: [`Metrics`], `GET /metrics` for Prometheus.
//! - `site.rs`: the site's static files from inside the binary.
//! - `stats_stream.rs`: `GET /api/stats/stream`, the dashboard's feed: one
//!   `stats` event a second; `stats_frames.rs`: its newest frame, shared.

mod api;
mod auth;
mod cors;
mod error;
mod hosts;
mod metrics;
mod publish;
mod publish_rate;
mod router;
mod site;
mod sse;
mod state;
mod stats_frames;
mod stats_stream;
pub mod tokens;

pub use auth::{Auth, TOKEN_PARAM};
pub use cors::{BadOrigin, CorsPolicy};
pub use error::AppError;
pub use hosts::AllowedHosts;
pub use metrics::Metrics;
pub use publish_rate::{PublishRate, PublishSettings};
pub use router::{metrics_router, router};
pub use site::{is_embedded, warm_up};
pub use state::{AppState, HttpSettings};
pub use stats_frames::StatsFrames;
