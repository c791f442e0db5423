//! Reading the resume position a client sends: the `Last-Event-ID` header
//! (what `EventSource` sends on reconnect) or, for clients that cannot set
//! headers, the `lastEventId` query parameter.

/// A `Last-Event-ID` exactly as this server writes ids: decimal digits only
/// (surrounding spaces aside), so `+5` or `0x5` are not ids it issued.
pub fn parse_event_id(raw: &str) -> Option<u64> {
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Extracts `lastEventId` from a raw query string.
pub fn last_event_id_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "lastEventId").then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_last_event_id_among_other_parameters() {
        assert_eq!(last_event_id_param("a=1&lastEventId=42"), Some("42".into()));
        assert_eq!(last_event_id_param("lastEventId="), Some(String::new()));
        assert_eq!(last_event_id_param("lastEventIdx=1&b"), None);
    }

    #[test]
    fn only_plain_decimal_ids_are_ids() {
        assert_eq!(parse_event_id(" 42 "), Some(42));
        for bad in ["", "+2", "0x2", "2.0", "-1", "18446744073709551616"] {
            assert_eq!(parse_event_id(bad), None, "{bad:?}");
        }
    }
}
