//! The small JSON endpoints: stream list, stats, health, and the JSON
//! answers for unknown paths and wrong methods.

use super::error::AppError;
use super::state::AppState;
use crate::model::{HubStats, StreamId, StreamSummary};
use crate::server::hub::Hub;
use axum::extract::{OriginalUri, State};
use axum::http::Method;
use axum::Json;
use serde_json::{json, Value};

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

/// `GET /healthz`: the process is up and serving.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Answer for a path under `/api` or `/sse` that names nothing.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(uri.path().to_owned())
}

/// Answer for a known path requested with the wrong method.
pub(crate) async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> AppError {
    AppError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
