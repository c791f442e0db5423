//! JSON as the page reads it: the platform's parser, then a small tree the
//! wire types are read from by name.
//!
//! # Why not serde_json in the browser
//!
//! The browser already has a JSON parser. Parsing with `serde_json` and
//! its derives put a second parser, one deserializer per wire type, serde's
//! error machinery and float parsing and printing (serde's messages print
//! unexpected floats) into the WASM bundle: reading with `JSON.parse`
//! instead took it from 517.5 to 457.7 KiB, 209.4 to 180.9 KiB gzipped
//! (README: The page's weight). In the browser [`parse_json`] is
//! `JSON.parse`, whose messages say what is wrong (Chromium's often with
//! line and column, not for every mistake: `Unexpected token ']'` quotes
//! the text around it instead); on the host, where the model is
//! unit-tested, it is `serde_json`. Either way the result is a [`JsonValue`], and the readers
//! ([`ReadJson`]) are the same code on both sides, so the tests cover what
//! the page runs.
//!
//! The server keeps serde (the derives on the wire types are what it
//! writes); `wire_read` holds the readers to the derives' answers.
//!
//! A copy is only as deep as its reader looks ([`ReadJson::LEVELS`]): an
//! event's data may be tens of kilobytes, and every value copied out of
//! `JSON.parse`'s result is a call across the WASM boundary.

use std::fmt;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (a JSON number is a double in the browser).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object's members (in the browser, integer-like names first, as
    /// `Object.entries` lists them); a repeated name's last value counts.
    Object(Vec<(String, JsonValue)>),
    /// An array or object deeper than what was asked for, not read.
    Deep,
}

/// Why JSON text could not be read: not JSON at all, or not the shape a
/// reader expects. The message says which, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(String);

impl JsonError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `text` as one JSON value (surrounding whitespace allowed),
/// copying the arrays and objects of its first `levels` levels (the
/// outermost value is level 0); deeper ones are [`JsonValue::Deep`].
pub fn parse_json(text: &str, levels: usize) -> Result<JsonValue, JsonError> {
    platform::parse(text, levels)
}

/// Checks that `text` is one JSON value, without keeping it: what the
/// page asks of published data, which it shows as text.
pub fn check_json_syntax(text: &str) -> Result<(), JsonError> {
    platform::check(text)
}

/// A type read from a [`JsonValue`]: a wire type the page receives.
pub trait ReadJson: Sized {
    /// Levels of arrays and objects the reader looks into (see
    /// [`parse_json`]).
    const LEVELS: usize;

    /// Reads `value`, or says what is wrong with it.
    fn read_json(value: &JsonValue) -> Result<Self, JsonError>;
}

/// Parses `text` and reads a `T` from it.
pub fn read_json<T: ReadJson>(text: &str) -> Result<T, JsonError> {
    T::read_json(&parse_json(text, T::LEVELS)?)
}

impl JsonValue {
    /// The member `name` of an object (its last value when repeated);
    /// `None` for a missing member or a value that is not an object.
    pub fn get(&self, name: &str) -> Option<&JsonValue> {
        match self {
            Self::Object(members) => members
                .iter()
                .rev()
                .find_map(|(key, value)| (key == name).then_some(value)),
            _ => None,
        }
    }

    /// The object's members, or an error saying that `what` (a phrase
    /// such as "the frame" or "field `hub`") is not an object.
    pub fn members(&self, what: &str) -> Result<&[(String, JsonValue)], JsonError> {
        match self {
            Self::Object(members) => Ok(members),
            _ => Err(JsonError(format!("{what} is not an object"))),
        }
    }

    /// The member `name`, which must be there.
    pub fn required(&self, name: &str) -> Result<&JsonValue, JsonError> {
        self.get(name)
            .ok_or_else(|| JsonError(format!("missing field `{name}`")))
    }

    /// The whole number in member `name`, which must be there and fit in
    /// `T` (`u64`, or a narrower field such as a `u32`).
    pub fn required_count<T: TryFrom<u64>>(&self, name: &str) -> Result<T, JsonError> {
        T::try_from(self.required(name)?.count(name)?)
            .map_err(|_| JsonError(format!("field `{name}` is out of range")))
    }

    /// The whole number in member `name`, 0 when it is missing.
    pub fn count_or_zero(&self, name: &str) -> Result<u64, JsonError> {
        self.get(name).map_or(Ok(0), |value| value.count(name))
    }

    /// The string in member `name`, which must be there.
    pub fn required_string(&self, name: &str) -> Result<String, JsonError> {
        match self.required(name)? {
            Self::String(text) => Ok(text.clone()),
            _ => Err(JsonError(format!("field `{name}` is not a string"))),
        }
    }

    /// This value as a whole number from 0 to 2^53 - 1 (the integers a
    /// double tells apart from their neighbours); `name` says whose it is
    /// in the error.
    pub fn count(&self, name: &str) -> Result<u64, JsonError> {
        const EXACT: f64 = 9_007_199_254_740_991.0;
        match self {
            Self::Number(n) if n.fract() == 0.0 && (0.0..=EXACT).contains(n) => {
                // Whole and in range: the conversion is exact.
                Ok(*n as u64)
            }
            _ => Err(JsonError(format!(
                "field `{name}` is not a whole number from 0 to 2^53 - 1"
            ))),
        }
    }
}

#[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
mod platform {
    //! The browser's `JSON.parse`.

    use super::{JsonError, JsonValue};
    use wasm_bindgen::{JsCast, JsValue};

    /// Parses with `JSON.parse`, keeping its message.
    pub(super) fn parse(text: &str, levels: usize) -> Result<JsonValue, JsonError> {
        js_sys::JSON::parse(text)
            .map(|value| convert(&value, 0, levels))
            .map_err(message)
    }

    /// Parses with `JSON.parse` and drops the result.
    pub(super) fn check(text: &str) -> Result<(), JsonError> {
        js_sys::JSON::parse(text).map(drop).map_err(message)
    }

    /// The message of what `JSON.parse` threw.
    fn message(error: JsValue) -> JsonError {
        JsonError(
            error
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
                .unwrap_or_else(|| "not JSON".to_owned()),
        )
    }

    /// Copies what `JSON.parse` built, `depth` levels down, to `levels`.
    fn convert(value: &JsValue, depth: usize, levels: usize) -> JsonValue {
        if value.is_null() {
            return JsonValue::Null;
        }
        if let Some(flag) = value.as_bool() {
            return JsonValue::Bool(flag);
        }
        if let Some(number) = value.as_f64() {
            return JsonValue::Number(number);
        }
        if let Some(text) = value.as_string() {
            return JsonValue::String(text);
        }
        if depth >= levels {
            return JsonValue::Deep;
        }
        if let Some(items) = value.dyn_ref::<js_sys::Array>() {
            return JsonValue::Array(
                items
                    .iter()
                    .map(|item| convert(&item, depth + 1, levels))
                    .collect(),
            );
        }
        // What is left of JSON.parse's output is a plain object.
        let entries = js_sys::Object::entries(value.unchecked_ref());
        JsonValue::Object(
            entries
                .iter()
                .map(|entry| {
                    let pair: js_sys::Array = entry.unchecked_into();
                    let key = pair.get(0).as_string().unwrap_or_default();
                    (key, convert(&pair.get(1), depth + 1, levels))
                })
                .collect(),
        )
    }
}

#[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
mod platform {
    //! `serde_json`, where there is no browser (unit tests, the server).

    use super::{JsonError, JsonValue};
    use serde_json::Value;

    /// Parses with `serde_json`, keeping its message.
    pub(super) fn parse(text: &str, levels: usize) -> Result<JsonValue, JsonError> {
        serde_json::from_str::<Value>(text)
            .map(|value| convert(&value, 0, levels))
            .map_err(|error| JsonError(error.to_string()))
    }

    /// Checks the syntax without building the value.
    pub(super) fn check(text: &str) -> Result<(), JsonError> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(drop)
            .map_err(|error| JsonError(error.to_string()))
    }

    /// Copies `value`, `depth` levels down, to `levels`.
    fn convert(value: &Value, depth: usize, levels: usize) -> JsonValue {
        match value {
            Value::Null => JsonValue::Null,
            Value::Bool(flag) => JsonValue::Bool(*flag),
            Value::Number(number) => JsonValue::Number(number.as_f64().unwrap_or(f64::NAN)),
            Value::String(text) => JsonValue::String(text.clone()),
            Value::Array(_) | Value::Object(_) if depth >= levels => JsonValue::Deep,
            Value::Array(items) => JsonValue::Array(
                items
                    .iter()
                    .map(|item| convert(item, depth + 1, levels))
                    .collect(),
            ),
            Value::Object(members) => JsonValue::Object(
                members
                    .iter()
                    .map(|(key, value)| (key.clone(), convert(value, depth + 1, levels)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_kind_and_order() {
        let value =
            parse_json(r#" {"b": [1, 2.5, null], "a": {"t": true}, "s": "x"} "#, 2).expect("JSON");
        let members = value.members("the test value").expect("object");
        let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["b", "a", "s"]);
        assert_eq!(
            value.get("b"),
            Some(&JsonValue::Array(vec![
                JsonValue::Number(1.0),
                JsonValue::Number(2.5),
                JsonValue::Null
            ]))
        );
        assert_eq!(
            value.get("a").and_then(|a| a.get("t")),
            Some(&JsonValue::Bool(true))
        );
        assert_eq!(value.required_string("s"), Ok("x".to_owned()));
    }

    #[test]
    fn not_json_is_an_error_that_says_where() {
        let error = parse_json(r#"{"order": 42,"#, 1).expect_err("not JSON");
        assert!(error.to_string().contains("line 1 column"), "{error}");
        assert!(parse_json("", 1).is_err());
        assert!(parse_json("1 2", 1).is_err());
    }

    #[test]
    fn counts_are_whole_numbers_a_double_holds_exactly() {
        let value = parse_json(r#"{"n": 7, "big": 9007199254740991, "bigger": 9007199254740992, "neg": -1, "half": 0.5, "huge": 1e300, "text": "7"}"#, 1)
            .expect("JSON");
        assert_eq!(value.required_count::<u64>("n"), Ok(7));
        assert_eq!(value.required_count::<u64>("big"), Ok((1 << 53) - 1));
        for bad in ["bigger", "neg", "half", "huge", "text"] {
            let error = value.required_count::<u64>(bad).expect_err(bad);
            assert!(error.to_string().contains(bad), "{error}");
        }
        assert!(value.required_count::<u64>("absent").is_err());
        assert_eq!(value.count_or_zero("absent"), Ok(0));
        assert!(value.count_or_zero("text").is_err());
    }

    #[test]
    fn a_repeated_member_reads_as_its_last_value() {
        let value = parse_json(r#"{"n": 1, "n": 2}"#, 1).expect("JSON");
        assert_eq!(value.required_count::<u64>("n"), Ok(2));
    }

    #[test]
    fn only_the_levels_asked_for_are_copied() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        for asked in [0, 1, 3] {
            let mut value = &parse_json(&deep, asked).expect("JSON");
            let mut levels = 0;
            while let JsonValue::Array(items) = value {
                value = &items[0];
                levels += 1;
            }
            assert_eq!(levels, asked);
            assert_eq!(value, &JsonValue::Deep);
        }
        // Scalars are values at any level.
        assert_eq!(
            parse_json("[1]", 1),
            Ok(JsonValue::Array(vec![JsonValue::Number(1.0)]))
        );
        assert_eq!(parse_json("\"x\"", 0), Ok(JsonValue::String("x".into())));
    }
}
