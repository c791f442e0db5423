//! Serves `GET /sse/{id}` on the raw socket, outside hyper: when it is the
//! first request of a connection (see [`super::gateway`]), and when the axum
//! handler takes a keep-alive connection over (see [`super::handed_socket`]).
//!
//! Holding tens of thousands of open streams is what sse-hub is for. hyper
//! keeps an 8 KiB read buffer and an 8 KiB header buffer for every connection
//! for as long as it is open; an open stream here costs its task, its socket
//! and its [`Subscription`] only, and each event goes out in one `writev` of
//! the stream's shared bytes framed as an HTTP/1.1 chunk.
//!
//! The response is the same as the axum handler's (`super::sse`): the same
//! headers, CORS, `retry:` hint, replay, keep-alives and errors, a write
//! timeout for clients that stop reading, and a clean end (the last chunk) on
//! shutdown. Requests this path does not take (another method, an invalid
//! id, HTTP/1.0) are served by that handler.

use super::config::CorsPolicy;
use super::error::AppError;
use super::http_chunk::{encode_chunk_into, ChunkSize};
use super::hub::retry_frame;
use super::live_sink::{LiveSink, SinkRegistration};
use super::open_sockets::OpenSocket;
use super::request_head::StreamRequest;
use super::sse::STREAM_HEADERS;
use super::stats::bump;
use super::{AppState, Subscription};
use axum::response::IntoResponse;
use bytes::{Buf, Bytes};
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::WaitForCancellationFuture;

/// What the CORS layer on the axum routes adds to every response.
const CORS_VARY: &str =
    "vary: origin, access-control-request-method, access-control-request-headers\r\n";

/// The last chunk, which ends a chunked response cleanly.
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Most messages written at once to a client that fell behind (as many as
/// hyper queues before it flushes).
const MAX_BATCH: usize = 16;

/// Most bytes of an error body sent (they are a short JSON object).
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Why a stream response ended.
enum End {
    /// The server is shutting down: end the response cleanly, after the rest
    /// of a write that shutdown interrupted (a chunk cut short would make the
    /// last chunk unreadable).
    Shutdown { unsent: Option<Bytes> },
    /// The hub closed the stream: end the response cleanly.
    StreamClosed,
    /// The client closed the connection or a write failed.
    ClientGone,
    /// A write made no progress for the write timeout.
    TimedOut,
}

/// Answers a stream request on `socket`: joins the stream and streams it, or
/// writes the JSON error when a limit refuses the client.
pub(crate) async fn serve(
    mut socket: TcpStream,
    peer: SocketAddr,
    request: StreamRequest,
    state: &AppState,
) {
    let cors = allowed_origin(&state.settings.cors, request.origin.as_deref());
    let subscribed = state
        .hub
        .subscribe(&request.id, request.last_event_id.as_deref(), peer.ip());
    drop(request);
    match subscribed {
        Ok(subscription) => stream(socket, peer, subscription, cors, state).await,
        Err(error) => {
            let answer = write_error(&mut socket, AppError::from(error), cors.as_deref());
            // The client may already be gone; there is no one to tell.
            let _ = tokio::time::timeout(ERROR_LINGER, answer).await;
        }
    }
}

/// Streams `subscription` on a socket taken over from hyper, in a task of
/// its own (the handler that took it returns at once).
pub(crate) fn take_over(
    (socket, counted): (TcpStream, OpenSocket),
    peer: SocketAddr,
    subscription: Subscription,
    origin: Option<&[u8]>,
    state: &AppState,
) {
    let cors = allowed_origin(&state.settings.cors, origin);
    let state = state.clone();
    state.socket_tasks.clone().spawn(async move {
        stream(socket, peer, subscription, cors, &state).await;
        drop(counted);
    });
}

/// Writes the response head and then every message until one side ends it.
async fn stream(
    socket: TcpStream,
    peer: SocketAddr,
    mut subscription: Subscription,
    cors: Option<Vec<u8>>,
    state: &AppState,
) {
    let write_timeout = state.settings.write_timeout;
    let mut head = response_head(cors.as_deref());
    drop(cors);
    encode_chunk_into(&mut head, &retry_frame(state.settings.retry));
    let mut shutdown = pin!(state.hub.shutdown_token().cancelled());
    let socket = Arc::new(socket);
    let sink = LiveSink::new(Arc::clone(&socket));
    let registration = SinkRegistration::new(subscription.stream(), &sink);
    let end = pump(
        &socket,
        &sink,
        &mut subscription,
        head,
        shutdown.as_mut(),
        write_timeout,
    )
    .await;
    // The generator stops writing; then the client leaves the stream before
    // the goodbye, which may take a moment.
    let handover = sink.take_over();
    drop(registration);
    drop(subscription);
    let grace = write_timeout.min(LAST_CHUNK_GRACE);
    match end {
        // At most one of the two holds bytes: the task writes only while the
        // generator does not.
        End::Shutdown { unsent } => end_cleanly(&socket, [unsent, handover.unsent], grace).await,
        End::StreamClosed => end_cleanly(&socket, [None, handover.unsent], grace).await,
        End::TimedOut => {
            let total = bump(&state.hub.stats().slow_client_disconnected);
            tracing::warn!(client = %peer, disconnected_total = total, "disconnected a client that stopped reading");
        }
        End::ClientGone => {}
    }
}

/// Writes what is owed of a chunk, then the last chunk, within `grace`: the
/// process is about to exit, and a client that cannot take them gets a reset
/// instead. The connection closes when the last handle on the socket goes.
async fn end_cleanly(socket: &TcpStream, owed: [Option<Bytes>; 2], grace: Duration) {
    let ending = async {
        for rest in owed.into_iter().flatten() {
            write_fully(socket, &rest).await?;
        }
        write_fully(socket, LAST_CHUNK).await
    };
    let _ = tokio::time::timeout(grace, ending).await;
}

/// Sends the head, then each message as it comes, until shutdown, the end of
/// the stream, the client leaving or a write timing out. While the client is
/// caught up its stream's generator writes to it (see [`LiveSink`]); this
/// task writes only what the generator could not: replay, catch-up, and the
/// rest of a chunk the socket did not take.
async fn pump(
    socket: &TcpStream,
    sink: &LiveSink,
    subscription: &mut Subscription,
    head: Vec<u8>,
    mut shutdown: Pin<&mut WaitForCancellationFuture<'_>>,
    write_timeout: Duration,
) -> End {
    if let Err(end) = write_all(socket, &mut &head[..], shutdown.as_mut(), write_timeout).await {
        return end;
    }
    drop(head);
    loop {
        if subscription.go_live(sink) {
            let handover = tokio::select! {
                biased;
                () = shutdown.as_mut() => return End::Shutdown { unsent: None },
                () = client_gone(socket) => return End::ClientGone,
                handover = sink.stalled() => handover,
            };
            if let Some(rest) = handover.unsent {
                let mut rest = &rest[..];
                let wrote = write_all(socket, &mut rest, shutdown.as_mut(), write_timeout);
                if let Err(end) = wrote.await {
                    return end;
                }
            }
            subscription.resume_after(handover.last_seq);
            continue;
        }
        let message = tokio::select! {
            biased;
            () = shutdown.as_mut() => return End::Shutdown { unsent: None },
            () = client_gone(socket) => return End::ClientGone,
            message = subscription.next_message() => message,
        };
        let Some(message) = message else {
            return End::StreamClosed;
        };
        // A client that fell behind gets everything already due in one write.
        let wrote = match gather_due(subscription) {
            // An empty chunk would end the response.
            None if message.is_empty() => Ok(()),
            None => {
                // One chunk, in a single `writev` when the socket takes it all.
                let size = ChunkSize::of(&message);
                let mut chunk = size.line().chain(&message[..]).chain(&b"\r\n"[..]);
                write_all(socket, &mut chunk, shutdown.as_mut(), write_timeout).await
            }
            Some(more) => {
                let batch = encode_batch(&message, &more);
                drop(more);
                write_all(socket, &mut &batch[..], shutdown.as_mut(), write_timeout).await
            }
        };
        if let Err(end) = wrote {
            return end;
        }
    }
}

/// Messages already due after the one in hand, up to [`MAX_BATCH`] in all;
/// `None` (and no allocation) in the usual case of none.
fn gather_due(subscription: &mut Subscription) -> Option<Vec<Bytes>> {
    let next = subscription.try_next_message()?;
    let mut due = Vec::with_capacity(MAX_BATCH - 1);
    due.push(next);
    while due.len() < MAX_BATCH - 1 {
        match subscription.try_next_message() {
            Some(message) => due.push(message),
            None => break,
        }
    }
    Some(due)
}

/// Frames several messages as consecutive chunks in one buffer.
fn encode_batch(first: &[u8], more: &[Bytes]) -> Vec<u8> {
    let total: usize = first.len() + more.iter().map(Bytes::len).sum::<usize>();
    let mut batch = Vec::with_capacity(total + (1 + more.len()) * 12);
    encode_chunk_into(&mut batch, first);
    for message in more {
        encode_chunk_into(&mut batch, message);
    }
    batch
}

/// Writes all of `data`, giving up at shutdown (which then carries what is
/// left of `data`) or when the client accepts nothing for the write timeout
/// (a slow reader that keeps reading is not cut off: each write that makes
/// progress restarts the clock).
async fn write_all(
    socket: &TcpStream,
    data: &mut (impl Buf + Sync),
    mut shutdown: Pin<&mut WaitForCancellationFuture<'_>>,
    write_timeout: Duration,
) -> Result<(), End> {
    while data.has_remaining() {
        let wrote = guarded(write_some(socket, data), shutdown.as_mut(), write_timeout).await;
        match wrote {
            Ok(0) => return Err(End::ClientGone),
            Ok(wrote) => data.advance(wrote),
            Err(End::Shutdown { .. }) => {
                let unsent = Some(data.copy_to_bytes(data.remaining()));
                return Err(End::Shutdown { unsent });
            }
            Err(end) => return Err(end),
        }
    }
    Ok(())
}

/// Writes all of `data` with no timeout of its own (the caller sets one).
async fn write_fully(socket: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let wrote = write_some(socket, &data).await?;
        if wrote == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[wrote..];
    }
    Ok(())
}

/// One write of as much of `data` as the socket takes, in one `writev`,
/// waiting until it takes something. The socket is shared with the stream's
/// generator (see [`LiveSink`]), so this goes by reference.
async fn write_some(socket: &TcpStream, data: &(impl Buf + Sync)) -> io::Result<usize> {
    poll_fn(|cx| loop {
        ready!(socket.poll_write_ready(cx))?;
        let mut slices = [IoSlice::new(&[]); 4];
        let count = data.chunks_vectored(&mut slices);
        match socket.try_write_vectored(&slices[..count]) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
    })
    .await
}

/// Runs one write under the write timeout, giving up at shutdown.
async fn guarded<T>(
    write: impl Future<Output = io::Result<T>>,
    shutdown: Pin<&mut WaitForCancellationFuture<'_>>,
    write_timeout: Duration,
) -> Result<T, End> {
    let mut write = pin!(write);
    // Almost every write completes at once; only one that blocks needs the
    // timer and the shutdown watch.
    if let Poll::Ready(wrote) = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        return wrote.map_err(|_| End::ClientGone);
    }
    tokio::select! {
        biased;
        () = shutdown => Err(End::Shutdown { unsent: None }),
        wrote = tokio::time::timeout(write_timeout, write) => match wrote {
            Ok(Ok(wrote)) => Ok(wrote),
            Ok(Err(_)) => Err(End::ClientGone),
            Err(_) => Err(End::TimedOut),
        },
    }
}

/// How long the last chunk may take at shutdown.
const LAST_CHUNK_GRACE: Duration = Duration::from_millis(500);

/// Resolves when the client has closed its side (or the socket failed).
/// Anything it sends after its request is read and ignored.
async fn client_gone(socket: &TcpStream) {
    let mut scratch = [0u8; 64];
    loop {
        if poll_fn(|cx| socket.poll_read_ready(cx)).await.is_err() {
            return;
        }
        match socket.try_read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// The status line and headers of a stream response.
fn response_head(cors: Option<&[u8]>) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for (name, value) in STREAM_HEADERS {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    finish_head(&mut head, cors);
    head
}

/// Adds what every response here ends with: the `date`, the CORS headers, and
/// the blank line that ends the head.
fn finish_head(head: &mut Vec<u8>, cors: Option<&[u8]>) {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let _ = write!(head, "date: {date}\r\n");
    head.extend_from_slice(CORS_VARY.as_bytes());
    if let Some(origin) = cors {
        head.extend_from_slice(b"access-control-allow-origin: ");
        head.extend_from_slice(origin);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

/// The `Access-Control-Allow-Origin` value for a request from `origin`, as
/// the CORS layer on the axum routes would send it.
fn allowed_origin(policy: &CorsPolicy, origin: Option<&[u8]>) -> Option<Vec<u8>> {
    match policy {
        CorsPolicy::Any => Some(b"*".to_vec()),
        _ => origin
            .filter(|origin| policy.allows(origin))
            .map(<[u8]>::to_vec),
    }
}

/// How long a refused client has to read its answer and close.
const ERROR_LINGER: Duration = Duration::from_secs(2);

/// Writes an error as the axum handler would (status, JSON body, headers such
/// as `Retry-After`), then closes the connection: ends the writing side and
/// reads whatever the client still sends until it closes too (closing with
/// bytes unread would reset the connection, which can destroy the answer
/// before the client reads it). The caller bounds how long that may take.
pub(crate) async fn write_error(
    socket: &mut TcpStream,
    error: AppError,
    cors: Option<&[u8]>,
) -> io::Result<()> {
    let (parts, body) = error.into_response().into_parts();
    let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut out = Vec::with_capacity(512 + body.len());
    let _ = write!(out, "HTTP/1.1 {}\r\n", parts.status);
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let _ = write!(
        out,
        "content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    finish_head(&mut out, cors);
    out.extend_from_slice(&body);
    socket.write_all(&out).await?;
    socket.shutdown().await?;
    // In here only: its `chain` would shadow `Buf::chain` in the module.
    use tokio::io::AsyncReadExt;
    let mut scratch = [0u8; 1024];
    while socket.read(&mut scratch).await? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Shutdown in the middle of a write the socket cannot take at once keeps
    /// the rest, and the goodbye writes it before the last chunk: the client
    /// reads everything once, then a clean end.
    #[tokio::test]
    async fn shutdown_mid_write_finishes_the_write_before_the_last_chunk() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        // Far more than the two socket buffers hold while nobody reads.
        let data: Vec<u8> = (0..1u32 << 22).map(|i| (i % 251) as u8).collect();
        let token = tokio_util::sync::CancellationToken::new();
        token.cancel();
        let mut shutdown = pin!(token.cancelled());
        let mut rest = &data[..];
        let wrote = write_all(
            &server,
            &mut rest,
            shutdown.as_mut(),
            Duration::from_secs(30),
        );
        let Err(End::Shutdown {
            unsent: Some(unsent),
        }) = wrote.await
        else {
            panic!("shutdown did not interrupt the write with bytes left");
        };
        let written = data.len() - unsent.len();
        assert!(written > 0, "the socket took part of the write");
        assert_eq!(unsent, data[written..]);

        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.map(|_| received)
        });
        end_cleanly(&server, [Some(unsent), None], Duration::from_secs(10)).await;
        drop(server);
        let received = reader.await.expect("reader").expect("read to the end");
        assert_eq!(received.len(), data.len() + LAST_CHUNK.len());
        assert!(received.starts_with(&data), "every byte once, in order");
        assert!(received.ends_with(LAST_CHUNK));
    }

    #[test]
    fn a_batch_is_consecutive_chunks() {
        let more = [
            Bytes::from_static(b"b\n\n"),
            Bytes::from_static(b": keep-alive\n\n"),
        ];
        assert_eq!(
            encode_batch(b"a\n\n", &more),
            b"3\r\na\n\n\r\n3\r\nb\n\n\r\ne\r\n: keep-alive\n\n\r\n"
        );
    }

    #[test]
    fn the_head_names_the_allowed_origin_only() {
        let head = String::from_utf8(response_head(Some(b"http://localhost:8080"))).expect("ascii");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(head.contains("\r\naccess-control-allow-origin: http://localhost:8080\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        let head = String::from_utf8(response_head(None)).expect("ascii");
        assert!(!head.contains("access-control-allow-origin"));
    }

    #[test]
    fn cors_matches_the_policy() {
        let local = Some(&b"http://localhost:3000"[..]);
        let evil = Some(&b"http://evil.example"[..]);
        assert_eq!(
            allowed_origin(&CorsPolicy::Localhost, local),
            local.map(<[u8]>::to_vec)
        );
        assert_eq!(allowed_origin(&CorsPolicy::Localhost, evil), None);
        assert_eq!(allowed_origin(&CorsPolicy::Localhost, None), None);
        assert_eq!(allowed_origin(&CorsPolicy::Any, evil), Some(b"*".to_vec()));
        let list = CorsPolicy::List(vec!["http://evil.example".into()]);
        assert_eq!(allowed_origin(&list, evil), evil.map(<[u8]>::to_vec));
        assert_eq!(allowed_origin(&list, local), None);
    }
}
