//! One client's view of a stream: its connection slot, its position in the
//! stream and the messages it still has to receive.

use super::hub::{lock, HubError, Shared};
use super::live_sink::LiveSink;
use super::stats::bump;
use super::stream::{Frame, Joined, Stream, KEEP_ALIVE};
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Holds one of the `max_connections` (and per-IP) places; gives it back on
/// drop.
pub(crate) struct ConnectionSlot {
    shared: Arc<Shared>,
    /// Set when per-IP accounting is on.
    ip: Option<IpAddr>,
}

impl ConnectionSlot {
    /// Takes a place for a client at `ip`, or says which limit is reached.
    pub(crate) fn acquire(shared: &Arc<Shared>, ip: IpAddr) -> Result<Self, HubError> {
        let settings = &shared.settings;
        let stats = &shared.stats;
        let open = stats.connections.fetch_add(1, Ordering::AcqRel);
        if open >= settings.max_connections as u64 {
            stats.connections.fetch_sub(1, Ordering::AcqRel);
            let total = bump(&stats.too_many_connections);
            tracing::warn!(client = %ip, rejected_total = total, "rejected: too many connections");
            return Err(HubError::TooManyConnections {
                limit: settings.max_connections,
            });
        }
        let mut slot = Self {
            shared: Arc::clone(shared),
            ip: None,
        };
        if settings.max_connections_per_ip > 0 {
            let mut per_ip = lock(&shared.connections_per_ip);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= settings.max_connections_per_ip {
                drop(per_ip);
                let total = bump(&stats.too_many_connections_from_ip);
                tracing::warn!(client = %ip, rejected_total = total, "rejected: too many connections from one address");
                return Err(HubError::TooManyConnectionsFromIp {
                    limit: settings.max_connections_per_ip,
                });
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok(slot)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.stats.connections.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut per_ip = lock(&self.shared.connections_per_ip);
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

/// A client's membership of a stream; leaving is dropping it.
pub struct Subscription {
    stream: Arc<Stream>,
    receiver: tokio::sync::broadcast::Receiver<Frame>,
    /// Messages owed before the next live one (replay, gap notices).
    backlog: VecDeque<Bytes>,
    /// Newest sequence id delivered (or not owed) to this client.
    last_seq: u64,
    _slot: ConnectionSlot,
}

impl Subscription {
    pub(crate) fn new(stream: Arc<Stream>, joined: Joined, slot: ConnectionSlot) -> Self {
        Self {
            stream,
            receiver: joined.receiver,
            backlog: joined.backlog,
            last_seq: joined.last_seq,
            _slot: slot,
        }
    }

    /// The stream this subscription belongs to.
    pub(crate) fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }

    /// Hands the writing to the stream's generator through `sink` if this
    /// client is caught up: nothing owed and the stream's newest event taken.
    /// Returns whether it did.
    pub(crate) fn go_live(&self, sink: &LiveSink) -> bool {
        self.backlog.is_empty() && self.stream.go_live(sink, self.last_seq)
    }

    /// Records that the client has every event up to `seq` (written to it by
    /// someone else), so that they are not sent twice.
    pub(crate) fn resume_after(&mut self, seq: u64) {
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
            // a live period the channel still holds the ones the generator
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
        tracing::info!(stream = %self.stream.id(), subscribers = remaining, "client disconnected");
    }
}
