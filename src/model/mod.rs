//! Types shared by the server and the browser, and the pure logic around
//! them.
//!
//! Both sides serialise and parse the wire types with serde, so the format is
//! defined exactly once. Nothing here touches the network, the DOM or a clock,
//! which keeps it unit-testable on the host.

mod consistency;
mod history;
mod pattern;
mod publish;
mod sparkline;
mod status;
mod wire;

pub use consistency::{compare_panels, Consistency, PanelEvents, Tick};
pub use history::{format_clock, EventHistory, HistoryRow, RowKind, HISTORY_LIMIT};
pub use pattern::{PatternError, StreamPatterns};
pub use publish::{EventType, EventTypeError, Published, MAX_EVENT_TYPE_LEN};
pub use sparkline::sparkline_points;
pub use status::ConnectionStatus;
pub use wire::{
    ErrorBody, GapNotice, HubStats, RejectionCounts, StreamEvent, StreamId, StreamIdError,
    StreamSummary, MAX_STREAM_ID_LEN,
};
