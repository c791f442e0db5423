//! `GET /api/stats/stream`, the dashboard's feed: one `stats` message at
//! once and then one a second, each a frame with the hub's counters and
//! its busiest public streams; its reader is nobody's subscriber; it ends
//! when the server shuts down.

mod common;

use common::{client, eventually, subscribe, SseItem, SseReader, TestServer, WAIT};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Opens the feed and checks its headers.
async fn open_feed(server: &TestServer) -> SseReader {
    let response = client()
        .get(server.url("/api/stats/stream"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers.get("content-encoding").is_none(),
        "never compressed"
    );
    SseReader::new(response)
}

/// The next `stats` frame, parsed.
async fn next_frame(feed: &mut SseReader) -> Value {
    let (id, event, data) = feed.next_message().await;
    assert_eq!(event.as_deref(), Some("stats"));
    assert_eq!(id, None, "frames carry no id: there is nothing to resume");
    serde_json::from_str(&data).expect("a frame is JSON")
}

/// The entry of stream `id` in `frame`, if listed.
fn stream_entry<'a>(frame: &'a Value, id: &str) -> Option<&'a Value> {
    frame["streams"]
        .as_array()
        .expect("streams is an array")
        .iter()
        .find(|entry| entry["id"] == id)
}

/// With two clients on a stream, two frames a second apart list it with
/// its subscriber count, and the counters move between them.
#[tokio::test]
async fn frames_list_open_streams_and_counters_move() {
    let server = TestServer::start(&["--interval-ms", "50"]).await;
    let http = client();
    let mut first = subscribe(&http, &server, "watched").await;
    let mut second = subscribe(&http, &server, "watched").await;
    first.next_event().await;
    second.next_event().await;

    let mut feed = open_feed(&server).await;
    let opened = Instant::now();
    let one = next_frame(&mut feed).await;
    assert!(
        opened.elapsed() < Duration::from_millis(900),
        "the first frame comes at once"
    );
    let two = next_frame(&mut feed).await;
    let gap = opened.elapsed();
    assert!(
        gap >= Duration::from_millis(800),
        "one a second, not {gap:?}"
    );

    for frame in [&one, &two] {
        let entry = stream_entry(frame, "watched").expect("the open stream is listed");
        assert_eq!(entry["subscribers"], 2, "{entry}");
        // The feed's own connection is no subscriber of anything.
        assert_eq!(frame["hub"]["connections"], 2, "{frame}");
        assert_eq!(frame["hub"]["streams"], 1);
    }
    let counter = |frame: &Value, path: &[&str]| {
        path.iter()
            .fold(frame, |value, key| &value[*key])
            .as_u64()
            .expect("a counter")
    };
    assert!(counter(&two, &["elapsed_ms"]) >= counter(&one, &["elapsed_ms"]) + 800);
    assert!(counter(&two, &["hub", "events_sent"]) > counter(&one, &["hub", "events_sent"]));
    assert!(counter(&two, &["hub", "deliveries"]) > counter(&one, &["hub", "deliveries"]));
    let events = |frame: &Value| {
        stream_entry(frame, "watched").expect("listed")["events_sent"]
            .as_u64()
            .expect("a count")
    };
    assert!(events(&two) > events(&one), "the stream's count moves");
    drop((first, second));
}

/// A stream leaves the frames once its last client has gone; private
/// streams are never listed.
#[tokio::test]
async fn frames_drop_streams_without_clients_and_hide_private_ones() {
    let server =
        TestServer::start_with_secret(&["--interval-ms", "50", "--private-streams", "private-*"])
            .await;
    let http = client();
    let mut public = subscribe(&http, &server, "leaving").await;
    public.next_event().await;
    let token = common::token(&[], &["private-*"], 600);
    let private = http
        .get(server.url("/sse/private-1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(private.status(), 200);

    let mut feed = open_feed(&server).await;
    let frame = next_frame(&mut feed).await;
    assert!(stream_entry(&frame, "leaving").is_some(), "{frame}");
    assert!(stream_entry(&frame, "private-1").is_none(), "{frame}");
    assert_eq!(frame["hub"]["connections"], 2, "both streams are counted");

    drop(public);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = next_frame(&mut feed).await;
        if stream_entry(&frame, "leaving").is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream is dropped"
        );
    }
    drop(private);
}

/// SIGTERM ends the feed cleanly (the body completes) and the process
/// exits, although the feed would otherwise never end.
#[tokio::test]
async fn the_feed_ends_when_the_server_shuts_down() {
    let mut server = TestServer::start(&["--interval-ms", "50"]).await;
    let mut feed = open_feed(&server).await;
    next_frame(&mut feed).await;
    let pid = server.child.id().expect("server running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    tokio::time::timeout(WAIT, async {
        while let Some(item) = feed.next_unbounded().await {
            assert!(
                matches!(item, SseItem::Message { .. } | SseItem::Comment(_)),
                "{item:?}"
            );
        }
    })
    .await
    .expect("the feed ends at shutdown");
    let exit = tokio::time::timeout(WAIT, server.child.wait())
        .await
        .expect("the server exits")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
}

/// Each open feed is counted in the hub's stats while it is open, and no
/// longer once its reader has gone (the dashboard's page test relies on
/// this to see the page's feed close).
#[tokio::test]
async fn open_feeds_are_counted_until_their_reader_goes() {
    let server = TestServer::start(&[]).await;
    let server = &server;
    let feeds =
        move || async move { server.get_json("/api/stats").await["dashboard_feeds"].as_u64() };
    assert_eq!(feeds().await, Some(0));
    let mut first = open_feed(server).await;
    let mut second = open_feed(server).await;
    let frame = next_frame(&mut first).await;
    next_frame(&mut second).await;
    assert!(
        frame["hub"]["dashboard_feeds"].as_u64() >= Some(1),
        "{frame}"
    );
    assert_eq!(feeds().await, Some(2));
    drop(first);
    eventually("the dropped feed is no longer counted", || async {
        feeds().await == Some(1)
    })
    .await;
    drop(second);
    eventually("no feed is counted", || async { feeds().await == Some(0) }).await;
}
