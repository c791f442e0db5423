//! The dashboard feed's newest frame, shared by all its readers (see
//! `stats_stream.rs`).

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How old the shared frame may be and still be sent: half the interval,
/// so that each reader's frames stay about a second apart.
const FRAME_FRESH: Duration = Duration::from_millis(500);

/// The newest encoded frame and when it was taken, shared by every reader
/// of the feed (see `stats_stream.rs`).
#[derive(Debug, Clone, Default)]
pub struct StatsFrames {
    newest: Arc<Mutex<Option<(Instant, Bytes)>>>,
}

impl StatsFrames {
    /// The shared frame if it is fresh, else a new one from `take`. The lock
    /// is held while a frame is taken, so that readers arriving together
    /// wait for one walk of the hub instead of each making their own.
    pub(crate) fn current(&self, take: impl FnOnce() -> Bytes) -> Bytes {
        let mut newest = self
            .newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((taken, frame)) = newest.as_ref() {
            if taken.elapsed() < FRAME_FRESH {
                return frame.clone();
            }
        }
        let frame = take();
        *newest = Some((Instant::now(), frame.clone()));
        frame
    }
}
