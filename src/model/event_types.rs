//! The event types a stream client listens for besides unnamed messages:
//! read from its comma-separated "Event types" field, plus those published
//! from the page. An `EventSource` delivers a named event only to a
//! listener for that name, so the client needs the list.

use super::publish::EventType;
use super::received::{GAP_TYPE, UNNAMED_TYPE};

/// What the "Event types" field holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventTypeList {
    /// The valid types, sorted, each once.
    pub types: Vec<String>,
    /// Why some entries are not used, when any is not.
    pub error: Option<String>,
}

impl EventTypeList {
    /// Reads a comma-separated list. Blank entries are skipped, and so is
    /// `message` (unnamed messages are always shown); an invalid entry is
    /// left out and named in [`Self::error`], the others still count.
    pub fn parse(raw: &str) -> Self {
        let mut types = Vec::new();
        let mut refused = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == UNNAMED_TYPE {
                continue;
            }
            match EventType::parse(entry) {
                Ok(kind) => {
                    types.push(kind.as_str().to_owned());
                }
                Err(reason) => refused.push((entry, reason)),
            }
        }
        let error = refused.first().map(|(entry, reason)| {
            let more = match refused.len() {
                1 => String::new(),
                2 => " (and 1 more entry)".to_owned(),
                n => format!(" (and {} more entries)", n - 1),
            };
            format!("Not listening for {entry:?}: {reason}{more}.")
        });
        types.sort_unstable();
        types.dedup();
        Self { types, error }
    }
}

/// Whether `event_type` needs a listener of its own: every type but the
/// unnamed `message` (the client's `onmessage`) and `gap` (always listened
/// for).
pub fn needs_own_listener(event_type: &str) -> bool {
    event_type != UNNAMED_TYPE && event_type != GAP_TYPE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_comma_separated_list_sorted_and_deduplicated() {
        let list = EventTypeList::parse(" order.paid, build-done ,,order.paid, ");
        assert_eq!(list.types, vec!["build-done", "order.paid"]);
        assert_eq!(list.error, None);
        assert_eq!(EventTypeList::parse(""), EventTypeList::default());
    }

    #[test]
    fn message_is_always_shown_and_needs_no_entry() {
        let list = EventTypeList::parse("message, a");
        assert_eq!(list.types, vec!["a"]);
        assert_eq!(list.error, None);
        assert!(!needs_own_listener("message"));
        assert!(!needs_own_listener("gap"));
        assert!(needs_own_listener("order.paid"));
    }

    #[test]
    fn invalid_entries_are_named_and_the_rest_still_count() {
        let list = EventTypeList::parse("ok, a b, gap, c/d");
        assert_eq!(list.types, vec!["ok"]);
        let error = list.error.expect("an error");
        assert!(error.starts_with("Not listening for \"a b\": "), "{error}");
        assert!(error.ends_with("(and 2 more entries)."), "{error}");
        let one = EventTypeList::parse("gap").error.expect("an error");
        assert!(one.contains("reserved"), "{one}");
    }
}
