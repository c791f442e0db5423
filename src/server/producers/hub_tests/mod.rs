//! Hub behaviour under paused tokio time, driven by the random producer:
//! deterministic, instant, and exact about when generators start, stop and
//! forget, and about their pace. This file holds the helpers; the tests are
//! grouped by what they show.

mod lifecycle;
mod limits;
mod pace;
mod publish;
mod replay;

use super::{RandomNumbers, RandomSettings, WallClock};
use crate::model::{StreamEvent, StreamId};
use crate::server::hub::{Hub, HubError, HubParts, HubSettings};
use crate::server::stats::Stats;
use crate::server::store::{EventStore, MemoryStore};
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The hub's and the producer's settings in one, as the tests vary them.
#[derive(Clone)]
pub(super) struct Settings {
    pub(super) interval: Duration,
    pub(super) min: u32,
    pub(super) max: u32,
    pub(super) history: usize,
    pub(super) retention: Duration,
    pub(super) keep_alive: Duration,
    pub(super) max_streams: usize,
    pub(super) max_connections: usize,
    pub(super) max_connections_per_ip: usize,
}

pub(super) const INTERVAL: Duration = Duration::from_millis(100);
pub(super) const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub(super) fn settings() -> Settings {
    Settings {
        interval: INTERVAL,
        min: 1,
        max: 1000,
        history: 100,
        retention: Duration::from_secs(60),
        keep_alive: Duration::from_secs(3600),
        max_streams: 100,
        max_connections: 1000,
        max_connections_per_ip: 0,
    }
}

pub(super) fn hub_with(settings: Settings) -> Hub {
    hub_with_token(settings, CancellationToken::new())
}

/// A wall clock that follows tokio's (paused) clock.
pub(super) fn paused_wall_clock() -> WallClock {
    let base = tokio::time::Instant::now();
    let epoch = SystemTime::now();
    Arc::new(move || epoch + base.elapsed())
}

pub(super) fn hub_with_token(settings: Settings, shutdown: CancellationToken) -> Hub {
    hub_on(settings, Arc::new(MemoryStore::new()), shutdown)
}

/// A hub whose events live in `store`.
pub(super) fn hub_on(
    settings: Settings,
    store: Arc<dyn EventStore>,
    shutdown: CancellationToken,
) -> Hub {
    let producer = RandomNumbers::with_clock(
        RandomSettings {
            interval: settings.interval,
            min: settings.min,
            max: settings.max,
        },
        paused_wall_clock(),
    );
    let parts = HubParts {
        store,
        producer: Arc::new(producer),
        sink_framing: |message: &[u8]| Bytes::copy_from_slice(message),
        stats: Arc::new(Stats::default()),
    };
    let hub_settings = HubSettings {
        history: settings.history,
        retention: settings.retention,
        keep_alive: settings.keep_alive,
        max_streams: settings.max_streams,
        max_connections: settings.max_connections,
        max_connections_per_ip: settings.max_connections_per_ip,
        lease: Duration::from_secs(3),
    };
    Hub::new(hub_settings, parts, shutdown)
}

pub(super) fn id(raw: &str) -> StreamId {
    StreamId::parse(raw).expect("valid id")
}

pub(super) fn text(bytes: &Bytes) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// The `id:` of an encoded event message.
pub(super) fn seq_of(bytes: &Bytes) -> u64 {
    text(bytes)
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .and_then(|seq| seq.parse().ok())
        .unwrap_or_else(|| panic!("no id in {:?}", text(bytes)))
}

/// Lets spawned tasks run without moving the clock.
pub(super) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
