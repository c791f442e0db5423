//! How the page reads the wire types it receives, without serde (see
//! `json_value` for why).
//!
//! Each reader answers as the type's serde derive does for the objects the
//! server writes, field for field: a field the derive requires is required
//! here, one it defaults (`#[serde(default)]`) reads as 0 when missing, and
//! unknown fields are ignored, except by [`StreamEvent`], which the derive
//! denies them too (it is how a generated event is told from published
//! data). The tests below hold the two to the same answers.
//!
//! Where they differ, the server never sends the input: serde also reads a
//! struct from an array of its fields in order (the readers want objects), and
//! refuses a repeated field (here its last value counts). One difference
//! reaches the page, through published data, which the server writes back
//! as it parsed it: `JSON.parse` cannot tell `5.0` from `5`, so an unnamed
//! published `{"number": 5.0, "timestamp": "…", "id": "…"}` shows as the
//! generated number 5 (serde refused it as a count). A publisher can send
//! the generator's exact shape anyway (`received.rs` says how to keep such
//! events apart: give them a type).

use super::json_value::{JsonError, JsonValue, ReadJson};
use super::publish::Published;
use super::wire::{
    ErrorBody, GapNotice, HubStats, RejectionCounts, StatsFrame, StreamEvent, StreamSummary,
};

/// The field names of a generated event ([`StreamEvent`]), and the only
/// ones it has.
pub const GENERATED_FIELDS: [&str; 3] = ["number", "timestamp", "id"];

/// Whether `value` is an object with a `number` and no field a generated
/// event does not have, whatever their values: a generated event, or one
/// gone wrong, rather than published data.
pub fn has_generator_shape(value: &JsonValue) -> bool {
    match value {
        JsonValue::Object(members) => {
            value.get("number").is_some()
                && members
                    .iter()
                    .all(|(name, _)| GENERATED_FIELDS.contains(&name.as_str()))
        }
        _ => false,
    }
}

impl ReadJson for StreamEvent {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        for (name, _) in value.members("the event")? {
            if !GENERATED_FIELDS.contains(&name.as_str()) {
                return Err(JsonError::new(format!("unknown field `{name}`")));
            }
        }
        Ok(Self {
            number: value.required_count("number")?,
            timestamp: value.required_string("timestamp")?,
            id: value.required_string("id")?,
        })
    }
}

impl ReadJson for GapNotice {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("the gap notice")?;
        Ok(Self {
            first: value.required_count("first")?,
            last: value.required_count("last")?,
        })
    }
}

impl ReadJson for ErrorBody {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("the error")?;
        Ok(Self {
            error: value.required_string("error")?,
            code: value.required_string("code")?,
        })
    }
}

impl ReadJson for Published {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("the answer")?;
        Ok(Self {
            stream: value.required_string("stream")?,
            id: value.required_count("id")?,
        })
    }
}

impl ReadJson for StreamSummary {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("an item of field `streams`")?;
        let last_event_ms_ago = match value.get("last_event_ms_ago") {
            None | Some(JsonValue::Null) => None,
            Some(age) => Some(age.count("last_event_ms_ago")?),
        };
        Ok(Self {
            id: value.required_string("id")?,
            subscribers: value.required_count("subscribers")?,
            events_sent: value.required_count("events_sent")?,
            started_at: value.required_string("started_at")?,
            last_event_ms_ago,
        })
    }
}

impl ReadJson for RejectionCounts {
    const LEVELS: usize = 1;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("field `rejected`")?;
        let required = |name| value.required_count(name);
        let optional = |name| value.count_or_zero(name);
        Ok(Self {
            too_many_streams: required("too_many_streams")?,
            too_many_connections: required("too_many_connections")?,
            too_many_connections_from_ip: required("too_many_connections_from_ip")?,
            invalid_stream_id: required("invalid_stream_id")?,
            too_many_sockets_from_ip: optional("too_many_sockets_from_ip")?,
            connection_rate_limited: optional("connection_rate_limited")?,
            host_not_allowed: optional("host_not_allowed")?,
            slow_client_disconnected: required("slow_client_disconnected")?,
            missing_token: optional("missing_token")?,
            invalid_token: optional("invalid_token")?,
            forbidden: optional("forbidden")?,
            invalid_event: optional("invalid_event")?,
            invalid_event_type: optional("invalid_event_type")?,
            event_too_large: optional("event_too_large")?,
            unsupported_media_type: optional("unsupported_media_type")?,
            publish_rate_limited: optional("publish_rate_limited")?,
            invalid_idempotency_key: optional("invalid_idempotency_key")?,
            missing_host: optional("missing_host")?,
            invalid_host: optional("invalid_host")?,
            head_too_large: optional("head_too_large")?,
            store_unavailable: optional("store_unavailable")?,
        })
    }
}

impl ReadJson for HubStats {
    const LEVELS: usize = 2;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("field `hub`")?;
        let required = |name| value.required_count(name);
        let optional = |name| value.count_or_zero(name);
        Ok(Self {
            connections: required("connections")?,
            streams: required("streams")?,
            rejected: RejectionCounts::read_json(value.required("rejected")?)?,
            events_sent: required("events_sent")?,
            events_published: optional("events_published")?,
            events_generated: optional("events_generated")?,
            leading_streams: optional("leading_streams")?,
            fenced_appends: optional("fenced_appends")?,
            deliveries: optional("deliveries")?,
            delivered_bytes: optional("delivered_bytes")?,
            dashboard_feeds: optional("dashboard_feeds")?,
            uptime_s: required("uptime_s")?,
        })
    }
}

impl ReadJson for StatsFrame {
    const LEVELS: usize = 3;

    fn read_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.members("the frame")?;
        let streams = match value.required("streams")? {
            JsonValue::Array(items) => items
                .iter()
                .map(StreamSummary::read_json)
                .collect::<Result<_, _>>()?,
            _ => return Err(JsonError::new("field `streams` is not an array")),
        };
        Ok(Self {
            started_at_ms: value.count_or_zero("started_at_ms")?,
            elapsed_ms: value.required_count("elapsed_ms")?,
            hub: HubStats::read_json(value.required("hub")?)?,
            streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::json_value::read_json;
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::{json, Value};
    use std::fmt::Debug;

    /// Reads `value` both ways, serde's derive and the page's reader, and
    /// checks they agree: on the value read, or on refusing it.
    fn both_read<T>(value: &Value) -> Option<T>
    where
        T: ReadJson + DeserializeOwned + PartialEq + Debug,
    {
        let text = value.to_string();
        let by_serde = serde_json::from_str::<T>(&text).ok();
        let by_page = read_json::<T>(&text).ok();
        assert_eq!(by_serde, by_page, "{text}");
        by_page
    }

    /// Writes `original` with serde and reads it back with the page's
    /// reader.
    fn round_trips<T>(original: &T)
    where
        T: ReadJson + Serialize + DeserializeOwned + PartialEq + Debug,
    {
        let value = serde_json::to_value(original).expect("serialise");
        assert_eq!(both_read::<T>(&value).as_ref(), Some(original));
    }

    /// Every rejection counter different, so that a field read under
    /// another's name shows.
    fn distinct_rejections() -> RejectionCounts {
        let object: serde_json::Map<String, Value> = RejectionCounts::default()
            .by_code()
            .iter()
            .zip(1u64..)
            .map(|((code, _), n)| ((*code).to_owned(), json!(n)))
            .collect();
        let counts: RejectionCounts =
            serde_json::from_value(Value::Object(object)).expect("counts");
        assert!(counts.by_code().iter().all(|(_, n)| *n > 0), "{counts:?}");
        counts
    }

    fn full_frame() -> StatsFrame {
        StatsFrame {
            started_at_ms: 1,
            elapsed_ms: 2,
            hub: HubStats {
                connections: 3,
                streams: 4,
                rejected: distinct_rejections(),
                events_sent: 5,
                events_published: 6,
                events_generated: 7,
                leading_streams: 8,
                fenced_appends: 9,
                deliveries: 10,
                delivered_bytes: 11,
                dashboard_feeds: 12,
                uptime_s: 13,
            },
            streams: vec![
                StreamSummary {
                    id: "a".into(),
                    subscribers: 14,
                    events_sent: 15,
                    started_at: "2026-12-07T00:00:00Z".into(),
                    last_event_ms_ago: Some(16),
                },
                StreamSummary {
                    id: "b".into(),
                    subscribers: 0,
                    events_sent: 0,
                    started_at: "t".into(),
                    last_event_ms_ago: None,
                },
            ],
        }
    }

    #[test]
    fn what_the_server_writes_reads_back_the_same() {
        round_trips(&full_frame());
        round_trips(&StatsFrame::default());
        round_trips(&StreamEvent {
            number: 1000,
            timestamp: "2026-12-07T10:00:00.123Z".into(),
            id: "s-1".into(),
        });
        round_trips(&GapNotice { first: 3, last: 9 });
        round_trips(&ErrorBody {
            error: "no".into(),
            code: "forbidden".into(),
        });
        round_trips(&Published {
            stream: "orders".into(),
            id: 42,
        });
    }

    #[test]
    fn a_field_left_out_is_refused_or_zero_as_serde_does() {
        let full = serde_json::to_value(full_frame()).expect("serialise");
        let paths: [&[&str]; 5] = [
            &["started_at_ms"],
            &["hub", "dashboard_feeds"],
            &["hub", "uptime_s"],
            &["hub", "rejected", "forbidden"],
            &["streams", "0", "last_event_ms_ago"],
        ];
        let mut cases: Vec<Vec<String>> = paths
            .iter()
            .map(|path| path.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        // Every field at the top, of the hub and of the rejections.
        for (parent, object) in [
            (vec![], &full),
            (vec!["hub".to_owned()], &full["hub"]),
            (
                vec!["hub".to_owned(), "rejected".to_owned()],
                &full["hub"]["rejected"],
            ),
            (
                vec!["streams".to_owned(), "0".to_owned()],
                &full["streams"][0],
            ),
        ] {
            for name in object.as_object().expect("object").keys() {
                let mut path = parent.clone();
                path.push(name.clone());
                cases.push(path);
            }
        }
        for path in cases {
            let mut value = full.clone();
            let (last, parents) = path.split_last().expect("a path");
            let parent = parents.iter().fold(&mut value, |at, step| match at {
                Value::Array(items) => &mut items[step.parse::<usize>().expect("index")],
                other => &mut other[step.as_str()],
            });
            parent.as_object_mut().expect("object").remove(last);
            both_read::<StatsFrame>(&value);
        }
    }

    #[test]
    fn wrong_kinds_are_refused_as_serde_does() {
        for bad in [
            json!({"number": "5", "timestamp": "t", "id": "s"}),
            json!({"number": 5.5, "timestamp": "t", "id": "s"}),
            json!({"number": -5, "timestamp": "t", "id": "s"}),
            json!({"number": 4_294_967_296u64, "timestamp": "t", "id": "s"}),
            json!({"number": 5, "timestamp": 1, "id": "s"}),
            json!({"number": 5, "timestamp": "t", "id": "s", "extra": 1}),
            json!({"number": 5, "timestamp": "t"}),
            json!([5, "t", "s"]),
            json!("5"),
        ] {
            // serde reads the array form of a struct; the page never
            // asks (only objects are generated events), so only the
            // object cases must agree.
            if bad.is_object() {
                both_read::<StreamEvent>(&bad);
            } else {
                assert!(read_json::<StreamEvent>(&bad.to_string()).is_err(), "{bad}");
            }
        }
        for bad in [
            json!({"first": 1}),
            json!({"first": "1", "last": 2}),
            json!(null),
        ] {
            both_read::<GapNotice>(&bad);
        }
        let gap = json!({"first": 1, "last": 2, "note": "more"});
        assert_eq!(
            both_read::<GapNotice>(&gap),
            Some(GapNotice { first: 1, last: 2 })
        );
        for bad in [
            json!({"error": "x"}),
            json!({"error": 1, "code": "c"}),
            json!([]),
        ] {
            both_read::<ErrorBody>(&bad);
        }
        let mut frame = serde_json::to_value(full_frame()).expect("serialise");
        frame["streams"] = json!({});
        both_read::<StatsFrame>(&frame);
        frame["streams"] = json!([{"id": "a"}]);
        both_read::<StatsFrame>(&frame);
    }

    #[test]
    fn the_generator_shape_is_its_fields_with_a_number() {
        let shape = |text: &str| {
            has_generator_shape(&crate::model::json_value::parse_json(text, 1).expect("JSON"))
        };
        assert!(shape(r#"{"number": "x"}"#));
        assert!(shape(r#"{"number": 1, "id": "s"}"#));
        assert!(!shape(r#"{"id": "s", "timestamp": "t"}"#));
        assert!(!shape(r#"{"number": 1, "extra": true}"#));
        assert!(!shape("[1]"));
    }
}
