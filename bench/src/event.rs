//! The JSON carried in the servers' `data:` fields.

use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// An event: `{"number":N,"timestamp":"2026-11-25T18:59:17.200Z","id":"…"}`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The generated number.
    pub number: u32,
    /// When the server generated it, ISO-8601 UTC.
    pub timestamp: &'a str,
    /// The stream id.
    #[serde(default)]
    pub id: Option<&'a str>,
}

/// The `event: gap` notice: sequence ids `first..=last` were lost.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct GapNotice {
    /// First lost sequence id.
    pub first: u64,
    /// Last lost sequence id.
    pub last: u64,
}

/// Parses an event payload; `None` if it is not one.
pub fn parse_payload(data: &[u8]) -> Option<Payload<'_>> {
    serde_json::from_slice(data).ok()
}

/// Parses a gap notice; `None` if it is not one.
pub fn parse_gap(data: &[u8]) -> Option<GapNotice> {
    serde_json::from_slice(data).ok()
}

/// An RFC 3339 timestamp as milliseconds since the Unix epoch.
pub fn timestamp_ms(text: &str) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

/// Now, in microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_servers_payloads() {
        let hub = br#"{"number":42,"timestamp":"2026-11-25T18:59:17.200Z","id":"bench-3"}"#;
        assert_eq!(
            parse_payload(hub),
            Some(Payload {
                number: 42,
                timestamp: "2026-11-25T18:59:17.200Z",
                id: Some("bench-3")
            })
        );
        assert_eq!(parse_payload(b"not json"), None);
        assert_eq!(
            parse_gap(br#"{"first":3,"last":9}"#),
            Some(GapNotice { first: 3, last: 9 })
        );
    }

    #[test]
    fn timestamps_become_epoch_milliseconds() {
        assert_eq!(timestamp_ms("1970-01-01T00:00:01.250Z"), Some(1250));
        assert_eq!(
            timestamp_ms("2026-11-25T18:59:17.200Z"),
            Some(1_795_633_157_200)
        );
        assert_eq!(timestamp_ms("yesterday"), None);
    }
}
