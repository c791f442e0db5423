//! The one error type of the HTTP layer and how it becomes a response.
//!
//! Every failure a client can cause is an [`AppError`]; its `IntoResponse`
//! logs it and answers with the right status and a JSON [`ErrorBody`]
//! `{"error": "<sentence>", "code": "<code>"}`.

use crate::model::{ErrorBody, StreamIdError};
use crate::server::hub::HubError;
use crate::server::transport::open_sockets::Refusal;
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
    /// The gateway refused the connection before serving it.
    #[error("{}", refusal_message(.0))]
    Refused(Refusal),
    /// The `Host` header names a host this server does not answer for.
    #[error("this server does not answer for host {0:?}; see --allowed-hosts")]
    HostNotAllowed(String),
    /// An HTTP/1.1 request without a `Host` header.
    #[error("the request has no Host header")]
    MissingHost,
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
            Self::Refused(Refusal::TooManySockets { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused(Refusal::TooManySocketsFromAddress { .. })
            | Self::Refused(Refusal::ConnectionRate { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Refused(Refusal::HeadTooLarge { .. }) => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::HostNotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::MissingHost => StatusCode::BAD_REQUEST,
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
            Self::Refused(Refusal::TooManySockets { .. }) => "too_many_connections",
            Self::Refused(Refusal::TooManySocketsFromAddress { .. }) => "too_many_sockets_from_ip",
            Self::Refused(Refusal::ConnectionRate { .. }) => "connection_rate_limited",
            Self::Refused(Refusal::HeadTooLarge { .. }) => "head_too_large",
            Self::HostNotAllowed(_) => "host_not_allowed",
            Self::MissingHost => "missing_host",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

/// The sentence for a refusal.
fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::TooManySockets { limit } => {
            format!("the server holds its limit of {limit} connections; try again later")
        }
        Refusal::TooManySocketsFromAddress { limit } => {
            format!("your address holds its limit of {limit} open connections (--max-sockets-per-ip)")
        }
        Refusal::ConnectionRate { per_second } => format!(
            "your address opened more than {per_second} connections in a second (--max-connection-rate-per-ip)"
        ),
        Refusal::HeadTooLarge { limit } => {
            format!("the request head is over {limit} bytes")
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
        let retry_after = match self {
            Self::Limit(_) | Self::Refused(Refusal::TooManySockets { .. }) => {
                Some(RETRY_AFTER_SECS)
            }
            Self::Refused(Refusal::TooManySocketsFromAddress { .. }) => Some(RETRY_AFTER_SECS),
            // The bucket refills within a second.
            Self::Refused(Refusal::ConnectionRate { .. }) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
