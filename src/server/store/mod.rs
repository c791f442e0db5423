//! The seam for where a stream's events live: one trait, [`EventStore`],
//! that the hub calls for everything about a stream's log, and the types it
//! speaks. Implementations sit beside it, one file each, and every one must
//! pass the same conformance suite (`conformance.rs`, a function taking a
//! store factory).
//!
//! - `memory.rs`: [`MemoryStore`] (`--store memory`), numbering for this
//!   process's life only, with the hub's ring as the only history.
//! - `disk/`: [`DiskStore`] (`--store PATH`, the default), the embedded
//!   durable store: one redb file, group commits, history kept per stream
//!   across restarts. Its module doc states its durability contract.
//! - `numbering.rs`: per-stream numbering with the floor across lives, for
//!   stores that number in memory.
//! - `location.rs`: [`StoreLocation`], what `--store` names.
//! - `conformance.rs`: the suite any implementation must pass (tests only).
//! - `keeping.rs`: a store that keeps history, for tests of the suite and of
//!   the hub's resume from a store (tests only).
//!
//! - `redis/`: [`RedisStore`] (`--store redis://…`), the store several
//!   instances share: the log, the numbering and the idempotency keys in
//!   Redis, appended by Lua scripts beside the code; it also implements
//!   [`SharedLog`].
//!
//! # The contract
//! - **One log per stream id**, numbered 1, 2, 3, … by the store:
//!   [`EventStore::append`] assigns the next sequence id and stores the
//!   event *atomically per stream*: two appends never get the same id, and
//!   ids come out in the order appends were accepted. The hub holds its own
//!   per-stream append lock around an append and the broadcast that follows,
//!   so through one hub appends to one stream never overlap.
//! - **History.** The hub keeps each stream's newest `--history` events,
//!   encoded, in its replay ring. A store that [keeps history]
//!   ([`EventStore::keeps_history`]: every durable or shared store) keeps at
//!   least as many per stream, and [`EventStore::after`] returns the kept
//!   events after an id, oldest first, so that a resume older than the ring
//!   (after a restart, or on another instance) can still be answered.
//!   Trimming older events is the store's business. The memory store keeps
//!   none: the ring is its history, and `after` returns nothing.
//! - **Durability** is what the store promises once `append` has returned:
//!   [`Durability::Immediate`] (an event somebody was told is stored) is as
//!   durable as the store gets; [`Durability::Batched`] (generated events)
//!   may be committed with later ones. The memory store keeps everything in
//!   memory either way.
//! - **Forgetting.** [`EventStore::forget`] is called when the hub drops an
//!   idle stream (retention over, or evicted at `--max-streams`), under the
//!   hub's lock of its stream map: it must take effect at once for every
//!   later call (a later `after` of that id finds nothing), so it must not
//!   wait. A durable store deletes the events behind that promise, in
//!   order with later appends.
//! - **Ids across lives.** A stream's ids only ever grow, across its
//!   lives: once forgotten, its next life starts above every id the store
//!   issued to it before, and `newest` of a forgotten id answers that floor
//!   (so the hub starts the new life there). A client resuming with an id
//!   from an earlier life is then behind the new life's first event and
//!   gets `event: gap` for what it missed, never a silent skip of the new
//!   life's events. The memory store keeps one floor for all streams (the
//!   highest id any forgotten stream issued), which costs nothing per
//!   forgotten stream; a durable or shared store keeps it across restarts.
//!
//! # The id format
//! An event id on the wire (`id:`, `Last-Event-ID`, the publish answer) is
//! the decimal sequence id, at least 1 and below 2^53 so that JavaScript
//! reads it exactly, strictly increasing within a stream across its lives
//! (and, with a durable or shared store, across restarts and instances).
//! No epoch or instance prefix: one number orders everything, and resume
//! is one comparison.
//! - **Errors** ([`StoreError`]) mean the call did nothing that the caller
//!   can rely on: an append that failed was not acknowledged and the hub
//!   broadcasts nothing for it. Every call of a store that leaves the process
//!   (disk, network) carries its own timeout and fails with
//!   [`StoreError::TimedOut`] rather than wait forever.
//! - Calls return boxed futures so that the trait can be a trait object
//!   (`Arc<dyn EventStore>`); the memory store's are ready at once.
//!
//!
//! # Shared stores
//! A store several instances share ([`EventStore::shared`] is `Some`)
//! adds the [`SharedLog`] calls, whose contract its doc states: appends
//! made anywhere are announced to a watcher (a doorbell: the log is the
//! truth, and the hub reads what it missed from [`EventStore::after`]),
//! one instance at a time holds a stream's lease and only it generates,
//! and a generated append is refused unless its lease still holds
//! (fencing, checked inside the append).

mod disk;
mod location;
mod memory;
mod numbering;
mod redis;

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
pub(crate) mod keeping;

pub use disk::{compact, figures, DiskError, DiskSettings, DiskStore, StoreFigures, FILE_NAME};
pub use location::{LocationError, StoreLocation};
pub use memory::MemoryStore;
pub use redis::{RedisSettings, RedisSetupError, RedisStore};

use crate::model::StreamId;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

/// A stream's sequence id: 1 for its first event; 0 means "none yet".
pub type Seq = u64;

/// An event to append: its SSE event type (`None`: the default `message`)
/// and its data, as it goes on the wire after `data:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The `event:` field; `None` for unnamed messages.
    pub event: Option<Box<str>>,
    /// The `data:` payload (for the generator, its JSON).
    pub data: Bytes,
}

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its sequence id in the stream.
    pub seq: Seq,
    /// The `event:` field; `None` for unnamed messages.
    pub event: Option<Box<str>>,
    /// The `data:` payload.
    pub data: Bytes,
    /// When the store accepted it.
    pub at: SystemTime,
}

/// How durable an append must be before [`EventStore::append`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Somebody will be told the event is stored: as durable as the store
    /// gets (a disk store: fsynced).
    Immediate,
    /// A generated event: may be committed together with later ones.
    Batched,
}

/// Why a store call failed; the call did nothing the caller can rely on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or refused the call.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The call did not finish within its timeout.
    #[error("the event store did not answer {operation} in time")]
    TimedOut {
        /// Which call timed out.
        operation: &'static str,
    },
    /// A generated append was refused: the stream's lease is no longer
    /// this instance's (another leads it now). Nothing was appended.
    #[error("the append was refused: another instance leads the stream now")]
    Fenced,
}

/// What a published event's append came to, from
/// [`EventStore::append_published`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Appended now, as stored.
    Stored(StoredEvent),
    /// Its idempotency key was answered before, with this id: nothing was
    /// appended (only a store that keeps the keys itself answers this).
    Replayed(Seq),
}

/// How long an idempotency key's answer is kept: by the hub's own table,
/// and by a store that keeps the keys itself (across instances, across
/// restarts).
pub const IDEMPOTENCY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A published event to append, with its `Idempotency-Key` if it has one.
pub type Publish = (NewEvent, Option<Box<str>>);

/// What a store call returns: boxed, so that the trait is object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// [`EventStore::append`] for a store that appends through
/// [`EventStore::append_all`] (the disk and Redis stores): the one event
/// of a one-event batch.
pub(crate) fn append_one<'a, S: EventStore + ?Sized>(
    store: &'a S,
    stream: &'a StreamId,
    event: NewEvent,
    durability: Durability,
) -> StoreFuture<'a, StoredEvent> {
    Box::pin(async move {
        let mut stored = store.append_all(stream, vec![event], durability).await?;
        stored
            .pop()
            .ok_or_else(|| StoreError::Unavailable("nothing was appended".to_owned()))
    })
}

/// Where events live. Shared as `Arc<dyn EventStore>` by the hub; the
/// module doc states the contract every implementation keeps.
pub trait EventStore: Send + Sync + 'static {
    /// A short name for logs and stats (`memory`, later `disk`, `redis`).
    fn kind(&self) -> &'static str;

    /// Whether the store keeps events of its own (see the module doc's
    /// *History*); `false` only for one whose history is the hub's ring.
    fn keeps_history(&self) -> bool;

    /// Where `stream`'s numbering stands: its newest sequence id, or for a
    /// forgotten stream the floor its next life starts above (see *Ids
    /// across lives*); `None` for one never appended to in a store that
    /// never forgot a stream. The hub asks when it creates a stream.
    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>>;

    /// Appends `event` to `stream`, assigning it the next sequence id
    /// (atomically per stream), and returns it as stored once it is as
    /// durable as `durability` asks.
    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        durability: Durability,
    ) -> StoreFuture<'a, StoredEvent>;

    /// Appends `events` to `stream` in order, as one [`EventStore::append`]
    /// each would (consecutive ids, one durability for all), and returns
    /// them as stored. The hub hands a store every publish waiting for one
    /// stream at once, so that a store can make them durable together (the
    /// disk store: one commit); this default appends them one by one. An
    /// error means none of them may be relied on.
    fn append_all<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<NewEvent>,
        durability: Durability,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(async move {
            let mut stored = Vec::with_capacity(events.len());
            for event in events {
                stored.push(self.append(stream, event, durability).await?);
            }
            Ok(stored)
        })
    }

    /// Appends published events ([`Durability::Immediate`]) as
    /// [`EventStore::append_all`] does. A store that keeps idempotency keys
    /// itself (a shared one: a retry may come through another instance)
    /// answers an event whose key it has seen with [`Appended::Replayed`]
    /// and appends nothing for it; this default leaves the keys to the
    /// hub's own table.
    fn append_published<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<Publish>,
    ) -> StoreFuture<'a, Vec<Appended>> {
        Box::pin(async move {
            let events = events.into_iter().map(|(event, _)| event).collect();
            let stored = self
                .append_all(stream, events, Durability::Immediate)
                .await?;
            Ok(stored.into_iter().map(Appended::Stored).collect())
        })
    }

    /// Up to `limit` kept events of `stream` with a sequence id above
    /// `after`, oldest first. Events older than the kept history are simply
    /// not there (none at all for a store that keeps no history): the caller
    /// tells the client about the gap.
    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>>;

    /// Forgets `stream`'s log at once (see the module doc: it must not wait).
    fn forget(&self, stream: &StreamId);

    /// The hub asked where `stream` stands ([`EventStore::newest`]) but did
    /// not create it (refused at `--max-streams`): a store that keeps
    /// something per asked stream lets it go, keeping its log.
    fn release(&self, _stream: &StreamId) {}

    /// The hub's `stream` got its first subscriber (`busy`) or lost its
    /// last: a store that keeps streams across restarts counts the
    /// retention time from when the stream went idle, as the hub does,
    /// not from its newest event (a quiet stream with subscribers is not
    /// idle). Called under the stream's lock, so it must not wait.
    fn busy(&self, _stream: &StreamId, _busy: bool) {}

    /// Makes everything appended so far as durable as the store gets and
    /// records a clean stop; later appends fail. Called once at shutdown,
    /// after the hub's streams have ended: for a disk store this is what
    /// makes a restart lose nothing.
    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Whether the store can serve right now: `Err` with the reason when
    /// it cannot (its link is down, its disk failed), for `/healthz`.
    fn health(&self) -> Result<(), String> {
        Ok(())
    }

    /// The calls of a store several instances share; `None` for a store
    /// of this process alone.
    fn shared(&self) -> Option<&dyn SharedLog> {
        None
    }
}

/// A stream's lease: while it holds, this instance is the stream's only
/// generator. From [`SharedLog::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What proves the lease to the store (its fencing token).
    pub token: std::sync::Arc<str>,
    /// How long ago the stream's newest generated event was appended, by
    /// the store's clock (`None`: never): a new leader keeps the cadence.
    pub since_last_tick: Option<std::time::Duration>,
}

/// What [`SharedLog::claim`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The lease is this instance's (claimed now, or renewed).
    Held(Lease),
    /// Another instance holds it; it expires in this long unless renewed
    /// (when to try again), or sooner if released (announced).
    Busy {
        /// Time left on the other instance's lease.
        expires_in: std::time::Duration,
    },
}

/// Told of appends made by any instance of a shared store.
pub trait AppendWatcher: Send + Sync + 'static {
    /// `stream`'s log now reaches `newest`, whose event is `event` when the
    /// announcement carries it (the watcher reads what it misses from
    /// [`EventStore::after`]).
    fn appended(&self, stream: &StreamId, newest: Seq, event: Option<StoredEvent>);
    /// `stream`'s lease was released: an instance waiting for it may claim
    /// it now rather than when it would have expired.
    fn lease_released(&self, stream: &StreamId);
    /// Announcements may have been lost (the link to the store was down):
    /// every followed stream should be checked against the log.
    fn resync(&self);
}

/// What a store shared by several instances adds to [`EventStore`].
///
/// # Contract
/// - **One log.** Every instance's appends to a stream go into one log,
///   numbered by the store atomically with the append: two instances
///   never issue the same id, and ids come out in log order.
/// - **Announcements are a doorbell.** After an append the store tells the
///   watcher of every instance ([`SharedLog::watch`]) the stream's newest
///   id, at most once and possibly never (a link that drops loses them; the
///   store calls [`AppendWatcher::resync`] after it reconnects). The log
///   is the truth: a watcher repairs any gap from [`EventStore::after`]
///   before delivering, and checks followed streams with
///   [`SharedLog::newest_of`] now and then to catch a lost last one.
/// - **One generator per stream.** [`SharedLog::claim`] gives a stream's
///   lease to one instance at a time; it expires unless renewed (the same
///   call with the lease), and [`SharedLog::release`] gives it up and
///   announces that it did.
/// - **Losing data.** A store that loses a stream's numbering (Redis
///   restarted empty) numbers on above the highest id the appending
///   instance saw, and an instance that finds the numbering below an id its
///   clients had raises it ([`SharedLog::raise_floor`]).
/// - **Fencing.** [`SharedLog::append_generated`] is refused with
///   [`StoreError::Fenced`] unless the lease still holds when the append
///   runs, so an instance that lost its lease (paused past its expiry)
///   can never write an event, whatever it believes.
pub trait SharedLog: Send + Sync {
    /// Starts telling `watcher` of every append made anywhere (once; later
    /// calls replace the watcher).
    fn watch(&self, watcher: std::sync::Weak<dyn AppendWatcher>);

    /// Claims `stream`'s lease for this instance, or with `held`, renews
    /// it: [`Claim::Held`] while it is (still) this instance's,
    /// [`Claim::Busy`] while another instance holds it.
    fn claim<'a>(&'a self, stream: &'a StreamId, held: Option<&'a Lease>)
        -> StoreFuture<'a, Claim>;

    /// Gives `lease` up if it still holds, in the background, and announces
    /// it ([`AppendWatcher::lease_released`]: another instance with
    /// subscribers takes over at once).
    fn release(&self, stream: &StreamId, lease: Lease);

    /// Appends a generated event if `lease` still holds (fenced).
    fn append_generated<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        lease: &'a Lease,
    ) -> StoreFuture<'a, StoredEvent>;

    /// The newest ids of `streams`, in order, in one round trip.
    fn newest_of<'a>(&'a self, streams: &'a [StreamId]) -> StoreFuture<'a, Vec<Option<Seq>>>;

    /// `stream`'s numbering stands below `floor`, an id this instance's
    /// clients were sent: the store lost its data (and another instance may
    /// have numbered from 1 again). Raises it above `floor` (with a
    /// margin), so that no later event reuses an id a client had.
    fn raise_floor<'a>(&'a self, stream: &'a StreamId, floor: Seq) -> StoreFuture<'a, ()>;
}
