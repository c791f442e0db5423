//! `POST /api/streams/{id}/events`: the application's own events, appended
//! to the stream's log by the same append as generated ones.
//!
//! Contract, checked in this order, each failure a JSON error and nothing
//! appended:
//! 1. the stream id (`400 invalid_stream_id`);
//! 2. a token granting `publish` on the stream, from the `Authorization`
//!    header only (a cookie or a URL could be sent by another page):
//!    `401 missing_token` / `401 invalid_token` / `403 forbidden`;
//! 3. `Content-Type: application/json` (`415 unsupported_media_type`);
//! 4. an `Idempotency-Key`, when given, of 1–128 printable ASCII characters
//!    (`400 invalid_idempotency_key`);
//! 5. the body within `--max-event-bytes` (`413 event_too_large`), refused
//!    from its `Content-Length` or as soon as more arrived, never buffered
//!    beyond the limit, and whole within `--head-timeout-ms` of the head
//!    (`400 invalid_event`);
//! 6. a JSON object with `data` (any JSON value) and, optionally, `event`
//!    (`400 invalid_event`, `400 invalid_event_type`);
//! 7. the stream's publish rate (`429 publish_rate_limited`), counted only
//!    for an event that is appended (not for a replayed answer);
//! 8. a stream slot: publishing to a new stream at `--max-streams` never
//!    takes the place of a retained idle one (`503 too_many_streams`).
//!
//! Then `201 {"stream", "id"}` once the event is in the stream's log and on
//! its way to every subscriber; with an `Idempotency-Key` seen on this stream
//! in the last five minutes, the first answer again with
//! `Idempotent-Replayed: true`.

use super::auth::Credentials;
use super::error::AppError;
use super::sse::parse_stream_id;
use super::state::AppState;
use super::tokens::Access;
use crate::model::{EventType, Published, StreamId};
use crate::server::hub::HubError;
use crate::server::store::NewEvent;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

/// The header a replayed idempotent answer carries.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// The handler; see the module doc.
pub(crate) async fn publish_event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let stats = state.hub.stats();
    let id = parse_stream_id(&state.hub, path)?;
    let answered = accept(&state, &id, &headers, body).await;
    let (event, key) = answered.map_err(|error| error.counted(stats))?;
    let admit = || {
        (state.publish_rate)
            .admit(&id)
            .map_err(|error| error.counted(stats))
    };
    let (seq, replayed) = state
        .hub
        .publish_once(&id, key.as_deref(), event, admit)
        .await
        // The admission's refusals are counted already; a store that did
        // not take the event is counted here.
        .map_err(|error: AppError| match error {
            store @ AppError::Limit(HubError::Store(_)) => store.counted(stats),
            other => other,
        })?;
    let published = Published {
        stream: id.to_string(),
        id: seq,
    };
    let mut response = (StatusCode::CREATED, Json(published)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Steps 2–6 of the contract: the event to append and its idempotency key.
async fn accept(
    state: &AppState,
    id: &StreamId,
    headers: &HeaderMap,
    body: Body,
) -> Result<(NewEvent, Option<String>), AppError> {
    let credentials = Credentials {
        authorization: headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
        ..Credentials::default()
    };
    let http = &state.http;
    http.auth
        .authorize(id, Access::Publish, credentials, &http.cors)?;
    if !is_json(headers.get(header::CONTENT_TYPE)) {
        return Err(AppError::UnsupportedMediaType);
    }
    let key = idempotency_key(headers)?;
    let limit = http.publish.max_event_bytes;
    let timeout = http.publish.body_timeout;
    let body = tokio::time::timeout(timeout, read_limited(body, headers, limit))
        .await
        .map_err(|_| {
            AppError::InvalidEvent(format!(
                "the body did not arrive within {} ms (--head-timeout-ms)",
                timeout.as_millis()
            ))
        })??;
    let event = parse_event(&body)?;
    Ok((event, key))
}

/// Whether a `Content-Type` says JSON (`application/json`, any parameters).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The `Idempotency-Key`, when there is one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let printable = bytes.iter().all(|byte| (0x20..0x7f).contains(byte));
    if bytes.is_empty() || bytes.len() > MAX_IDEMPOTENCY_KEY || !printable {
        return Err(AppError::InvalidIdempotencyKey);
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// The body, read up to `limit` bytes: refused at once when its
/// `Content-Length` says it is longer, and as soon as more arrives when it
/// does not say.
async fn read_limited(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, AppError> {
    let too_large = AppError::EventTooLarge { limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large),
        Err(error) => Err(AppError::InvalidEvent(format!(
            "the body could not be read: {error}"
        ))),
    }
}

/// The event a body describes: `{"data": <JSON>, "event": "<type>"}`.
fn parse_event(body: &[u8]) -> Result<NewEvent, AppError> {
    let invalid = |why: String| AppError::InvalidEvent(why);
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the body is not JSON: {error}")))?;
    let Value::Object(mut fields) = value else {
        return Err(invalid(
            "the body must be a JSON object like {\"data\": …, \"event\": \"type\"}".into(),
        ));
    };
    let data = fields
        .remove("data")
        .ok_or_else(|| invalid("the body has no \"data\" field".into()))?;
    let event = match fields.remove("event") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(EventType::parse(&raw)?),
        Some(_) => {
            return Err(invalid(
                "the \"event\" field must be a string (the event type)".into(),
            ))
        }
    };
    if let Some(unknown) = fields.keys().next() {
        return Err(invalid(format!(
            "the body has an unknown field {unknown:?}; only \"data\" and \"event\" are read"
        )));
    }
    // Compact JSON has no line breaks: the data is one `data:` line.
    let data = serde_json::to_vec(&data)
        .map_err(|error| invalid(format!("the data cannot be encoded: {error}")))?;
    Ok(NewEvent {
        event: event.map(|kind| kind.as_str().into()),
        data: Bytes::from(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> &'static str {
        match parse_event(body.as_bytes()) {
            Ok(_) => "ok",
            Err(error) => error.code(),
        }
    }

    #[test]
    fn a_body_becomes_compact_data_and_its_type() {
        let event =
            parse_event(br#"{ "data": { "a": [1, 2] , "b": "x\ny" }, "event": "order.paid" }"#)
                .expect("valid");
        assert_eq!(event.event.as_deref(), Some("order.paid"));
        assert_eq!(&event.data[..], br#"{"a":[1,2],"b":"x\ny"}"#);
        let ordered = parse_event(br#"{"data": {"z": 1, "a": 2}}"#).expect("valid");
        assert_eq!(
            &ordered.data[..],
            br#"{"z":1,"a":2}"#,
            "keys keep their order"
        );
        let untyped = parse_event(br#"{"data": null}"#).expect("valid");
        assert_eq!((untyped.event, &untyped.data[..]), (None, &b"null"[..]));
    }

    #[test]
    fn numbers_go_out_as_the_numbers_that_came_in() {
        // Each of these parsed to a neighbouring double with serde_json's
        // default (fast, not correctly rounded) float parsing.
        for number in ["0.11618300099941015", "2.2250738585072014e-308", "0.3"] {
            let body = format!(r#"{{"data": {number}}}"#);
            let event = parse_event(body.as_bytes()).expect("valid");
            let sent: f64 = std::str::from_utf8(&event.data)
                .expect("utf-8")
                .parse()
                .expect("a number");
            let given: f64 = number.parse().expect("a number");
            assert_eq!(
                sent.to_bits(),
                given.to_bits(),
                "{number} came out as {sent}"
            );
        }
    }

    #[test]
    fn bad_bodies_get_their_codes() {
        assert_eq!(code("not json"), "invalid_event");
        assert_eq!(code("[1]"), "invalid_event");
        assert_eq!(code(r#"{"event": "x"}"#), "invalid_event");
        assert_eq!(code(r#"{"data": 1, "evnt": "x"}"#), "invalid_event");
        assert_eq!(code(r#"{"data": 1, "event": 5}"#), "invalid_event");
        assert_eq!(code(r#"{"data": 1, "event": "gap"}"#), "invalid_event_type");
        assert_eq!(code(r#"{"data": 1, "event": "a b"}"#), "invalid_event_type");
    }

    #[test]
    fn only_json_content_types_are_taken() {
        let value = |raw: &'static str| HeaderValue::from_static(raw);
        assert!(is_json(Some(&value("application/json"))));
        assert!(is_json(Some(&value("Application/JSON; charset=utf-8"))));
        assert!(!is_json(Some(&value("text/plain"))));
        assert!(!is_json(Some(&value("application/jsonx"))));
        assert!(!is_json(None));
    }
}
