//! Types shared by the server and the browser, and the pure logic around
//! them.
//!
//! The server writes the wire types with serde, so the format is defined
//! exactly once; the page reads them with the browser's JSON parser
//! (`json_value`, `wire_read`: a smaller bundle), held to the same answers
//! as serde by the tests. Nothing here touches the network, the DOM or a clock,
//! which keeps it unit-testable on the host.

mod consistency;
mod dashboard;
mod event_types;
mod history;
mod json_limits;
mod json_text;
mod json_value;
mod pattern;
mod publish;
mod publish_form;
mod received;
mod sparkline;
mod status;
mod token;
mod wire;
mod wire_read;

pub use consistency::{compare_panels, Consistency, PanelEvents, Tick, TickKind};
pub use dashboard::{
    format_age, format_count, format_rate, milli_rate, Dashboard, SortKey, SortOrder, StreamRow,
    Totals, TREND_SAMPLES,
};
pub use event_types::{needs_own_listener, EventTypeList};
pub use history::{format_clock, EventHistory, HistoryRow, RowKind, HISTORY_LIMIT};
pub use json_text::{check_json, pretty_json, FoldedJson, FOLD_CHARS, FOLD_LINES};
pub use json_value::{parse_json, read_json, JsonError, JsonValue, ReadJson};
pub use pattern::{PatternError, StreamPatterns};
pub use publish::{EventType, EventTypeError, Published, MAX_EVENT_TYPE_LEN};
pub use publish_form::{
    check_event_type, check_stream, DraftField, PublishAnswer, PublishDraft, PublishRequest,
};
pub use received::{read_message, PublishedEvent, GAP_TYPE, UNNAMED_TYPE};
pub use sparkline::{sparkline_points, Tenths};
pub use status::{describe_failed_tries, ConnectionStatus};
pub use token::{token_cookie, BearerToken, TOKEN_COOKIE, TOKEN_STORAGE_KEY};
pub use wire::{
    ErrorBody, GapNotice, HubStats, RejectionCounts, StatsFrame, StreamEvent, StreamId,
    StreamIdError, StreamSummary, MAX_STREAM_ID_LEN, STATS_FRAME_STREAMS,
};
