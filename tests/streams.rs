//! The stream endpoint and the JSON API, exercised over HTTP against the real
//! server binary on an ephemeral port.

mod common;

use common::{client, eventually, subscribe, SseItem, TestServer};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// A stream answers 200 with the headers proxies and browsers need, and is
/// never compressed even when the client accepts gzip.
#[tokio::test]
async fn stream_response_has_event_stream_headers() {
    let server = TestServer::start(&["--interval-ms", "50"]).await;
    let response = client()
        .get(server.url("/sse/headers"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header").to_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header("content-encoding"), None);
}

/// Events have exactly the documented fields, a number within the configured
/// range, the stream's id and a fresh UTC timestamp with milliseconds.
#[tokio::test]
async fn events_have_the_documented_shape_range_and_freshness() {
    let server = TestServer::start(&["--interval-ms", "20", "--min", "10", "--max", "12"]).await;
    let mut reader = subscribe(&client(), &server, "shape").await;
    let events = reader.events(30).await;
    for (index, received) in events.iter().enumerate() {
        let event = &received.event;
        assert_eq!(received.seq, index as u64 + 1, "sequence ids count from 1");
        assert!((10..=12).contains(&event.number), "{event:?}");
        assert_eq!(event.id, "shape");
        let ts = &event.timestamp;
        assert_eq!(ts.len(), 24, "YYYY-MM-DDTHH:MM:SS.mmmZ: {ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
        let at = humantime::parse_rfc3339(ts).expect("RFC 3339 timestamp");
        let age = SystemTime::now().duration_since(at).unwrap_or_default();
        assert!(age < Duration::from_secs(5), "stale event: {ts}");
    }
    // 30 draws from 3 values: all three appear unless the generator is broken.
    let distinct: std::collections::HashSet<u32> = events.iter().map(|r| r.event.number).collect();
    assert_eq!(distinct.len(), 3, "numbers cover the range: {distinct:?}");
}

/// Events are spaced by the configured interval.
#[tokio::test]
async fn events_follow_the_configured_interval() {
    let server = TestServer::start(&["--interval-ms", "100"]).await;
    let mut reader = subscribe(&client(), &server, "interval").await;
    let events = reader.events(8).await;
    let times: Vec<SystemTime> = events
        .iter()
        .map(|r| humantime::parse_rfc3339(&r.event.timestamp).expect("timestamp"))
        .collect();
    let total = times[7]
        .duration_since(times[0])
        .expect("ordered timestamps");
    let mean = total / 7;
    assert!(
        mean >= Duration::from_millis(90) && mean <= Duration::from_millis(115),
        "mean interval {mean:?}"
    );
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]).expect("ordered timestamps");
        assert!(
            gap >= Duration::from_millis(50),
            "events too close: {gap:?}"
        );
    }
}

/// Three clients of one id receive the very same events.
#[tokio::test]
async fn clients_of_one_stream_receive_identical_events() {
    let server = TestServer::start(&["--interval-ms", "30"]).await;
    let http = client();
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(subscribe(&http, &server, "shared").await);
    }
    let mut by_client: Vec<HashMap<u64, common::Event>> = Vec::new();
    for reader in &mut readers {
        let events = reader.events(10).await;
        by_client.push(events.into_iter().map(|r| (r.seq, r.event)).collect());
    }
    let mut common_seqs: Vec<u64> = by_client[0]
        .keys()
        .filter(|seq| by_client.iter().all(|events| events.contains_key(seq)))
        .copied()
        .collect();
    common_seqs.sort_unstable();
    assert!(common_seqs.len() >= 5, "clients overlap: {common_seqs:?}");
    for seq in common_seqs {
        assert_eq!(by_client[0][&seq], by_client[1][&seq], "seq {seq}");
        assert_eq!(by_client[0][&seq], by_client[2][&seq], "seq {seq}");
    }
}

/// Different ids have independent generators.
#[tokio::test]
async fn different_streams_are_independent() {
    let server = TestServer::start(&["--interval-ms", "20"]).await;
    let http = client();
    let mut a = subscribe(&http, &server, "alpha").await;
    let mut b = subscribe(&http, &server, "beta").await;
    let events_a = a.events(8).await;
    let events_b = b.events(8).await;
    assert!(events_a.iter().all(|r| r.event.id == "alpha"));
    assert!(events_b.iter().all(|r| r.event.id == "beta"));
    assert_eq!(events_b[0].seq, 1, "each stream numbers its own events");
    let numbers_a: Vec<u32> = events_a.iter().map(|r| r.event.number).collect();
    let numbers_b: Vec<u32> = events_b.iter().map(|r| r.event.number).collect();
    assert_ne!(numbers_a, numbers_b, "independent random sequences");
}

/// `/api/streams` lists a stream while it has clients and drops it within a
/// second of the last one leaving; the stop is logged.
#[tokio::test]
async fn api_lists_active_streams_and_drops_them_after_the_last_client() {
    let mut server = TestServer::start(&["--interval-ms", "50"]).await;
    let http = client();
    let mut first = subscribe(&http, &server, "listed").await;
    let mut second = subscribe(&http, &server, "listed").await;
    first.next_event().await;
    second.next_event().await;
    let streams = server.get_json("/api/streams").await;
    let entry = streams
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["id"] == "listed")
        .cloned()
        .expect("stream listed");
    assert_eq!(entry["subscribers"], 2);
    assert!(entry["events_sent"].as_u64().expect("count") >= 1);
    assert!(humantime::parse_rfc3339(entry["started_at"].as_str().expect("string")).is_ok());

    drop(first);
    drop(second);
    let gone_by = tokio::time::Instant::now() + Duration::from_secs(1);
    eventually("the stream is no longer listed", || async {
        server.get_json("/api/streams").await == serde_json::json!([])
    })
    .await;
    assert!(tokio::time::Instant::now() <= gone_by, "dropped within 1 s");
    server.wait_for_log(&["stream stopped", "listed"]).await;
}

/// 200 streams with 2 clients each all receive their own events.
#[tokio::test]
async fn two_hundred_streams_with_two_clients_each_all_receive_events() {
    let server = TestServer::start(&["--interval-ms", "50", "--log", "warn"]).await;
    let http = client();
    let mut tasks = Vec::new();
    for stream in 0..200 {
        for _ in 0..2 {
            let http = http.clone();
            let url = server.url(&format!("/sse/load-{stream}"));
            tasks.push(tokio::spawn(async move {
                let response = http.get(url).send().await.expect("request sent");
                assert_eq!(response.status(), 200);
                let mut reader = common::SseReader::new(response);
                let received = reader.next_event().await;
                assert_eq!(received.event.id, format!("load-{stream}"));
            }));
        }
    }
    for task in tasks {
        task.await.expect("client task succeeded");
    }
}

/// `/healthz` answers ok.
#[tokio::test]
async fn health_endpoint_answers_ok() {
    let server = TestServer::start(&[]).await;
    assert_eq!(
        server.get_json("/healthz").await,
        serde_json::json!({"status": "ok"})
    );
}

/// The `Access-Control-Allow-Origin` a GET of `url` from `origin` gets.
async fn allowed_origin(url: String, origin: &str) -> Option<String> {
    let response = client()
        .get(url)
        .header("origin", origin)
        .send()
        .await
        .expect("sent");
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

/// The default CORS policy admits pages served from localhost on any port
/// and nobody else; `--cors-origins` replaces it.
#[tokio::test]
async fn cors_admits_localhost_and_denies_other_origins() {
    let server = TestServer::start(&[]).await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:8080"] {
        let allowed = allowed_origin(server.url("/api/streams"), origin).await;
        assert_eq!(allowed.as_deref(), Some(origin));
    }
    for origin in ["http://evil.example", "http://localhost.evil.example"] {
        assert_eq!(
            allowed_origin(server.url("/api/streams"), origin).await,
            None
        );
    }

    let listed = TestServer::start(&["--cors-origins", "https://app.example"]).await;
    let allowed = allowed_origin(listed.url("/healthz"), "https://app.example").await;
    assert_eq!(allowed.as_deref(), Some("https://app.example"));
    let allowed = allowed_origin(listed.url("/healthz"), "http://localhost:3000").await;
    assert_eq!(allowed, None);

    let any = TestServer::start(&["--cors-origins", "*"]).await;
    let allowed = allowed_origin(any.url("/healthz"), "http://evil.example").await;
    assert_eq!(allowed.as_deref(), Some("*"));
}

/// Pages are compressed for clients that accept it (streams never are: see
/// `stream_response_has_event_stream_headers`).
#[tokio::test]
async fn pages_are_compressed_when_accepted() {
    let server = TestServer::start(&[]).await;
    let response = client()
        .get(server.url("/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
}

/// `--generate` chooses the streams that get numbers: matching ones do,
/// another opens and gets only keep-alives.
#[tokio::test]
async fn generate_chooses_which_streams_get_numbers() {
    let server = TestServer::start(&[
        "--interval-ms",
        "20",
        "--keep-alive-ms",
        "100",
        "--generate",
        "gen-*,exact",
        "--log",
        "warn",
    ])
    .await;
    let http = client();
    for id in ["gen-1", "gen-", "exact"] {
        let mut generated = subscribe(&http, &server, id).await;
        assert_eq!(generated.next_event().await.event.id, id);
    }
    // The first thing after the retry hint is a keep-alive: 100 ms without
    // an event, where a generator would have sent five.
    let mut quiet = subscribe(&http, &server, "other").await;
    loop {
        match quiet.next().await.expect("open") {
            SseItem::Retry(_) => continue,
            SseItem::Comment(comment) => {
                assert_eq!(comment, "keep-alive");
                break;
            }
            message => panic!("a stream outside --generate got {message:?}"),
        }
    }
}
