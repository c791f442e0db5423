//! The small JSON endpoints: stream list, stats, health, and the JSON
//! answers for unknown paths and wrong methods.

use super::error::AppError;
use super::state::AppState;
use crate::model::{HubStats, StreamId, StreamSummary};
use crate::server::hub::Hub;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET /api/streams`: the streams with subscribers, private ones left out
/// (their ids and activity are their readers' business).
pub(crate) async fn list_streams(State(state): State<AppState>) -> Json<Vec<StreamSummary>> {
    let auth = &state.http.auth;
    let mut streams = state.hub.active_streams();
    streams.retain(|summary| StreamId::parse(&summary.id).is_ok_and(|id| !auth.is_private(&id)));
    Json(streams)
}

/// `GET /api/stats`: connection, stream, rejection and event counters.
pub(crate) async fn stats(State(hub): State<Hub>) -> Json<HubStats> {
    Json(hub.stats().snapshot(hub.active_stream_count()))
}

/// `GET /healthz`: `200 {"status":"ok"}` while the process serves and its
/// store answers; `503 {"status":"degraded","store":"<reason>"}` while the
/// store does not (a shared store's link is down): open streams go on, but
/// publishes are refused, so a load balancer should prefer another
/// instance.
pub(crate) async fn health(State(hub): State<Hub>) -> Response {
    match hub.store_health() {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "store": reason })),
        )
            .into_response(),
    }
}

/// Answer for a path under `/api` or `/sse` that names nothing.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(uri.path().to_owned())
}

/// [`not_found`] with the CORS headers, so that a page elsewhere can read
/// it: for the router's unknown API paths, which sit outside the CORS layer
/// so that an `OPTIONS` for them is a `404` like any other method, not the
/// layer's `200` to a preflight.
pub(crate) async fn unknown_path(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Response {
    let origin = headers.get(header::ORIGIN).map(HeaderValue::as_bytes);
    let mut response = not_found(uri).await.into_response();
    response
        .headers_mut()
        .extend(state.http.cors.headers(origin));
    response
}

/// Answer for a known path requested with the wrong method.
pub(crate) async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> AppError {
    AppError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
