//! The SSE wire format, and nothing else: how messages, comments, `retry:`
//! hints and gap notices are encoded, the headers of every stream response,
//! and how a `Last-Event-ID` is read. The bottom layer: it imports nothing
//! from the rest of the server.
//!
//! - `encode.rs`: messages, comments and `retry:` fields, each encoded once
//!   into shared [`Bytes`](bytes::Bytes).
//! - `notices.rs`: what the hub tells clients besides events: the `gap`
//!   notice and the jittered reconnection hint.
//! - `last_event_id.rs`: the resume position a client sends, header or query.

mod encode;
mod last_event_id;
mod notices;

pub use encode::{encode_comment, encode_message, encode_retry, KEEP_ALIVE};
pub use last_event_id::{last_event_id_param, parse_event_id};
pub use notices::{gap_message, retry_frame, STREAM_HEADERS};
