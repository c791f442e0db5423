//! The hub: streams, their subscribers, fan-out, admission limits and each
//! stream's driver. It knows nothing of sockets or HTTP: events reach it
//! through a [`Producer`] or a publish call ([`Hub::publish`]), go through the
//! [`EventStore`](crate::server::store::EventStore), and leave through
//! [`Subscription`]s and [`LiveSink`]s, which the transports drive.
//!
//! # Files
//! - `registry.rs`: the [`Hub`] handle: the stream map, creation, eviction,
//!   forgetting, and [`Hub::subscribe`].
//! - `stream.rs`: one stream: numbering, append (store, then ring, channel
//!   and live sinks), joins and keep-alives; `context.rs`: what all streams
//!   share; `resume.rs`: resumes older than the ring, from the store.
//! - `ring.rs`: the replay ring of encoded messages; `sink_list.rs`: a
//!   stream's live sinks; `snapshot.rs`: a stream as the API shows it.
//! - `subscription.rs`: one client's place in a stream; catch-up on lag.
//! - `live_sink.rs`: a caught-up subscriber the producer writes to itself,
//!   through the [`TryWrite`] its transport implements.
//! - `fanout.rs`: one frame to every live sink.
//! - `driver.rs`: the per-stream task: producer, keep-alives, retention;
//!   `leadership.rs`: with a shared store, the lease that makes one
//!   instance a stream's only generator.
//! - `follow.rs`: with a shared store, keeping streams level with the
//!   shared log (announcements, and a check every second).
//! - `producer.rs`: the [`Producer`] seam and the [`Emitter`] it appends by;
//!   `pace.rs`: [`Pace`], whether an event came on time.
//! - `idempotency.rs`: publishes a retry must not repeat
//!   ([`Hub::publish_once`]).
//! - `admission.rs`: the connection limits and the slot each client holds.
//! - `frame.rs`, `error.rs`, `sync.rs`: the channel's item, [`HubError`],
//!   the lock helper.
//!
//! # Contract
//!
//! - **One producer per stream.** The first subscriber of an id creates the
//!   stream and starts its driver, which runs the stream's producer while it
//!   has subscribers; every later subscriber shares it. With a shared store
//!   only the instance holding the stream's lease runs it (`leadership.rs`),
//!   and every instance delivers what any of them appended, in id order,
//!   from the shared log (`follow.rs`). Each event is
//!   SSE-encoded once, into shared [`Bytes`](bytes::Bytes), and every
//!   subscriber receives the same bytes.
//! - **Sequence ids** come from the store: a stream numbers its events 1,
//!   2, 3, … for as long as the store keeps its log, including restarts after
//!   it went idle. An append holds the stream's append lock from the store
//!   call to the broadcast, so events reach subscribers in id order.
//! - **Replay buffer.** A stream keeps its last `history` events in its ring.
//!   A subscriber is registered (its broadcast receiver created) *under the
//!   same lock* that an append holds while it records and broadcasts, so the
//!   replay it gets and the live events that follow meet with no gap and no
//!   duplicate. A resume older than the ring asks the store for what it
//!   keeps, and gets a gap notice for the rest.
//! - **Fan-out capacity.** Live events go through a `tokio::sync::broadcast`
//!   channel of [`CHANNEL_CAPACITY`] slots (at most `history`). A subscriber
//!   that falls further behind is *lagging*: it catches up from the ring
//!   when the events it missed are still there (no gap), and otherwise gets
//!   an `event: gap` naming the missing ids and continues from live. So a
//!   slow reader never holds more than the shared ring and channel, and
//!   never slows anyone else down; one that stops reading altogether is cut
//!   off by its transport's write timeout.
//! - **Direct writes.** A subscriber whose transport offers a [`LiveSink`]
//!   and that is caught up goes live: an on-time append writes each event,
//!   framed once per event as the transport asked ([`SinkFraming`]), into
//!   its socket itself, right after the broadcast. A socket that does not
//!   take the whole frame, or a late event ([`Pace::Late`]), hands the
//!   subscriber back to its own task, which catches up through the channel
//!   and ring as above. Either way each event reaches each subscriber once,
//!   in sequence order.
//! - **Pruning.** When the last subscriber leaves, the producer is dropped
//!   at once (the driver is woken, not polled) and the stream disappears
//!   from [`Hub::active_streams`]. Its ring is retained for `retention` so a
//!   returning client can resume; after that the stream is forgotten, in the
//!   hub and in the store.
//! - **Limits.** [`Hub::subscribe`] enforces the connection limits (total and
//!   per IP) and the stream limit, counting each rejection.
//! - **Locks.** The stream map and each stream's state sit behind std
//!   `Mutex`es that are never held across an `.await`: every critical section
//!   is a few map or buffer operations, so a blocking lock is cheaper than an
//!   async one (the same reasoning as mini-redis' `Db`). Lock order is always
//!   map, then stream, then sink; an append writes to sinks after letting the
//!   stream's lock go. Store calls are made with no std lock held.

mod admission;
#[cfg(test)]
mod append_tests;
mod context;
mod driver;
mod error;
mod fanout;
mod follow;
mod frame;
mod idempotency;
mod leadership;
mod live_sink;
mod pace;
mod producer;
mod registry;
mod resume;
mod ring;
mod sink_list;
mod snapshot;
mod stream;
mod subscription;
mod sync;

pub use admission::client_address;
pub use context::SinkFraming;
pub use error::HubError;
pub use live_sink::{Handover, LiveSink, TryWrite};
pub use pace::Pace;
pub use producer::{Emitter, NoEvents, Producer, Production};
pub use registry::{Hub, HubParts, HubSettings, CHANNEL_CAPACITY};
pub use subscription::{SinkRegistration, Subscription};
