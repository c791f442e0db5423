//! Whether panels watching the same stream saw the same events: the same
//! generated numbers, and the same published events (type and data).

/// One received event as the check compares it: which event of the stream
/// it is and what it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The SSE `id:`, when it was a number.
    pub seq: Option<u64>,
    /// What kind of event, and what it carried.
    pub kind: TickKind,
}

/// The two kinds of events a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickKind {
    /// A generated event: told apart by its `id:` and timestamp.
    Number {
        /// The event's timestamp.
        timestamp: String,
        /// The event's number.
        number: u32,
    },
    /// A published event: told apart by its `id:` (it has no timestamp).
    Published {
        /// Stands for its type and data (see `PublishedEvent::fingerprint`).
        fingerprint: u64,
    },
}

/// Which event of a stream a tick is: its `id:`, and for a generated event
/// its timestamp.
type Identity<'a> = (Option<u64>, Option<&'a str>);

impl Tick {
    /// A generated event.
    pub fn number(seq: Option<u64>, timestamp: impl Into<String>, number: u32) -> Self {
        Self {
            seq,
            kind: TickKind::Number {
                timestamp: timestamp.into(),
                number,
            },
        }
    }

    /// Which event of the stream this is, for matching it across panels:
    /// `(id, timestamp)` for a generated event, `(id, none)` for a
    /// published one. A published event without an `id:` cannot be matched
    /// and is not compared.
    fn identity(&self) -> Option<Identity<'_>> {
        match &self.kind {
            TickKind::Number { timestamp, .. } => Some((self.seq, Some(timestamp.as_str()))),
            TickKind::Published { .. } => self.seq.map(|seq| (Some(seq), None)),
        }
    }
}

/// What one panel contributes: the stream it is connected to and the events
/// it received on this connection (see `EventHistory::ticks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelEvents {
    /// The connected stream id.
    pub stream_id: String,
    /// The events received.
    pub ticks: Vec<Tick>,
}

/// The verdict the consistency indicator shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consistency {
    /// No two connected panels share a stream id.
    NothingToCompare,
    /// Panels share an id but have no event in common yet.
    Waiting,
    /// Compared `compared` events; `differences` had different contents.
    Compared {
        /// Events seen by at least two panels of the same stream.
        compared: usize,
        /// Of those, how many disagreed.
        differences: usize,
    },
}

/// Compares the panels that share a stream id: every event that two or more
/// of them received must carry the same content. A generated event is
/// matched by its timestamp and `id:` (the `id:` tells apart two events of
/// one stream that share a millisecond timestamp) and must carry the same
/// number; a published event is matched by its `id:` and must carry the same
/// type and data.
pub fn compare_panels(panels: &[PanelEvents]) -> Consistency {
    // Grouped by stream id in a plain `Vec`: a page has at most 4 panels.
    let mut by_stream: Vec<Vec<&PanelEvents>> = Vec::new();
    for panel in panels {
        match by_stream
            .iter_mut()
            .find(|group| group[0].stream_id == panel.stream_id)
        {
            Some(group) => group.push(panel),
            None => by_stream.push(vec![panel]),
        }
    }
    let shared: Vec<&Vec<&PanelEvents>> = by_stream.iter().filter(|g| g.len() >= 2).collect();
    if shared.is_empty() {
        return Consistency::NothingToCompare;
    }
    let (mut compared, mut differences) = (0, 0);
    for group in shared {
        let (group_compared, group_differences) = compare_group(group);
        compared += group_compared;
        differences += group_differences;
    }
    if compared == 0 {
        Consistency::Waiting
    } else {
        Consistency::Compared {
            compared,
            differences,
        }
    }
}

/// Events seen by two or more of `group`'s panels, and how many of those
/// differ between panels.
///
/// Every received event, sorted by which event it is, then by panel and
/// by arrival, so that each event's copies sit together. This runs on
/// every event any panel receives, over up to 1,000 events per panel: a
/// linear search per event (quadratic) took 2.0 ms for 4 full panels on
/// the host, the sort 0.4 ms. A hash map would be as quick, but its code
/// would be this page's alone (1.9 KiB of gzipped WASM; the sort's is
/// 1.8 KiB, the stable sort's 2.4).
fn compare_group(group: &[&PanelEvents]) -> (usize, usize) {
    let mut received: Vec<(Identity<'_>, usize, usize, &TickKind)> = group
        .iter()
        .enumerate()
        .flat_map(|(panel, events)| {
            events
                .ticks
                .iter()
                .enumerate()
                .filter_map(move |(at, tick)| Some((tick.identity()?, panel, at, &tick.kind)))
        })
        .collect();
    // By where in the panel each copy came too: a panel's copies of one
    // event stay in the order it received them.
    received.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let (mut compared, mut differences) = (0, 0);
    for copies in received.chunk_by(|a, b| a.0 == b.0) {
        // What each panel shows for the event: its last copy (a panel's own
        // repeat of an event is not a second panel).
        let mut shown = copies
            .chunk_by(|a, b| a.1 == b.1)
            .filter_map(<[_]>::last)
            .map(|&(_, _, _, kind)| kind)
            .peekable();
        let Some(first) = shown.next() else {
            continue;
        };
        if shown.peek().is_none() {
            continue;
        }
        compared += 1;
        if shown.any(|kind| kind != first) {
            differences += 1;
        }
    }
    (compared, differences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compared(compared: usize, differences: usize) -> Consistency {
        Consistency::Compared {
            compared,
            differences,
        }
    }

    fn panel(id: &str, events: &[(&str, u32)]) -> PanelEvents {
        PanelEvents {
            stream_id: id.into(),
            ticks: events
                .iter()
                .map(|(timestamp, number)| Tick::number(None, *timestamp, *number))
                .collect(),
        }
    }

    #[test]
    fn identical_events_on_a_shared_stream_have_no_difference() {
        let verdict = compare_panels(&[
            panel("a", &[("t1", 5), ("t2", 6)]),
            panel("a", &[("t2", 6), ("t3", 7)]),
        ]);
        assert_eq!(verdict, compared(1, 0));
    }

    #[test]
    fn different_numbers_for_one_timestamp_are_counted() {
        let verdict = compare_panels(&[
            panel("a", &[("t1", 5), ("t2", 6)]),
            panel("a", &[("t1", 5), ("t2", 9)]),
        ]);
        assert_eq!(verdict, compared(2, 1));
    }

    #[test]
    fn panels_on_different_streams_are_not_compared() {
        assert_eq!(
            compare_panels(&[panel("a", &[("t1", 1)]), panel("b", &[("t1", 2)])]),
            Consistency::NothingToCompare
        );
        assert_eq!(
            compare_panels(&[panel("a", &[("t1", 1)]), panel("a", &[])]),
            Consistency::Waiting
        );
    }

    #[test]
    fn panels_of_one_stream_are_grouped_wherever_they_sit() {
        // a, b, a, b: each stream's two panels are compared with each other
        // only; b's disagree, a's agree.
        let verdict = compare_panels(&[
            panel("a", &[("t1", 5)]),
            panel("b", &[("t1", 7)]),
            panel("a", &[("t1", 5)]),
            panel("b", &[("t1", 8)]),
        ]);
        assert_eq!(verdict, compared(2, 1));
    }

    #[test]
    fn a_panel_that_received_an_event_twice_is_compared_by_its_last_copy() {
        let agrees_last = compare_panels(&[
            panel("a", &[("t1", 1), ("t1", 2)]),
            panel("a", &[("t1", 2)]),
        ]);
        assert_eq!(agrees_last, compared(1, 0));
        let differs_last = compare_panels(&[
            panel("a", &[("t1", 2), ("t1", 1)]),
            panel("a", &[("t1", 2)]),
        ]);
        assert_eq!(differs_last, compared(1, 1));
    }

    #[test]
    fn one_panel_receiving_an_event_twice_is_not_a_comparison() {
        assert_eq!(
            compare_panels(&[panel("a", &[("t1", 1), ("t1", 1)]), panel("a", &[])]),
            Consistency::Waiting
        );
    }

    #[test]
    fn two_events_sharing_a_timestamp_are_told_apart_by_their_id() {
        let tick = |seq, number| Tick::number(Some(seq), "t1", number);
        let both = PanelEvents {
            stream_id: "a".into(),
            ticks: vec![tick(1, 10), tick(2, 20)],
        };
        assert_eq!(compare_panels(&[both.clone(), both]), compared(2, 0));
    }

    fn published(seq: Option<u64>, fingerprint: u64) -> Tick {
        Tick {
            seq,
            kind: TickKind::Published { fingerprint },
        }
    }

    fn panel_of(ticks: Vec<Tick>) -> PanelEvents {
        PanelEvents {
            stream_id: "a".into(),
            ticks,
        }
    }

    #[test]
    fn published_events_are_compared_by_id_and_content() {
        let a = panel_of(vec![Tick::number(Some(1), "t1", 5), published(Some(2), 77)]);
        let same = panel_of(vec![Tick::number(Some(1), "t1", 5), published(Some(2), 77)]);
        assert_eq!(compare_panels(&[a.clone(), same]), compared(2, 0));
        let other_data = panel_of(vec![Tick::number(Some(1), "t1", 5), published(Some(2), 78)]);
        assert_eq!(compare_panels(&[a, other_data]), compared(2, 1));
    }

    #[test]
    fn a_published_event_is_never_matched_with_a_generated_one() {
        let a = panel_of(vec![published(Some(3), 1)]);
        let b = panel_of(vec![Tick::number(Some(3), "t3", 1)]);
        assert_eq!(compare_panels(&[a, b]), Consistency::Waiting);
    }

    #[test]
    fn published_events_without_an_id_are_not_compared() {
        let a = panel_of(vec![published(None, 1)]);
        let b = panel_of(vec![published(None, 2)]);
        assert_eq!(compare_panels(&[a, b]), Consistency::Waiting);
    }
}
