//! `GET /sse/{id}` through axum: validates the id, joins the stream, and
//! either takes an HTTP/1.1 connection over to stream on it directly (see
//! `transport/served/handed_socket`) or turns the subscription into a
//! `text/event-stream` response body (HTTP/1.0). The server speaks HTTP/1.x
//! only; `HEAD` gets the stream's headers without joining it.

use super::auth::Credentials;
use super::error::AppError;
use super::state::AppState;
use crate::model::{StreamId, StreamIdError};
use crate::server::hub::Hub;
use crate::server::sse::{last_event_id_param, retry_frame, STREAM_HEADERS};
use crate::server::stats::bump;
use crate::server::transport::{direct, Client, OpenedStream};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use std::convert::Infallible;

/// The event stream of one id. A `Last-Event-ID` header (or a `lastEventId`
/// query parameter) resumes after that event.
pub(crate) async fn stream_events(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<Client>,
    method: Method,
    version: Version,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let hub = &state.hub;
    let id = parse_stream_id(hub, path)?;
    let header = |name| headers.get(name).map(HeaderValue::as_bytes);
    let credentials = Credentials {
        authorization: header(header::AUTHORIZATION),
        cookie: header(header::COOKIE),
        origin: header(header::ORIGIN),
        query: query.as_deref(),
    };
    let ends_after = state.authorize_stream(&id, credentials)?;
    if method == Method::HEAD {
        // The head only: no subscriber, no generator, no connection slot.
        return Ok((stream_headers(), Body::empty()).into_response());
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.as_deref().and_then(last_event_id_param));
    let subscription = hub
        .subscribe(&id, last_event_id.as_deref(), client.addr.ip())
        .await?;

    // An HTTP/1.1 connection carries nothing after a stream, so it can leave
    // hyper; HTTP/1.0 has no chunked encoding for the direct writer to use.
    if version == Version::HTTP_11 {
        if let Some(socket) = client.take_socket() {
            let origin = headers.get(header::ORIGIN).map(HeaderValue::as_bytes);
            let opened = OpenedStream {
                subscription,
                headers: state.http.cors.headers(origin),
                ends_after,
            };
            direct::take_over(socket, client.addr, opened, &state.direct);
            // hyper writes this into the void and, told it is the last
            // response, parses nothing the client may have pipelined after
            // the stream request: it lets the connection go.
            return Ok((StatusCode::NO_CONTENT, [(header::CONNECTION, "close")]).into_response());
        }
    }

    let retry = retry_frame(state.http.retry);
    let shutdown = hub.shutdown_token().clone();
    // The subscription moves into the body; dropping the body leaves the stream.
    let messages = stream::unfold(subscription, |mut subscription| async move {
        let message = subscription.next_message().await?;
        Some((message, subscription))
    });
    let body = stream::once(async move { retry })
        .chain(messages)
        .take_until(async move { direct::ends_at(&shutdown, ends_after).await })
        .map(Ok::<_, Infallible>);
    Ok((stream_headers(), Body::from_stream(body)).into_response())
}

/// [`STREAM_HEADERS`] as header values.
fn stream_headers() -> [(HeaderName, HeaderValue); 3] {
    STREAM_HEADERS.map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    })
}

/// `GET /sse/` with no id at all.
pub(crate) async fn missing_stream_id(State(hub): State<Hub>) -> AppError {
    reject_stream_id(&hub, AppError::InvalidStreamId(StreamIdError::Empty))
}

/// Validates the decoded path segment, counting rejections.
pub(super) fn parse_stream_id(
    hub: &Hub,
    path: Result<Path<String>, PathRejection>,
) -> Result<StreamId, AppError> {
    let parsed = match path {
        Ok(Path(raw)) => StreamId::parse(&raw).map_err(AppError::from),
        Err(_) => Err(AppError::StreamIdEncoding),
    };
    parsed.map_err(|error| reject_stream_id(hub, error))
}

/// Counts and logs a request refused for its stream id, like every other
/// rejection.
fn reject_stream_id(hub: &Hub, error: AppError) -> AppError {
    let total = bump(&hub.stats().invalid_stream_id);
    tracing::warn!(rejected_total = total, %error, "rejected: invalid stream id");
    error
}
