//! Counts every client socket the server holds open (streams, pages, idle
//! keep-alive connections, connections that have not sent a request yet),
//! in all and per client address, so that the gateway refuses a new one
//! with a clear answer before the process runs out of file descriptors, and
//! before one address holds so many that nobody else gets in.
//!
//! Contract: a socket is counted from the moment the gateway accepts it
//! (before a byte is read) until the [`OpenSocket`] that travels with it is
//! dropped, whichever path serves it. The per-address share is checked
//! first, so one address at its share never takes the last free sockets of
//! the total. A connection hyper serves counts twice in the total (not in
//! its address's share) while hyper has it: a response may hold one more
//! descriptor, a static file, and with both counted the process cannot run
//! out of descriptors however the budget is used.

use super::request_head::HeadLimit;
use crate::server::hub::client_address;
use crate::server::stats::Stats;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why a new socket was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `limit` client sockets already.
    TooManySockets {
        /// The total budget.
        limit: usize,
    },
    /// The client's address holds `limit` sockets already.
    TooManySocketsFromAddress {
        /// The per-address share.
        limit: usize,
    },
    /// The client's address opened more than `per_second` connections in
    /// the last second.
    ConnectionRate {
        /// New connections allowed per second from one address.
        per_second: u32,
    },
    /// The request head passed `limit`: too many bytes or header lines.
    HeadTooLarge {
        /// The bound it passed.
        limit: HeadLimit,
    },
}

/// The socket budget: the total and each address's share.
#[derive(Debug)]
pub struct SocketBudget {
    stats: Arc<Stats>,
    /// Most client sockets open at once.
    max_sockets: usize,
    /// Most open at once from one address; `0` for no share.
    max_per_address: usize,
    /// Open sockets per address, for addresses with at least one. A std
    /// mutex, never held across an `.await`: each use is one map operation.
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl SocketBudget {
    /// A budget of `max_sockets` in all and `max_per_address` per address
    /// (`0`: no per-address share), counted in `stats.open_sockets`.
    pub fn new(stats: Arc<Stats>, max_sockets: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            stats,
            max_sockets,
            max_per_address,
            per_address: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new socket from `addr` (under its [`client_address`]),
    /// unless its address or the server is at its limit.
    pub fn try_open(self: &Arc<Self>, addr: IpAddr) -> Result<OpenSocket, Refusal> {
        let addr = client_address(addr);
        if self.max_per_address > 0 {
            let mut per_address = self.per_address();
            let open = per_address.entry(addr).or_default();
            if *open >= self.max_per_address {
                // A full server is the answer that holds for everyone.
                let total = self.stats.open_sockets.load(Ordering::Acquire);
                return Err(if total >= self.max_sockets as u64 {
                    Refusal::TooManySockets {
                        limit: self.max_sockets,
                    }
                } else {
                    Refusal::TooManySocketsFromAddress {
                        limit: self.max_per_address,
                    }
                });
            }
            *open += 1;
        }
        let limit = u64::try_from(self.max_sockets).unwrap_or(u64::MAX);
        let counted =
            self.stats
                .open_sockets
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                    (open < limit).then_some(open + 1)
                });
        if counted.is_err() {
            self.release_address(addr);
            return Err(Refusal::TooManySockets {
                limit: self.max_sockets,
            });
        }
        Ok(OpenSocket {
            budget: Arc::clone(self),
            addr,
            file_slot: false,
        })
    }

    /// Counts one more unit of the total, unless it is full.
    fn try_count_one(&self) -> bool {
        let limit = u64::try_from(self.max_sockets).unwrap_or(u64::MAX);
        self.stats
            .open_sockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < limit).then_some(open + 1)
            })
            .is_ok()
    }

    /// Sockets open from `addr` (its [`client_address`]) now.
    pub fn open_from(&self, addr: IpAddr) -> usize {
        let addr = client_address(addr);
        self.per_address().get(&addr).copied().unwrap_or(0)
    }

    /// Gives one socket of `addr`'s share back.
    fn release_address(&self, addr: IpAddr) {
        if self.max_per_address == 0 {
            return;
        }
        let mut per_address = self.per_address();
        if let Some(open) = per_address.get_mut(&addr) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                per_address.remove(&addr);
            }
        }
    }

    /// The per-address counts; a poisoned lock still holds whole counts
    /// (every critical section is one map operation).
    fn per_address(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open client socket, counted until dropped. It travels with the socket:
/// from the gateway to axum, and back to the direct stream path when a stream
/// handler takes the connection over.
#[derive(Debug)]
pub struct OpenSocket {
    budget: Arc<SocketBudget>,
    addr: IpAddr,
    /// Whether a second unit is counted for a file a response may open.
    file_slot: bool,
}

impl OpenSocket {
    /// Counts the descriptor a response on this connection may open (a
    /// static file), before hyper serves it; `Err` when the total is full.
    pub(crate) fn count_file_slot(&mut self) -> Result<(), Refusal> {
        if self.file_slot {
            return Ok(());
        }
        if !self.budget.try_count_one() {
            return Err(Refusal::TooManySockets {
                limit: self.budget.max_sockets,
            });
        }
        self.file_slot = true;
        Ok(())
    }

    /// Gives the file slot back: the connection has left hyper (a stream
    /// taken over opens no file).
    pub(crate) fn release_file_slot(&mut self) {
        if std::mem::take(&mut self.file_slot) {
            self.budget
                .stats
                .open_sockets
                .fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.release_file_slot();
        self.budget
            .stats
            .open_sockets
            .fetch_sub(1, Ordering::AcqRel);
        self.budget.release_address(self.addr);
    }
}

/// A budget for tests of the transport: room for `limit` sockets.
#[cfg(test)]
pub(crate) fn test_socket(limit: usize) -> OpenSocket {
    SocketBudget::new(Arc::new(Stats::default()), limit, 0)
        .try_open(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        .unwrap_or_else(|refusal| panic!("no room: {refusal:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn counts_up_to_the_limit_and_frees_on_drop() {
        let stats = Arc::new(Stats::default());
        let budget = SocketBudget::new(Arc::clone(&stats), 2, 0);
        let first = budget.try_open(A).expect("room");
        let second = budget.try_open(B).expect("room");
        assert_eq!(
            budget.try_open(A).err(),
            Some(Refusal::TooManySockets { limit: 2 })
        );
        drop(first);
        let third = budget.try_open(A).expect("freed");
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 2);
        drop((second, third));
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 0);
    }

    #[test]
    fn one_address_gets_its_share_and_the_others_the_rest() {
        let stats = Arc::new(Stats::default());
        let budget = SocketBudget::new(Arc::clone(&stats), 4, 2);
        let a = [
            budget.try_open(A).expect("1"),
            budget.try_open(A).expect("2"),
        ];
        assert_eq!(
            budget.try_open(A).err(),
            Some(Refusal::TooManySocketsFromAddress { limit: 2 })
        );
        let b = [
            budget.try_open(B).expect("1"),
            budget.try_open(B).expect("2"),
        ];
        assert_eq!(budget.open_from(A), 2);
        drop(a);
        assert_eq!(budget.open_from(A), 0, "an address with none is forgotten");
        assert!(budget.per_address().get(&A).is_none());
        drop(b);
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_file_slot_counts_in_the_total_until_released() {
        let stats = Arc::new(Stats::default());
        let budget = SocketBudget::new(Arc::clone(&stats), 3, 3);
        let mut served = budget.try_open(A).expect("room");
        served.count_file_slot().expect("room for its file");
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 2);
        let mut other = budget.try_open(B).expect("the last unit");
        assert_eq!(
            other.count_file_slot(),
            Err(Refusal::TooManySockets { limit: 3 })
        );
        served.release_file_slot();
        other.count_file_slot().expect("freed");
        drop((served, other));
        assert_eq!(stats.open_sockets.load(Ordering::Acquire), 0);
    }

    #[test]
    fn an_ipv6_host_counts_by_its_network_and_a_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("v6");
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("v6");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("mapped");
        let budget = SocketBudget::new(Arc::new(Stats::default()), 10, 1);
        let held = budget.try_open(one).expect("room");
        assert_eq!(
            budget.try_open(same_net).err(),
            Some(Refusal::TooManySocketsFromAddress { limit: 1 })
        );
        let other_held = budget.try_open(other_net).expect("another network");
        let mapped_held = budget.try_open(mapped).expect("room");
        assert!(budget.try_open(B).is_err(), "the same client either way");
        drop((held, other_held, mapped_held));
    }

    #[test]
    fn a_full_server_says_so_even_to_an_address_at_its_share() {
        let budget = SocketBudget::new(Arc::new(Stats::default()), 2, 2);
        let held = [
            budget.try_open(A).expect("1"),
            budget.try_open(A).expect("2"),
        ];
        assert_eq!(
            budget.try_open(A).err(),
            Some(Refusal::TooManySockets { limit: 2 })
        );
        drop(held);
    }

    #[test]
    fn a_refusal_for_the_total_gives_the_address_share_back() {
        let stats = Arc::new(Stats::default());
        let budget = SocketBudget::new(Arc::clone(&stats), 1, 5);
        let held = budget.try_open(A).expect("room");
        assert_eq!(
            budget.try_open(B).err(),
            Some(Refusal::TooManySockets { limit: 1 })
        );
        assert_eq!(budget.open_from(B), 0);
        drop(held);
    }
}
