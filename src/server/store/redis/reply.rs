//! Reading Redis's answers: the log's entries as stored events, the
//! scripts' number lists, and a doorbell's message. Every reply comes from
//! the network, so a malformed one is an error, never a panic.

use crate::model::StreamId;
use crate::server::store::{Seq, StoredEvent};
use bytes::Bytes;
use redis::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A reply that is not what the store wrote or the script returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
pub(super) struct Malformed(pub(super) String);

/// The events of an `XRANGE` reply, oldest first.
pub(super) fn log_entries(reply: Value) -> Result<Vec<StoredEvent>, Malformed> {
    let Value::Array(entries) = reply else {
        return Err(Malformed(format!("XRANGE gave {reply:?}")));
    };
    entries.into_iter().map(log_entry).collect()
}

/// One `[id, [field, value, …]]` entry of the log.
fn log_entry(entry: Value) -> Result<StoredEvent, Malformed> {
    let Value::Array(mut parts) = entry else {
        return Err(Malformed("a log entry is not a list".to_owned()));
    };
    if parts.len() != 2 {
        return Err(Malformed(format!("a log entry has {} parts", parts.len())));
    }
    let fields = parts.pop().unwrap_or(Value::Nil);
    let id = text(parts.pop().unwrap_or(Value::Nil))?;
    let seq = entry_seq(&id)?;
    let pairs: Vec<(Value, Value)> = match fields {
        Value::Array(flat) => {
            let mut flat = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(field), Some(value)) = (flat.next(), flat.next()) {
                pairs.push((field, value));
            }
            pairs
        }
        Value::Map(pairs) => pairs,
        other => return Err(Malformed(format!("log entry fields {other:?}"))),
    };
    let (mut event, mut data, mut at_ms) = (None, None, 0);
    for (field, value) in pairs {
        match bytes(field)?.as_slice() {
            b"e" => {
                let name = text(value)?;
                event = (!name.is_empty()).then(|| name.into_boxed_str());
            }
            b"d" => data = Some(Bytes::from(bytes(value)?)),
            b"t" => {
                at_ms = text(value)?
                    .parse()
                    .map_err(|_| Malformed("an entry's time is not a number".to_owned()))?;
            }
            _ => {}
        }
    }
    Ok(StoredEvent {
        seq,
        event,
        data: data.ok_or_else(|| Malformed(format!("entry {id} has no data")))?,
        at: UNIX_EPOCH + Duration::from_millis(at_ms),
    })
}

/// The sequence id of a log entry id `<seq>-0`.
fn entry_seq(id: &str) -> Result<Seq, Malformed> {
    id.split_once('-')
        .and_then(|(seq, _)| seq.parse().ok())
        .ok_or_else(|| Malformed(format!("log entry id {id:?}")))
}

/// The integers of a script's list reply.
pub(super) fn numbers(reply: Value) -> Result<Vec<i64>, Malformed> {
    let Value::Array(items) = reply else {
        return Err(Malformed(format!("a script gave {reply:?}")));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Int(number) => Ok(number),
            other => Err(Malformed(format!("a script gave {other:?} in a list"))),
        })
        .collect()
}

/// An optional sequence id (`HGET`'s answer).
pub(super) fn optional_seq(reply: Value) -> Result<Option<Seq>, Malformed> {
    match reply {
        Value::Nil => Ok(None),
        Value::Int(number) => Seq::try_from(number)
            .map(Some)
            .map_err(|_| Malformed(format!("a negative id {number}"))),
        other => text(other)?
            .parse()
            .map(Some)
            .map_err(|_| Malformed("a stream's newest id is not a number".to_owned())),
    }
}

/// A time in ms of Redis's clock as a `SystemTime`, for the events a script
/// appended.
pub(super) fn redis_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// What a doorbell message announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Announcement {
    /// `<id> <stream id>\n<time ms> <event type>\n<data>`: the stream's
    /// log reaches that id, and this is its event.
    Appended(StreamId, StoredEvent),
    /// `free <stream id>`: the stream's lease was released.
    LeaseReleased(StreamId),
}

/// A doorbell message; `None` when it is not one.
pub(super) fn doorbell(payload: &[u8]) -> Option<Announcement> {
    let mut parts = payload.splitn(3, |byte| *byte == b'\n');
    let head = std::str::from_utf8(parts.next()?).ok()?;
    let (what, stream) = head.split_once(' ')?;
    let stream = StreamId::parse(stream).ok()?;
    if what == "free" {
        return Some(Announcement::LeaseReleased(stream));
    }
    let seq = what.parse().ok()?;
    let (at_ms, event) = std::str::from_utf8(parts.next()?).ok()?.split_once(' ')?;
    let event = StoredEvent {
        seq,
        event: (!event.is_empty()).then(|| event.into()),
        data: Bytes::copy_from_slice(parts.next()?),
        at: UNIX_EPOCH + Duration::from_millis(at_ms.parse().ok()?),
    };
    Some(Announcement::Appended(stream, event))
}

fn bytes(value: Value) -> Result<Vec<u8>, Malformed> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(text) => Ok(text.into_bytes()),
        Value::Int(number) => Ok(number.to_string().into_bytes()),
        other => Err(Malformed(format!("expected a string, got {other:?}"))),
    }
}

fn text(value: Value) -> Result<String, Malformed> {
    String::from_utf8(bytes(value)?).map_err(|_| Malformed("text that is not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn reads_log_entries_with_and_without_an_event_type() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("7-0"),
                Value::Array(vec![
                    bulk("e"),
                    bulk(""),
                    bulk("d"),
                    bulk("{}"),
                    bulk("t"),
                    bulk("1500"),
                ]),
            ]),
            Value::Array(vec![
                bulk("9-0"),
                Value::Array(vec![
                    bulk("e"),
                    bulk("order"),
                    bulk("d"),
                    bulk("[1]"),
                    bulk("t"),
                    bulk("1600"),
                ]),
            ]),
        ]);
        let events = log_entries(reply).expect("parses");
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].seq, events[0].event.as_deref()), (7, None));
        assert_eq!(events[0].data, Bytes::from_static(b"{}"));
        assert_eq!(events[0].at, UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(
            (events[1].seq, events[1].event.as_deref()),
            (9, Some("order"))
        );
    }

    #[test]
    fn a_malformed_reply_is_an_error_not_a_panic() {
        assert!(log_entries(Value::Int(3)).is_err());
        assert!(log_entries(Value::Array(vec![Value::Array(vec![bulk("x")])])).is_err());
        let no_data = Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![bulk("e"), bulk("")]),
        ])]);
        assert!(log_entries(no_data).is_err());
        let bad_id = Value::Array(vec![Value::Array(vec![
            bulk("one-0"),
            Value::Array(vec![bulk("d"), bulk("x")]),
        ])]);
        assert!(log_entries(bad_id).is_err());
        assert!(numbers(Value::Array(vec![Value::Int(1), bulk("x")])).is_err());
        assert!(optional_seq(bulk("x")).is_err());
    }

    #[test]
    fn reads_a_doorbell_and_ignores_anything_else() {
        let id = StreamId::parse("a-1").expect("valid");
        let announced = doorbell(b"42 a-1\n1500 order\n{\"a\":\n1}");
        let Some(Announcement::Appended(stream, event)) = announced else {
            panic!("an append is announced");
        };
        assert_eq!(
            (stream, event.seq, event.event.as_deref()),
            (id.clone(), 42, Some("order"))
        );
        assert_eq!(
            event.data,
            Bytes::from_static(b"{\"a\":\n1}"),
            "data may hold newlines"
        );
        assert_eq!(event.at, UNIX_EPOCH + Duration::from_millis(1500));
        let Some(Announcement::Appended(_, unnamed)) = doorbell(b"7 a-1\n1 \n") else {
            panic!("an unnamed event with empty data");
        };
        assert_eq!((unnamed.event, unnamed.data.len()), (None, 0));
        assert_eq!(doorbell(b"free a-1"), Some(Announcement::LeaseReleased(id)));
        assert_eq!(doorbell(b"42 a-1"), None, "no event");
        assert_eq!(doorbell(b"42"), None);
        assert_eq!(doorbell(b"x a-1"), None);
        assert_eq!(doorbell(b"1 a b"), None);
        assert_eq!(doorbell(&[0xff, b' ', b'a']), None);
    }
}
