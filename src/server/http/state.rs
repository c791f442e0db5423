//! What every handler can reach, and the HTTP layer's decisions for the
//! direct path (the [`StreamGate`] it implements), so that both paths agree
//! on what a stream request means.

use super::auth::{remaining, Auth, Credentials};
use super::cors::CorsPolicy;
use super::error::AppError;
use super::hosts::{AllowedHosts, HostField};
use super::metrics::Metrics;
use super::publish_rate::{PublishRate, PublishSettings};
use super::stats_frames::StatsFrames;
use super::tokens::Access;
use crate::model::StreamId;
use crate::server::hub::{Hub, HubError};
use crate::server::stats::{bump, Stats};
use crate::server::transport::open_sockets::Refusal;
use crate::server::transport::request_head::StreamRequest;
use crate::server::transport::{DirectPath, OpenedStream, StreamGate};
use axum::extract::FromRef;
use axum::response::{IntoResponse, Response};
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What the HTTP layer needs from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Which origins may read the API and streams.
    pub cors: CorsPolicy,
    /// Which `Host` values are answered.
    pub allowed_hosts: AllowedHosts,
    /// Base reconnection delay announced to clients (`retry:`).
    pub retry: Duration,
    /// Token keys and private streams.
    pub auth: Auth,
    /// Publish limits.
    pub publish: PublishSettings,
}

/// What every handler can reach, injected through axum state.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the built site lives and how to render it.
    pub leptos_options: LeptosOptions,
    /// The stream hub.
    pub hub: Hub,
    /// The HTTP layer's settings.
    pub http: Arc<HttpSettings>,
    /// The direct stream path, which stream handlers hand sockets to.
    pub direct: DirectPath,
    /// Each stream's publish rate.
    pub publish_rate: Arc<PublishRate>,
    /// The dashboard feed's newest frame, shared by its readers.
    pub stats_frames: StatsFrames,
    /// What `GET /metrics` renders.
    pub metrics: Metrics,
    /// Whether `/metrics` is served on the public listener (not when
    /// `--metrics-addr` gives it a listener of its own).
    pub public_metrics: bool,
}

impl AppState {
    /// The `Host` check of both paths ([`AllowedHosts::check`]), counting a
    /// refusal in `/api/stats`.
    pub(crate) fn check_host(&self, host: HostField<'_>, http10: bool) -> Result<(), AppError> {
        check_host_counted(&self.http.allowed_hosts, host, http10, self.hub.stats())
    }

    /// The token check of a stream request on both paths: `Ok(None)` for a
    /// stream anyone may read, `Ok(Some(left))` for a private stream the
    /// request's token opens for `left` more, or the refusal, counted.
    pub(crate) fn authorize_stream(
        &self,
        id: &StreamId,
        credentials: Credentials<'_>,
    ) -> Result<Option<Duration>, AppError> {
        let http = &self.http;
        match http
            .auth
            .authorize(id, Access::Subscribe, credentials, &http.cors)
        {
            Ok(grant) => Ok(grant.as_ref().map(remaining)),
            Err(error) => Err(error.counted(self.hub.stats())),
        }
    }
}

impl StreamGate for AppState {
    async fn open(
        &self,
        request: StreamRequest,
        peer: SocketAddr,
    ) -> Result<OpenedStream, Response> {
        {
            let headers = self.http.cors.headers(request.origin.as_deref());
            // Checked before anything else, as the router's outermost layer
            // does: the refusal carries no CORS headers on either path.
            let host = match request.host.as_deref() {
                Some(host) => HostField::One(host),
                None => HostField::Absent,
            };
            if let Err(error) = self.check_host(host, false) {
                return Err(error.into_response());
            }
            let raw = &request.credentials;
            let credentials = Credentials {
                authorization: raw.authorization.as_deref(),
                cookie: raw.cookie.as_deref(),
                origin: request.origin.as_deref(),
                query: raw.query.as_deref(),
            };
            let ends_after = match self.authorize_stream(&request.id, credentials) {
                Ok(ends_after) => ends_after,
                Err(error) => return Err(with_headers(error, headers)),
            };
            let subscribed = self
                .hub
                .subscribe(&request.id, request.last_event_id.as_deref(), peer.ip())
                .await;
            match subscribed {
                Ok(subscription) => Ok(OpenedStream {
                    subscription,
                    headers,
                    ends_after,
                }),
                Err(error) => Err(with_headers(AppError::from(error), headers)),
            }
        }
    }

    fn refuse(&self, refusal: Refusal) -> Response {
        // The other refusals are counted where the socket budget decides.
        if let Refusal::HeadTooLarge { .. } = refusal {
            bump(&self.hub.stats().head_too_large);
        }
        let error = match refusal {
            Refusal::TooManySockets { limit } => {
                AppError::Limit(HubError::TooManyConnections { limit })
            }
            other => AppError::Refused(other),
        };
        with_headers(error, self.http.cors.headers(None))
    }
}

/// [`AllowedHosts::check`] with a refusal counted under its own code
/// (`missing_host`, `invalid_host` or `host_not_allowed`): the check of
/// every listener.
pub(crate) fn check_host_counted(
    hosts: &AllowedHosts,
    host: HostField<'_>,
    http10: bool,
    stats: &Stats,
) -> Result<(), AppError> {
    let checked = hosts.check(host, http10);
    match &checked {
        Ok(()) => {}
        Err(AppError::MissingHost) => {
            bump(&stats.missing_host);
        }
        Err(AppError::InvalidHost(_)) => {
            bump(&stats.invalid_host);
        }
        Err(_) => {
            bump(&stats.host_not_allowed);
        }
    }
    checked
}

/// `error` as a response carrying `headers` too.
fn with_headers(
    error: AppError,
    headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
) -> Response {
    let mut response = error.into_response();
    response.headers_mut().extend(headers);
    response
}
