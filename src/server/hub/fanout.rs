//! Writing one framed event to every live sink of a stream.

use super::live_sink::LiveSink;
use crate::server::store::Seq;
use bytes::Bytes;
use std::sync::Arc;

/// Most sinks one task writes an event to; a stream with more spreads the
/// writes over several tasks, so that every runtime thread takes a share.
const SINKS_PER_WRITER: usize = 2048;

/// Writes one frame to every live sink: inline for a stream of ordinary
/// size, in parallel parts for a very large one. Each sink's own sequence
/// check keeps its events in order whichever part reaches it.
pub(crate) fn deliver(mut sinks: Vec<Arc<LiveSink>>, seq: Option<Seq>, frame: Bytes) {
    while sinks.len() > SINKS_PER_WRITER {
        let part = sinks.split_off(sinks.len() - SINKS_PER_WRITER);
        let frame = frame.clone();
        tokio::spawn(async move {
            for sink in part {
                sink.offer(seq, &frame);
            }
        });
    }
    for sink in sinks {
        sink.offer(seq, &frame);
    }
}
