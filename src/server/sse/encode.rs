//! Encoding of Server-Sent Events messages, once per event into shared
//! bytes.
//!
//! The framing follows the WHATWG HTML "server-sent events" section: a message
//! is a block of `field: value` lines ended by a blank line. Whatever the data
//! holds (CR, LF, CRLF, NUL, any Unicode), it can neither end the message early
//! nor start another field: every line break in the data starts a new `data:`
//! line, and line breaks are removed from single-line fields.

use bytes::Bytes;

/// Encodes one message. `id` becomes the `id:` line (what the browser sends
/// back as `Last-Event-ID`), `event` the event type (omitted: `message`),
/// `data` one `data:` line per line of text.
pub fn encode_message(id: Option<u64>, event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&id.to_string());
        out.push('\n');
    }
    if let Some(event) = event {
        out.push_str("event: ");
        push_single_line(&mut out, event);
        out.push('\n');
    }
    for line in split_lines(data) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The keep-alive comment, as `encode_comment("keep-alive")` encodes it;
/// static, so sending it to every subscriber allocates nothing.
pub const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

/// Encodes a comment line, which clients ignore; used for keep-alives.
pub fn encode_comment(text: &str) -> Bytes {
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str(": ");
    push_single_line(&mut out, text);
    out.push_str("\n\n");
    Bytes::from(out)
}

/// Encodes the `retry:` field: the browser's reconnection delay.
pub fn encode_retry(millis: u64) -> Bytes {
    Bytes::from(format!("retry: {millis}\n\n"))
}

/// Splits on every line terminator SSE recognises: CRLF, CR and LF.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Appends `text` without its line breaks, for single-line fields.
fn push_single_line(out: &mut String, text: &str) {
    out.extend(text.chars().filter(|c| *c != '\r' && *c != '\n'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_event_with_id_and_data() {
        assert_eq!(
            encode_message(Some(7), None, r#"{"n":1}"#),
            Bytes::from_static(b"id: 7\ndata: {\"n\":1}\n\n")
        );
    }

    #[test]
    fn every_line_break_in_data_starts_a_new_data_line() {
        assert_eq!(
            encode_message(None, Some("gap"), "a\r\nb\rc\nd"),
            Bytes::from_static(b"event: gap\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
        );
        assert_eq!(
            encode_message(None, None, ""),
            Bytes::from_static(b"data: \n\n")
        );
    }

    #[test]
    fn the_static_keep_alive_is_what_the_encoder_produces() {
        assert_eq!(encode_comment("keep-alive"), KEEP_ALIVE);
    }

    #[test]
    fn single_line_fields_lose_their_line_breaks() {
        assert_eq!(
            encode_message(None, Some("x\ny"), "z"),
            Bytes::from_static(b"event: xy\ndata: z\n\n")
        );
        assert_eq!(
            encode_comment("keep\r\nalive"),
            Bytes::from_static(b": keepalive\n\n")
        );
    }
}
