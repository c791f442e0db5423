//! One SSE connection: connect, request, response head, then decoded items.

use crate::http::{complete_response_len, parse_head, plain_request, sse_request, BodyDecoder};
use crate::sse::{Item, SseParser};
use crate::target::Target;
use std::fmt;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a connection did not get, or lost, its event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The TCP connection could not be made.
    Connect(String),
    /// Connecting or the response head took longer than allowed.
    Timeout,
    /// The server answered with another status than 200.
    Status(u16),
    /// The response could not be parsed.
    Protocol(String),
    /// The connection failed or closed while the stream was open.
    Dropped(String),
}

impl Failure {
    /// The coarse category, for the summary's counters.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Connect(_) | Self::Timeout => "connect",
            Self::Status(_) => "status",
            Self::Protocol(_) => "protocol",
            Self::Dropped(_) => "dropped",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(error) => write!(f, "connect: {error}"),
            Self::Timeout => f.write_str("connect: timed out"),
            Self::Status(code) => write!(f, "status {code}"),
            Self::Protocol(error) => write!(f, "protocol: {error}"),
            Self::Dropped(why) => write!(f, "dropped: {why}"),
        }
    }
}

/// An open event stream whose head has been read.
pub struct Subscription {
    stream: TcpStream,
    decoder: BodyDecoder,
    parser: SseParser,
}

impl Subscription {
    /// Connects (as connection number `n`, which picks the source address),
    /// first fetches `first_request` if given (reading its whole response),
    /// then requests `path` and reads the response head into `buf`. Returns the
    /// subscription and how many bytes after the head `buf` already holds,
    /// starting at `buf[head_len..]`, as `(head_len, end)`.
    pub async fn open(
        target: &Target,
        n: usize,
        first_request: Option<&str>,
        path: &str,
        buf: &mut [u8],
    ) -> Result<(Self, (usize, usize)), Failure> {
        let mut stream = target
            .connect(n)
            .await
            .map_err(|error| Failure::Connect(describe(&error)))?;
        if let Some(first) = first_request {
            fetch(&mut stream, &plain_request(&target.host, first), buf).await?;
        }
        stream
            .write_all(sse_request(&target.host, path).as_bytes())
            .await
            .map_err(|error| Failure::Connect(describe(&error)))?;
        let mut filled = 0;
        loop {
            filled = read_more(&mut stream, buf, filled, "the response head").await?;
            match parse_head(&buf[..filled]) {
                Err(error) => return Err(Failure::Protocol(error.to_string())),
                Ok(None) => continue,
                Ok(Some((head, head_len))) => {
                    if head.status != 200 {
                        return Err(Failure::Status(head.status));
                    }
                    let subscription = Self {
                        stream,
                        decoder: BodyDecoder::for_head(&head),
                        parser: SseParser::default(),
                    };
                    return Ok((subscription, (head_len, filled)));
                }
            }
        }
    }

    /// Reads what is available into `buf`; `Ok(0)` means the server closed.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).await
    }

    /// Decodes received bytes, calling `on_item` for each SSE item. Returns
    /// whether the response body has ended.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        on_item: &mut impl FnMut(Item<'_>),
    ) -> Result<bool, Failure> {
        let parser = &mut self.parser;
        self.decoder
            .feed(bytes, &mut |body| parser.feed(body, on_item))
            .map_err(|error| Failure::Protocol(error.to_string()))
    }
}

/// Sends `request` and reads its whole response (into `buf`, discarded), so
/// that the connection is ready for the next request.
async fn fetch(stream: &mut TcpStream, request: &str, buf: &mut [u8]) -> Result<(), Failure> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| Failure::Connect(describe(&error)))?;
    let mut filled = 0;
    loop {
        filled = read_more(stream, buf, filled, "the first response").await?;
        match complete_response_len(&buf[..filled]) {
            Err(error) => return Err(Failure::Protocol(error.to_string())),
            Ok(None) => {}
            Ok(Some(len)) if len == filled => return Ok(()),
            Ok(Some(_)) => return Err(Failure::Protocol("bytes after the first response".into())),
        }
    }
}

/// Reads more of `what` into `buf` after the `filled` bytes already there;
/// returns the new fill. Fails when `buf` is full or the server closed.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut [u8],
    filled: usize,
    what: &str,
) -> Result<usize, Failure> {
    if filled == buf.len() {
        return Err(Failure::Protocol(format!(
            "{what} is larger than the {}-byte read buffer",
            buf.len()
        )));
    }
    let read = stream
        .read(&mut buf[filled..])
        .await
        .map_err(|error| Failure::Connect(describe(&error)))?;
    if read == 0 {
        return Err(Failure::Connect(format!("closed before {what}")));
    }
    Ok(filled + read)
}

/// A short, stable description of an I/O error, for counting reasons.
pub fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code).to_string(),
        None => error.kind().to_string(),
    }
}
