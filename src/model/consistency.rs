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
    let mut by_stream: Vec<(&str, Vec<&PanelEvents>)> = Vec::new();
    for panel in panels {
        entry(&mut by_stream, panel.stream_id.as_str()).push(panel);
    }
    let shared: Vec<&Vec<&PanelEvents>> = by_stream
        .iter()
        .map(|(_, group)| group)
        .filter(|group| group.len() >= 2)
        .collect();
    if shared.is_empty() {
        return Consistency::NothingToCompare;
    }
    let (mut compared, mut differences) = (0, 0);
    for group in shared {
        // For each event, what each panel received (a panel's own repeat of
        // an event is not a second panel).
        // The panels are read one after the other, so a panel's entry for
        // an event, when it has one, is the last one.
        let mut seen: Vec<(Identity<'_>, Vec<(usize, &TickKind)>)> = Vec::new();
        for (panel_index, panel) in group.iter().enumerate() {
            for tick in &panel.ticks {
                if let Some(identity) = tick.identity() {
                    let by_panel = entry(&mut seen, identity);
                    match by_panel.last_mut() {
                        Some(last) if last.0 == panel_index => last.1 = &tick.kind,
                        _ => by_panel.push((panel_index, &tick.kind)),
                    }
                }
            }
        }
        for (_, contents) in seen.iter().filter(|(_, by_panel)| by_panel.len() >= 2) {
            compared += 1;
            let mut contents = contents.iter().map(|(_, kind)| kind);
            let first = contents.next();
            if contents.any(|kind| Some(kind) != first) {
                differences += 1;
            }
        }
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

/// The values kept under `key` in `list`, added empty when there are none.
///
/// A `Vec` searched linearly rather than a hash map, whose code would be the
/// multi-client page's alone (1.9 KiB of its gzipped WASM): a page has at
/// most 4 panels of HISTORY_LIMIT (100) events, some 80,000 comparisons in
/// the worst case, well under a millisecond.
fn entry<K: PartialEq, V>(list: &mut Vec<(K, Vec<V>)>, key: K) -> &mut Vec<V> {
    let at = match list.iter().position(|(known, _)| *known == key) {
        Some(at) => at,
        None => {
            list.push((key, Vec::new()));
            list.len() - 1
        }
    };
    &mut list[at].1
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
