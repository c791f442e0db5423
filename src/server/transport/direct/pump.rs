//! The loop that keeps one direct-path stream going: the head, then every
//! message as it comes, under the write timeout, until one side ends it.
//! While the client is caught up its stream's producer writes to it through
//! the [`LiveSink`]; this task writes only what the producer could not:
//! replay, catch-up, and the rest of a chunk the socket did not take.

use super::chunk::{encode_chunk_into, ChunkSize};
use super::socket::{client_gone, write_some};
use crate::server::hub::{LiveSink, Subscription};
use bytes::{Buf, Bytes};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;
use tokio::net::TcpStream;

/// Most messages written at once to a client that fell behind (as many as
/// hyper queues before it flushes).
const MAX_BATCH: usize = 16;

/// Why a stream response ended.
pub(crate) enum End {
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

/// Sends the head, then each message as it comes, until shutdown, the end of
/// the stream, the client leaving or a write timing out.
pub(crate) async fn pump(
    socket: &TcpStream,
    sink: &LiveSink,
    subscription: &mut Subscription,
    head: Vec<u8>,
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
    write_timeout: Duration,
) -> End {
    if let Err(end) = write_all(socket, &mut &head[..], shutdown.as_mut(), write_timeout).await {
        return end;
    }
    drop(head);
    // What the client has sent since its request (see `client_gone`).
    let mut sent = 0;
    loop {
        if subscription.go_live(sink) {
            let handover = tokio::select! {
                biased;
                () = shutdown.as_mut() => return End::Shutdown { unsent: None },
                handover = sink.stalled() => handover,
                // Last: a client sending what it should not must not starve
                // the stream (and is closed once it sends too much).
                () = client_gone(socket, &mut sent) => return End::ClientGone,
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
            message = subscription.next_message() => message,
            () = client_gone(socket, &mut sent) => return End::ClientGone,
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
pub(crate) async fn write_all(
    socket: &TcpStream,
    data: &mut (impl Buf + Sync),
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
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

/// Runs one write under the write timeout, giving up at shutdown.
async fn guarded<T>(
    write: impl Future<Output = io::Result<T>>,
    shutdown: Pin<&mut impl Future<Output = ()>>,
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

#[cfg(test)]
mod tests {
    use super::super::socket::{end_cleanly, LAST_CHUNK};
    use super::*;
    use crate::server::transport::test_pair::connected_pair;
    use tokio::io::AsyncReadExt;

    /// Shutdown in the middle of a write the socket cannot take at once keeps
    /// the rest, and the goodbye writes it before the last chunk: the client
    /// reads everything once, then a clean end.
    #[tokio::test]
    async fn shutdown_mid_write_finishes_the_write_before_the_last_chunk() {
        let (server, mut client) = connected_pair().await;
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
}
