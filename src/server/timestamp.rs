//! How the server writes a point in time in JSON: ISO-8601 UTC with
//! milliseconds, as the browser and every other client parse it. A leaf.

use std::time::SystemTime;

/// ISO-8601 UTC with milliseconds, e.g. `2026-11-25T18:08:54.123Z`
/// (truncated, not rounded, to the millisecond).
pub fn format_timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn truncates_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_764_583_200_123_999_999);
        assert_eq!(format_timestamp(at), "2025-12-01T10:00:00.123Z");
    }
}
