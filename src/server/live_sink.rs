//! A caught-up subscriber on the direct path, written to by its stream's
//! generator itself.
//!
//! With only a task per subscriber, every event wakes every subscriber's task
//! and each writes on its own turn, behind whatever else the runtime has
//! queued. A client that is caught up and whose socket has room needs none of
//! that: the generator writes the event's chunk into its socket at once, in
//! one non-blocking write, back to back with the stream's other subscribers.
//! Only when a socket does not take a whole chunk (the client reads slowly or
//! has gone), or an event would be written out of order, does the sink stall:
//! its connection task (`direct_stream`) then finishes the chunk, catches up
//! from the broadcast ring and the replay buffer as any subscriber does, and
//! makes the sink live again once it has the stream's newest event.

use super::hub::lock;
use super::stream::Stream;
use bytes::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// One direct-path subscriber's socket, shared by its connection task and
/// its stream's generator; only one of them writes at a time.
pub(crate) struct LiveSink {
    socket: Arc<TcpStream>,
    state: Mutex<SinkState>,
    /// Signalled when the generator stops writing to a live sink.
    stalled: Notify,
}

/// Who writes, and how far the client has got.
struct SinkState {
    /// The generator writes (the client is caught up); otherwise the task.
    live: bool,
    /// Newest sequence id written, or owed as `unsent`.
    last_seq: u64,
    /// The rest of a chunk the socket took only part of.
    unsent: Option<Bytes>,
}

/// What the connection task takes over when the sink stops being live.
pub(crate) struct Handover {
    /// The rest of a chunk to write before anything else.
    pub(crate) unsent: Option<Bytes>,
    /// Newest sequence id the client has (or gets with `unsent`).
    pub(crate) last_seq: u64,
}

impl LiveSink {
    /// A sink for `socket`; not live until [`LiveSink::go_live`].
    pub(crate) fn new(socket: Arc<TcpStream>) -> Arc<Self> {
        Arc::new(Self {
            socket,
            state: Mutex::new(SinkState {
                live: false,
                last_seq: 0,
                unsent: None,
            }),
            stalled: Notify::new(),
        })
    }

    /// Writes one encoded chunk if the sink is live: `seq` is the event's
    /// sequence id, `None` for a keep-alive. Stalls the sink when the socket
    /// does not take it all or the event is not the next one.
    pub(crate) fn offer(&self, seq: Option<u64>, chunk: &Bytes) {
        let mut state = lock(&self.state);
        if !state.live {
            return;
        }
        match seq {
            Some(seq) if seq <= state.last_seq => return,
            // Never skip one: the task catches up in order.
            Some(seq) if seq != state.last_seq + 1 => return self.stall(state),
            _ => {}
        }
        // Full, or failed: nothing taken. The task then writes the whole
        // chunk (a keep-alive too) under the write timeout, and finds out
        // which it was.
        let written = self.socket.try_write(chunk).unwrap_or(0);
        if let Some(seq) = seq {
            state.last_seq = seq;
        }
        if written < chunk.len() {
            state.unsent = Some(chunk.slice(written..));
            self.stall(state);
        }
    }

    /// Gives the writing back to the connection task without writing event
    /// `seq`: the generator is running late, and a task that falls behind
    /// writes several events at once, which is what lets an overloaded server
    /// keep up. A sink whose task has written `seq` already (it went live
    /// after the generator's look at the sinks) stays live.
    pub(crate) fn hand_back(&self, seq: u64) {
        let state = lock(&self.state);
        if state.live && state.last_seq < seq {
            self.stall(state);
        }
    }

    /// Stops the generator's writes and wakes the connection task.
    fn stall(&self, mut state: MutexGuard<'_, SinkState>) {
        state.live = false;
        drop(state);
        self.stalled.notify_one();
    }

    /// Hands the writing to the generator from the event after `last_seq`.
    /// The caller holds the stream's lock and has checked that `last_seq` is
    /// the stream's newest event.
    pub(crate) fn go_live(&self, last_seq: u64) {
        let mut state = lock(&self.state);
        state.last_seq = last_seq;
        state.live = true;
    }

    /// Waits until the generator stops writing, then takes over.
    pub(crate) async fn stalled(&self) -> Handover {
        self.stalled.notified().await;
        self.take_over()
    }

    /// Stops the generator's writes now (before the task writes itself).
    pub(crate) fn take_over(&self) -> Handover {
        let mut state = lock(&self.state);
        state.live = false;
        Handover {
            unsent: state.unsent.take(),
            last_seq: state.last_seq,
        }
    }
}

/// A sink's place in its stream's list of sinks; leaving is dropping it, so
/// the stream never keeps a socket its connection has let go of.
pub(crate) struct SinkRegistration {
    stream: Arc<Stream>,
    key: u64,
}

impl SinkRegistration {
    /// Registers `sink` with `stream`.
    pub(crate) fn new(stream: &Arc<Stream>, sink: &Arc<LiveSink>) -> Self {
        Self {
            stream: Arc::clone(stream),
            key: stream.register_sink(Arc::clone(sink)),
        }
    }
}

impl Drop for SinkRegistration {
    fn drop(&mut self) {
        self.stream.unregister_sink(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connected pair on loopback: the sink's side and the client's.
    async fn pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        let (server, _) = accepted.expect("accept");
        (Arc::new(server), client.expect("connect"))
    }

    /// Reads exactly `n` bytes the sink wrote.
    async fn read_n(client: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        client.read_exact(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn writes_only_while_live_and_only_the_next_event() {
        let (socket, mut client) = pair().await;
        let sink = LiveSink::new(socket);
        sink.offer(Some(1), &Bytes::from_static(b"one"));
        sink.go_live(1);
        sink.offer(Some(1), &Bytes::from_static(b"dup"));
        sink.offer(Some(2), &Bytes::from_static(b"two"));
        sink.offer(None, &Bytes::from_static(b"ka"));
        assert_eq!(read_n(&mut client, 5).await, b"twoka");
        // Event 4 would skip 3: nothing is written and the task takes over.
        sink.offer(Some(4), &Bytes::from_static(b"four"));
        let handover = sink.stalled().await;
        assert_eq!((handover.unsent, handover.last_seq), (None, 2));
        sink.offer(Some(3), &Bytes::from_static(b"three"));
        sink.go_live(3);
        sink.offer(Some(4), &Bytes::from_static(b"four"));
        assert_eq!(read_n(&mut client, 4).await, b"four");
    }

    #[tokio::test]
    async fn a_chunk_the_socket_takes_in_part_is_handed_over_with_its_rest() {
        let (socket, mut client) = pair().await;
        let sink = LiveSink::new(Arc::clone(&socket));
        sink.go_live(0);
        // Far more than loopback buffers hold while the client reads nothing.
        let chunk = Bytes::from(vec![b'x'; 64 * 1024 * 1024]);
        sink.offer(Some(1), &chunk);
        let handover = sink.stalled().await;
        let rest = handover.unsent.expect("the socket took only part");
        assert_eq!(handover.last_seq, 1, "the rest is owed, not lost");
        assert!(!rest.is_empty() && rest.len() < chunk.len());
        // Later events wait for the task.
        sink.offer(Some(2), &Bytes::from_static(b"two"));
        drop(socket);
        drop(sink);
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.expect("read");
        assert_eq!(written.len() + rest.len(), chunk.len());
    }

    #[tokio::test]
    async fn hand_back_stops_the_generator_writing() {
        let (socket, mut client) = pair().await;
        let sink = LiveSink::new(Arc::clone(&socket));
        sink.go_live(0);
        sink.hand_back(1);
        let handover = sink.stalled().await;
        assert_eq!((handover.unsent, handover.last_seq), (None, 0));
        sink.offer(Some(1), &Bytes::from_static(b"one"));
        drop(socket);
        drop(sink);
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.expect("read");
        assert!(written.is_empty(), "wrote {written:?}");
    }

    #[tokio::test]
    async fn hand_back_leaves_a_sink_that_has_the_event_already() {
        let (socket, _client) = pair().await;
        let sink = LiveSink::new(socket);
        // Its task wrote event 1 and went live after the generator looked.
        sink.go_live(1);
        sink.hand_back(1);
        assert!(lock(&sink.state).live, "still live");
        sink.hand_back(2);
        assert!(!lock(&sink.state).live, "event 2 is the task's to write");
    }

    #[tokio::test]
    async fn a_keep_alive_a_full_socket_refuses_is_handed_over_whole() {
        let (socket, _client) = pair().await;
        let sink = LiveSink::new(socket);
        sink.go_live(0);
        // Fill the socket: the client reads nothing.
        sink.offer(Some(1), &Bytes::from(vec![b'x'; 64 * 1024 * 1024]));
        let _ = sink.stalled().await;
        sink.go_live(1);
        sink.offer(None, &Bytes::from_static(b"ka"));
        let handover = sink.stalled().await;
        // The task writes it, under the write timeout: a client that stopped
        // reading is cut off even when no event comes.
        assert_eq!(handover.unsent.as_deref(), Some(&b"ka"[..]));
        assert_eq!(handover.last_seq, 1);
    }
}
