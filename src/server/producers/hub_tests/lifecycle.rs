//! Streams start, share, keep alive, stop and are forgotten.

use super::*;

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
