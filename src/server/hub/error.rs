//! Why the hub refused a client.

use crate::server::store::StoreError;

/// Why [`Hub::subscribe`](super::Hub::subscribe) refused a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// `max_streams` streams are active and this id is not one of them.
    #[error("the server already runs its maximum of {limit} streams; try again later")]
    TooManyStreams {
        /// The configured limit.
        limit: usize,
    },
    /// `max_connections` SSE connections are open.
    #[error("the server already holds its maximum of {limit} connections; try again later")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// This IP address has `max_connections_per_ip` connections open.
    #[error("your address already holds its maximum of {limit} connections")]
    TooManyConnectionsFromIp {
        /// The configured limit.
        limit: usize,
    },
    /// The event store could not say where the stream stands. The message
    /// names no detail of the store (its address, a path): the hub logs that.
    #[error("the event store is unavailable; try again later")]
    Store(#[from] StoreError),
}
