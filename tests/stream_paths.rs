//! A stream request is served on one of two paths: an HTTP/1.1 one is
//! streamed directly on the socket, whether it is the first request of a
//! fresh connection or a later one on a keep-alive connection that axum took
//! over; an HTTP/1.0 one by the axum handler's response body. Clients must
//! not be able to tell the HTTP/1.1 cases apart (same headers, same events,
//! same clean end at shutdown), and every path carries the same stream.

mod common;

use common::{eventually, read_until, TestServer};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads from `socket` into `received` until the server closes it, failing
/// the test after a few seconds.
async fn read_to_end(socket: &mut TcpStream, received: &mut Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(3), socket.read_to_end(received))
        .await
        .expect("the server ends the response in time")
        .expect("read");
}

/// Sends a raw request head.
async fn send(socket: &mut TcpStream, head: &str) {
    socket.write_all(head.as_bytes()).await.expect("write");
}

/// The status line and the headers (lower-case names) of a response, minus
/// the `date`, which changes.
fn head_of(response: &str) -> (String, Vec<String>) {
    let head = response.split("\r\n\r\n").next().expect("a head");
    let mut lines = head.lines();
    let status = lines.next().expect("status line").to_owned();
    let mut headers: Vec<String> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            format!("{}: {}", name.to_ascii_lowercase(), value.trim())
        })
        .filter(|line| !line.starts_with("date: "))
        .collect();
    headers.sort();
    (status, headers)
}

/// The `data:` lines of the events received so far, by `id:`.
fn events(body: &str) -> Vec<(u64, String)> {
    let mut found = Vec::new();
    let mut id = None;
    for line in body.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = value.parse().ok();
        } else if let (Some(data), Some(seq)) = (line.strip_prefix("data: "), id.take()) {
            found.push((seq, data.to_owned()));
        }
    }
    found
}

#[tokio::test]
async fn fresh_and_reused_connections_stream_identically_and_end_cleanly() {
    let mut server = TestServer::start(&["--interval-ms", "50", "--log", "warn"]).await;
    let request =
        "GET /sse/paths HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:8080\r\n\r\n";

    // Direct path: the stream request is the connection's first.
    let mut fresh = TcpStream::connect(server.addr()).await.expect("connect");
    send(&mut fresh, request).await;
    // Axum path: the same request after another one on a keep-alive connection.
    let mut reused = TcpStream::connect(server.addr()).await.expect("connect");
    send(
        &mut reused,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let mut first = Vec::new();
    read_until(&mut reused, &mut first, |text| {
        text.ends_with(r#"{"status":"ok"}"#)
    })
    .await;
    send(&mut reused, request).await;
    // Axum's response body: HTTP/1.0 knows no chunks.
    let mut old = TcpStream::connect(server.addr()).await.expect("connect");
    send(&mut old, "GET /sse/paths HTTP/1.0\r\n\r\n").await;

    let mut from_fresh = Vec::new();
    let mut from_reused = Vec::new();
    let mut from_old = Vec::new();
    let three_events = |text: &str| events(text).len() >= 3;
    read_until(&mut fresh, &mut from_fresh, three_events).await;
    read_until(&mut reused, &mut from_reused, three_events).await;
    read_until(&mut old, &mut from_old, three_events).await;
    let fresh_text = String::from_utf8_lossy(&from_fresh).into_owned();
    let reused_text = String::from_utf8_lossy(&from_reused).into_owned();
    let old_text = String::from_utf8_lossy(&from_old).into_owned();

    let (fresh_status, fresh_headers) = head_of(&fresh_text);
    let (reused_status, reused_headers) = head_of(&reused_text);
    assert_eq!(fresh_status, "HTTP/1.1 200 OK");
    assert_eq!(reused_status, "HTTP/1.1 200 OK");
    for expected in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "x-accel-buffering: no",
        "transfer-encoding: chunked",
        "access-control-allow-origin: http://localhost:8080",
    ] {
        assert!(
            fresh_headers.iter().any(|h| h == expected),
            "fresh lacks {expected}: {fresh_headers:?}"
        );
        assert!(
            reused_headers.iter().any(|h| h == expected),
            "reused lacks {expected}: {reused_headers:?}"
        );
    }
    assert_eq!(fresh_headers, reused_headers, "same headers on both paths");
    assert!(fresh_text.contains("\r\nretry: ") && reused_text.contains("\r\nretry: "));
    // The taken-over connection carries the stream and nothing else: no
    // second response from hyper after the first one.
    assert_eq!(
        reused_text.matches("HTTP/1.").count(),
        1,
        "one response: {reused_text}"
    );
    let (old_status, old_headers) = head_of(&old_text);
    assert!(old_status.ends_with(" 200 OK"), "{old_status}");
    assert!(old_headers.contains(&"content-type: text/event-stream".to_owned()));
    assert!(old_text.contains("\r\n\r\nretry: "), "{old_text}");

    // All joined the same stream: every event two of them saw is identical.
    let fresh_events = events(&fresh_text);
    for other in [events(&reused_text), events(&old_text)] {
        let common: Vec<_> = fresh_events
            .iter()
            .filter(|event| other.iter().any(|seen| seen.0 == event.0))
            .collect();
        assert!(!common.is_empty(), "{fresh_events:?} / {other:?}");
        for event in common {
            assert!(other.contains(event), "{event:?} differs");
        }
    }

    // Shutdown ends both with the last chunk of a chunked body.
    let pid = server.child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    for (socket, received) in [
        (&mut fresh, &mut from_fresh),
        (&mut reused, &mut from_reused),
    ] {
        read_to_end(socket, received).await;
        assert!(
            received.ends_with(b"\r\n0\r\n\r\n"),
            "clean end: {:?}",
            String::from_utf8_lossy(&received[received.len().saturating_sub(40)..])
        );
    }
    // The HTTP/1.0 body ends with the connection, after whole events.
    read_to_end(&mut old, &mut from_old).await;
    assert!(from_old.ends_with(b"\n\n"), "whole events");
    let status = server.child.wait().await.expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn limit_errors_are_the_same_json_on_a_fresh_connection() {
    let server = TestServer::start(&["--max-connections-per-ip", "1", "--log", "warn"]).await;
    let mut holder = TcpStream::connect(server.addr()).await.expect("connect");
    send(
        &mut holder,
        "GET /sse/held HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let mut held = Vec::new();
    read_until(&mut holder, &mut held, |text| text.contains("retry: ")).await;

    let mut refused = TcpStream::connect(server.addr()).await.expect("connect");
    send(
        &mut refused,
        "GET /sse/another HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let mut answer = Vec::new();
    read_until(&mut refused, &mut answer, |text| text.ends_with('}')).await;
    let text = String::from_utf8_lossy(&answer);
    let (status, headers) = head_of(&text);
    assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    assert!(
        headers.contains(&"content-type: application/json".to_owned()),
        "{headers:?}"
    );
    assert!(
        headers.contains(&"retry-after: 5".to_owned()),
        "{headers:?}"
    );
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).expect("body")).expect("JSON body");
    assert_eq!(body["code"], "too_many_connections_from_ip");
    let length = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .and_then(|n| n.parse::<usize>().ok())
        .expect("content-length");
    assert_eq!(length, text.split("\r\n\r\n").nth(1).map_or(0, str::len));
    assert_eq!(
        server.get_json("/api/stats").await["rejected"]["too_many_connections_from_ip"],
        1
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_grant_on_either_path() {
    let server = TestServer::start(&["--interval-ms", "50", "--log", "warn"]).await;
    let request =
        "GET /sse/cors HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n";
    for warm_up in [
        None,
        Some("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ] {
        let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
        if let Some(first) = warm_up {
            send(&mut socket, first).await;
            let mut answer = Vec::new();
            read_until(&mut socket, &mut answer, |text| text.ends_with('}')).await;
        }
        send(&mut socket, request).await;
        let mut received = Vec::new();
        read_until(&mut socket, &mut received, |text| text.contains("retry: ")).await;
        let (status, headers) = head_of(&String::from_utf8_lossy(&received));
        assert_eq!(status, "HTTP/1.1 200 OK", "after {warm_up:?}");
        assert!(
            !headers
                .iter()
                .any(|h| h.starts_with("access-control-allow-origin")),
            "after {warm_up:?}: {headers:?}"
        );
    }
}

/// A client that pipelines requests after a stream request it sends on a
/// keep-alive connection gets the stream, and nothing after it is served:
/// once it leaves, no stream is left running.
#[tokio::test]
async fn requests_pipelined_after_a_taken_over_stream_are_not_served() {
    let server = TestServer::start(&["--interval-ms", "50", "--log", "warn"]).await;
    let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
    let stream = |id: &str| format!("GET /sse/{id} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let pipelined = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n{}{}{}",
        stream("piped-a"),
        stream("piped-b"),
        stream("piped-c")
    );
    send(&mut socket, &pipelined).await;
    let mut received = Vec::new();
    read_until(&mut socket, &mut received, |text| events(text).len() >= 2).await;
    let text = String::from_utf8_lossy(&received);
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        2,
        "health, then one stream: {text}"
    );
    assert!(!text.contains("204"), "{text}");
    let listed = server.get_json("/api/streams").await;
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|stream| stream["id"].as_str())
        .collect();
    assert_eq!(ids, ["piped-a"]);

    drop(socket);
    eventually("no stream is left running", || async {
        server.get_json("/api/streams").await == serde_json::json!([])
    })
    .await;
}

/// `.` and `..` (also percent-encoded) are refused as stream ids with the
/// JSON 400, on a fresh connection and on a keep-alive one: browsers and
/// proxies resolve such segments away, so no page could ever open them.
#[tokio::test]
async fn dot_segments_are_not_stream_ids_on_either_path() {
    let server = TestServer::start(&["--log", "warn"]).await;
    for id in [".", "..", "%2e", "%2E%2e"] {
        for warm_up in [
            None,
            Some("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ] {
            let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
            let mut received = Vec::new();
            if let Some(first) = warm_up {
                send(&mut socket, first).await;
                read_until(&mut socket, &mut received, |text| text.ends_with('}')).await;
                received.clear();
            }
            let request = format!("GET /sse/{id} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            send(&mut socket, &request).await;
            read_until(&mut socket, &mut received, |text| text.ends_with('}')).await;
            let text = String::from_utf8_lossy(&received);
            let (status, _) = head_of(&text);
            assert_eq!(status, "HTTP/1.1 400 Bad Request", "{id} after {warm_up:?}");
            let body: serde_json::Value =
                serde_json::from_str(text.split("\r\n\r\n").nth(1).expect("body"))
                    .expect("JSON body");
            assert_eq!(body["code"], "invalid_stream_id", "{id}");
            let message = body["error"].as_str().expect("a message");
            assert!(message.contains("path segment"), "{id}: {message}");
        }
    }
    assert!(server
        .get_json("/api/streams")
        .await
        .as_array()
        .is_some_and(Vec::is_empty));
}
