//! The application's own events: published into the same log as generated
//! ones, into streams with or without subscribers.

use super::*;
use crate::server::store::NewEvent;

/// An event of type `kind` carrying `data`.
fn published(kind: Option<&str>, data: &str) -> NewEvent {
    NewEvent {
        event: kind.map(Box::from),
        data: Bytes::from(data.to_owned()),
    }
}

#[tokio::test(start_paused = true)]
async fn published_and_generated_events_share_one_numbering() {
    let hub = hub_with(settings());
    let mut client = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    assert_eq!(seq_of(&client.next_message().await.expect("event")), 1);
    let seq = hub
        .publish(&id("s"), published(Some("order.paid"), r#"{"order":7}"#))
        .await
        .expect("published");
    assert_eq!(seq, 2);
    assert_eq!(
        text(&client.next_message().await.expect("the published event")),
        "id: 2\nevent: order.paid\ndata: {\"order\":7}\n\n"
    );
    assert_eq!(seq_of(&client.next_message().await.expect("event")), 3);
}

#[tokio::test(start_paused = true)]
async fn a_stream_nobody_listens_to_keeps_what_was_published_for_a_returning_client() {
    let hub = hub_with(settings());
    for n in 1..=3 {
        let seq = hub
            .publish(&id("quiet"), published(None, &n.to_string()))
            .await
            .expect("published");
        assert_eq!(seq, n);
    }
    assert_eq!(hub.known_stream_count(), 1, "created for the events");
    let mut back = hub
        .subscribe(&id("quiet"), Some("1"), LOCAL)
        .await
        .expect("joined");
    let replayed: Vec<String> = [back.try_next_message(), back.try_next_message()]
        .iter()
        .map(|m| text(m.as_ref().expect("replayed")))
        .collect();
    assert_eq!(replayed, ["id: 2\ndata: 2\n\n", "id: 3\ndata: 3\n\n"]);
    // A client with no Last-Event-ID gets live events only.
    let mut fresh = hub
        .subscribe(&id("quiet"), None, LOCAL)
        .await
        .expect("joined");
    assert!(fresh.try_next_message().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_publish_starts_an_idle_streams_retention_time_again() {
    let retention = Duration::from_secs(60);
    let hub = hub_with(Settings {
        retention,
        ..settings()
    });
    hub.publish(&id("kept"), published(None, "1"))
        .await
        .expect("published");
    // The stream's driver starts its idle spell.
    settle().await;
    tokio::time::advance(retention - Duration::from_secs(1)).await;
    settle().await;
    hub.publish(&id("kept"), published(None, "2"))
        .await
        .expect("published");
    settle().await;
    tokio::time::advance(retention - Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(hub.known_stream_count(), 1, "kept: the clock restarted");
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(hub.known_stream_count(), 0, "forgotten after its retention");
    // Its next life numbers on above the old one.
    let seq = hub
        .publish(&id("kept"), published(None, "3"))
        .await
        .expect("published");
    assert_eq!(seq, 3);
}

#[tokio::test(start_paused = true)]
async fn publishing_to_a_new_stream_counts_against_max_streams_and_evicts_nothing() {
    let hub = hub_with(Settings {
        max_streams: 1,
        ..settings()
    });
    let _listener = hub
        .subscribe(&id("busy"), None, LOCAL)
        .await
        .expect("joined");
    let refused = hub.publish(&id("other"), published(None, "x")).await;
    assert!(matches!(
        refused,
        Err(HubError::TooManyStreams { limit: 1 })
    ));
    assert_eq!(hub.known_stream_count(), 1);
    // An idle stream keeps its place against a publish (a publisher could
    // otherwise wipe retained history by publishing to new ids)…
    drop(_listener);
    settle().await;
    let refused = hub.publish(&id("other"), published(None, "x")).await;
    assert!(matches!(
        refused,
        Err(HubError::TooManyStreams { limit: 1 })
    ));
    // …and makes room for a subscriber's new stream, which may then be
    // published to.
    let _reader = hub
        .subscribe(&id("other"), None, LOCAL)
        .await
        .expect("an idle stream made room");
    hub.publish(&id("other"), published(None, "x"))
        .await
        .expect("published to the stream that took its place");
}
