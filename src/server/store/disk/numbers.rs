//! What the disk store knows in memory, shared by its callers and its
//! writer: the numbering of every open stream, the streams whose
//! forgetting is not committed yet, the floor, and whether the store still
//! takes appends. Ids are issued here, under one lock, and the request
//! that stores each one is queued under the same lock, so the writer sees
//! one stream's appends in id order.

use super::request::Request;
use crate::model::StreamId;
use crate::server::store::Seq;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What the store's handle and its writer share.
pub(super) struct Shared {
    /// The numbering, behind one lock that is never held across a wait.
    numbers: Mutex<Numbers>,
    /// Requests queued and not yet taken by the writer: past a bound,
    /// generated events wait for their commit too (backpressure).
    pub(super) queued: AtomicUsize,
}

impl Shared {
    /// Shares `numbers`.
    pub(super) fn new(numbers: Numbers) -> Self {
        Self {
            numbers: Mutex::new(numbers),
            queued: AtomicUsize::new(0),
        }
    }

    /// The numbering; a poisoned lock still holds consistent data (every
    /// critical section leaves it whole between statements).
    pub(super) fn numbers(&self) -> MutexGuard<'_, Numbers> {
        self.numbers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open stream's numbering.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenStream {
    /// The newest id issued.
    pub(super) newest: Seq,
    /// The highest id durably reserved: an id above it is issued only
    /// together with a wait for the commit that reserves it.
    pub(super) reserved: Seq,
    /// The newest id whose event is committed (readable from disk).
    pub(super) committed: Seq,
    /// When the hub's last subscriber of the stream left, in ms since the
    /// Unix epoch; `None` while it has subscribers (see
    /// [`EventStore::busy`](crate::server::store::EventStore::busy)).
    pub(super) idle_since_ms: Option<u64>,
}

/// A forgetting not yet committed: the old life's ids (up to `below`)
/// must no longer be read back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Forgotten {
    /// Which forgetting this is, so that the commit of an earlier one does
    /// not clear a later one.
    pub(super) generation: u64,
    /// Every id of the old life is at or below this.
    pub(super) below: Seq,
}

/// The state behind the disk store's lock.
pub(super) struct Numbers {
    /// Streams the hub has open, by id.
    pub(super) open: HashMap<StreamId, OpenStream>,
    /// Streams forgotten whose delete is not committed yet.
    pub(super) forgotten: HashMap<StreamId, Forgotten>,
    /// The highest id any forgotten stream may have issued.
    pub(super) floor: Seq,
    /// Counts forgettings, for [`Forgotten::generation`].
    pub(super) generations: u64,
    /// Why the store takes no more appends (closed, or the writer failed).
    pub(super) refused: Option<String>,
    /// The writer's queue; `None` once the store is dropped, which ends
    /// the writer (it holds this state too, so it must not hold the queue).
    pub(super) requests: Option<Sender<Request>>,
}

impl Numbers {
    /// A store with nothing open, numbering new lives above `floor`.
    pub(super) fn new(floor: Seq, requests: Sender<Request>) -> Self {
        Self {
            open: HashMap::new(),
            forgotten: HashMap::new(),
            floor,
            generations: 0,
            refused: None,
            requests: Some(requests),
        }
    }

    /// Marks `stream`'s old life (ids up to `below`) as forgotten: the floor
    /// rises to `below`, reads stop seeing it, and the returned generation
    /// goes with the delete request.
    pub(super) fn forget(&mut self, stream: &StreamId, below: Seq) -> u64 {
        self.floor = self.floor.max(below);
        self.generations += 1;
        let generation = self.generations;
        let below = self
            .forgotten
            .get(stream)
            .map_or(below, |earlier| earlier.below.max(below));
        self.forgotten
            .insert(stream.clone(), Forgotten { generation, below });
        generation
    }

    /// The ids at or below which `stream`'s kept events belong to a
    /// forgotten life (0: none).
    pub(super) fn forgotten_below(&self, stream: &StreamId) -> Seq {
        self.forgotten
            .get(stream)
            .map_or(0, |forgotten| forgotten.below)
    }
}
