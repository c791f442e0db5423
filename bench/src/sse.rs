//! A minimal, incremental `text/event-stream` parser.
//!
//! It understands what the two servers send: `retry:`, `id:`, `event:`,
//! `data:` fields and `:` comments, with LF (or CRLF) line ends. A message is
//! dispatched at its blank line. Unlike a browser it does not carry the last
//! event id over to messages without an `id:` line, so that a gap check only
//! ever looks at ids the server actually sent.

/// The type of a dispatched message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No `event:` field, or `event: message`.
    Message,
    /// `event: gap`: the server says events were lost.
    Gap,
    /// Any other event type.
    Other,
}

/// One complete message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The message's own `id:` line, when it had a numeric one.
    pub id: Option<u64>,
    /// The event type.
    pub kind: Kind,
    /// The `data:` lines joined by `\n`.
    pub data: &'a [u8],
}

/// Something the parser recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A `retry:` field.
    Retry,
    /// A comment line such as `: keep-alive`.
    Comment,
    /// A dispatched message.
    Message(Message<'a>),
}

/// Parser state kept between reads: the unfinished line and message.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended by `\n`.
    partial: Vec<u8>,
    /// `data:` of the message being read.
    data: Vec<u8>,
    has_data: bool,
    id: Option<u64>,
    kind: Option<Kind>,
}

impl SseParser {
    /// Parses `input`, calling `on_item` for each recognised item.
    pub fn feed(&mut self, mut input: &[u8], on_item: &mut impl FnMut(Item<'_>)) {
        while let Some(end) = input.iter().position(|b| *b == b'\n') {
            if self.partial.is_empty() {
                self.line(&input[..end], on_item);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&input[..end]);
                self.line(&line, on_item);
                line.clear();
                self.partial = line;
            }
            input = &input[end + 1..];
        }
        self.partial.extend_from_slice(input);
    }

    /// Handles one line without its `\n`.
    fn line(&mut self, line: &[u8], on_item: &mut impl FnMut(Item<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(on_item);
            return;
        }
        if line[0] == b':' {
            on_item(Item::Comment);
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"id" => {
                self.id = std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse().ok());
            }
            b"event" => {
                self.kind = Some(match value {
                    b"" | b"message" => Kind::Message,
                    b"gap" => Kind::Gap,
                    _ => Kind::Other,
                });
            }
            b"retry" => on_item(Item::Retry),
            _ => {}
        }
    }

    /// Ends the current message at a blank line.
    fn dispatch(&mut self, on_item: &mut impl FnMut(Item<'_>)) {
        if self.has_data {
            on_item(Item::Message(Message {
                id: self.id,
                kind: self.kind.unwrap_or(Kind::Message),
                data: &self.data,
            }));
        }
        self.data.clear();
        self.has_data = false;
        self.id = None;
        self.kind = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Retry,
        Comment,
        Message(Option<u64>, Kind, String),
    }

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<Owned> {
        let mut parser = SseParser::default();
        let mut items = Vec::new();
        for part in input.chunks(piece) {
            parser.feed(part, &mut |item| {
                items.push(match item {
                    Item::Retry => Owned::Retry,
                    Item::Comment => Owned::Comment,
                    Item::Message(m) => {
                        Owned::Message(m.id, m.kind, String::from_utf8_lossy(m.data).into_owned())
                    }
                });
            });
        }
        items
    }

    #[test]
    fn parses_what_sse_hub_sends_whatever_the_read_boundaries() {
        let input = b"retry: 3456\n\nid: 1\ndata: {\"number\":5}\n\n: keep-alive\n\n\
                      event: gap\ndata: {\"first\":2,\"last\":3}\n\nid: 4\r\ndata: a\r\ndata: b\r\n\r\n";
        let expected = vec![
            Owned::Retry,
            Owned::Message(Some(1), Kind::Message, "{\"number\":5}".into()),
            Owned::Comment,
            Owned::Message(None, Kind::Gap, "{\"first\":2,\"last\":3}".into()),
            Owned::Message(Some(4), Kind::Message, "a\nb".into()),
        ];
        for piece in 1..=input.len() {
            assert_eq!(parse_in_pieces(input, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn messages_without_an_id_line_have_no_id() {
        let items = parse_in_pieces(b"id: 7\ndata: x\n\ndata: y\n\n", 64);
        assert_eq!(
            items,
            vec![
                Owned::Message(Some(7), Kind::Message, "x".into()),
                Owned::Message(None, Kind::Message, "y".into()),
            ]
        );
    }
}
