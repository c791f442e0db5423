//! The wire format: types that travel between the server and the browser as
//! JSON, defined once for both sides.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest stream id the server accepts, in characters.
pub const MAX_STREAM_ID_LEN: usize = 128;

/// A validated stream id: 1 to [`MAX_STREAM_ID_LEN`] characters of
/// `A-Z a-z 0-9 . _ ~ -` (RFC 3986's unreserved set), so it is safe in a URL
/// path, a log line and an SSE field without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

/// Why a string is not a valid [`StreamId`]; the message is shown to users
/// verbatim (in the API's JSON errors and next to the UI's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    /// Nothing was given.
    #[error("the stream id is empty; give 1 to 128 characters")]
    Empty,
    /// More than [`MAX_STREAM_ID_LEN`] characters.
    #[error("the stream id is {len} characters long; the limit is 128")]
    TooLong {
        /// Length of the rejected id, in characters.
        len: usize,
    },
    /// A character outside the allowed set.
    #[error(
        "the stream id contains {found}, which is not allowed; use only letters, digits and . _ ~ -"
    )]
    InvalidChar {
        /// The first offending character, quoted and escaped for display.
        found: String,
    },
    /// `.` or `..`: a URL path segment that browsers and proxies resolve away
    /// before the request is sent, so no client could ever open it.
    #[error(
        "the stream id '{0}' is a path segment that browsers remove from URLs; use another id"
    )]
    DotSegment(&'static str),
}

impl StreamId {
    /// Validates `raw` (already percent-decoded) as a stream id.
    pub fn parse(raw: &str) -> Result<Self, StreamIdError> {
        if raw.is_empty() {
            return Err(StreamIdError::Empty);
        }
        if let Some(segment) = [".", ".."].into_iter().find(|dots| raw == *dots) {
            return Err(StreamIdError::DotSegment(segment));
        }
        if let Some(bad) = raw.chars().find(|c| !is_stream_id_char(*c)) {
            return Err(StreamIdError::InvalidChar {
                found: describe_char(bad),
            });
        }
        // Every allowed character is ASCII, so bytes == characters here.
        if raw.len() > MAX_STREAM_ID_LEN {
            return Err(StreamIdError::TooLong { len: raw.len() });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `true` for the characters a stream id may contain.
fn is_stream_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')
}

/// Renders a refused character readably in an error message: a visible
/// ASCII one as itself, any other visible one as itself with its code
/// point (`'é' (U+00E9)`: two look-alikes are told apart), and one that
/// shows as nothing or moves the text around it (controls, spaces,
/// zero-width and direction marks, combining marks) by its code point
/// only.
pub(crate) fn describe_char(c: char) -> String {
    if c == ' ' {
        "a space".to_owned()
    } else if c.is_ascii_graphic() {
        format!("'{c}'")
    } else if c.is_control() || c.is_whitespace() || is_invisible(c) {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("'{c}' (U+{:04X})", c as u32)
    }
}

/// Characters that print as nothing, join or reorder their neighbours, or
/// attach to the character before them: Unicode's format characters (Cf,
/// all of them as of Unicode 16), the combining marks most often met,
/// variation selectors, and the noncharacters and private use a font has
/// no glyph for. (A combining mark not listed still shows its code point
/// beside it.)
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{3164}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{FDD0}'..='\u{FDEF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{FFFE}'..='\u{FFFF}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
            | '\u{F0000}'..
    )
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = StreamIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<StreamId> for String {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

/// One generated event, exactly as it travels in an SSE `data:` field.
/// Nothing else is one: a published object with these fields and more is
/// the application's (the page tells the two apart by this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamEvent {
    /// The random number, uniform in the server's `[min, max]`.
    pub number: u32,
    /// When the generator produced it: ISO-8601 UTC with milliseconds,
    /// e.g. `2026-11-25T18:08:54.123Z`.
    pub timestamp: String,
    /// The stream id the event belongs to.
    pub id: String,
}

/// Payload of the `event: gap` SSE message: the server could not deliver the
/// events with sequence ids `first..=last` (they left the replay buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapNotice {
    /// First missing sequence id.
    pub first: u64,
    /// Last missing sequence id.
    pub last: u64,
}

/// One entry of `GET /api/streams`: a stream whose generator is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// The stream id.
    pub id: String,
    /// Clients connected right now.
    pub subscribers: usize,
    /// Events sent in the stream's current life (ids grow across lives, so
    /// this is not its last sequence id).
    pub events_sent: u64,
    /// When the generator last started, ISO-8601 UTC.
    pub started_at: String,
    /// Milliseconds since the stream's newest event was appended here;
    /// `None` before its first in this life.
    #[serde(default)]
    pub last_event_ms_ago: Option<u64>,
}

/// Rejected requests by reason, as reported in [`HubStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionCounts {
    /// New streams refused because `--max-streams` were active.
    pub too_many_streams: u64,
    /// Connections refused because `--max-connections` were open.
    pub too_many_connections: u64,
    /// Connections refused because one IP had `--max-connections-per-ip` open.
    pub too_many_connections_from_ip: u64,
    /// Requests whose stream id failed validation.
    pub invalid_stream_id: u64,
    /// New sockets refused because their address held
    /// `--max-sockets-per-ip` open sockets already.
    #[serde(default)]
    pub too_many_sockets_from_ip: u64,
    /// New sockets refused because their address opened more than
    /// `--max-connection-rate-per-ip` in the last second.
    #[serde(default)]
    pub connection_rate_limited: u64,
    /// Requests whose `Host` is not one of `--allowed-hosts`.
    #[serde(default)]
    pub host_not_allowed: u64,
    /// Connections closed because the client made no progress reading for
    /// `--write-timeout-ms`.
    pub slow_client_disconnected: u64,
    /// Publishes and private-stream requests without a token.
    #[serde(default)]
    pub missing_token: u64,
    /// Requests whose token did not verify (signature, format, expiry).
    #[serde(default)]
    pub invalid_token: u64,
    /// Requests whose valid token did not grant what they asked.
    #[serde(default)]
    pub forbidden: u64,
    /// Publishes whose body was not JSON or had no `data`.
    #[serde(default)]
    pub invalid_event: u64,
    /// Publishes with an invalid `event` type.
    #[serde(default)]
    pub invalid_event_type: u64,
    /// Publishes over `--max-event-bytes`.
    #[serde(default)]
    pub event_too_large: u64,
    /// Publishes not sent as `application/json`.
    #[serde(default)]
    pub unsupported_media_type: u64,
    /// Publishes over a stream's `--max-publish-rate`.
    #[serde(default)]
    pub publish_rate_limited: u64,
    /// Publishes with an invalid `Idempotency-Key`.
    #[serde(default)]
    pub invalid_idempotency_key: u64,
    /// HTTP/1.1 requests with no `Host` header.
    #[serde(default)]
    pub missing_host: u64,
    /// Requests with more than one `Host` header, or one that is no host.
    #[serde(default)]
    pub invalid_host: u64,
    /// First requests on a connection whose head was too large (431).
    #[serde(default)]
    pub head_too_large: u64,
    /// Publishes answered 503 because the store did not take the event.
    #[serde(default)]
    pub store_unavailable: u64,
}

/// Body of `GET /api/stats`: a snapshot of the whole hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubStats {
    /// Open SSE connections.
    pub connections: u64,
    /// Streams with a running generator.
    pub streams: u64,
    /// Rejections by reason.
    pub rejected: RejectionCounts,
    /// Events appended since start, generated and published, over all
    /// streams (each counted once, however many clients received it).
    pub events_sent: u64,
    /// Of those, the events published through the API.
    #[serde(default)]
    pub events_published: u64,
    /// Of those, the events this instance's generator appended.
    #[serde(default)]
    pub events_generated: u64,
    /// Streams this instance generates for because it holds their lease
    /// (a shared store; 0 otherwise).
    #[serde(default)]
    pub leading_streams: u64,
    /// Generated appends the shared store refused because another instance
    /// had taken the stream's lease over.
    #[serde(default)]
    pub fenced_appends: u64,
    /// Copies of events handed to clients (an event appended while its
    /// stream had 3 subscribers counts 3).
    #[serde(default)]
    pub deliveries: u64,
    /// Bytes of those copies, as SSE messages.
    #[serde(default)]
    pub delivered_bytes: u64,
    /// Open dashboard feeds (`GET /api/stats/stream` readers): none of
    /// them is an SSE connection of a stream.
    #[serde(default)]
    pub dashboard_feeds: u64,
    /// Seconds since the server started.
    pub uptime_s: u64,
}

/// Most streams one [`StatsFrame`] lists: the busiest, so that a frame
/// stays small (a few KB) however many streams the hub carries.
pub const STATS_FRAME_STREAMS: usize = 100;

/// Data of one `event: stats` message of `GET /api/stats/stream`, which
/// feeds the dashboard: the hub's counters and its busiest public streams,
/// taken at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFrame {
    /// When the server process started, in milliseconds since the Unix
    /// epoch: a frame with another value comes from another process (a
    /// restart, or another instance behind a load balancer), whose
    /// counters cannot be compared with the last frame's.
    #[serde(default)]
    pub started_at_ms: u64,
    /// Milliseconds since the server started, when the frame was taken:
    /// the clock rates are computed with (the server's, so that a frame
    /// arriving late in the browser does not make a rate jump).
    pub elapsed_ms: u64,
    /// The same counters as `GET /api/stats`.
    pub hub: HubStats,
    /// Streams with subscribers, private ones left out, busiest first (most
    /// subscribers, then most events, then id), at most
    /// [`STATS_FRAME_STREAMS`].
    pub streams: Vec<StreamSummary>,
}

impl RejectionCounts {
    /// Every counter with its error code (as in the API's JSON errors), in
    /// a fixed order, for the places that list them all.
    pub fn by_code(&self) -> [(&'static str, u64); 21] {
        [
            ("too_many_streams", self.too_many_streams),
            ("too_many_connections", self.too_many_connections),
            (
                "too_many_connections_from_ip",
                self.too_many_connections_from_ip,
            ),
            ("invalid_stream_id", self.invalid_stream_id),
            ("too_many_sockets_from_ip", self.too_many_sockets_from_ip),
            ("connection_rate_limited", self.connection_rate_limited),
            ("host_not_allowed", self.host_not_allowed),
            ("slow_client_disconnected", self.slow_client_disconnected),
            ("missing_token", self.missing_token),
            ("invalid_token", self.invalid_token),
            ("forbidden", self.forbidden),
            ("invalid_event", self.invalid_event),
            ("invalid_event_type", self.invalid_event_type),
            ("event_too_large", self.event_too_large),
            ("unsupported_media_type", self.unsupported_media_type),
            ("publish_rate_limited", self.publish_rate_limited),
            ("invalid_idempotency_key", self.invalid_idempotency_key),
            ("missing_host", self.missing_host),
            ("invalid_host", self.invalid_host),
            ("head_too_large", self.head_too_large),
            ("store_unavailable", self.store_unavailable),
        ]
    }
}

/// The JSON body of every error response: a sentence for people and a stable
/// code for programs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable sentence naming the problem.
    pub error: String,
    /// Machine-readable code, e.g. `invalid_stream_id`.
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_character_is_named_so_that_it_can_be_seen() {
        let said = |c| describe_char(c);
        assert_eq!(said(' '), "a space");
        assert_eq!(said('/'), "'/'");
        assert_eq!(said('\n'), "the character U+000A");
        // Visible, with the code point that tells look-alikes apart.
        assert_eq!(said('é'), "'é' (U+00E9)");
        assert_eq!(said('а'), "'а' (U+0430)");
        // Invisible or text-moving: the code point alone, never the
        // character itself (which would show as '' or reorder the message).
        for invisible in [
            '\u{200B}',
            '\u{FEFF}',
            '\u{202E}',
            '\u{00AD}',
            '\u{0301}',
            '\u{E0041}',
            '\u{00A0}',
            '\u{2028}',
            '\u{0600}',
            '\u{13430}',
            '\u{1BCA0}',
            '\u{0483}',
        ] {
            let text = said(invisible);
            assert_eq!(text, format!("the character U+{:04X}", invisible as u32));
            assert!(!text.contains(invisible), "{text}");
        }
        let error = StreamId::parse("room\u{200B}1").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "the stream id contains the character U+200B, which is not allowed; use only letters, digits and . _ ~ -"
        );
    }

    #[test]
    fn accepts_every_allowed_character() {
        let id = StreamId::parse("AZaz09._~-").expect("valid id");
        assert_eq!(id.as_str(), "AZaz09._~-");
    }

    #[test]
    fn accepts_exactly_the_maximum_length() {
        assert!(StreamId::parse(&"a".repeat(MAX_STREAM_ID_LEN)).is_ok());
        assert_eq!(
            StreamId::parse(&"a".repeat(MAX_STREAM_ID_LEN + 1)),
            Err(StreamIdError::TooLong { len: 129 })
        );
    }

    #[test]
    fn rejects_empty_and_foreign_characters_with_a_readable_reason() {
        assert_eq!(StreamId::parse(""), Err(StreamIdError::Empty));
        let err = StreamId::parse("a b").expect_err("space is invalid");
        assert!(err.to_string().contains("a space"), "{err}");
        let err = StreamId::parse("a/b").expect_err("slash is invalid");
        assert!(err.to_string().contains("'/'"), "{err}");
        let err = StreamId::parse("a\nb").expect_err("newline is invalid");
        assert!(err.to_string().contains("U+000A"), "{err}");
        assert!(StreamId::parse("é").is_err());
    }

    #[test]
    fn rejects_the_dot_segments_browsers_resolve_away() {
        for dots in [".", ".."] {
            let err = StreamId::parse(dots).expect_err("a dot segment");
            assert_eq!(err, StreamIdError::DotSegment(dots));
            assert!(err.to_string().contains("path segment"), "{err}");
        }
        for fine in ["...", ".a", "a.", "..a"] {
            assert!(StreamId::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn event_round_trips_through_json_with_the_documented_field_names() {
        let event = StreamEvent {
            number: 7,
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            id: "s1".into(),
        };
        let json = serde_json::to_string(&event).expect("serialise");
        assert_eq!(
            json,
            r#"{"number":7,"timestamp":"2026-01-01T00:00:00.000Z","id":"s1"}"#
        );
        let back: StreamEvent = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, event);
    }

    proptest::proptest! {
        #[test]
        fn ids_from_the_allowed_alphabet_are_accepted(raw in "[A-Za-z0-9._~-]{1,128}") {
            // The two dot segments are the only ids of the alphabet refused.
            proptest::prop_assume!(raw != "." && raw != "..");
            let id = StreamId::parse(&raw).expect("valid");
            proptest::prop_assert_eq!(id.as_str(), raw.as_str());
        }

        #[test]
        fn any_string_is_accepted_exactly_when_it_follows_the_rules(raw in proptest::prelude::any::<String>()) {
            let follows_rules = !raw.is_empty()
                && raw.chars().count() <= MAX_STREAM_ID_LEN
                && raw.chars().all(|c| c.is_ascii_alphanumeric() || ".-_~".contains(c))
                && raw != "."
                && raw != "..";
            proptest::prop_assert_eq!(StreamId::parse(&raw).is_ok(), follows_rules);
        }

        #[test]
        fn rejection_messages_never_echo_control_characters(raw in proptest::prelude::any::<String>()) {
            if let Err(error) = StreamId::parse(&raw) {
                let message = error.to_string();
                proptest::prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
            }
        }
    }

    #[test]
    fn stream_id_deserialisation_validates() {
        assert!(serde_json::from_str::<StreamId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<StreamId>("\"not ok\"").is_err());
    }
}
