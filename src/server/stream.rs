//! One stream's shared state: its sequence counter, replay buffer, broadcast
//! channel and subscriber count. The hub's module doc states the contract.

use super::generator;
use super::http_chunk::encode_chunk;
use super::hub::{lock, Hub, CHANNEL_CAPACITY};
use super::live_sink::LiveSink;
#[cfg(doc)]
use super::sse_frame::encode_comment;
use super::sse_frame::encode_message;
use crate::model::{GapNotice, StreamEvent, StreamId, StreamSummary};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;

/// What travels through a stream's broadcast channel.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// An encoded event and its sequence id.
    Event {
        /// The event's sequence id.
        seq: u64,
        /// The complete SSE message, shared by every subscriber.
        bytes: Bytes,
    },
    /// Nothing happened for a while: send a keep-alive comment.
    KeepAlive,
}

/// The keep-alive comment, as `encode_comment("keep-alive")` would
/// encode it; static, so sending it to every subscriber allocates nothing.
pub(crate) const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

/// A stream id's shared state.
pub(crate) struct Stream {
    id: StreamId,
    sender: broadcast::Sender<Frame>,
    state: Mutex<StreamState>,
    /// Signalled when the subscriber count goes 0 → 1 or 1 → 0, or the stream
    /// is retired, so the generator task reacts at once.
    pub(crate) wake: Notify,
    /// The hub's count of idle streams (`Shared::idle_streams`), which
    /// this stream keeps up to date as it becomes idle, busy or retired.
    idle_streams: Arc<AtomicUsize>,
}

/// The part of a stream that changes, behind its mutex.
struct StreamState {
    subscribers: usize,
    /// Sequence id the next event gets; the first is 1.
    next_seq: u64,
    /// The last `history` events, oldest first.
    replay: VecDeque<(u64, Bytes)>,
    history: usize,
    /// When the generator last started.
    started_at: SystemTime,
    /// Removed from the hub; its generator task must exit.
    retired: bool,
    /// When the last subscriber left; `None` while anyone is subscribed.
    /// Under `--max-streams` pressure the stream idle longest goes first.
    idle_since: Option<Instant>,
    /// Direct-path subscribers the generator writes to itself while they
    /// are live, by registration number.
    sinks: HashMap<u64, Arc<LiveSink>>,
    /// Registration number of the next sink.
    next_sink: u64,
}

/// What a new subscriber gets from [`Stream::join`].
pub(crate) struct Joined {
    /// Live events from now on.
    pub(crate) receiver: broadcast::Receiver<Frame>,
    /// Messages to send before any live event: a gap notice and the replay.
    pub(crate) backlog: VecDeque<Bytes>,
    /// Sequence id of the newest event the subscriber has (or needs not get).
    pub(crate) last_seq: u64,
    /// Subscribers including this one.
    pub(crate) subscribers: usize,
}

/// A consistent view of a stream for the API.
pub(crate) struct StreamSnapshot {
    id: StreamId,
    pub(crate) subscribers: usize,
    events_sent: u64,
    started_at: SystemTime,
}

impl StreamSnapshot {
    /// Converts to the shared API type.
    pub(crate) fn into_summary(self) -> StreamSummary {
        StreamSummary {
            id: self.id.to_string(),
            subscribers: self.subscribers,
            events_sent: self.events_sent,
            started_at: format_timestamp(self.started_at),
        }
    }
}

/// A `Last-Event-ID` exactly as this server writes ids: decimal digits only
/// (surrounding spaces aside), so `+5` or `0x5` are not ids it issued.
fn parse_event_id(raw: &str) -> Option<u64> {
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// ISO-8601 UTC with milliseconds, e.g. `2026-11-25T18:08:54.123Z`.
pub(crate) fn format_timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

impl Stream {
    /// Creates a stream with no subscriber and starts its generator task.
    pub(crate) fn create(id: StreamId, hub: &Hub) -> Arc<Self> {
        let history = hub.shared.settings.history.max(1);
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY.min(history));
        let stream = Arc::new(Self {
            id,
            sender,
            state: Mutex::new(StreamState {
                subscribers: 0,
                next_seq: 1,
                replay: VecDeque::with_capacity(history.min(16)),
                history,
                started_at: SystemTime::now(),
                retired: false,
                idle_since: Some(Instant::now()),
                sinks: HashMap::new(),
                next_sink: 0,
            }),
            wake: Notify::new(),
            idle_streams: Arc::clone(&hub.shared.idle_streams),
        });
        stream.idle_streams.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(generator::run(Arc::clone(&stream), hub.clone()));
        stream
    }

    /// The stream's id.
    pub(crate) fn id(&self) -> &StreamId {
        &self.id
    }

    /// Registers a subscriber and hands it the replay it needs.
    ///
    /// `last_event_id` that is not a sequence id this stream has issued is
    /// treated as a fresh connection (no replay).
    pub(crate) fn join(&self, last_event_id: Option<&str>) -> Joined {
        let mut state = lock(&self.state);
        state.subscribers += 1;
        if state.idle_since.take().is_some() {
            self.idle_streams.fetch_sub(1, Ordering::AcqRel);
        }
        if state.subscribers == 1 {
            self.wake.notify_one();
        }
        // Subscribed under the lock the generator holds while broadcasting:
        // nothing can be sent between the replay snapshot and this receiver.
        let receiver = self.sender.subscribe();
        let newest = state.next_seq - 1;
        // Ids start at 1: 0 was never issued either.
        let resume_from = last_event_id
            .and_then(parse_event_id)
            .filter(|last| (1..=newest).contains(last));
        let backlog = match resume_from {
            Some(last) => state.messages_after(last),
            None => VecDeque::new(),
        };
        Joined {
            receiver,
            backlog,
            last_seq: newest,
            subscribers: state.subscribers,
        }
    }

    /// Unregisters a subscriber; returns how many remain.
    pub(crate) fn leave(&self) -> usize {
        let mut state = lock(&self.state);
        state.subscribers = state.subscribers.saturating_sub(1);
        if state.subscribers == 0 && state.idle_since.is_none() {
            state.idle_since = Some(Instant::now());
            self.idle_streams.fetch_add(1, Ordering::AcqRel);
            self.wake.notify_one();
        }
        state.subscribers
    }

    /// For a lagging subscriber that has everything up to `last_seq`: the
    /// messages it missed (with a gap notice if some are gone) and the newest
    /// sequence id they reach.
    pub(crate) fn catch_up(&self, last_seq: u64) -> (VecDeque<Bytes>, u64) {
        let state = lock(&self.state);
        (state.messages_after(last_seq), state.next_seq - 1)
    }

    /// Generates, records and broadcasts one event. `on_time` says whether
    /// the generator's tick came when due: only then does it write the event
    /// to its live sinks itself (see [`LiveSink`]); a late tick means the
    /// server is busy, and the sinks' tasks, which write whatever is due at
    /// once, take the writing back.
    pub(crate) fn emit(&self, number: u32, at: SystemTime, on_time: bool) {
        // The type the browser parses it into: one definition for both sides.
        let event = StreamEvent {
            number,
            timestamp: format_timestamp(at),
            id: self.id.as_str().to_owned(),
        };
        // Serialising a struct of a number and two strings cannot fail.
        let json = serde_json::to_string(&event).unwrap_or_default();
        let mut state = lock(&self.state);
        let seq = state.next_seq;
        state.next_seq += 1;
        let bytes = encode_message(Some(seq), None, &json);
        if state.replay.len() == state.history {
            state.replay.pop_front();
        }
        state.replay.push_back((seq, bytes.clone()));
        let sinks = state.sinks_snapshot();
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(Frame::Event {
            seq,
            bytes: bytes.clone(),
        });
        drop(state);
        if on_time {
            if !sinks.is_empty() {
                deliver(sinks, Some(seq), encode_chunk(&bytes));
            }
        } else {
            sinks.iter().for_each(|sink| sink.hand_back(seq));
        }
    }

    /// Broadcasts a keep-alive comment.
    pub(crate) fn keep_alive(&self) {
        let sinks = {
            let state = lock(&self.state);
            let _ = self.sender.send(Frame::KeepAlive);
            state.sinks_snapshot()
        };
        if !sinks.is_empty() {
            deliver(sinks, None, encode_chunk(&KEEP_ALIVE));
        }
    }

    /// Registers a direct-path subscriber's sink, which the generator writes
    /// to while it is live; returns its registration number.
    pub(crate) fn register_sink(&self, sink: Arc<LiveSink>) -> u64 {
        let mut state = lock(&self.state);
        let key = state.next_sink;
        state.next_sink += 1;
        state.sinks.insert(key, sink);
        key
    }

    /// Forgets a sink registered with [`Stream::register_sink`]. The list
    /// gives memory back once it is mostly empty (after a crowd has left).
    pub(crate) fn unregister_sink(&self, key: u64) {
        let sinks = &mut lock(&self.state).sinks;
        sinks.remove(&key);
        if sinks.capacity() > 64 && sinks.len() < sinks.capacity() / 4 {
            sinks.shrink_to(sinks.len() * 2);
        }
    }

    /// Makes `sink` live if `last_seq` is the stream's newest event, so that
    /// the generator writes every later one; returns whether it did.
    pub(crate) fn go_live(&self, sink: &LiveSink, last_seq: u64) -> bool {
        // Under the lock the generator assigns sequence ids under: no event
        // can fall between the check and the handover.
        let state = lock(&self.state);
        if state.next_seq - 1 != last_seq {
            return false;
        }
        sink.go_live(last_seq);
        true
    }

    /// Subscribers right now.
    pub(crate) fn subscriber_count(&self) -> usize {
        lock(&self.state).subscribers
    }

    /// When the last subscriber left, if no one is subscribed now.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        lock(&self.state).idle_since
    }

    /// Whether the stream was removed from the hub.
    pub(crate) fn is_retired(&self) -> bool {
        lock(&self.state).retired
    }

    /// Records that the generator (re)started now.
    pub(crate) fn mark_started(&self) {
        lock(&self.state).started_at = SystemTime::now();
    }

    /// Marks the stream retired if it has no subscriber; returns whether it did.
    /// The caller holds the hub's map lock and removes the stream from it.
    pub(crate) fn retire_if_idle(&self) -> bool {
        let mut state = lock(&self.state);
        if state.subscribers > 0 {
            return false;
        }
        if !state.retired {
            state.retired = true;
            self.idle_streams.fetch_sub(1, Ordering::AcqRel);
            self.wake.notify_one();
        }
        true
    }

    /// A consistent view for the API.
    pub(crate) fn snapshot(&self) -> StreamSnapshot {
        let state = lock(&self.state);
        StreamSnapshot {
            id: self.id.clone(),
            subscribers: state.subscribers,
            events_sent: state.next_seq - 1,
            started_at: state.started_at,
        }
    }
}

impl StreamState {
    /// The registered sinks, to write to after the lock is released.
    fn sinks_snapshot(&self) -> Vec<Arc<LiveSink>> {
        self.sinks.values().cloned().collect()
    }

    /// Buffered messages after sequence id `last`, preceded by a gap notice
    /// when the buffer no longer reaches back to `last + 1`.
    fn messages_after(&self, last: u64) -> VecDeque<Bytes> {
        let mut out = VecDeque::new();
        let newest = self.next_seq - 1;
        if last >= newest {
            return out;
        }
        let oldest_buffered = self.replay.front().map_or(self.next_seq, |(seq, _)| *seq);
        if last + 1 < oldest_buffered {
            out.push_back(gap_message(GapNotice {
                first: last + 1,
                last: oldest_buffered - 1,
            }));
        }
        out.extend(
            self.replay
                .iter()
                .filter(|(seq, _)| *seq > last)
                .map(|(_, bytes)| bytes.clone()),
        );
        out
    }
}

/// Most sinks one task writes an event to; a stream with more spreads the
/// writes over several tasks, so that every runtime thread takes a share.
const SINKS_PER_WRITER: usize = 2048;

/// Writes one chunk to every live sink: inline for a stream of ordinary size,
/// in parallel parts for a very large one. Each sink's own sequence check
/// keeps its events in order whichever part reaches it.
fn deliver(mut sinks: Vec<Arc<LiveSink>>, seq: Option<u64>, chunk: Bytes) {
    while sinks.len() > SINKS_PER_WRITER {
        let part = sinks.split_off(sinks.len() - SINKS_PER_WRITER);
        let chunk = chunk.clone();
        tokio::spawn(async move {
            for sink in part {
                sink.offer(seq, &chunk);
            }
        });
    }
    for sink in sinks {
        sink.offer(seq, &chunk);
    }
}

/// Encodes the `event: gap` message.
pub(crate) fn gap_message(gap: GapNotice) -> Bytes {
    let data = serde_json::to_string(&gap).unwrap_or_default();
    encode_message(None, Some("gap"), &data)
}
