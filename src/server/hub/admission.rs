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

/// The address a client is counted under by every per-address limit (here
/// and in the transport): its IPv4 address (also when it arrives
/// IPv4-mapped on an IPv6 listener), or its IPv6 /64 network, since one
/// IPv6 host usually holds a whole /64 and could otherwise pick a new
/// address per connection.
pub fn client_address(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(network))
            }
        },
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
        let ip = client_address(ip);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_network_and_a_mapped_ipv4_is_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("v6");
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("v6");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("mapped");
        assert_eq!(client_address(one), client_address(same_net));
        assert_ne!(client_address(one), client_address(other_net));
        assert_eq!(client_address(mapped), IpAddr::from([127, 0, 0, 2]));
    }
}
