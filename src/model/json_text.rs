//! JSON as the page shows and checks it: a published event's data laid out
//! one member per line, folded when long, and the Publish card's check of
//! what is typed into its data editor.
//!
//! The layout works on the text itself rather than through
//! `serde_json::Value`, whose maps sort their keys: the history shows the
//! members in the order the publisher wrote them, and numbers exactly as
//! they were sent.

use super::json_limits::check_data_limits;
use super::json_value::check_json_syntax;
use std::sync::Arc;

/// Levels laid out one member per line; deeper containers stay on their
/// parent's line, written compactly. Indentation grows with depth, so
/// without a bound a deeply nested event (a few kilobytes of `[[[[…`) would
/// become megabytes of spaces in every open page.
pub const MAX_LAYOUT_DEPTH: usize = 8;

/// Most characters of laid-out data kept for display; beyond it the text is
/// cut, with a note saying so.
pub const MAX_SHOWN_CHARS: usize = 256 * 1024;

/// Lines a folded data block shows before "Show all".
pub const FOLD_LINES: usize = 8;

/// Characters a folded data block shows before "Show all" (one long string
/// is a single line, but no shorter to read).
pub const FOLD_CHARS: usize = 600;

/// A published event's data, laid out for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedJson {
    /// Every line, indented two spaces per level (shared: history rows are
    /// cloned whenever the list changes).
    pub full: Arc<str>,
    /// The first lines (ending in `…`) when `full` is too long to show at
    /// once; `None` when it fits.
    pub preview: Option<Arc<str>>,
    /// Lines in `full`.
    pub lines: usize,
}

impl FoldedJson {
    /// Lays out `json` (one valid JSON text, e.g. compact as it travels in a
    /// `data:` field) and folds it beyond [`FOLD_LINES`] lines or
    /// [`FOLD_CHARS`] characters.
    pub fn new(json: &str) -> Self {
        let mut full = pretty_json(json);
        if let Some((cut, _)) = full.char_indices().nth(MAX_SHOWN_CHARS) {
            let dropped = full.len() - cut;
            full.truncate(cut);
            full.push_str(&format!("\n… ({dropped} more bytes not shown)"));
        }
        let lines = full.lines().count().max(1);
        let preview = preview_of(&full, FOLD_LINES, FOLD_CHARS).map(Arc::from);
        Self {
            full: Arc::from(full),
            preview,
            lines,
        }
    }
}

/// Re-indents a JSON text two spaces per level, one member or element per
/// line, `": "` after keys: the layout of `serde_json::to_string_pretty`,
/// but in the text's own member order. Whitespace outside strings is
/// dropped; strings are copied as they are. Meant for valid JSON; anything
/// else comes out re-spaced, never lost.
pub fn pretty_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' if depth >= MAX_LAYOUT_DEPTH => {
                // Too deep to lay out: compact from here down.
                depth += 1;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|next| is_json_space(*next)) {
                    chars.next();
                }
                // `{}` and `[]` stay on one line.
                if let Some(close) = chars.next_if(|next| matches!(next, '}' | ']')) {
                    out.push(close);
                } else {
                    depth += 1;
                    new_line(&mut out, depth);
                }
            }
            '}' | ']' if depth > MAX_LAYOUT_DEPTH => {
                depth -= 1;
                out.push(c);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                new_line(&mut out, depth);
                out.push(c);
            }
            ',' if depth > MAX_LAYOUT_DEPTH => out.push(c),
            ',' => {
                out.push(c);
                new_line(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if is_json_space(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// JSON's four whitespace characters.
fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Starts a new line indented for `depth`.
fn new_line(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// The first `max_lines` lines of `text`, at most `max_chars` characters,
/// followed by `…`; `None` when `text` is within both.
fn preview_of(text: &str, max_lines: usize, max_chars: usize) -> Option<String> {
    let line_cut = text
        .match_indices('\n')
        .nth(max_lines.saturating_sub(1))
        .map(|(at, _)| at);
    let char_cut = text.char_indices().nth(max_chars).map(|(at, _)| at);
    let cut = match (line_cut, char_cut) {
        (None, None) => return None,
        (Some(a), Some(b)) => a.min(b),
        (Some(at), None) | (None, Some(at)) => at,
    };
    Some(format!("{}…", text[..cut].trim_end()))
}

/// Checks that `raw` is one JSON value (surrounding whitespace allowed)
/// the server takes as a publish's data, with a sentence saying where it is
/// not: what the Publish card shows under its data editor while the user
/// types.
pub fn check_json(raw: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        return Err("The data is empty: give a JSON value, such as {} or \"text\".".to_owned());
    }
    check_json_syntax(raw)
        .and_then(|()| check_data_limits(raw))
        .map_err(|error| format!("The data is not valid JSON: {error}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn lays_out_nested_values_in_their_own_order() {
        assert_eq!(
            pretty_json(r#"{"b":1,"a":[true,null,{}],"c":{"d":"x, y: {z}"},"e":[]}"#),
            "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    {}\n  ],\n  \"c\": {\n    \"d\": \"x, y: {z}\"\n  },\n  \"e\": []\n}"
        );
    }

    #[test]
    fn keeps_strings_and_scalars_as_they_are() {
        assert_eq!(
            pretty_json(r#""a \"quoted\" {brace}""#),
            r#""a \"quoted\" {brace}""#
        );
        assert_eq!(pretty_json(r#""back\\""#), r#""back\\""#);
        assert_eq!(pretty_json("1.50"), "1.50");
        assert_eq!(pretty_json(" { \"a\" : [ ] } "), "{\n  \"a\": []\n}");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn matches_serde_json_pretty_printing(value in json_value()) {
            let compact = serde_json::to_string(&value).expect("serialise");
            let pretty = serde_json::to_string_pretty(&value).expect("serialise");
            prop_assert_eq!(pretty_json(&compact), pretty);
        }

        #[test]
        fn the_layout_is_the_same_json(value in json_value()) {
            let compact = serde_json::to_string(&value).expect("serialise");
            let back: Value = serde_json::from_str(&pretty_json(&compact)).expect("still JSON");
            prop_assert_eq!(back, value);
        }
    }

    #[test]
    fn deep_nesting_cannot_blow_up() {
        // 64 KiB of nested arrays, the server's default body limit.
        let group = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let wrapped = format!("[{}]", vec![group; 270].join(","));
        let laid_out = pretty_json(&wrapped);
        assert!(
            laid_out.len() < wrapped.len() * 20,
            "{} bytes from {}",
            laid_out.len(),
            wrapped.len()
        );
        let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        let back: Value = serde_json::from_str(&pretty_json(&deep)).expect("still JSON");
        assert_eq!(back, serde_json::from_str::<Value>(&deep).expect("JSON"));
        let folded = FoldedJson::new(&format!("[{}]", "1,".repeat(300_000) + "1"));
        assert!(folded.full.len() < MAX_SHOWN_CHARS + 100);
        assert!(folded.full.ends_with("more bytes not shown)"));
    }

    #[test]
    fn short_data_is_not_folded() {
        let folded = FoldedJson::new(r#"{"a":1}"#);
        assert_eq!(folded.preview, None);
        assert_eq!(folded.lines, 3);
        assert_eq!(FoldedJson::new("7").lines, 1);
    }

    #[test]
    fn many_lines_fold_after_the_first_few() {
        let list: Vec<u32> = (1..=20).collect();
        let folded = FoldedJson::new(&serde_json::to_string(&list).expect("json"));
        assert_eq!(folded.lines, 22);
        let preview = folded.preview.expect("folded");
        assert_eq!(preview.lines().count(), FOLD_LINES);
        assert!(preview.starts_with("[\n  1,"), "{preview}");
        assert!(preview.ends_with('…'), "{preview}");
        // Exactly at the limit: not folded.
        let fits: Vec<u32> = (1..=6).collect();
        assert_eq!(
            FoldedJson::new(&serde_json::to_string(&fits).expect("json")).preview,
            None
        );
    }

    #[test]
    fn one_long_line_folds_on_a_character_boundary() {
        let long = format!("\"{}\"", "é".repeat(2 * FOLD_CHARS));
        let folded = FoldedJson::new(&long);
        assert_eq!(folded.lines, 1);
        let preview = folded.preview.expect("folded");
        assert_eq!(preview.chars().count(), FOLD_CHARS + 1);
    }

    #[test]
    fn the_check_accepts_any_value_and_says_where_the_text_is_not_json() {
        for ok in ["{}", " [1, 2] ", "\"text\"", "null", "1e3"] {
            assert_eq!(check_json(ok), Ok(()), "{ok}");
        }
        assert!(check_json("  ").expect_err("empty").contains("empty"));
        let error = check_json("{\"a\": 1,").expect_err("unfinished");
        assert!(error.contains("line 1 column"), "{error}");
        assert!(check_json("{} {}").is_err());
        assert!(check_json("{'a': 1}").is_err());
    }
}
