//! HTTP/1.1 chunked framing for the direct stream path: each SSE message
//! goes out as one chunk (its length in hex, CRLF, the bytes, CRLF).

use bytes::Bytes;
use std::io::{self, Write};

/// Appends `message` to `out` as one HTTP/1.1 chunk.
pub(crate) fn encode_chunk_into(out: &mut Vec<u8>, message: &[u8]) {
    if message.is_empty() {
        return;
    }
    out.extend_from_slice(ChunkSize::of(message).line());
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
}

/// The line that opens a chunk: its length in hex and CRLF, on the stack.
pub(crate) struct ChunkSize {
    bytes: [u8; 18],
    len: usize,
}

impl ChunkSize {
    /// The size line of a chunk carrying `message`.
    pub(crate) fn of(message: &[u8]) -> Self {
        let mut bytes = [0u8; 18];
        let mut cursor = io::Cursor::new(&mut bytes[..]);
        // 16 hex digits and CRLF always fit.
        let _ = write!(cursor, "{:x}\r\n", message.len());
        let len = usize::try_from(cursor.position()).unwrap_or(0);
        Self { bytes, len }
    }

    /// The line's bytes.
    pub(crate) fn line(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `message` as one chunk in shared bytes, encoded once for every
/// live sink of a stream (the hub's `SinkFraming`).
pub fn encode_chunk(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + 12);
    encode_chunk_into(&mut out, message);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_their_length_in_hex() {
        let mut out = Vec::new();
        encode_chunk_into(&mut out, b"data: 0123456789abcdef\n\n");
        assert_eq!(out, b"18\r\ndata: 0123456789abcdef\n\n\r\n");
        encode_chunk_into(&mut out, b"");
        assert_eq!(out.len(), 4 + 24 + 2, "an empty message adds no chunk");
    }

    #[test]
    fn a_shared_chunk_is_the_same_bytes() {
        let message = b"id: 7\ndata: {}\n\n";
        let mut out = Vec::new();
        encode_chunk_into(&mut out, message);
        assert_eq!(encode_chunk(message), Bytes::from(out));
    }
}
