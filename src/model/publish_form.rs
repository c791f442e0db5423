//! The Publish card's logic: checking what is typed before anything is sent,
//! the request it makes (`POST /api/streams/{id}/events`), and what its
//! answer says. Invalid input never becomes a request: the card shows the
//! reason beside the field instead.

use super::json_text::check_json;
use super::json_value::read_json;
use super::publish::{EventType, Published};
use super::token::BearerToken;
use super::wire::{ErrorBody, StreamId};

/// The card's fields, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishDraft {
    /// The stream to publish to.
    pub stream: String,
    /// The SSE event type; blank for an unnamed message.
    pub event_type: String,
    /// The data, JSON.
    pub data: String,
    /// The token; blank to send none (the server then says what it needs).
    pub token: String,
}

/// A field of the card, to point at the first one that needs fixing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftField {
    /// The stream id.
    Stream,
    /// The event type.
    EventType,
    /// The data editor.
    Data,
    /// The token.
    Token,
}

/// A checked draft, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    /// Where to publish.
    pub stream: StreamId,
    /// The event type, if any (the client listens for it before sending).
    pub event_type: Option<EventType>,
    /// The JSON body.
    pub body: String,
    /// The token to send as `Authorization`, if any.
    pub token: Option<BearerToken>,
}

impl PublishRequest {
    /// The path to `POST` to (stream ids need no escaping in a path).
    pub fn path(&self) -> String {
        format!("/api/streams/{}/events", self.stream)
    }
}

/// The stream id field's check (surrounding spaces ignored).
pub fn check_stream(raw: &str) -> Result<StreamId, String> {
    StreamId::parse(raw.trim()).map_err(|reason| capitalise(&reason.to_string()))
}

/// The event type field's check: blank is no type (an unnamed message).
pub fn check_event_type(raw: &str) -> Result<Option<EventType>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    EventType::parse(raw)
        .map(Some)
        .map_err(|reason| capitalise(&reason.to_string()))
}

impl PublishDraft {
    /// Checks every field and builds the request, or names the first field
    /// (in the card's order) that is not right.
    pub fn check(&self) -> Result<PublishRequest, DraftField> {
        let stream = check_stream(&self.stream).map_err(|_| DraftField::Stream)?;
        let event_type = check_event_type(&self.event_type).map_err(|_| DraftField::EventType)?;
        check_json(&self.data).map_err(|_| DraftField::Data)?;
        let token = BearerToken::parse(&self.token).map_err(|_| DraftField::Token)?;
        Ok(PublishRequest {
            body: request_body(&self.data, event_type.as_ref()),
            stream,
            event_type,
            token,
        })
    }
}

/// `{"data": <data>, "event": "<type>"}`, with the data exactly as typed
/// (checked to be JSON first), so that its members keep their order.
fn request_body(data: &str, event_type: Option<&EventType>) -> String {
    match event_type {
        // An event type is only ever letters, digits and `_ . -`: no
        // escaping needed inside the quotes.
        Some(kind) => format!(r#"{{"data":{},"event":"{kind}"}}"#, data.trim()),
        None => format!(r#"{{"data":{}}}"#, data.trim()),
    }
}

/// What the card says about its last publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishAnswer {
    /// The request is on its way.
    Sending {
        /// The stream it goes to.
        stream: String,
    },
    /// The server took the event.
    Published(Published),
    /// The server answered with an error.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's sentence.
        error: String,
        /// The server's code, when its body had one.
        code: Option<String>,
    },
    /// No answer could be read: the network, a timeout, a garbled body.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

impl PublishAnswer {
    /// Reads the server's answer: `status` and the body's text.
    pub fn from_response(status: u16, body: &str) -> Self {
        if (200..300).contains(&status) {
            return match read_json::<Published>(body) {
                Ok(published) => Self::Published(published),
                Err(error) => Self::Failed {
                    reason: format!(
                        "the server answered HTTP {status} but its answer could not be read ({error})"
                    ),
                },
            };
        }
        match read_json::<ErrorBody>(body) {
            Ok(ErrorBody { error, code }) => Self::Refused {
                status,
                error,
                code: Some(code),
            },
            Err(_) => Self::Refused {
                status,
                error: "the answer gave no reason".to_owned(),
                code: None,
            },
        }
    }

    /// The sentence the card shows and screen readers hear.
    pub fn message(&self) -> String {
        match self {
            Self::Sending { stream } => format!("Publishing to {stream}…"),
            Self::Published(Published { stream, id }) => {
                format!("Published as event {id} on stream {stream}.")
            }
            Self::Refused {
                status,
                error,
                code: Some(code),
            } => format!("Refused: {error} ({code}, HTTP {status})."),
            Self::Refused {
                status,
                error,
                code: None,
            } => format!("Refused: {error} (HTTP {status})."),
            Self::Failed { reason } => format!("Not published: {reason}."),
        }
    }

    /// One word for styling and tests: `sending`, `published` or `refused`.
    pub fn state(&self) -> &'static str {
        match self {
            Self::Sending { .. } => "sending",
            Self::Published(_) => "published",
            Self::Refused { .. } | Self::Failed { .. } => "refused",
        }
    }
}

/// The model's error sentences start in lower case (they are also used
/// mid-sentence); beside a field they start a sentence.
fn capitalise(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_ascii_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(stream: &str, event_type: &str, data: &str, token: &str) -> PublishDraft {
        PublishDraft {
            stream: stream.into(),
            event_type: event_type.into(),
            data: data.into(),
            token: token.into(),
        }
    }

    #[test]
    fn a_good_draft_becomes_a_request_keeping_the_data_as_typed() {
        let request = draft(
            " orders ",
            "order.paid",
            " {\"b\": 1, \"a\": 2}\n",
            "abc.def.ghi",
        )
        .check()
        .expect("valid");
        assert_eq!(request.path(), "/api/streams/orders/events");
        assert_eq!(
            request.body,
            r#"{"data":{"b": 1, "a": 2},"event":"order.paid"}"#
        );
        let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
        assert_eq!(body["data"]["b"], 1);
        assert_eq!(
            request.token.map(|t| t.authorization()).as_deref(),
            Some("Bearer abc.def.ghi")
        );
    }

    #[test]
    fn no_type_and_no_token_are_allowed() {
        let request = draft("s", "  ", "\"text\"", "").check().expect("valid");
        assert_eq!(request.body, r#"{"data":"text"}"#);
        assert_eq!(request.event_type, None);
        assert_eq!(request.token, None);
    }

    #[test]
    fn the_first_bad_field_is_named() {
        assert_eq!(
            draft("a b", "x y", "{", "a;b").check(),
            Err(DraftField::Stream)
        );
        assert_eq!(
            draft("s", "x y", "{", "a;b").check(),
            Err(DraftField::EventType)
        );
        assert_eq!(
            draft("s", "gap", "{}", "").check(),
            Err(DraftField::EventType)
        );
        assert_eq!(draft("s", "t", "{", "a;b").check(), Err(DraftField::Data));
        assert_eq!(draft("s", "t", "", "").check(), Err(DraftField::Data));
        assert_eq!(draft("s", "t", "{}", "a;b").check(), Err(DraftField::Token));
    }

    #[test]
    fn field_messages_are_sentences() {
        let error = check_event_type("a b").expect_err("invalid");
        assert!(error.starts_with("The event type contains"), "{error}");
        assert!(error.ends_with('.'), "{error}");
        assert!(check_stream("")
            .expect_err("empty")
            .starts_with("The stream id is empty"));
    }

    #[test]
    fn answers_read_the_servers_json() {
        assert_eq!(
            PublishAnswer::from_response(201, r#"{"stream":"s","id":42}"#).message(),
            "Published as event 42 on stream s."
        );
        let refused = PublishAnswer::from_response(
            401,
            r#"{"error":"a token is needed to publish","code":"missing_token"}"#,
        );
        assert_eq!(refused.state(), "refused");
        assert_eq!(
            refused.message(),
            "Refused: a token is needed to publish (missing_token, HTTP 401)."
        );
        assert_eq!(
            PublishAnswer::from_response(502, "<html>").message(),
            "Refused: the answer gave no reason (HTTP 502)."
        );
        assert!(matches!(
            PublishAnswer::from_response(201, "{}"),
            PublishAnswer::Failed { .. }
        ));
    }
}
