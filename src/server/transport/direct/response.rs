//! The bytes of a direct-path response head, and of a complete error
//! response written straight to the socket.

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use std::io::{self, Write};
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::server::sse::STREAM_HEADERS;

/// Most bytes of an error body sent (they are a short JSON object).
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The status line and headers of a stream response: the SSE headers,
/// chunked framing, the date, then `extra` (what the HTTP layer adds, such
/// as CORS).
pub(crate) fn response_head(extra: &[(HeaderName, HeaderValue)]) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for (name, value) in STREAM_HEADERS {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    finish_head(&mut head, extra.iter().map(|(name, value)| (name, value)));
    head
}

/// Adds the `date`, the `extra` headers, and the blank line that ends the
/// head.
fn finish_head<'a>(
    head: &mut Vec<u8>,
    extra: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let _ = write!(head, "date: {date}\r\n");
    for (name, value) in extra {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

/// Writes `response` (an error the HTTP layer built: status, headers, a
/// short body) as hyper would, then closes the connection: ends the writing
/// side and reads whatever the client still sends until it closes too
/// (closing with bytes unread would reset the connection, which can destroy
/// the answer before the client reads it). The caller bounds how long that
/// may take.
pub(crate) async fn write_response(socket: &mut TcpStream, response: Response) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut out = Vec::with_capacity(512 + body.len());
    let _ = write!(out, "HTTP/1.1 {}\r\n", parts.status);
    let _ = write!(
        out,
        "content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    finish_head(&mut out, &parts.headers);
    out.extend_from_slice(&body);
    socket.write_all(&out).await?;
    socket.shutdown().await?;
    // In here only: its `chain` would shadow `Buf::chain` elsewhere.
    use tokio::io::AsyncReadExt;
    let mut scratch = [0u8; 1024];
    while socket.read(&mut scratch).await? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_carries_the_stream_headers_and_what_the_http_layer_adds() {
        let origin = [(
            HeaderName::from_static("access-control-allow-origin"),
            HeaderValue::from_static("http://localhost:8080"),
        )];
        let head = String::from_utf8(response_head(&origin)).expect("ascii");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(head.contains("\r\ntransfer-encoding: chunked\r\n"));
        assert!(head.contains("\r\naccess-control-allow-origin: http://localhost:8080\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        let head = String::from_utf8(response_head(&[])).expect("ascii");
        assert!(!head.contains("access-control-allow-origin"));
    }
}
