//! The application's routes: API and stream routes, the Leptos pages, static
//! files, and JSON errors for unknown API paths and wrong methods.

use super::error::AppError;
use super::hosts::HostField;
use super::site::with_files;
use super::state::{check_host_counted, AppState};
use super::{api, metrics, publish, sse, stats_stream};
use crate::app::{shell, App};
use axum::extract::{Request, State};
use axum::http::{header, Uri, Version};
use axum::middleware;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;

/// Builds the application from `state`; separate from serving, so tests can
/// drive it without a socket.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new()
        .route("/sse/", get(sse::missing_stream_id))
        .route("/sse/{id}", get(sse::stream_events))
        .route("/api/streams", get(api::list_streams))
        .route("/api/streams/{id}/events", post(publish::publish_event))
        .route("/api/stats", get(api::stats))
        .route("/api/stats/stream", get(stats_stream::stats_stream))
        .route("/healthz", get(api::health));
    if state.public_metrics {
        api = api.route("/metrics", get(metrics::metrics));
    }
    let api = api
        // Set before the CORS layer so that the layer wraps it too: a
        // preflight (OPTIONS) for the publish route is the layer's to
        // answer, not a 405.
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(state.http.cors.layer());
    // Unknown paths under the API get its JSON 404, with its CORS headers
    // and uncompressed, like every other API answer; outside the CORS
    // layer, which would answer an OPTIONS for them 200 as a preflight.
    let mut unknown = Router::new();
    if !state.public_metrics {
        unknown = unknown.route("/metrics", any(api::unknown_path));
    }
    for path in [
        "/api",
        "/api/",
        "/api/{*rest}",
        "/sse",
        "/sse/{id}/",
        "/sse/{id}/{*rest}",
    ] {
        unknown = unknown.route(path, any(api::unknown_path));
    }

    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    // Pages and static files (the WASM bundle above all) are compressed; the
    // API and the streams are not (an event stream must never be buffered).
    // The site's files from inside the binary (see `site.rs`); anything
    // else falls through to Leptos (its 404 page, or a file on disk when
    // the binary carries none).
    let pages = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    let fallback = move |uri: Uri, state: State<AppState>, request: Request| {
        let pages = pages.clone();
        async move {
            match uri.path_and_query() {
                // A target with no path (`CONNECT host:port`, or a GET in
                // authority form): leptos_axum's handler would panic on it.
                None => AppError::NotFound(uri.to_string()).into_response(),
                // What the API's routes do not match (`/sse//`) is still
                // the API's: its JSON, not the HTML page.
                Some(target) if is_api_path(target.path()) => {
                    AppError::NotFound(target.path().to_owned()).into_response()
                }
                Some(_) => pages(uri, state, request).await,
            }
        }
    };
    let site = with_files(Router::new())
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(fallback)
        .layer(CompressionLayer::new());
    Router::new()
        .merge(api)
        .merge(unknown)
        .merge(site)
        .method_not_allowed_fallback(api::method_not_allowed)
        // Outermost: a request for another host is answered before
        // anything else looks at it.
        .layer(middleware::from_fn_with_state(state.clone(), host_guard))
        .with_state(state)
}

/// The middleware in front of every route: requests for a host not allowed
/// are answered with the error, and counted.
async fn host_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (host, http10) = host_of(&request);
    match state.check_host(host, http10) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Whether `path` is under the API or the streams, whose unknown paths
/// get the JSON 404.
fn is_api_path(path: &str) -> bool {
    ["/api", "/sse"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The host a request is for and whether it is HTTP/1.0, which need not
/// send one. An HTTP/1.1 request must carry exactly one `Host` header
/// whatever its target (RFC 9112 3.2); when the target is in absolute form
/// (`GET http://host/path`) it names the host, and the header's value is
/// ignored (3.2.2). (The direct path never takes an absolute-form target,
/// nor a request with two `Host` headers: they come here.)
fn host_of(request: &Request) -> (HostField<'_>, bool) {
    let http10 = request.version() <= Version::HTTP_10;
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => HostField::Absent,
        (Some(_), Some(_)) => HostField::Repeated,
        (Some(host), None) => match request.uri().authority() {
            Some(authority) => HostField::One(authority.host().as_bytes()),
            None => HostField::One(host.as_bytes()),
        },
    };
    (host, http10)
}

/// The router of the `--metrics-addr` listener: `/metrics` and nothing
/// else (JSON 404 for any other path, JSON 405 for another method), behind
/// the same `Host` check as the public router.
pub fn metrics_router(state: AppState) -> Router {
    let hosts = Arc::new(state.http.allowed_hosts.with_any_ip());
    let stats = Arc::clone(state.hub.stats());
    let guard = move |request: Request, next: Next| {
        let (host, http10) = host_of(&request);
        let checked = check_host_counted(&hosts, host, http10, &stats);
        async move {
            match checked {
                Ok(()) => next.run(request).await,
                Err(error) => error.into_response(),
            }
        }
    };
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn(guard))
        .with_state(state)
}
