//! Hub behaviour under paused tokio time: deterministic, instant, and exact
//! about when generators start, stop and forget.

use super::hub::{Hub, HubError, HubSettings};
use super::stats::Stats;
use crate::model::StreamId;
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const INTERVAL: Duration = Duration::from_millis(100);
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn settings() -> HubSettings {
    HubSettings {
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

fn hub_with(settings: HubSettings) -> Hub {
    Hub::new(
        settings,
        Arc::new(Stats::default()),
        CancellationToken::new(),
    )
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
    let mut a = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    let mut b = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let mut first = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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

    let mut again = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    assert_eq!(seq_of(&again.next_message().await.expect("event")), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_streams_are_forgotten_after_the_retention_time() {
    let hub = hub_with(HubSettings {
        retention: Duration::from_secs(5),
        ..settings()
    });
    drop(hub.subscribe(&id("s"), None, LOCAL).expect("joined"));
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
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    for _ in 0..5 {
        keeper.next_message().await.expect("event");
    }
    let mut resumed = hub.subscribe(&id("s"), Some("2"), LOCAL).expect("joined");
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(seq_of(&resumed.next_message().await.expect("event")));
    }
    assert_eq!(seqs, vec![3, 4, 5, 6, 7, 8]);
}

#[tokio::test(start_paused = true)]
async fn a_last_event_id_older_than_the_buffer_gets_a_gap_notice_first() {
    let hub = hub_with(HubSettings {
        history: 3,
        ..settings()
    });
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    for _ in 0..6 {
        keeper.next_message().await.expect("event");
    }
    let mut resumed = hub.subscribe(&id("s"), Some("1"), LOCAL).expect("joined");
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
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
        let mut fresh = hub.subscribe(&id("s"), Some(bad), LOCAL).expect("joined");
        let next = seq_of(&fresh.next_message().await.expect("event"));
        let newest = seq_of(&keeper.next_message().await.expect("event"));
        assert_eq!(next, newest, "{bad:?} starts live");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lagging_subscriber_catches_up_from_the_replay_buffer() {
    let hub = hub_with(settings());
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    let mut slow = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    let mut batched = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let hub = hub_with(HubSettings {
        history: 10,
        ..settings()
    });
    let mut fast = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    let mut slow = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let hub = hub_with(HubSettings {
        interval: Duration::from_secs(60),
        keep_alive: KEEP_ALIVE,
        ..settings()
    });
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let hub = hub_with(HubSettings {
        interval: Duration::from_secs(60),
        keep_alive: Duration::from_secs(15),
        ..settings()
    });
    let mut behind = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
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
    let hub = hub_with(HubSettings {
        max_streams: 2,
        max_connections: 3,
        max_connections_per_ip: 2,
        ..settings()
    });
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let _a = hub.subscribe(&id("a"), None, LOCAL).expect("joined");
    let _b = hub.subscribe(&id("b"), None, LOCAL).expect("joined");
    assert_eq!(
        hub.subscribe(&id("a"), None, LOCAL).err(),
        Some(HubError::TooManyConnectionsFromIp { limit: 2 })
    );
    assert_eq!(
        hub.subscribe(&id("c"), None, other).err(),
        Some(HubError::TooManyStreams { limit: 2 })
    );
    let _c = hub.subscribe(&id("a"), None, other).expect("joined");
    assert_eq!(
        hub.subscribe(&id("a"), None, other).err(),
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
    let hub = hub_with(HubSettings {
        max_streams: 1,
        ..settings()
    });
    drop(hub.subscribe(&id("old"), None, LOCAL).expect("joined"));
    settle().await;
    let _new = hub
        .subscribe(&id("new"), None, LOCAL)
        .expect("room was made");
    assert_eq!(hub.known_stream_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_stream_idle_longest_is_the_one_that_makes_room() {
    let hub = hub_with(HubSettings {
        max_streams: 2,
        ..settings()
    });
    let mut older = hub.subscribe(&id("older"), None, LOCAL).expect("joined");
    let mut newer = hub.subscribe(&id("newer"), None, LOCAL).expect("joined");
    older.next_message().await.expect("event");
    newer.next_message().await.expect("event");
    drop(older);
    tokio::time::advance(Duration::from_secs(1)).await;
    drop(newer);
    settle().await;
    let _third = hub
        .subscribe(&id("third"), None, LOCAL)
        .expect("room was made");
    // "newer" kept its replay buffer: resuming after event 1 replays event 2.
    let mut resumed = hub
        .subscribe(&id("newer"), Some("1"), LOCAL)
        .expect("joined");
    let first = seq_of(&resumed.next_message().await.expect("event"));
    assert_eq!(first, 2, "the newer idle stream was kept");
    // "older" is gone, and with both kept streams in use there is no room.
    assert_eq!(
        hub.subscribe(&id("older"), None, LOCAL).err(),
        Some(HubError::TooManyStreams { limit: 2 })
    );
}

#[tokio::test(start_paused = true)]
async fn the_idle_count_follows_streams_going_idle_busy_and_forgotten() {
    let hub = hub_with(HubSettings {
        max_streams: 2,
        ..settings()
    });
    let idle = || hub.shared.idle_streams.load(Ordering::Acquire);
    let a = hub.subscribe(&id("a"), None, LOCAL).expect("a");
    let b = hub.subscribe(&id("b"), None, LOCAL).expect("b");
    assert_eq!(idle(), 0);
    // Nothing idle to evict: refused without a look at the streams.
    assert!(matches!(
        hub.subscribe(&id("c"), None, LOCAL),
        Err(HubError::TooManyStreams { .. })
    ));
    drop(a);
    assert_eq!(idle(), 1);
    let c = hub
        .subscribe(&id("c"), None, LOCAL)
        .expect("takes a's place");
    assert_eq!(idle(), 0);
    drop((b, c));
    assert_eq!(idle(), 2);
    let b = hub.subscribe(&id("b"), None, LOCAL).expect("b resumes");
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
    let hub = Hub::new(settings(), Arc::new(Stats::default()), token.clone());
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).expect("joined");
    sub.next_message().await.expect("event");
    token.cancel();
    settle().await;
    let generated = hub.stats().snapshot(0).events_sent;
    tokio::time::advance(INTERVAL * 5).await;
    settle().await;
    assert_eq!(hub.stats().snapshot(0).events_sent, generated);
}
