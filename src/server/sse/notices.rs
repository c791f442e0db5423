//! What a stream tells its clients besides events: the `event: gap` notice,
//! the `retry:` hint with jitter, and the headers of every stream response.

use super::encode::{encode_message, encode_retry};
use crate::model::GapNotice;
use bytes::Bytes;
use std::time::Duration;

/// The headers of every stream response, on both transport paths: the SSE
/// type, no caching, and no buffering by nginx-style proxies.
pub const STREAM_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// Encodes the `event: gap` message: the ids a client missed and cannot get
/// any more. It carries no `id:`, so the client's resume position stays put.
pub fn gap_message(gap: GapNotice) -> Bytes {
    // Serialising two numbers cannot fail.
    let data = serde_json::to_string(&gap).unwrap_or_default();
    encode_message(None, Some("gap"), &data)
}

/// Encodes the reconnection hint for a new connection: the configured delay
/// plus up to 50% random jitter, so a restart does not bring every client back
/// in the same instant.
pub fn retry_frame(base: Duration) -> Bytes {
    use rand::Rng;
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let jitter = rand::rng().random_range(0..=base_ms / 2);
    encode_retry(base_ms.saturating_add(jitter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_notice_names_the_missing_ids_and_carries_no_id() {
        let gap = gap_message(GapNotice { first: 2, last: 3 });
        assert_eq!(gap, "event: gap\ndata: {\"first\":2,\"last\":3}\n\n");
    }

    #[test]
    fn the_retry_hint_adds_at_most_half_the_delay() {
        for _ in 0..100 {
            let frame = retry_frame(Duration::from_millis(1000));
            let text = std::str::from_utf8(&frame).expect("ascii");
            let ms: u64 = text
                .trim_start_matches("retry: ")
                .trim_end()
                .parse()
                .expect("a number");
            assert!((1000..=1500).contains(&ms), "{text:?}");
        }
    }
}
