//! `GET /api/stats/stream`: the dashboard's feed. One `event: stats`
//! message at once and then one a second, each carrying a [`StatsFrame`]
//! (the hub's counters and its busiest public streams), until the client
//! goes away or the server shuts down.
//!
//! It is a plain response body, not a hub subscription: a reader of it is
//! nobody's subscriber and holds no SSE connection slot (its socket counts
//! against the socket limits like any other), and each frame is taken only
//! when it is about to be sent (nothing is buffered for a slow reader
//! beyond one frame). Every reader shares the newest frame ([`StatsFrames`](super::StatsFrames)):
//! however many dashboards are open, the hub's streams are walked and
//! sorted at most about twice a second.

use super::state::AppState;
use crate::model::{StatsFrame, StreamId, StreamSummary, STATS_FRAME_STREAMS};
use crate::server::sse::{encode_message, retry_frame, STREAM_HEADERS};
use crate::server::stats::Stats;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// Time between two frames.
const FRAME_INTERVAL: Duration = Duration::from_secs(1);

/// The event type of every frame.
const STATS_EVENT: &str = "stats";

/// Counts one open feed in the hub's stats for as long as it lives: it is
/// part of the response body, which is dropped when the reader goes away.
struct OpenFeed(Arc<Stats>);

impl OpenFeed {
    fn new(stats: &Arc<Stats>) -> Self {
        stats.dashboard_feeds.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(stats))
    }
}

impl Drop for OpenFeed {
    fn drop(&mut self) {
        self.0.dashboard_feeds.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The endpoint: a `text/event-stream` of frames, the first sent at once.
pub(crate) async fn stats_stream(State(state): State<AppState>) -> Response {
    let retry = retry_frame(state.http.retry);
    let shutdown = state.hub.shutdown_token().clone();
    let feed = OpenFeed::new(state.hub.stats());
    let mut ticks = tokio::time::interval(FRAME_INTERVAL);
    // A reader that fell behind gets the next frame a second after the
    // late one, not a burst of stale ones.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let frames = stream::unfold(
        (state, ticks, feed),
        |(state, mut ticks, feed)| async move {
            // The first tick completes at once.
            ticks.tick().await;
            let message = state.stats_frames.current(|| stats_message(&state));
            Some((message, (state, ticks, feed)))
        },
    );
    let body = stream::once(async move { retry })
        .chain(frames)
        .take_until(async move { shutdown.cancelled().await })
        .map(Ok::<_, Infallible>);
    let headers = STREAM_HEADERS.map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    });
    (headers, Body::from_stream(body)).into_response()
}

/// The next frame, encoded as an SSE message.
fn stats_message(state: &AppState) -> Bytes {
    let frame = stats_frame(state);
    // Plain numbers and validated ids: serialising cannot fail.
    let data = serde_json::to_string(&frame).unwrap_or_default();
    encode_message(None, Some(STATS_EVENT), &data)
}

/// The hub as it is now, private streams left out (as `/api/streams` does).
fn stats_frame(state: &AppState) -> StatsFrame {
    let hub = &state.hub;
    let auth = &state.http.auth;
    let mut streams = hub.active_streams();
    streams.retain(|summary| StreamId::parse(&summary.id).is_ok_and(|id| !auth.is_private(&id)));
    StatsFrame {
        started_at_ms: hub.stats().started_at_ms(),
        elapsed_ms: u64::try_from(hub.stats().uptime().as_millis()).unwrap_or(u64::MAX),
        hub: hub.stats().snapshot(hub.active_stream_count()),
        streams: busiest(streams),
    }
}

/// The [`STATS_FRAME_STREAMS`] busiest of `streams`: most subscribers, then
/// most events, then by id.
fn busiest(mut streams: Vec<StreamSummary>) -> Vec<StreamSummary> {
    streams.sort_by(|a, b| {
        b.subscribers
            .cmp(&a.subscribers)
            .then(b.events_sent.cmp(&a.events_sent))
            .then_with(|| a.id.cmp(&b.id))
    });
    streams.truncate(STATS_FRAME_STREAMS);
    streams
}

#[cfg(test)]
mod tests {
    use super::busiest;
    use crate::model::{StreamSummary, STATS_FRAME_STREAMS};

    fn summary(id: String, subscribers: usize, events_sent: u64) -> StreamSummary {
        StreamSummary {
            id,
            subscribers,
            events_sent,
            started_at: String::new(),
            last_event_ms_ago: None,
        }
    }

    #[test]
    fn keeps_the_busiest_streams_first_and_caps_them() {
        let mut streams: Vec<StreamSummary> = (0..150)
            .map(|i| summary(format!("s{i:03}"), i % 7, i as u64))
            .collect();
        streams.push(summary("top".into(), 50, 0));
        let kept = busiest(streams);
        assert_eq!(kept.len(), STATS_FRAME_STREAMS);
        assert_eq!(kept[0].id, "top");
        // Among equal subscriber counts, the one with more events first.
        assert_eq!(kept[1].id, "s146");
        assert!(kept
            .windows(2)
            .all(|pair| pair[0].subscribers >= pair[1].subscribers));
    }
}
