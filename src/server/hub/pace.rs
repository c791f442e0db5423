//! Whether an event came when it was due, which decides who writes it.

/// Whether an event comes when it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// On time: the append writes it to caught-up subscribers itself.
    OnTime,
    /// Late (the server is busy): the subscribers' own tasks write it,
    /// batching what is due, which keeps an overloaded server's throughput.
    Late,
}
