//! [`Numbering`]: where each stream's sequence ids stand in a store that
//! numbers in memory, and the floor that keeps ids unambiguous across a
//! stream's lives (see the store contract's *Ids across lives*).

use super::Seq;
use crate::model::StreamId;
use std::collections::HashMap;

/// Each known stream's newest id, and the floor every new life starts
/// above: the highest id any forgotten stream had issued.
#[derive(Debug, Default)]
pub(crate) struct Numbering {
    newest: HashMap<StreamId, Seq>,
    floor: Seq,
}

impl Numbering {
    /// Where `stream`'s numbering stands: its newest id, or for a stream
    /// with no life now, the floor its next life starts above (`None` while
    /// that is 0: nothing was ever forgotten).
    pub(crate) fn newest(&self, stream: &StreamId) -> Option<Seq> {
        match self.newest.get(stream) {
            Some(&newest) => Some(newest),
            None => (self.floor > 0).then_some(self.floor),
        }
    }

    /// The next id of `stream`, taken: its newest plus one, or for a new
    /// life the floor plus one.
    pub(crate) fn take_next(&mut self, stream: &StreamId) -> Seq {
        let newest = match self.newest.get_mut(stream) {
            Some(newest) => newest,
            None => self.newest.entry(stream.clone()).or_insert(self.floor),
        };
        *newest += 1;
        *newest
    }

    /// Ends `stream`'s life: the floor rises to its newest id.
    pub(crate) fn forget(&mut self, stream: &StreamId) {
        if let Some(newest) = self.newest.remove(stream) {
            self.floor = self.floor.max(newest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_life_starts_above_every_forgotten_id() {
        let (a, b) = (
            StreamId::parse("a").expect("id"),
            StreamId::parse("b").expect("id"),
        );
        let mut numbering = Numbering::default();
        assert_eq!(numbering.newest(&a), None);
        assert_eq!(numbering.take_next(&a), 1);
        assert_eq!(numbering.take_next(&a), 2);
        assert_eq!(numbering.take_next(&b), 1);
        numbering.forget(&a);
        assert_eq!(numbering.newest(&a), Some(2), "stands at the floor");
        assert_eq!(numbering.take_next(&a), 3, "the new life goes on above");
        assert_eq!(numbering.take_next(&b), 2, "a living stream is unchanged");
        numbering.forget(&b);
        numbering.forget(&a);
        assert_eq!(numbering.newest(&b), Some(3));
        assert_eq!(numbering.take_next(&b), 4);
    }
}
