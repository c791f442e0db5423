//! A resume older than a stream's ring: what the store still keeps of the
//! missing ids replaces the ring's gap notice, and smaller notices cover
//! the rest (older than the store keeps, or never stored: the ids a crash
//! took from a durable store).

use super::stream::Stream;
use crate::model::GapNotice;
use crate::server::sse::gap_message;
use crate::server::stats::add;
use crate::server::store::Seq;
use bytes::Bytes;
use std::collections::VecDeque;

/// Replaces the gap notice at the front of `backlog` (ids `first..=last`,
/// older than the ring) with what the store still keeps of them and gap
/// notices for the rest. A store that fails leaves the notice. At most the
/// newest `history` of them are sent: a client far behind gets a gap notice
/// for the rest, as it would from the ring.
pub(crate) async fn fill_from_store(
    stream: &Stream,
    first: Seq,
    last: Seq,
    backlog: &mut VecDeque<Bytes>,
) {
    // Everything kept after the client's id: a durable store keeps at most
    // `history` events, but their ids need not be consecutive (a crash
    // leaves a hole), so no id range can be computed from the count.
    let kept = match stream.stored_after(first - 1, usize::MAX).await {
        Ok(kept) => kept,
        Err(error) => {
            tracing::warn!(stream = %stream.id(), %error, "resume: the store could not replay older events");
            return;
        }
    };
    let Some(owed) = owed(first, last, kept, stream.history()) else {
        return;
    };
    // The ring's one notice is replaced: count what replaces it.
    let notices = owed.iter().filter(|message| is_gap_notice(message)).count() as u64;
    let stats = stream.stats();
    add(&stats.replayed_events, owed.len() as u64 - notices);
    add(&stats.gap_notices, notices.saturating_sub(1));
    backlog.pop_front();
    for message in owed.into_iter().rev() {
        backlog.push_front(message);
    }
}

/// Whether `message` is a gap notice (see `gap_message`).
fn is_gap_notice(message: &[u8]) -> bool {
    message.starts_with(b"event: gap\n")
}

/// What a client missing ids `first..=last` gets from `kept` (the store's
/// events after `first - 1`, oldest first): the newest `most` of them up to
/// `last`, with a gap notice for every run of ids in `first..=last` that is
/// not among them (older than the store keeps, lost in a crash, or never
/// issued). `None` when the store has none of them: the ring's notice
/// stands.
fn owed(first: Seq, last: Seq, kept: Vec<(Seq, Bytes)>, most: usize) -> Option<Vec<Bytes>> {
    let mut kept: Vec<(Seq, Bytes)> = kept
        .into_iter()
        .filter(|(seq, _)| (first..=last).contains(seq))
        .collect();
    if kept.len() > most {
        kept.drain(..kept.len() - most);
    }
    if kept.is_empty() {
        return None;
    }
    let mut owed = Vec::with_capacity(kept.len() + 2);
    let mut next = first;
    for (seq, message) in kept {
        if seq > next {
            owed.push(gap_message(GapNotice {
                first: next,
                last: seq - 1,
            }));
        }
        owed.push(message);
        next = seq + 1;
    }
    if next <= last {
        owed.push(gap_message(GapNotice { first: next, last }));
    }
    Some(owed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: Seq) -> (Seq, Bytes) {
        (seq, Bytes::from(format!("e{seq}")))
    }

    fn gap(first: Seq, last: Seq) -> Bytes {
        gap_message(GapNotice { first, last })
    }

    #[test]
    fn every_hole_in_what_the_store_kept_gets_its_own_gap_notice() {
        // Kept 3..=4 before a crash, 1005..=1006 after it; the client
        // missed 2..=1010.
        let kept = vec![event(3), event(4), event(1005), event(1006)];
        let owed = owed(2, 1010, kept, 100).expect("some kept");
        assert_eq!(
            owed,
            vec![
                gap(2, 2),
                event(3).1,
                event(4).1,
                gap(5, 1004),
                event(1005).1,
                event(1006).1,
                gap(1007, 1010),
            ]
        );
    }

    #[test]
    fn at_most_the_newest_history_is_sent_and_nothing_kept_leaves_the_notice() {
        let kept: Vec<_> = (1..=10).map(event).collect();
        let owed = owed(1, 10, kept, 3).expect("some kept");
        assert_eq!(owed, vec![gap(1, 7), event(8).1, event(9).1, event(10).1]);
        assert_eq!(super::owed(5, 9, vec![event(12)], 3), None);
    }
}
