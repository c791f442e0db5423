//! Whether panels watching the same stream saw the same events.

use std::collections::{BTreeMap, HashMap};

/// One received event as the check compares it: which tick of the stream it
/// is (its `id:` and timestamp) and the number it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The SSE `id:`, when it was a number.
    pub seq: Option<u64>,
    /// The event's timestamp.
    pub timestamp: String,
    /// The event's number.
    pub number: u32,
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
    /// Compared `compared` events; `differences` had different numbers.
    Compared {
        /// Events (same timestamp and `id:`) seen by at least two panels of
        /// the same stream.
        compared: usize,
        /// Of those, how many disagreed.
        differences: usize,
    },
}

/// Compares the panels that share a stream id: every event (the same
/// timestamp and `id:`) that two or more of them received must carry the
/// same number. The `id:` tells apart two events of one stream that share a
/// millisecond timestamp.
pub fn compare_panels(panels: &[PanelEvents]) -> Consistency {
    let mut by_stream: BTreeMap<&str, Vec<&PanelEvents>> = BTreeMap::new();
    for panel in panels {
        by_stream
            .entry(panel.stream_id.as_str())
            .or_default()
            .push(panel);
    }
    let shared: Vec<&Vec<&PanelEvents>> = by_stream.values().filter(|p| p.len() >= 2).collect();
    if shared.is_empty() {
        return Consistency::NothingToCompare;
    }
    let (mut compared, mut differences) = (0, 0);
    for group in shared {
        // For each event, the number each panel received (a panel's own
        // repeat of an event is not a second panel).
        let mut seen: HashMap<(&str, Option<u64>), BTreeMap<usize, u32>> = HashMap::new();
        for (panel_index, panel) in group.iter().enumerate() {
            for tick in &panel.ticks {
                seen.entry((tick.timestamp.as_str(), tick.seq))
                    .or_default()
                    .insert(panel_index, tick.number);
            }
        }
        for numbers in seen.values().filter(|by_panel| by_panel.len() >= 2) {
            compared += 1;
            let mut numbers = numbers.values();
            let first = numbers.next();
            if numbers.any(|n| Some(n) != first) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(id: &str, events: &[(&str, u32)]) -> PanelEvents {
        PanelEvents {
            stream_id: id.into(),
            ticks: events
                .iter()
                .map(|(timestamp, number)| Tick {
                    seq: None,
                    timestamp: (*timestamp).to_owned(),
                    number: *number,
                })
                .collect(),
        }
    }

    #[test]
    fn identical_events_on_a_shared_stream_have_no_difference() {
        let verdict = compare_panels(&[
            panel("a", &[("t1", 5), ("t2", 6)]),
            panel("a", &[("t2", 6), ("t3", 7)]),
        ]);
        assert_eq!(
            verdict,
            Consistency::Compared {
                compared: 1,
                differences: 0
            }
        );
    }

    #[test]
    fn different_numbers_for_one_timestamp_are_counted() {
        let verdict = compare_panels(&[
            panel("a", &[("t1", 5), ("t2", 6)]),
            panel("a", &[("t1", 5), ("t2", 9)]),
        ]);
        assert_eq!(
            verdict,
            Consistency::Compared {
                compared: 2,
                differences: 1
            }
        );
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
    fn one_panel_receiving_an_event_twice_is_not_a_comparison() {
        assert_eq!(
            compare_panels(&[panel("a", &[("t1", 1), ("t1", 1)]), panel("a", &[])]),
            Consistency::Waiting
        );
    }

    #[test]
    fn two_events_sharing_a_timestamp_are_told_apart_by_their_id() {
        let tick = |seq, number| Tick {
            seq: Some(seq),
            timestamp: "t1".into(),
            number,
        };
        let both = PanelEvents {
            stream_id: "a".into(),
            ticks: vec![tick(1, 10), tick(2, 20)],
        };
        assert_eq!(
            compare_panels(&[both.clone(), both]),
            Consistency::Compared {
                compared: 2,
                differences: 0
            }
        );
    }
}
