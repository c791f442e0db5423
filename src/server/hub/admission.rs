//! The connection limits: how many SSE connections the hub holds in all and
//! per client address, and the slot each admitted connection holds until it
//! leaves.

use super::error::HubError;
use super::sync::lock;
use crate::server::stats::{bump, Stats};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The limits and the counts they are checked against.
pub(crate) struct Admission {
    /// Most SSE connections at once.
    max_connections: usize,
    /// Most SSE connections per address; 0 = unlimited.
    max_connections_per_ip: usize,
    /// Holds the count of open connections, and counts rejections.
    stats: Arc<Stats>,
    /// Open SSE connections per client address (only kept when limited).
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Admission {
    /// Limits of `max_connections` in all and `max_connections_per_ip` per
    /// address (0: no per-address limit), counted in `stats`.
    pub(crate) fn new(
        max_connections: usize,
        max_connections_per_ip: usize,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            max_connections,
            max_connections_per_ip,
            stats,
            per_ip: Mutex::new(HashMap::new()),
        }
    }
}

/// Holds one of the `max_connections` (and per-IP) places; gives it back on
/// drop.
pub(crate) struct ConnectionSlot {
    admission: Arc<Admission>,
    /// Set when per-IP accounting is on.
    ip: Option<IpAddr>,
}

impl ConnectionSlot {
    /// Takes a place for a client at `ip`, or says which limit is reached.
    pub(crate) fn acquire(admission: &Arc<Admission>, ip: IpAddr) -> Result<Self, HubError> {
        let stats = &admission.stats;
        let open = stats.connections.fetch_add(1, Ordering::AcqRel);
        if open >= admission.max_connections as u64 {
            stats.connections.fetch_sub(1, Ordering::AcqRel);
            let total = bump(&stats.too_many_connections);
            tracing::warn!(client = %ip, rejected_total = total, "rejected: too many connections");
            return Err(HubError::TooManyConnections {
                limit: admission.max_connections,
            });
        }
        let mut slot = Self {
            admission: Arc::clone(admission),
            ip: None,
        };
        let per_ip_limit = admission.max_connections_per_ip;
        if per_ip_limit > 0 {
            let mut per_ip = lock(&admission.per_ip);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= per_ip_limit {
                drop(per_ip);
                let total = bump(&stats.too_many_connections_from_ip);
                tracing::warn!(client = %ip, rejected_total = total, "rejected: too many connections from one address");
                return Err(HubError::TooManyConnectionsFromIp {
                    limit: per_ip_limit,
                });
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok(slot)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let admission = &self.admission;
        admission.stats.connections.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut per_ip = lock(&admission.per_ip);
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}
