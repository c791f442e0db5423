//! Just enough HTTP/1.1 for the benchmark: write a `GET` (or a publish
//! `POST`), parse the response head, and undo chunked transfer encoding
//! incrementally, so a connection needs no more memory than its read buffer.

use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest response head accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// The request line and headers of an SSE subscription.
pub fn sse_request(host: &str, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\nUser-Agent: sse-loadgen\r\n\r\n"
    )
}

/// A plain `GET` of `path`, on a connection kept alive for the next request.
pub fn plain_request(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sse-loadgen\r\n\r\n")
}

/// A `POST` of the JSON `body` to `path` with a bearer `token`, on a
/// connection kept alive for the next request, as one buffer so that it
/// leaves in one write (and, being small, one segment).
pub fn json_post(host: &str, path: &str, token: &str, body: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: sse-loadgen\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// The response at the start of `bytes` once all of it has arrived: its head
/// and its whole length (head and body, framed by `Content-Length` or chunked
/// encoding without trailers); `None` until then. Unlike
/// [`complete_response_len`] it accepts either framing, as an answer to a
/// keep-alive request must have one of them to be told apart from the next.
pub fn complete_response(bytes: &[u8]) -> Result<Option<(ResponseHead, usize)>> {
    let Some((head, head_len)) = parse_head(bytes)? else {
        return Ok(None);
    };
    let body = &bytes[head_len..];
    if head.chunked {
        // Byte by byte, to learn where the last chunk ends: these bodies are
        // a few dozen bytes.
        let mut dechunker = Dechunker::default();
        for (at, byte) in body.iter().enumerate() {
            if dechunker.feed(std::slice::from_ref(byte), &mut |_| {})? {
                // The zero-size chunk's line is read; the empty trailer
                // section's CRLF follows.
                let total = head_len + at + 1 + 2;
                return Ok((bytes.len() >= total).then_some((head, total)));
            }
        }
        return Ok(None);
    }
    let body_len = match head.content_length {
        Some(length) => length,
        None if matches!(head.status, 100..=199 | 204 | 304) => 0,
        None => bail!(
            "status {} response without Content-Length or chunked encoding",
            head.status
        ),
    };
    let total = head_len + body_len;
    Ok((bytes.len() >= total).then_some((head, total)))
}

/// The length of the response at the start of `bytes` (head and
/// `Content-Length` body) once all of it has arrived; `None` until then.
pub fn complete_response_len(bytes: &[u8]) -> Result<Option<usize>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes).context("unparsable response head")? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let length = response
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .context("the first response has no Content-Length")?;
    let body: usize = std::str::from_utf8(length.value)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .context("unparsable Content-Length")?;
    let total = head_len + body;
    Ok((bytes.len() >= total).then_some(total))
}

/// What the loader needs from a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Whether the body uses `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Content-Length`, when given.
    pub content_length: Option<usize>,
    /// Whether the server said `Connection: close`: it sends nothing more
    /// on this connection.
    pub close: bool,
}

/// Parses a response head at the start of `buf`. Returns the head and its
/// length including the blank line, or `None` while it is incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            bail!("response head longer than {MAX_HEAD} bytes");
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut head = ResponseHead {
        status,
        chunked: false,
        content_length: None,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value
                .split(',')
                .any(|option| option.trim().eq_ignore_ascii_case("close"));
        }
    }
    Ok(Some((head, end + 4)))
}

/// Position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Where the [`Dechunker`] is within the chunked framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hexadecimal size; `digits` counts the digits seen.
    Size { size: usize, digits: u8 },
    /// Skipping a chunk extension up to the end of the size line.
    Extension { size: usize },
    /// Inside a chunk's data with this many bytes left.
    Data { remaining: usize },
    /// After a chunk's data, expecting its CRLF.
    DataEnd { seen_cr: bool },
    /// After the last (zero-size) chunk: the body is complete.
    Done,
}

/// Incremental decoder of `Transfer-Encoding: chunked`.
#[derive(Debug, Clone)]
pub struct Dechunker {
    state: ChunkState,
}

impl Default for Dechunker {
    fn default() -> Self {
        Self {
            state: ChunkState::Size { size: 0, digits: 0 },
        }
    }
}

impl Dechunker {
    /// Decodes `input`, handing each run of body bytes to `out`. Returns
    /// `true` once the terminating zero-size chunk has been read.
    pub fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<bool> {
        while !input.is_empty() {
            match self.state {
                ChunkState::Done => return Ok(true),
                ChunkState::Data { remaining } => {
                    let take = remaining.min(input.len());
                    out(&input[..take]);
                    input = &input[take..];
                    self.state = if take == remaining {
                        ChunkState::DataEnd { seen_cr: false }
                    } else {
                        ChunkState::Data {
                            remaining: remaining - take,
                        }
                    };
                }
                ChunkState::Size { size, digits } => {
                    let byte = input[0];
                    input = &input[1..];
                    self.state = match byte {
                        b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                            let digit = (byte as char).to_digit(16).unwrap_or(0) as usize;
                            let size = size
                                .checked_mul(16)
                                .and_then(|s| s.checked_add(digit))
                                .context("chunk size overflows")?;
                            ChunkState::Size {
                                size,
                                digits: digits.saturating_add(1),
                            }
                        }
                        b'\r' | b' ' | b'\t' => ChunkState::Size { size, digits },
                        b';' => ChunkState::Extension { size },
                        b'\n' if digits > 0 => Self::after_size(size),
                        other => bail!("unexpected byte {other:#04x} in a chunk size"),
                    };
                }
                ChunkState::Extension { size } => match input.iter().position(|b| *b == b'\n') {
                    Some(at) => {
                        input = &input[at + 1..];
                        self.state = Self::after_size(size);
                    }
                    None => input = &[],
                },
                ChunkState::DataEnd { seen_cr } => {
                    let byte = input[0];
                    input = &input[1..];
                    self.state = match (byte, seen_cr) {
                        (b'\r', false) => ChunkState::DataEnd { seen_cr: true },
                        (b'\n', _) => ChunkState::Size { size: 0, digits: 0 },
                        (other, _) => bail!("expected CRLF after chunk data, got {other:#04x}"),
                    };
                }
            }
        }
        Ok(self.state == ChunkState::Done)
    }

    /// The state after a complete size line.
    fn after_size(size: usize) -> ChunkState {
        if size == 0 {
            ChunkState::Done
        } else {
            ChunkState::Data { remaining: size }
        }
    }
}

/// A response body decoder: chunked, or passed through as is.
#[derive(Debug, Clone)]
pub enum BodyDecoder {
    /// `Transfer-Encoding: chunked`.
    Chunked(Dechunker),
    /// Any other framing: bytes until the connection closes.
    Plain,
}

impl BodyDecoder {
    /// The decoder for a response with this head.
    pub fn for_head(head: &ResponseHead) -> Self {
        if head.chunked {
            Self::Chunked(Dechunker::default())
        } else {
            Self::Plain
        }
    }

    /// Decodes `input` into `out`; returns `true` when the body is complete.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<bool> {
        match self {
            Self::Chunked(dechunker) => dechunker.feed(input, out),
            Self::Plain => {
                out(input);
                Ok(false)
            }
        }
    }
}

/// A small `GET` with `Connection: close`: returns the status and the whole
/// decoded body. For the JSON endpoints, not for event streams.
pub async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>)> {
    tokio::time::timeout(timeout, get_inner(addr, host, path))
        .await
        .with_context(|| format!("GET {path} took longer than {timeout:?}"))?
}

async fn get_inner(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let (head, body_start) =
        parse_head(&raw)?.context("connection closed before the response head")?;
    let mut body = Vec::new();
    let mut decoder = BodyDecoder::for_head(&head);
    decoder.feed(&raw[body_start..], &mut |bytes| {
        body.extend_from_slice(bytes)
    })?;
    if let Some(length) = head.content_length {
        body.truncate(length);
    }
    Ok((head.status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_response_is_complete_with_its_whole_body() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(
            complete_response_len(&response[..20]).expect("parses"),
            None
        );
        assert_eq!(
            complete_response_len(&response[..50]).expect("parses"),
            None
        );
        assert_eq!(
            complete_response_len(response).expect("parses"),
            Some(response.len())
        );
        assert!(
            complete_response_len(b"HTTP/1.1 200 OK\r\n\r\n").is_err(),
            "no length"
        );
    }

    #[test]
    fn a_publish_post_carries_its_token_type_and_length() {
        let body = r#"{"event":"bench","data":{"p":1}}"#;
        let request = json_post("127.0.0.1:9", "/api/streams/s/events", "t0k", body);
        let expected = format!(
            "POST /api/streams/s/events HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\
             Authorization: Bearer t0k\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nUser-Agent: sse-loadgen\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8(request.clone()).expect("ASCII"), expected);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Request::new(&mut headers);
        let head_len = match parsed.parse(&request).expect("valid request") {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => panic!("incomplete request"),
        };
        assert_eq!(parsed.method, Some("POST"));
        assert_eq!(&request[head_len..], body.as_bytes());
    }

    #[test]
    fn a_keep_alive_answer_is_complete_with_its_body_in_either_framing() {
        let created =
            b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 25\r\n\r\n{\"stream\":\"pub-3\",\"id\":7}";
        for cut in 0..created.len() {
            assert_eq!(
                complete_response(&created[..cut]).expect("parses"),
                None,
                "cut {cut}"
            );
        }
        let (head, len) = complete_response(created)
            .expect("parses")
            .expect("complete");
        assert_eq!((head.status, head.close, len), (201, false, created.len()));
        let mut pipelined = created.to_vec();
        pipelined.extend_from_slice(b"HTTP/1.1 201");
        assert_eq!(
            complete_response(&pipelined)
                .expect("parses")
                .map(|(_, len)| len),
            Some(created.len())
        );

        let limited = b"HTTP/1.1 429 Too Many Requests\r\nConnection: keep-alive, Close\r\n\
                        Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n1\r\n1\r\n1\r\n}\r\n0\r\n\r\n";
        for cut in 0..limited.len() {
            assert_eq!(
                complete_response(&limited[..cut]).expect("parses"),
                None,
                "cut {cut}"
            );
        }
        let (head, len) = complete_response(limited)
            .expect("parses")
            .expect("complete");
        assert_eq!((head.status, head.close, len), (429, true, limited.len()));

        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(
            complete_response(empty)
                .expect("parses")
                .map(|(_, len)| len),
            Some(empty.len())
        );
        assert!(
            complete_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err(),
            "no framing"
        );
    }

    fn dechunk_in_pieces(input: &[u8], piece: usize) -> (Vec<u8>, bool) {
        let mut decoder = Dechunker::default();
        let mut out = Vec::new();
        let mut done = false;
        for part in input.chunks(piece) {
            done = decoder
                .feed(part, &mut |bytes| out.extend_from_slice(bytes))
                .expect("valid chunked input");
        }
        (out, done)
    }

    #[test]
    fn parses_a_head_and_reports_chunking() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nrest";
        let (head, len) = parse_head(raw).expect("valid").expect("complete");
        assert_eq!(head.status, 200);
        assert!(head.chunked);
        assert_eq!(&raw[len..], b"rest");
        assert_eq!(parse_head(b"HTTP/1.1 503 Ser").expect("valid"), None);
        let (head, _) =
            parse_head(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\n\r\n")
                .expect("valid")
                .expect("complete");
        assert_eq!((head.status, head.content_length), (503, Some(12)));
    }

    #[test]
    fn dechunks_whatever_the_read_boundaries() {
        let input =
            b"d\r\nretry: 3000\n\n\r\n1A;ext=1\r\nid: 1\ndata: {\"number\":1}\n\n\r\n0\r\n\r\n";
        for piece in 1..input.len() {
            let (out, done) = dechunk_in_pieces(input, piece);
            assert_eq!(
                out, b"retry: 3000\n\nid: 1\ndata: {\"number\":1}\n\n",
                "piece {piece}"
            );
            assert!(done, "piece {piece}");
        }
    }

    #[test]
    fn rejects_garbage_in_a_chunk_size() {
        let mut decoder = Dechunker::default();
        assert!(decoder.feed(b"zz\r\n", &mut |_| {}).is_err());
    }
}
