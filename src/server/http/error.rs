//! The one error type of the HTTP layer and how it becomes a response.
//!
//! Every failure a client can cause is an [`AppError`]; its `IntoResponse`
//! logs it and answers with the right status and a JSON [`ErrorBody`]
//! `{"error": "<sentence>", "code": "<code>"}`.

use super::tokens::{Access, TokenError};
use crate::model::{ErrorBody, EventTypeError, StreamIdError};
use crate::server::hub::HubError;
use crate::server::stats::{bump, Stats};
use crate::server::transport::open_sockets::Refusal;
use crate::server::transport::request_head::HeadLimit;
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
    /// A `Host` header that is no host (RFC 9112 3.2: answered 400), or
    /// more than one; the message says which.
    #[error("{0}")]
    InvalidHost(String),
    /// A publish, or a private stream, without a token.
    #[error("this needs a token: send it as 'Authorization: Bearer <token>' (or, for a stream, the cookie sse_hub_token)")]
    MissingToken,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("the Authorization header is not 'Bearer <token>'")]
    NotBearer,
    /// A token that does not verify.
    #[error("{0}")]
    InvalidToken(TokenError),
    /// A valid token without the grant this needs.
    #[error("the token does not grant {} on stream {stream:?}", access_name(*.access))]
    Forbidden {
        /// The stream asked for.
        stream: String,
        /// What was asked.
        access: Access,
    },
    /// A publish body that is not a JSON object with `data`.
    #[error("{0}")]
    InvalidEvent(String),
    /// A publish whose `event` is not a valid event type.
    #[error("{0}")]
    InvalidEventType(#[from] EventTypeError),
    /// A publish body over `--max-event-bytes`.
    #[error("the event is over the limit of {limit} bytes (--max-event-bytes)")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A publish body that is not declared as JSON.
    #[error("send the event as JSON, with 'Content-Type: application/json'")]
    UnsupportedMediaType,
    /// A stream published to more often than `--max-publish-rate`.
    #[error("stream {stream:?} takes at most {per_second} events a second (--max-publish-rate)")]
    PublishRateLimited {
        /// The stream.
        stream: String,
        /// The limit.
        per_second: u32,
    },
    /// An `Idempotency-Key` that is not 1–128 printable ASCII characters.
    #[error("the Idempotency-Key must be 1 to 128 printable ASCII characters")]
    InvalidIdempotencyKey,
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
            Self::MissingHost | Self::InvalidHost(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingToken | Self::NotBearer | Self::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::InvalidEvent(_) | Self::InvalidEventType(_) | Self::InvalidIdempotencyKey => {
                StatusCode::BAD_REQUEST
            }
            Self::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PublishRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
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
            Self::InvalidHost(_) => "invalid_host",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::MissingToken => "missing_token",
            Self::NotBearer | Self::InvalidToken(_) => "invalid_token",
            Self::Forbidden { .. } => "forbidden",
            Self::InvalidEvent(_) => "invalid_event",
            Self::InvalidEventType(_) => "invalid_event_type",
            Self::EventTooLarge { .. } => "event_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PublishRateLimited { .. } => "publish_rate_limited",
            Self::InvalidIdempotencyKey => "invalid_idempotency_key",
        }
    }
}

impl AppError {
    /// Counts a refusal of a token or a publish in `/api/stats` and logs
    /// it; returns the error, to answer with. (Limits, ids and hosts are
    /// counted where they are checked.)
    pub(crate) fn counted(self, stats: &Stats) -> Self {
        let counter = match &self {
            Self::MissingToken => &stats.missing_token,
            Self::NotBearer | Self::InvalidToken(_) => &stats.invalid_token,
            Self::Forbidden { .. } => &stats.forbidden,
            Self::InvalidEvent(_) => &stats.invalid_event,
            Self::InvalidEventType(_) => &stats.invalid_event_type,
            Self::EventTooLarge { .. } => &stats.event_too_large,
            Self::UnsupportedMediaType => &stats.unsupported_media_type,
            Self::PublishRateLimited { .. } => &stats.publish_rate_limited,
            Self::InvalidIdempotencyKey => &stats.invalid_idempotency_key,
            Self::Limit(HubError::Store(_)) => &stats.store_unavailable,
            _ => return self,
        };
        let total = bump(counter);
        tracing::info!(code = self.code(), rejected_total = total, error = %self, "rejected");
        self
    }
}

/// How a grant is named in a `forbidden` message.
fn access_name(access: Access) -> &'static str {
    match access {
        Access::Publish => "publishing",
        Access::Subscribe => "subscribing",
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
        Refusal::HeadTooLarge {
            limit: HeadLimit::Bytes(limit),
        } => format!("the request head is over {limit} bytes"),
        Refusal::HeadTooLarge {
            limit: HeadLimit::HeaderLines(limit),
        } => format!("the request has more than {limit} header lines"),
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
            Self::Refused(Refusal::ConnectionRate { .. }) | Self::PublishRateLimited { .. } => {
                Some(1)
            }
            _ => None,
        };
        if matches!(
            self,
            Self::MissingToken | Self::NotBearer | Self::InvalidToken(_)
        ) {
            let challenge = if matches!(self, Self::MissingToken) {
                "Bearer realm=\"sse-hub\""
            } else {
                "Bearer realm=\"sse-hub\", error=\"invalid_token\""
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
