//! Counts every client socket the server holds open (streams, pages, idle
//! keep-alive connections, connections that have not sent a request yet), so
//! that the gateway refuses a new one with a clear `503` before the process
//! runs out of file descriptors, instead of stalling its accept loop for
//! everyone.

use crate::server::stats::Stats;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One open client socket, counted until dropped. It travels with the socket:
/// from the gateway to axum, and back to the direct stream path when a stream
/// handler takes the connection over.
#[derive(Debug)]
pub struct OpenSocket {
    stats: Arc<Stats>,
}

impl OpenSocket {
    /// Counts a new socket, unless `limit` sockets are open already.
    pub(crate) fn try_count(stats: &Arc<Stats>, limit: usize) -> Option<Self> {
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        stats
            .open_sockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < limit).then_some(open + 1)
            })
            .ok()
            .map(|_| Self {
                stats: Arc::clone(stats),
            })
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.stats.open_sockets.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit_and_frees_on_drop() {
        let stats = Arc::new(Stats::default());
        let first = OpenSocket::try_count(&stats, 2).expect("room");
        let second = OpenSocket::try_count(&stats, 2).expect("room");
        assert!(OpenSocket::try_count(&stats, 2).is_none(), "full");
        drop(first);
        let third = OpenSocket::try_count(&stats, 2).expect("freed");
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 2);
        drop((second, third));
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 0);
    }
}
