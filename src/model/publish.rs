//! What a publisher sends and gets back (`POST /api/streams/{id}/events`),
//! shared by the server and the page's Publish card so that both validate
//! an event type the same way.

use super::wire::describe_char;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most characters an event type may have.
pub const MAX_EVENT_TYPE_LEN: usize = 64;

/// An SSE event type (`event:`) a publisher may use: 1–64 characters of
/// `A-Z a-z 0-9 _ . -`, and not `gap`, which the hub sends itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

/// Why a string is not a valid [`EventType`]; shown to users verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTypeError {
    /// Empty.
    #[error("the event type is empty; give 1 to 64 characters, or leave it out")]
    Empty,
    /// Over [`MAX_EVENT_TYPE_LEN`] characters.
    #[error("the event type is {len} characters long; the limit is 64")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// A character outside the allowed set.
    #[error("the event type contains {found}; use only letters, digits and _ . -")]
    InvalidChar {
        /// The first offending character, quoted.
        found: String,
    },
    /// `gap`, the hub's own notice.
    #[error("the event type 'gap' is reserved for the hub's own gap notices")]
    Reserved,
}

impl EventType {
    /// Validates `raw` as an event type.
    pub fn parse(raw: &str) -> Result<Self, EventTypeError> {
        if raw.is_empty() {
            return Err(EventTypeError::Empty);
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(EventTypeError::InvalidChar {
                found: describe_char(bad),
            });
        }
        // Every allowed character is ASCII, so bytes == characters here.
        if raw.len() > MAX_EVENT_TYPE_LEN {
            return Err(EventTypeError::TooLong { len: raw.len() });
        }
        if raw == "gap" {
            return Err(EventTypeError::Reserved);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The answer to a publish: where the event went and its sequence id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The stream id.
    pub stream: String,
    /// The event's sequence id in the stream (its SSE `id:`).
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["a", "order.paid", "build-finished_2", &"x".repeat(64)] {
            assert_eq!(
                EventType::parse(ok).map(|t| t.to_string()).as_deref(),
                Ok(ok)
            );
        }
    }

    #[test]
    fn refuses_everything_else_with_a_reason() {
        assert_eq!(EventType::parse(""), Err(EventTypeError::Empty));
        assert_eq!(
            EventType::parse(&"x".repeat(65)),
            Err(EventTypeError::TooLong { len: 65 })
        );
        assert_eq!(EventType::parse("gap"), Err(EventTypeError::Reserved));
        assert_eq!(
            EventType::parse("a b"),
            Err(EventTypeError::InvalidChar {
                found: "a space".into()
            })
        );
        // A newline would start a new SSE field.
        assert!(matches!(
            EventType::parse("a\ndata: x"),
            Err(EventTypeError::InvalidChar { .. })
        ));
        assert!(matches!(
            EventType::parse("é"),
            Err(EventTypeError::InvalidChar { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn a_valid_type_can_never_break_an_sse_line(raw in ".{0,80}") {
            if let Ok(kind) = EventType::parse(&raw) {
                proptest::prop_assert!(!kind.as_str().contains(['\n', '\r', ':', ' ']));
                proptest::prop_assert!((1..=MAX_EVENT_TYPE_LEN).contains(&kind.as_str().len()));
                proptest::prop_assert_ne!(kind.as_str(), "gap");
            }
        }
    }
}
