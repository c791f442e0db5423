//! Since when a connection has been down while the browser retries it, and
//! how many tries have failed since: what the outage line under a
//! `reconnecting` badge shows, for a stream client and the dashboard's feed
//! alike.

use leptos::prelude::*;

/// The outage of one connection, as two signals (of types the page has
/// anyway, so they add no code of their own to the bundle). `Copy`.
#[derive(Clone, Copy)]
pub struct Outage {
    /// The browser's local time of the first error report (`HH:MM:SS.mmm`),
    /// `None` while the connection is up (or closed on purpose).
    pub since: RwSignal<Option<String>>,
    /// Error reports after the first: reconnection attempts that failed.
    pub failed_tries: RwSignal<u64>,
}

impl Outage {
    /// No outage.
    pub fn new() -> Self {
        Self {
            since: RwSignal::new(None),
            failed_tries: RwSignal::new(0),
        }
    }

    /// The connection is up, or closed on purpose: no outage.
    pub fn clear(self) {
        let _ = self.since.try_set(None);
        let _ = self.failed_tries.try_set(0);
    }

    /// Notes an error report of a connection that is retrying by itself:
    /// the first starts the outage at `now()`, each later one is a
    /// reconnection attempt that failed. (Called by the browser's
    /// connections only.)
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn note_error(self, now: impl FnOnce() -> String) {
        if self.since.with_untracked(Option::is_some) {
            let _ = self.failed_tries.try_update(|tries| *tries += 1);
        } else {
            let _ = self.failed_tries.try_set(0);
            let _ = self.since.try_set(Some(now()));
        }
    }
}

impl Default for Outage {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_starts_it_and_each_later_one_is_a_failed_try() {
        Owner::new().with(|| {
            let outage = Outage::new();
            outage.note_error(|| "12:03:04.567".into());
            assert_eq!(
                outage.since.get_untracked().as_deref(),
                Some("12:03:04.567")
            );
            assert_eq!(outage.failed_tries.get_untracked(), 0);
            outage.note_error(|| "later".into());
            outage.note_error(|| "later".into());
            assert_eq!(
                outage.since.get_untracked().as_deref(),
                Some("12:03:04.567")
            );
            assert_eq!(outage.failed_tries.get_untracked(), 2);
            outage.clear();
            assert_eq!(outage.since.get_untracked(), None);
            outage.note_error(|| "13:00:00.000".into());
            assert_eq!(outage.failed_tries.get_untracked(), 0);
        });
    }
}
