//! One client's view of a stream: its connection slot, its position in the
//! stream and the messages it still has to receive; and the registration of
//! its live sink, when its transport has one.

use super::admission::ConnectionSlot;
use super::frame::Frame;
use super::live_sink::LiveSink;
use super::resume::fill_from_store;
use super::stream::{Joined, Stream};
use crate::server::sse::KEEP_ALIVE;
use crate::server::store::Seq;
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// A client's membership of a stream; leaving is dropping it.
pub struct Subscription {
    stream: Arc<Stream>,
    receiver: tokio::sync::broadcast::Receiver<Frame>,
    /// Messages owed before the next live one (replay, gap notices).
    backlog: VecDeque<Bytes>,
    /// Newest sequence id delivered (or not owed) to this client.
    last_seq: Seq,
    /// The client's address, for the disconnect log line.
    client: IpAddr,
    _slot: ConnectionSlot,
}

impl Subscription {
    pub(crate) fn new(
        stream: Arc<Stream>,
        joined: Joined,
        client: IpAddr,
        slot: ConnectionSlot,
    ) -> Self {
        Self {
            stream,
            receiver: joined.receiver,
            backlog: joined.backlog,
            last_seq: joined.last_seq,
            client,
            _slot: slot,
        }
    }

    /// Replaces the gap notice owed for ids `first..=last` (older than the
    /// ring) with what the store still keeps of them. Called once the
    /// subscription exists, so that a client gone meanwhile leaves as usual.
    pub(crate) async fn fill_from_store(&mut self, first: Seq, last: Seq) {
        fill_from_store(&self.stream, first, last, &mut self.backlog).await;
    }

    /// Registers `sink` with the stream, so that its producer can write to
    /// it while it is live; dropping the registration unregisters it.
    pub fn register_sink(&self, sink: &Arc<LiveSink>) -> SinkRegistration {
        SinkRegistration {
            stream: Arc::clone(&self.stream),
            key: self.stream.register_sink(Arc::clone(sink)),
        }
    }

    /// Hands the writing to the stream's producer through `sink` if this
    /// client is caught up: nothing owed and the stream's newest event taken.
    /// Returns whether it did.
    pub fn go_live(&self, sink: &LiveSink) -> bool {
        self.backlog.is_empty() && self.stream.go_live(sink, self.last_seq)
    }

    /// Records that the client has every event up to `seq` (written to it by
    /// someone else), so that they are not sent twice.
    pub fn resume_after(&mut self, seq: Seq) {
        self.last_seq = self.last_seq.max(seq);
    }

    /// The next message to write to the client: owed replay first, then live
    /// events. `None` once the stream has closed.
    pub async fn next_message(&mut self) -> Option<Bytes> {
        loop {
            if let Some(message) = self.backlog.pop_front() {
                return Some(message);
            }
            let received = match self.receiver.recv().await {
                Ok(frame) => Received::Frame(frame),
                Err(RecvError::Lagged(_)) => Received::Lagged,
                Err(RecvError::Closed) => return None,
            };
            if let Some(message) = self.take(received) {
                return Some(message);
            }
        }
    }

    /// The next message if one is ready now, without waiting: lets a writer
    /// send everything that is already due in one write.
    pub fn try_next_message(&mut self) -> Option<Bytes> {
        loop {
            if let Some(message) = self.backlog.pop_front() {
                return Some(message);
            }
            let received = match self.receiver.try_recv() {
                Ok(frame) => Received::Frame(frame),
                Err(TryRecvError::Lagged(_)) => Received::Lagged,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            };
            if let Some(message) = self.take(received) {
                return Some(message);
            }
        }
    }

    /// What the client is owed for one thing received from the channel, if
    /// anything; a lag refills the backlog from the replay buffer.
    fn take(&mut self, received: Received) -> Option<Bytes> {
        match received {
            // Skips what a catch-up from the replay buffer already sent.
            Received::Frame(Frame::Event { seq, bytes }) => (seq > self.last_seq).then(|| {
                self.last_seq = seq;
                bytes
            }),
            // A keep-alive with anything due after it is pointless, and after
            // a live period the channel still holds the ones the producer
            // wrote itself: only a keep-alive with nothing behind it is sent.
            Received::Frame(Frame::KeepAlive) => {
                (self.backlog.is_empty() && self.receiver.is_empty()).then_some(KEEP_ALIVE)
            }
            Received::Lagged => {
                let (missed, newest) = self.stream.catch_up(self.last_seq);
                self.backlog = missed;
                self.last_seq = self.last_seq.max(newest);
                None
            }
        }
    }
}

/// One item from the broadcast channel, whether awaited or polled.
enum Received {
    Frame(Frame),
    /// The subscriber fell further behind than the channel holds.
    Lagged,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let remaining = self.stream.leave();
        tracing::info!(stream = %self.stream.id(), subscribers = remaining, client = %self.client, "client disconnected");
    }
}

/// A sink's place in its stream's list of sinks; leaving is dropping it, so
/// the stream never keeps a socket its connection has let go of.
pub struct SinkRegistration {
    stream: Arc<Stream>,
    key: u64,
}

impl Drop for SinkRegistration {
    fn drop(&mut self) {
        self.stream.unregister_sink(self.key);
    }
}
