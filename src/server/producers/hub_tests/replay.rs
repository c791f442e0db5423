//! Resuming and lagging subscribers: replay, catch-up and gap notices.

use super::*;

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

/// With a store that keeps history, a resume older than the ring gets the
/// missing events from the store (at most `history` of them), then the
/// ring, then live, with a gap notice only for what neither holds.
#[tokio::test(start_paused = true)]
async fn a_resume_older_than_the_ring_is_filled_from_a_store_that_keeps_history() {
    let store = Arc::new(crate::server::store::keeping::KeepingStore::new(10));
    let hub = hub_on(
        Settings {
            history: 3,
            ..settings()
        },
        store,
        CancellationToken::new(),
    );
    let mut keeper = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    for _ in 0..8 {
        keeper.next_message().await.expect("event");
    }
    // The ring holds 6..=8; 4 and 5 come from the store.
    let mut near = hub
        .subscribe(&id("s"), Some("3"), LOCAL)
        .await
        .expect("joined");
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(seq_of(&near.next_message().await.expect("event")));
    }
    assert_eq!(seqs, vec![4, 5, 6, 7, 8, 9], "no gap, no duplicate");
    // Now the ring holds 7..=9: of the missing 2..=6 the store gives at
    // most `history` (4..=6), and a gap notice names 2..=3.
    let mut far = hub
        .subscribe(&id("s"), Some("1"), LOCAL)
        .await
        .expect("joined");
    let gap = text(&far.next_message().await.expect("gap"));
    assert_eq!(gap, "event: gap\ndata: {\"first\":2,\"last\":3}\n\n");
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(seq_of(&far.next_message().await.expect("event")));
    }
    assert_eq!(seqs, vec![4, 5, 6, 7, 8, 9]);
}
