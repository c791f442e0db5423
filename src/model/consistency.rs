//! Whether panels watching the same stream saw the same events.

use std::collections::{BTreeMap, HashMap};

/// What one panel contributes: the stream it is connected to and the events it
/// holds, as `(timestamp, number)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelEvents {
    /// The connected stream id.
    pub stream_id: String,
    /// Events as `(timestamp, number)`.
    pub events: Vec<(String, u32)>,
}

/// The verdict the consistency indicator shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consistency {
    /// No two connected panels share a stream id.
    NothingToCompare,
    /// Panels share an id but have no event in common yet.
    Waiting,
    /// Compared `compared` timestamps; `differences` had different numbers.
    Compared {
        /// Timestamps seen by at least two panels of the same stream.
        compared: usize,
        /// Of those, how many disagreed.
        differences: usize,
    },
}

/// Compares the panels that share a stream id: for every timestamp seen by
/// two or more of them, the numbers must be equal.
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
        let mut seen: HashMap<&str, Vec<u32>> = HashMap::new();
        for panel in group {
            for (timestamp, number) in &panel.events {
                seen.entry(timestamp.as_str()).or_default().push(*number);
            }
        }
        for numbers in seen.values().filter(|n| n.len() >= 2) {
            compared += 1;
            if numbers.iter().any(|n| *n != numbers[0]) {
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
            events: events.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
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
}
