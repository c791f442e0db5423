//! Connection and stream limits, and which idle stream makes room.

use super::*;

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

/// A store that fails every call, as an unreachable one would.
struct FailingStore;

impl crate::server::store::EventStore for FailingStore {
    fn kind(&self) -> &'static str {
        "failing"
    }
    fn keeps_history(&self) -> bool {
        true
    }
    fn newest<'a>(
        &'a self,
        _stream: &'a StreamId,
    ) -> crate::server::store::StoreFuture<'a, Option<u64>> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn append<'a>(
        &'a self,
        _stream: &'a StreamId,
        _event: crate::server::store::NewEvent,
        _durability: crate::server::store::Durability,
    ) -> crate::server::store::StoreFuture<'a, crate::server::store::StoredEvent> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn after<'a>(
        &'a self,
        _stream: &'a StreamId,
        _after: u64,
        _limit: usize,
    ) -> crate::server::store::StoreFuture<'a, Vec<crate::server::store::StoredEvent>> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn forget(&self, _stream: &StreamId) {}
}

fn down() -> crate::server::store::StoreError {
    crate::server::store::StoreError::Unavailable("db.internal:6379 refused".into())
}

/// A store that cannot say where a new stream stands refuses the client
/// with a message that names no store detail, gives its connection slot
/// back, and leaves no stream behind.
#[tokio::test(start_paused = true)]
async fn a_failing_store_refuses_new_streams_cleanly() {
    let hub = hub_on(settings(), Arc::new(FailingStore), CancellationToken::new());
    let refused = hub.subscribe(&id("s"), None, LOCAL).await.err();
    let Some(HubError::Store(_)) = &refused else {
        panic!("not refused for the store: {refused:?}");
    };
    let message = refused.map(|error| error.to_string()).unwrap_or_default();
    assert!(!message.contains("db.internal"), "{message}");
    assert_eq!(hub.connection_count(), 0, "the slot is given back");
    assert_eq!(hub.known_stream_count(), 0, "no stream left behind");
}
