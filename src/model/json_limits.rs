//! What the server's JSON reader (`serde_json`) refuses in a publish body
//! and the browser's (`JSON.parse`) accepts in the data typed into the
//! Publish card: arrays and objects nested deeper than [`MAX_DATA_DEPTH`]
//! (the data travels one level down, inside the body's object), and a `\u`
//! escape of half a surrogate pair. The card checks both before it sends,
//! so that data the server would refuse with `invalid_event` is marked in
//! the editor instead.
//!
//! Contract: for a text that is valid JSON syntax, [`check_data_limits`]
//! accepts exactly what `serde_json` reads as the `data` of a publish body
//! (tested against it), but for one case left to the server: a number
//! beyond a double's range (`1e400`, which `JSON.parse` reads as
//! `Infinity`) comes back as its `400 invalid_event`. Checking it here cost
//! the home page 1.1 KiB gzip, for a number no one types. It is not a
//! syntax check.

use super::json_value::JsonError;

/// `serde_json`'s recursion limit (128) stops at the 128th opening
/// bracket of the body: the body's own object is one, so the data may
/// nest this deep.
pub const MAX_DATA_DEPTH: usize = 126;

/// Refuses valid JSON `data` that the server's reader would refuse inside
/// a publish body: too deep, or holding an escaped lone surrogate.
pub fn check_data_limits(text: &str) -> Result<(), JsonError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match (in_string, byte) {
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (true, b'\\') => {
                at += escape_len(bytes, at)?;
                continue;
            }
            (false, b'[' | b'{') => {
                depth += 1;
                if depth > MAX_DATA_DEPTH {
                    return Err(JsonError::new(format!(
                        "it nests arrays and objects more than {MAX_DATA_DEPTH} levels deep, the server's limit"
                    )));
                }
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// The length of the escape at `bytes[at]` (a backslash inside a string):
/// 2 for `\n` and the like, 6 for `\uXXXX`, 12 for a surrogate pair. Half
/// a pair is refused.
fn escape_len(bytes: &[u8], at: usize) -> Result<usize, JsonError> {
    if bytes.get(at + 1) != Some(&b'u') {
        return Ok(2);
    }
    let lone = |unit: u16| {
        JsonError::new(format!(
            "the escape \\u{unit:04X} is half of a surrogate pair without its other half"
        ))
    };
    match code_unit(bytes, at + 2) {
        Some(unit @ 0xD800..=0xDBFF) => {
            let paired = bytes.get(at + 6) == Some(&b'\\')
                && bytes.get(at + 7) == Some(&b'u')
                && matches!(code_unit(bytes, at + 8), Some(0xDC00..=0xDFFF));
            if paired {
                Ok(12)
            } else {
                Err(lone(unit))
            }
        }
        Some(unit @ 0xDC00..=0xDFFF) => Err(lone(unit)),
        _ => Ok(6),
    }
}

/// The four hex digits at `bytes[at..at + 4]`, if they are that.
fn code_unit(bytes: &[u8], at: usize) -> Option<u16> {
    bytes
        .get(at..at + 4)?
        .iter()
        .try_fold(0u16, |unit, &digit| {
            let value = char::from(digit).to_digit(16)?;
            Some(unit << 4 | value as u16)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the server's reader takes `data` in a publish body, as the
    /// publish route reads it (the server's own features: `float_roundtrip`).
    fn server_reads(data: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(&format!("{{\"data\":{data}}}")).is_ok()
    }

    #[test]
    fn the_depth_limit_is_the_servers() {
        for depth in [1, 2, 125, 126, 127, 128, 129, 500] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                assert_eq!(
                    check_data_limits(&text).is_ok(),
                    server_reads(&text),
                    "depth {depth} of {open}"
                );
            }
        }
        // Brackets inside strings are text, not nesting.
        let text = format!("[\"{}\"]", "[".repeat(300));
        assert!(check_data_limits(&text).is_ok() && server_reads(&text));
        // A closed container gives its level back.
        let text = format!("[{}]", "[[1]],".repeat(200) + "2");
        assert!(check_data_limits(&text).is_ok() && server_reads(&text));
    }

    #[test]
    fn lone_surrogates_are_refused_as_the_server_refuses_them() {
        for text in [
            r#""\ud800""#,
            r#""\uDBFF""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800x""#,
            r#""\ud800\ud800""#,
            r#""\udc00\ud800""#,
            r#"{"\ud800": 1}"#,
            r#""\ud83d\ude00""#,
            r#""\\ud800""#,
            r#""\\\ud800""#,
            r#""\"\ud800""#,
            r#""\u0041\n\t\/""#,
            r#""é ☃ 😀""#,
            r#"["\ud83d\ude00", "\ud83d"]"#,
        ] {
            assert_eq!(
                check_data_limits(text).is_ok(),
                server_reads(text),
                "{text}"
            );
        }
        let error = check_data_limits(r#""\ud800""#).expect_err("lone");
        assert_eq!(
            error.to_string(),
            "the escape \\uD800 is half of a surrogate pair without its other half"
        );
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_server_on_valid_json(
            value in proptest::arbitrary::any::<Vec<(String, u8)>>(),
            wrap in 0usize..140,
        ) {
            let inner = serde_json::to_string(&value).expect("serializable");
            let text = format!("{}{inner}{}", "[".repeat(wrap), "]".repeat(wrap));
            proptest::prop_assert_eq!(check_data_limits(&text).is_ok(), server_reads(&text));
        }

        #[test]
        fn agrees_with_the_server_on_escapes(
            units in proptest::collection::vec(
                proptest::prop_oneof![0xD7F0u16..0xE010, proptest::arbitrary::any::<u16>()],
                0..6,
            ),
        ) {
            let escapes: String = units.iter().map(|unit| format!("\\u{unit:04x}")).collect();
            let text = format!("[\"{escapes}\"]");
                proptest::prop_assert_eq!(check_data_limits(&text).is_ok(), server_reads(&text));
        }
    }
}
