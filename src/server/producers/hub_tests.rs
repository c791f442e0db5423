//! Hub behaviour under paused tokio time, driven by the random producer:
//! deterministic, instant, and exact about when generators start, stop and
//! forget, and about their pace.

use super::{RandomNumbers, RandomSettings, WallClock};
use crate::model::{StreamEvent, StreamId};
use crate::server::hub::{Hub, HubError, HubParts, HubSettings};
use crate::server::stats::Stats;
use crate::server::store::MemoryStore;
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The hub's and the producer's settings in one, as the tests vary them.
#[derive(Clone)]
struct Settings {
    interval: Duration,
    min: u32,
    max: u32,
    history: usize,
    retention: Duration,
    keep_alive: Duration,
    max_streams: usize,
    max_connections: usize,
    max_connections_per_ip: usize,
}

const INTERVAL: Duration = Duration::from_millis(100);
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn settings() -> Settings {
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

fn hub_with(settings: Settings) -> Hub {
    hub_with_token(settings, CancellationToken::new())
}

/// A wall clock that follows tokio's (paused) clock.
fn paused_wall_clock() -> WallClock {
    let base = tokio::time::Instant::now();
    let epoch = SystemTime::now();
    Arc::new(move || epoch + base.elapsed())
}

fn hub_with_token(settings: Settings, shutdown: CancellationToken) -> Hub {
    let producer = RandomNumbers::with_clock(
        RandomSettings {
            interval: settings.interval,
            min: settings.min,
            max: settings.max,
        },
        paused_wall_clock(),
    );
    let parts = HubParts {
        store: Arc::new(MemoryStore::new(settings.history)),
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
    };
    Hub::new(hub_settings, parts, shutdown)
}

fn id(raw: &str) -> StreamId {
    StreamId::parse(raw).expect("valid id")
}

fn text(bytes: &Bytes) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// The `id:` of an encoded event message.
fn seq_of(bytes: &Bytes) -> u64 {
    text(bytes)
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .and_then(|seq| seq.parse().ok())
        .unwrap_or_else(|| panic!("no id in {:?}", text(bytes)))
}

/// Lets spawned tasks run without moving the clock.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn subscribers_of_one_stream_share_each_encoded_event() {
    let hub = hub_with(settings());
    let mut a = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    let mut b = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for expected in 1..=3 {
        let from_a = a.next_message().await.expect("event");
        let from_b = b.next_message().await.expect("event");
        assert_eq!(from_a, from_b);
        assert_eq!(seq_of(&from_a), expected);
        // Encoded once: both subscribers hold the same allocation.
        assert_eq!(from_a.as_ptr(), from_b.as_ptr());
    }
    assert_eq!(hub.active_streams()[0].subscribers, 2);
}

#[tokio::test(start_paused = true)]
async fn generator_stops_when_the_last_client_leaves_and_restarts_numbering_on() {
    let hub = hub_with(settings());
    let mut first = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    assert_eq!(seq_of(&first.next_message().await.expect("event")), 1);
    drop(first);
    settle().await;
    assert!(hub.active_streams().is_empty(), "not listed once idle");
    let generated = hub.stats().snapshot(0).events_sent;
    tokio::time::advance(INTERVAL * 10).await;
    settle().await;
    assert_eq!(
        hub.stats().snapshot(0).events_sent,
        generated,
        "generator stopped"
    );
    assert_eq!(hub.known_stream_count(), 1, "buffer retained");

    let mut again = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    assert_eq!(seq_of(&again.next_message().await.expect("event")), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_streams_are_forgotten_after_the_retention_time() {
    let hub = hub_with(Settings {
        retention: Duration::from_secs(5),
        ..settings()
    });
    drop(hub.subscribe(&id("s"), None, LOCAL).await.expect("joined"));
    settle().await;
    tokio::time::advance(Duration::from_secs(4)).await;
    settle().await;
    assert_eq!(hub.known_stream_count(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(hub.known_stream_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn resuming_replays_the_missed_events_then_continues_live_without_duplicates() {
    let hub = hub_with(settings());
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for _ in 0..5 {
        keeper.next_message().await.expect("event");
    }
    let mut resumed = hub
        .subscribe(&id("s"), Some("2"), LOCAL)
        .await
        .expect("joined");
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(seq_of(&resumed.next_message().await.expect("event")));
    }
    assert_eq!(seqs, vec![3, 4, 5, 6, 7, 8]);
}

#[tokio::test(start_paused = true)]
async fn a_last_event_id_older_than_the_buffer_gets_a_gap_notice_first() {
    let hub = hub_with(Settings {
        history: 3,
        ..settings()
    });
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for _ in 0..6 {
        keeper.next_message().await.expect("event");
    }
    let mut resumed = hub
        .subscribe(&id("s"), Some("1"), LOCAL)
        .await
        .expect("joined");
    let gap = text(&resumed.next_message().await.expect("gap"));
    assert_eq!(gap, "event: gap\ndata: {\"first\":2,\"last\":3}\n\n");
    let replayed: Vec<u64> = [
        resumed.next_message().await,
        resumed.next_message().await,
        resumed.next_message().await,
    ]
    .iter()
    .map(|m| seq_of(m.as_ref().expect("event")))
    .collect();
    assert_eq!(replayed, vec![4, 5, 6]);
}

#[tokio::test(start_paused = true)]
async fn unusable_last_event_ids_are_treated_as_fresh_connections() {
    let hub = hub_with(settings());
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for _ in 0..3 {
        keeper.next_message().await.expect("event");
    }
    for bad in [
        "abc",
        "0",
        "-1",
        "+2",
        "2.0",
        "0x2",
        "99",
        "",
        "18446744073709551616",
    ] {
        let mut fresh = hub
            .subscribe(&id("s"), Some(bad), LOCAL)
            .await
            .expect("joined");
        let next = seq_of(&fresh.next_message().await.expect("event"));
        let newest = seq_of(&keeper.next_message().await.expect("event"));
        assert_eq!(next, newest, "{bad:?} starts live");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lagging_subscriber_catches_up_from_the_replay_buffer() {
    let hub = hub_with(settings());
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    let mut slow = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    // 50 events: more than the broadcast ring holds, fewer than the history.
    for _ in 0..50 {
        fast.next_message().await.expect("event");
    }
    let mut seqs = Vec::new();
    for _ in 0..50 {
        seqs.push(seq_of(&slow.next_message().await.expect("event")));
    }
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "no gap, no duplicate");
}

#[tokio::test(start_paused = true)]
async fn what_is_already_due_can_be_taken_without_waiting_in_order() {
    let hub = hub_with(settings());
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    let mut batched = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    assert!(batched.try_next_message().is_none(), "nothing due yet");
    // 50 events: the batched subscriber lags past the ring and must catch up.
    for _ in 0..50 {
        fast.next_message().await.expect("event");
    }
    let first = seq_of(&batched.next_message().await.expect("event"));
    let mut seqs = vec![first];
    while let Some(message) = batched.try_next_message() {
        seqs.push(seq_of(&message));
    }
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "no gap, no duplicate");
    fast.next_message().await.expect("event");
    assert_eq!(
        seq_of(&batched.try_next_message().expect("the next live event")),
        51
    );
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_falls_behind_the_history_gets_a_gap_then_live() {
    let hub = hub_with(Settings {
        history: 10,
        ..settings()
    });
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    let mut slow = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for _ in 0..30 {
        fast.next_message().await.expect("event");
    }
    let gap = text(&slow.next_message().await.expect("gap"));
    assert_eq!(gap, "event: gap\ndata: {\"first\":1,\"last\":20}\n\n");
    let next = seq_of(&slow.next_message().await.expect("event"));
    assert_eq!(next, 21);
}

#[tokio::test(start_paused = true)]
async fn keep_alives_fill_long_silences() {
    const KEEP_ALIVE: Duration = Duration::from_secs(15);
    let hub = hub_with(Settings {
        interval: Duration::from_secs(60),
        keep_alive: KEEP_ALIVE,
        ..settings()
    });
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    let mut last_frame = tokio::time::Instant::now();
    let mut keep_alives = 0;
    while keep_alives < 5 {
        let message = text(&sub.next_message().await.expect("message"));
        let silence = last_frame.elapsed();
        if message == ": keep-alive\n\n" {
            assert_eq!(
                silence, KEEP_ALIVE,
                "exactly one keep-alive time after the last frame"
            );
            keep_alives += 1;
        } else {
            assert!(message.starts_with("id: "), "{message:?}");
            assert!(
                silence <= KEEP_ALIVE,
                "no silence longer than the keep-alive time"
            );
        }
        last_frame = tokio::time::Instant::now();
    }
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_behind_gets_no_keep_alive_with_events_due_after_it() {
    let hub = hub_with(Settings {
        interval: Duration::from_secs(60),
        keep_alive: Duration::from_secs(15),
        ..settings()
    });
    let mut behind = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    // Unread, the channel fills with events and the keep-alives between them.
    tokio::time::sleep(Duration::from_secs(300)).await;
    let mut due = vec![text(&behind.next_message().await.expect("message"))];
    while let Some(message) = behind.try_next_message() {
        due.push(text(&message));
    }
    let events = due.iter().filter(|m| m.starts_with("id: ")).count();
    assert!(events >= 4, "{due:?}");
    // Only a keep-alive with nothing after it is worth sending.
    assert!(
        due[..due.len() - 1].iter().all(|m| m.starts_with("id: ")),
        "{due:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn limits_reject_with_the_matching_error_and_count_it() {
    let hub = hub_with(Settings {
        max_streams: 2,
        max_connections: 3,
        max_connections_per_ip: 2,
        ..settings()
    });
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let _a = hub.subscribe(&id("a"), None, LOCAL).await.expect("joined");
    let _b = hub.subscribe(&id("b"), None, LOCAL).await.expect("joined");
    assert_eq!(
        hub.subscribe(&id("a"), None, LOCAL).await.err(),
        Some(HubError::TooManyConnectionsFromIp { limit: 2 })
    );
    assert_eq!(
        hub.subscribe(&id("c"), None, other).await.err(),
        Some(HubError::TooManyStreams { limit: 2 })
    );
    let _c = hub.subscribe(&id("a"), None, other).await.expect("joined");
    assert_eq!(
        hub.subscribe(&id("a"), None, other).await.err(),
        Some(HubError::TooManyConnections { limit: 3 })
    );
    let rejected = hub.stats().snapshot(0).rejected;
    assert_eq!(
        (
            rejected.too_many_connections_from_ip,
            rejected.too_many_streams,
            rejected.too_many_connections
        ),
        (1, 1, 1)
    );
    assert_eq!(hub.connection_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_idle_retained_stream_makes_room_for_a_new_one() {
    let hub = hub_with(Settings {
        max_streams: 1,
        ..settings()
    });
    drop(
        hub.subscribe(&id("old"), None, LOCAL)
            .await
            .expect("joined"),
    );
    settle().await;
    let _new = hub
        .subscribe(&id("new"), None, LOCAL)
        .await
        .expect("room was made");
    assert_eq!(hub.known_stream_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_stream_idle_longest_is_the_one_that_makes_room() {
    let hub = hub_with(Settings {
        max_streams: 2,
        ..settings()
    });
    let mut older = hub
        .subscribe(&id("older"), None, LOCAL)
        .await
        .expect("joined");
    let mut newer = hub
        .subscribe(&id("newer"), None, LOCAL)
        .await
        .expect("joined");
    older.next_message().await.expect("event");
    newer.next_message().await.expect("event");
    drop(older);
    tokio::time::advance(Duration::from_secs(1)).await;
    drop(newer);
    settle().await;
    let _third = hub
        .subscribe(&id("third"), None, LOCAL)
        .await
        .expect("room was made");
    // "newer" kept its replay buffer: resuming after event 1 replays event 2.
    let mut resumed = hub
        .subscribe(&id("newer"), Some("1"), LOCAL)
        .await
        .expect("joined");
    let first = seq_of(&resumed.next_message().await.expect("event"));
    assert_eq!(first, 2, "the newer idle stream was kept");
    // "older" is gone, and with both kept streams in use there is no room.
    assert_eq!(
        hub.subscribe(&id("older"), None, LOCAL).await.err(),
        Some(HubError::TooManyStreams { limit: 2 })
    );
}

#[tokio::test(start_paused = true)]
async fn the_idle_count_follows_streams_going_idle_busy_and_forgotten() {
    let hub = hub_with(Settings {
        max_streams: 2,
        ..settings()
    });
    let idle = || hub.idle_stream_count();
    let a = hub.subscribe(&id("a"), None, LOCAL).await.expect("a");
    let b = hub.subscribe(&id("b"), None, LOCAL).await.expect("b");
    assert_eq!(idle(), 0);
    // Nothing idle to evict: refused without a look at the streams.
    assert!(matches!(
        hub.subscribe(&id("c"), None, LOCAL).await,
        Err(HubError::TooManyStreams { .. })
    ));
    drop(a);
    assert_eq!(idle(), 1);
    let c = hub
        .subscribe(&id("c"), None, LOCAL)
        .await
        .expect("takes a's place");
    assert_eq!(idle(), 0);
    drop((b, c));
    assert_eq!(idle(), 2);
    let b = hub
        .subscribe(&id("b"), None, LOCAL)
        .await
        .expect("b resumes");
    assert_eq!(idle(), 1);
    drop(b);
    assert_eq!(idle(), 2);
    tokio::time::sleep(settings().retention + INTERVAL).await;
    settle().await;
    assert_eq!(hub.known_stream_count(), 0);
    assert_eq!(idle(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_every_generator() {
    let token = CancellationToken::new();
    let hub = hub_with_token(settings(), token.clone());
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    sub.next_message().await.expect("event");
    token.cancel();
    settle().await;
    let generated = hub.stats().snapshot(0).events_sent;
    tokio::time::advance(INTERVAL * 5).await;
    settle().await;
    assert_eq!(hub.stats().snapshot(0).events_sent, generated);
}

/// The timestamp of an encoded generated event, in milliseconds since the
/// Unix epoch.
fn timestamp_ms_of(bytes: &Bytes) -> u128 {
    let message = text(bytes);
    let json = message
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data in {message:?}"));
    let event: StreamEvent = serde_json::from_str(json).expect("generated JSON");
    let at = humantime::parse_rfc3339(&event.timestamp).expect("ISO-8601 timestamp");
    at.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

/// Ticks that come late, by amounts that shrink, grow and vanish, never
/// come closer together than the interval, and no two events share a
/// timestamp. (With tokio's `Interval`, a tick up to 5 ms late kept the old
/// grid, so the next came as little as 5 ms after it.)
#[tokio::test(start_paused = true)]
async fn late_ticks_never_bring_two_events_closer_than_the_interval() {
    const TICK: Duration = Duration::from_millis(10);
    let hub = hub_with(Settings {
        interval: TICK,
        ..settings()
    });
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    // The clock is moved by hand, in turns: by one interval plus a lateness
    // after an event that came on time, so that the next tick is seen that
    // late; then in fine steps until the tick after it comes, on time. The
    // lateness shrinks, grows and vanishes.
    let fine = Duration::from_micros(100);
    let lateness_us = [
        0, 4_900, 0, 3_000, 4_990, 0, 9_900, 500, 15_000, 0, 2_600, 5_000, 100, 0,
    ];
    let mut received: Vec<(tokio::time::Instant, Bytes)> = Vec::new();
    let mut late = lateness_us.iter().cycle();
    let mut seen_late = true;
    while received.len() < 60 {
        let before = received.len();
        if !seen_late {
            let lateness = Duration::from_micros(*late.next().expect("cycle"));
            tokio::time::advance(TICK + lateness).await;
        }
        seen_late = !seen_late;
        loop {
            settle().await;
            while let Some(message) = sub.try_next_message() {
                received.push((tokio::time::Instant::now(), message));
            }
            if received.len() > before {
                break;
            }
            tokio::time::advance(fine).await;
        }
    }
    for pair in received.windows(2) {
        let ((at_a, a), (at_b, b)) = (&pair[0], &pair[1]);
        assert_eq!(seq_of(b), seq_of(a) + 1, "consecutive ids");
        assert!(
            *at_b - *at_a >= TICK,
            "events {} and {} came {:?} apart",
            seq_of(a),
            seq_of(b),
            *at_b - *at_a
        );
        let apart_ms = timestamp_ms_of(b) - timestamp_ms_of(a);
        assert!(
            apart_ms >= TICK.as_millis(),
            "timestamps of {} and {} are {apart_ms} ms apart",
            seq_of(a),
            seq_of(b)
        );
    }
}
