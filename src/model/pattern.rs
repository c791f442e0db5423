//! Stream patterns: which stream ids a setting or a token grant covers.
//! One syntax everywhere (`--generate`, `--private-streams`, and a token's
//! `publish` and `subscribe` claims): comma-separated entries, each an exact
//! id, `*` (every id), or a prefix followed by `*` (`orders-*`); `none` (or
//! nothing) covers no id. Shared with the browser so that the UI can check
//! what it sends.

use super::StreamId;

/// One entry of a pattern list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `*`: every id.
    Any,
    /// `prefix*`: every id starting with the prefix.
    Prefix(String),
    /// An exact id.
    Exact(String),
}

/// A parsed pattern list; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPatterns {
    entries: Vec<Entry>,
}

/// Why a pattern list does not parse; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An entry is empty (two commas in a row, or a trailing comma).
    #[error("a stream pattern is empty; separate patterns with single commas")]
    Empty,
    /// A `*` somewhere other than at the end of an entry.
    #[error("the stream pattern '{0}' has a '*' before its end; only a final '*' is allowed")]
    InnerStar(String),
    /// The entry (without its final `*`) has characters no stream id has.
    #[error("the stream pattern '{0}' can match no stream id: use letters, digits and . _ ~ - (and a final '*')")]
    NotAnId(String),
}

impl StreamPatterns {
    /// Parses a comma-separated list; `none` or a blank string covers no id.
    pub fn parse(list: &str) -> Result<Self, PatternError> {
        let list = list.trim();
        if list.is_empty() || list == "none" {
            return Ok(Self::default());
        }
        let entries = list
            .split(',')
            .map(|entry| parse_entry(entry.trim()))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Parses a list given as separate entries (a token's JSON array).
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PatternError> {
        let entries = entries
            .into_iter()
            .map(|entry| parse_entry(entry.trim()))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Patterns covering every id (`*`).
    pub fn any() -> Self {
        Self {
            entries: vec![Entry::Any],
        }
    }

    /// Whether `id` is covered.
    pub fn matches(&self, id: &StreamId) -> bool {
        let id = id.as_str();
        self.entries.iter().any(|entry| match entry {
            Entry::Any => true,
            Entry::Prefix(prefix) => id.starts_with(prefix.as_str()),
            Entry::Exact(exact) => id == exact,
        })
    }

    /// Whether no id is covered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One trimmed entry.
fn parse_entry(entry: &str) -> Result<Entry, PatternError> {
    if entry.is_empty() {
        return Err(PatternError::Empty);
    }
    if entry == "*" {
        return Ok(Entry::Any);
    }
    let (stem, prefix) = match entry.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (entry, false),
    };
    if stem.contains('*') {
        return Err(PatternError::InnerStar(entry.to_owned()));
    }
    let valid_stem = stem
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'));
    // An exact entry must itself be an id (`.` and `..` are not).
    if !valid_stem || (!prefix && StreamId::parse(stem).is_err()) {
        return Err(PatternError::NotAnId(entry.to_owned()));
    }
    Ok(if prefix {
        Entry::Prefix(stem.to_owned())
    } else {
        Entry::Exact(stem.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> StreamId {
        StreamId::parse(raw).expect("valid id")
    }

    #[test]
    fn exact_prefix_and_any() {
        let patterns = StreamPatterns::parse("room-1, orders-*").expect("parses");
        assert!(patterns.matches(&id("room-1")));
        assert!(!patterns.matches(&id("room-10")));
        assert!(patterns.matches(&id("orders-")));
        assert!(patterns.matches(&id("orders-42")));
        assert!(!patterns.matches(&id("order")));
        assert!(StreamPatterns::parse("*").expect("any").matches(&id("x")));
        assert!(StreamPatterns::any().matches(&id("anything")));
    }

    #[test]
    fn none_and_blank_cover_nothing() {
        for list in ["none", "", "  "] {
            let patterns = StreamPatterns::parse(list).expect("parses");
            assert!(patterns.is_empty());
            assert!(!patterns.matches(&id("a")));
        }
    }

    #[test]
    fn bad_lists_say_which_entry() {
        assert_eq!(StreamPatterns::parse("a,,b"), Err(PatternError::Empty));
        assert_eq!(
            StreamPatterns::parse("a*b"),
            Err(PatternError::InnerStar("a*b".into()))
        );
        assert_eq!(
            StreamPatterns::parse("a b"),
            Err(PatternError::NotAnId("a b".into()))
        );
        assert_eq!(
            StreamPatterns::parse(".."),
            Err(PatternError::NotAnId("..".into()))
        );
        assert_eq!(
            StreamPatterns::from_entries(["ok", "no/slash"]),
            Err(PatternError::NotAnId("no/slash".into()))
        );
    }

    proptest::proptest! {
        #[test]
        fn a_prefix_pattern_matches_exactly_the_ids_it_starts(
            prefix in "[A-Za-z0-9_~-]{0,10}",
            candidate in "[A-Za-z0-9_~-]{1,20}",
        ) {
            let patterns = StreamPatterns::parse(&format!("{prefix}*")).expect("parses");
            let candidate = id(&candidate);
            proptest::prop_assert_eq!(
                patterns.matches(&candidate),
                candidate.as_str().starts_with(&prefix)
            );
        }

        #[test]
        fn an_exact_pattern_matches_only_its_id(
            exact in "[A-Za-z0-9_~-]{1,20}",
            candidate in "[A-Za-z0-9_~-]{1,20}",
        ) {
            let patterns = StreamPatterns::parse(&exact).expect("parses");
            proptest::prop_assert!(patterns.matches(&id(&exact)));
            proptest::prop_assert_eq!(patterns.matches(&id(&candidate)), candidate == exact);
        }

        #[test]
        fn a_list_matches_what_any_entry_matches(
            a in "[a-z]{1,5}\\*?",
            b in "[a-z]{1,5}\\*?",
            candidate in "[a-z]{1,8}",
        ) {
            let both = StreamPatterns::parse(&format!("{a},{b}")).expect("parses");
            let one = |p: &str| StreamPatterns::parse(p).expect("parses").matches(&id(&candidate));
            proptest::prop_assert_eq!(both.matches(&id(&candidate)), one(&a) || one(&b));
        }
    }
}
