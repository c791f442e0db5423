//! What a received SSE message is: a generated number, an event an
//! application published, a gap notice, or data the page cannot read.
//!
//! The wire does not say who made an unnamed message: generated events and
//! published events without a type both arrive as `message`. The data
//! decides: the generator's `{"number","timestamp","id"}` shape is a
//! generated event; an object with only those field names and a `number`
//! that is not a whole number from 0 to 2^32 - 1 is a broken generated
//! event (an error row; `5.0` is the number 5, see `wire_read`);
//! any other JSON is a published event. A publisher that sends the
//! generator's exact shape without a type is therefore shown as a number;
//! giving the event a type keeps it apart.

use super::history::RowKind;
use super::json_text::FoldedJson;
use super::json_value::{check_json_syntax, parse_json, read_json, JsonError, ReadJson};
use super::wire::{GapNotice, StreamEvent};
use super::wire_read::has_generator_shape;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The SSE type of unnamed messages.
pub const UNNAMED_TYPE: &str = "message";

/// The SSE type of the hub's own gap notices.
pub const GAP_TYPE: &str = "gap";

/// An event an application published (`POST /api/streams/{id}/events`), as
/// the history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// The `id:` field, when it was a number.
    pub seq: Option<u64>,
    /// The SSE `event:` type; `None` for an unnamed message.
    pub event_type: Option<String>,
    /// The data, laid out and folded for reading.
    pub data: FoldedJson,
    /// Stands for the type and the data exactly as received, so that panels
    /// can compare what they got without keeping every byte of it.
    pub fingerprint: u64,
}

/// Turns one received message into the history row it shows as.
/// `event_type` is the message's SSE type (`message` when unnamed),
/// `last_event_id` its `id:` and `data` its `data:`.
pub fn read_message(event_type: &str, last_event_id: &str, data: &str) -> RowKind {
    let seq = last_event_id.parse().ok();
    match event_type {
        GAP_TYPE => match read_json::<GapNotice>(data) {
            Ok(gap) => RowKind::Gap(gap),
            Err(error) => RowKind::Malformed {
                reason: format!("could not read gap notice ({error})"),
            },
        },
        "" | UNNAMED_TYPE => read_unnamed(seq, data),
        named => read_published(seq, Some(named), data),
    }
}

/// An unnamed message: a generated event, or one published without a type.
fn read_unnamed(seq: Option<u64>, data: &str) -> RowKind {
    // Only an object is a generated event (an array of its fields in
    // order is published data); anything else is only checked, not copied
    // out of the browser's parser.
    if !data.trim_start().starts_with('{') {
        return match check_json_syntax(data) {
            Ok(()) => published_row(seq, None, data),
            Err(error) => malformed_event(&error),
        };
    }
    let value = match parse_json(data, StreamEvent::LEVELS) {
        Ok(value) => value,
        Err(error) => return malformed_event(&error),
    };
    if !has_generator_shape(&value) {
        return published_row(seq, None, data);
    }
    match StreamEvent::read_json(&value) {
        Ok(event) => RowKind::Event { seq, event },
        Err(error) => malformed_event(&error),
    }
}

/// The error row of an unnamed message that is not readable.
fn malformed_event(error: &JsonError) -> RowKind {
    RowKind::Malformed {
        reason: format!("could not read event data ({error})"),
    }
}

/// A published event, or an error row when its data is not JSON.
fn read_published(seq: Option<u64>, event_type: Option<&str>, data: &str) -> RowKind {
    if let Err(error) = check_json_syntax(data) {
        return RowKind::Malformed {
            reason: format!(
                "could not read the data of a '{}' event ({error})",
                event_type.unwrap_or(UNNAMED_TYPE)
            ),
        };
    }
    published_row(seq, event_type, data)
}

/// The row of a published event whose data is JSON.
fn published_row(seq: Option<u64>, event_type: Option<&str>, data: &str) -> RowKind {
    RowKind::Published(PublishedEvent {
        seq,
        event_type: event_type.map(str::to_owned),
        data: FoldedJson::new(data),
        fingerprint: fingerprint(event_type, data),
    })
}

/// A hash of what a published event carried. `DefaultHasher::new` uses
/// fixed keys, so every panel of a page computes the same value.
fn fingerprint(event_type: Option<&str>, data: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    event_type.hash(&mut hasher);
    data.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(row: RowKind) -> PublishedEvent {
        match row {
            RowKind::Published(event) => event,
            other => panic!("not a published event: {other:?}"),
        }
    }

    #[test]
    fn the_generators_shape_is_a_generated_event() {
        // 5.0 too: JSON.parse cannot tell it from 5 (wire_read's doc).
        for number in ["5", "5.0"] {
            let data =
                format!(r#"{{"number":{number},"timestamp":"2026-01-01T00:00:00.000Z","id":"s"}}"#);
            let row = read_message("message", "7", &data);
            assert!(
                matches!(row, RowKind::Event { seq: Some(7), ref event } if event.number == 5),
                "{row:?}"
            );
        }
    }

    #[test]
    fn a_broken_generated_event_or_non_json_is_an_error_row() {
        for data in [
            r#"{"number": "not a number"}"#,
            r#"{"number": 1, "id": "s"}"#,
            "\u{0}\u{1} garbage",
            "not json",
            "",
        ] {
            let row = read_message("message", "", data);
            assert!(
                matches!(&row, RowKind::Malformed { reason } if reason.starts_with("could not read event data")),
                "{data:?}: {row:?}"
            );
        }
    }

    #[test]
    fn other_json_in_an_unnamed_message_is_a_published_event() {
        for data in [
            r#"{"note":"hi"}"#,
            r#"{"number":1,"extra":true}"#,
            r#"{"id":"s","timestamp":"t"}"#,
            "[1,2]",
            "[1,\"t\",\"s\"]",
            "\"text\"",
            "3",
        ] {
            let event = published(read_message("message", "9", data));
            assert_eq!(event.seq, Some(9));
            assert_eq!(event.event_type, None);
        }
    }

    #[test]
    fn published_data_with_the_generators_fields_and_more_is_published() {
        let data =
            r#"{"id":"ord-1","number":17,"timestamp":"2026-12-01T10:00:00.000Z","total":"42"}"#;
        assert!(matches!(
            read_message(UNNAMED_TYPE, "3", data),
            RowKind::Published(_)
        ));
    }

    #[test]
    fn a_named_event_keeps_its_type_and_its_data_laid_out() {
        let event = published(read_message(
            "order.paid",
            "12",
            r#"{"order":42,"paid":true}"#,
        ));
        assert_eq!(event.event_type.as_deref(), Some("order.paid"));
        assert_eq!(event.seq, Some(12));
        assert_eq!(
            &*event.data.full,
            "{\n  \"order\": 42,\n  \"paid\": true\n}"
        );
        // Even the generator's shape, once it has a type.
        let typed = read_message(
            "tick",
            "1",
            r#"{"number":5,"timestamp":"2026-01-01T00:00:00.000Z","id":"s"}"#,
        );
        assert!(matches!(typed, RowKind::Published(_)));
    }

    #[test]
    fn a_named_event_that_is_not_json_is_an_error_row_naming_its_type() {
        let row = read_message("order.paid", "1", "{oops");
        assert!(
            matches!(&row, RowKind::Malformed { reason } if reason.contains("'order.paid'")),
            "{row:?}"
        );
    }

    #[test]
    fn markup_in_the_data_stays_text() {
        let event = published(read_message("x", "1", r#""<img src=x onerror=alert(1)>""#));
        assert_eq!(&*event.data.full, r#""<img src=x onerror=alert(1)>""#);
    }

    #[test]
    fn gap_notices_are_read_as_such() {
        assert_eq!(
            read_message("gap", "", r#"{"first":3,"last":9}"#),
            RowKind::Gap(GapNotice { first: 3, last: 9 })
        );
        assert!(matches!(
            read_message("gap", "", "{}"),
            RowKind::Malformed { .. }
        ));
    }

    #[test]
    fn fingerprints_tell_apart_data_and_types() {
        let of = |kind: &str, data: &str| published(read_message(kind, "1", data)).fingerprint;
        assert_eq!(of("a", "[1]"), of("a", "[1]"));
        assert_ne!(of("a", "[1]"), of("a", "[2]"));
        assert_ne!(of("a", "[1]"), of("b", "[1]"));
        assert_ne!(of("a", "[1]"), of("message", "[1]"));
    }
}
