//! A resume older than a stream's ring: what the store still keeps of the
//! missing ids replaces the ring's gap notice, and smaller notices cover
//! the rest (older than the store keeps, or never stored: the ids a crash
//! took from a durable store).

use super::stream::Stream;
use crate::model::GapNotice;
use crate::server::sse::gap_message;
use crate::server::store::Seq;
use bytes::Bytes;
use std::collections::VecDeque;

/// Replaces the gap notice at the front of `backlog` (ids `first..=last`,
/// older than the ring) with what the store still keeps of them, and a
/// smaller gap notice for the rest. A store that fails leaves the notice.
/// At most the newest `history` of them are asked for: a client far behind
/// gets a gap notice for the rest, as it would from the ring.
pub(crate) async fn fill_from_store(
    stream: &Stream,
    first: Seq,
    last: Seq,
    backlog: &mut VecDeque<Bytes>,
) {
    let most = stream.history() as u64;
    let from = first.max(last.saturating_sub(most.saturating_sub(1)));
    let wanted = usize::try_from(last - from + 1).unwrap_or(usize::MAX);
    let kept = match stream.stored_after(from - 1, wanted).await {
        Ok(kept) => kept,
        Err(error) => {
            tracing::warn!(stream = %stream.id(), %error, "resume: the store could not replay older events");
            return;
        }
    };
    let kept: Vec<_> = kept.into_iter().filter(|(seq, _)| *seq <= last).collect();
    let (Some(&(oldest_kept, _)), Some(&(newest_kept, _))) = (kept.first(), kept.last()) else {
        return;
    };
    // What the client gets instead of the ring's gap notice for
    // first..=last (the front of the backlog): a notice for what is older
    // than the store keeps, the kept events, and a notice for ids the store
    // never got (a durable store's window lost in a crash).
    let mut owed = Vec::with_capacity(kept.len() + 2);
    if oldest_kept > first {
        owed.push(gap_message(GapNotice {
            first,
            last: oldest_kept - 1,
        }));
    }
    owed.extend(kept.into_iter().map(|(_, message)| message));
    if newest_kept < last {
        owed.push(gap_message(GapNotice {
            first: newest_kept + 1,
            last,
        }));
    }
    backlog.pop_front();
    for message in owed.into_iter().rev() {
        backlog.push_front(message);
    }
}
