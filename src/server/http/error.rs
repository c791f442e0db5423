//! The one error type of the HTTP layer and how it becomes a response.
//!
//! Every failure a client can cause is an [`AppError`]; its `IntoResponse`
//! logs it and answers with the right status and a JSON [`ErrorBody`]
//! `{"error": "<sentence>", "code": "<code>"}`.

use crate::model::{ErrorBody, StreamIdError};
use crate::server::hub::HubError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Seconds a client is told to wait (`Retry-After`) after a limit rejection.
pub(crate) const RETRY_AFTER_SECS: u64 = 5;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The stream id in the path is not valid.
    #[error("{0}")]
    InvalidStreamId(#[from] StreamIdError),
    /// The path segment is not UTF-8 once percent-decoded.
    #[error("the stream id is not valid UTF-8 once percent-decoded")]
    StreamIdEncoding,
    /// A hub limit was reached, or the hub's store failed.
    #[error(transparent)]
    Limit(#[from] HubError),
    /// No endpoint at this path.
    #[error("there is no endpoint at {0}")]
    NotFound(String),
    /// The endpoint exists but not with this method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
}

impl AppError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidStreamId(_) | Self::StreamIdEncoding => StatusCode::BAD_REQUEST,
            Self::Limit(HubError::TooManyConnectionsFromIp { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Limit(HubError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Limit(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidStreamId(_) | Self::StreamIdEncoding => "invalid_stream_id",
            Self::Limit(HubError::TooManyStreams { .. }) => "too_many_streams",
            Self::Limit(HubError::TooManyConnections { .. }) => "too_many_connections",
            Self::Limit(HubError::TooManyConnectionsFromIp { .. }) => {
                "too_many_connections_from_ip"
            }
            Self::Limit(HubError::Store(_)) => "store_unavailable",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::debug!(status = status.as_u16(), code = self.code(), error = %self, "request failed");
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code().to_owned(),
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Self::Limit(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
