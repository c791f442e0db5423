//! A caught-up subscriber written to by its stream's producer itself.
//!
//! With only a task per subscriber, every event wakes every subscriber's task
//! and each writes on its own turn, behind whatever else the runtime has
//! queued. A client that is caught up and whose socket has room needs none of
//! that: the producer's append writes the event, framed once per event as the
//! transport asked, into its socket at once, in one non-blocking write, back
//! to back with the stream's other subscribers. Only when a socket does not
//! take a whole frame (the client reads slowly or has gone), or an event
//! would be written out of order, does the sink stall: its connection task
//! (in the transport) then finishes the frame, catches up from the broadcast
//! ring and the replay buffer as any subscriber does, and makes the sink live
//! again once it has the stream's newest event.
//!
//! The hub never sees the socket: a sink writes through [`TryWrite`], which
//! the transport implements for its socket.

use super::sync::lock;
use crate::server::store::Seq;
use bytes::Bytes;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A socket the producer can write to without waiting: one attempt, which
/// takes what fits and returns at once. The transport implements it.
pub trait TryWrite: Send + Sync + 'static {
    /// Writes as much of `bytes` as fits now; `Ok(0)` or an error (such as
    /// `WouldBlock`) when nothing does.
    fn try_write(&self, bytes: &[u8]) -> io::Result<usize>;
}

/// One subscriber's socket, shared by its connection task and its stream's
/// producer; only one of them writes at a time.
pub struct LiveSink {
    socket: Arc<dyn TryWrite>,
    state: Mutex<SinkState>,
    /// Signalled when the producer stops writing to a live sink.
    stalled: Notify,
}

/// Who writes, and how far the client has got.
struct SinkState {
    /// The producer writes (the client is caught up); otherwise the task.
    live: bool,
    /// Newest sequence id written, or owed as `unsent`.
    last_seq: Seq,
    /// The rest of a chunk the socket took only part of.
    unsent: Option<Bytes>,
}

/// What the connection task takes over when the sink stops being live.
pub struct Handover {
    /// The rest of a frame to write before anything else.
    pub unsent: Option<Bytes>,
    /// Newest sequence id the client has (or gets with `unsent`).
    pub last_seq: Seq,
}

impl LiveSink {
    /// A sink for `socket`; not live until [`LiveSink::go_live`].
    pub fn new(socket: Arc<dyn TryWrite>) -> Arc<Self> {
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
    pub(crate) fn offer(&self, seq: Option<Seq>, chunk: &Bytes) {
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
    /// `seq`: the producer is running late, and a task that falls behind
    /// writes several events at once, which is what lets an overloaded server
    /// keep up. A sink whose task has written `seq` already (it went live
    /// after the producer's look at the sinks) stays live.
    pub(crate) fn hand_back(&self, seq: Seq) {
        let state = lock(&self.state);
        if state.live && state.last_seq < seq {
            self.stall(state);
        }
    }

    /// Stops the producer's writes and wakes the connection task.
    fn stall(&self, mut state: MutexGuard<'_, SinkState>) {
        state.live = false;
        drop(state);
        self.stalled.notify_one();
    }

    /// Hands the writing to the producer from the event after `last_seq`.
    /// The caller holds the stream's lock and has checked that `last_seq` is
    /// the stream's newest event.
    pub(crate) fn go_live(&self, last_seq: Seq) {
        let mut state = lock(&self.state);
        state.last_seq = last_seq;
        state.live = true;
    }

    /// Waits until the producer stops writing, then takes over.
    pub async fn stalled(&self) -> Handover {
        self.stalled.notified().await;
        self.take_over()
    }

    /// Stops the producer's writes now (before the task writes itself).
    pub fn take_over(&self) -> Handover {
        let mut state = lock(&self.state);
        state.live = false;
        Handover {
            unsent: state.unsent.take(),
            last_seq: state.last_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket with room for a set number of bytes; what it took is kept.
    #[derive(Default)]
    struct FakeSocket {
        room: Mutex<usize>,
        taken: Mutex<Vec<u8>>,
    }

    impl FakeSocket {
        fn with_room(room: usize) -> Arc<Self> {
            Arc::new(Self {
                room: Mutex::new(room),
                taken: Mutex::default(),
            })
        }

        /// What the client has read so far, taken out.
        fn read_all(&self) -> Vec<u8> {
            std::mem::take(&mut *lock(&self.taken))
        }
    }

    impl TryWrite for FakeSocket {
        fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
            let mut room = lock(&self.room);
            let n = bytes.len().min(*room);
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            *room -= n;
            lock(&self.taken).extend_from_slice(&bytes[..n]);
            Ok(n)
        }
    }

    #[tokio::test]
    async fn writes_only_while_live_and_only_the_next_event() {
        let socket = FakeSocket::with_room(usize::MAX);
        let sink = LiveSink::new(socket.clone());
        sink.offer(Some(1), &Bytes::from_static(b"one"));
        sink.go_live(1);
        sink.offer(Some(1), &Bytes::from_static(b"dup"));
        sink.offer(Some(2), &Bytes::from_static(b"two"));
        sink.offer(None, &Bytes::from_static(b"ka"));
        assert_eq!(socket.read_all(), b"twoka");
        // Event 4 would skip 3: nothing is written and the task takes over.
        sink.offer(Some(4), &Bytes::from_static(b"four"));
        let handover = sink.stalled().await;
        assert_eq!((handover.unsent, handover.last_seq), (None, 2));
        sink.offer(Some(3), &Bytes::from_static(b"three"));
        sink.go_live(3);
        sink.offer(Some(4), &Bytes::from_static(b"four"));
        assert_eq!(socket.read_all(), b"four");
    }

    #[tokio::test]
    async fn a_chunk_the_socket_takes_in_part_is_handed_over_with_its_rest() {
        let socket = FakeSocket::with_room(1000);
        let sink = LiveSink::new(socket.clone());
        sink.go_live(0);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        sink.offer(Some(1), &chunk);
        let handover = sink.stalled().await;
        let rest = handover.unsent.expect("the socket took only part");
        assert_eq!(handover.last_seq, 1, "the rest is owed, not lost");
        assert!(!rest.is_empty() && rest.len() < chunk.len());
        // Later events wait for the task.
        sink.offer(Some(2), &Bytes::from_static(b"two"));
        let written = socket.read_all();
        assert_eq!(written.len() + rest.len(), chunk.len());
    }

    #[tokio::test]
    async fn hand_back_stops_the_producer_writing() {
        let socket = FakeSocket::with_room(usize::MAX);
        let sink = LiveSink::new(socket.clone());
        sink.go_live(0);
        sink.hand_back(1);
        let handover = sink.stalled().await;
        assert_eq!((handover.unsent, handover.last_seq), (None, 0));
        sink.offer(Some(1), &Bytes::from_static(b"one"));
        let written = socket.read_all();
        assert!(written.is_empty(), "wrote {written:?}");
    }

    #[tokio::test]
    async fn hand_back_leaves_a_sink_that_has_the_event_already() {
        let sink = LiveSink::new(FakeSocket::with_room(usize::MAX));
        // Its task wrote event 1 and went live after the producer looked.
        sink.go_live(1);
        sink.hand_back(1);
        assert!(lock(&sink.state).live, "still live");
        sink.hand_back(2);
        assert!(!lock(&sink.state).live, "event 2 is the task's to write");
    }

    #[tokio::test]
    async fn a_keep_alive_a_full_socket_refuses_is_handed_over_whole() {
        let socket = FakeSocket::with_room(1000);
        let sink = LiveSink::new(socket);
        sink.go_live(0);
        // Fill the socket: the client reads nothing.
        sink.offer(Some(1), &Bytes::from(vec![b'x'; 64 * 1024]));
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
