//! What callers queue for the disk store's writer.

use crate::model::StreamId;
use crate::server::store::Seq;
use bytes::Bytes;
use tokio::sync::oneshot;

/// The writer's answer once the commit holding a request is done: `Err`
/// carries why it failed (nothing of that commit is stored).
pub(super) type Ack = oneshot::Sender<Result<(), String>>;

/// An event to store under an id already issued: what the writer inserts.
pub(super) struct Record {
    /// Whose event.
    pub(super) stream: StreamId,
    /// Its id.
    pub(super) seq: Seq,
    /// When it was accepted, in ms since the Unix epoch.
    pub(super) at_ms: u64,
    /// Its event type.
    pub(super) event: Option<Box<str>>,
    /// Its data.
    pub(super) data: Bytes,
    /// A published event's `Idempotency-Key`, kept with it.
    pub(super) key: Option<Box<str>>,
}

/// One request to the writer, in the order it must be applied.
pub(super) enum Request {
    /// Store an event under an id already issued.
    Append {
        /// The event.
        record: Record,
        /// Told when it is durable; `None`: nobody waits (a generated event
        /// below the stream's reservation), it goes with the next batch.
        ack: Option<Ack>,
    },
    /// Reserve ids above `issued` for a stream just opened, with the next
    /// commit (within the flush interval), so that its first generated
    /// events need not wait for one of their own; records the opening as
    /// activity.
    Reserve {
        /// The stream.
        stream: StreamId,
        /// Where its numbering stood when it was opened.
        issued: Seq,
    },
    /// Delete a stream's log (its old life), in order with its appends.
    Forget {
        /// Whose log.
        stream: StreamId,
        /// Which forgetting (see `Forgotten::generation`).
        generation: u64,
    },
    /// Commit everything queued so far, now.
    Flush(Ack),
    /// Commit everything, record a clean stop, and end the writer.
    Close(Ack),
    /// Tests only: make the next commits fail, or stall the writer.
    #[cfg(test)]
    Fault(Fault),
}

/// Tests only: faults the writer can be told to play.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// Every later commit fails.
    FailCommits,
    /// The writer sleeps this long before taking its next request.
    Stall(std::time::Duration),
    /// The writer panics, as redb does on some damaged pages.
    Panic,
    /// Every later commit panics, as redb does on some damaged pages.
    PanicInCommits,
}
