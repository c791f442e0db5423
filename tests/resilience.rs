//! What makes the hub trustworthy in real deployments: resuming without
//! loss, keep-alives, clear errors, limits, slow clients, malformed requests.

mod common;

use common::{
    client, eventually, stalled_client, subscribe, Event, SseItem, SseReader, TestServer,
};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens `/sse/{id}` with a `Last-Event-ID` header.
async fn resume(server: &TestServer, id: &str, last: &str) -> SseReader {
    let response = client()
        .get(server.url(&format!("/sse/{id}")))
        .header("last-event-id", last)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    SseReader::new(response)
}

/// Asserts `response` is a JSON error with this status and code.
async fn assert_json_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "{}", response.url());
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.len() > 10),
        "a sentence: {body}"
    );
    body
}

/// A client that reconnects with `Last-Event-ID` gets every event after it,
/// then live events, with no gap and no duplicate.
#[tokio::test]
async fn last_event_id_resumes_without_gap_or_duplicate() {
    let server = TestServer::start(&["--interval-ms", "20"]).await;
    let http = client();
    let mut keeper = subscribe(&http, &server, "resume").await;
    let mut first = subscribe(&http, &server, "resume").await;
    let seen = first.events(3).await;
    let last = seen.last().expect("three events").seq;
    drop(first);
    // Let a few more events go by while the client is away.
    let newest = keeper.events(6).await.last().expect("events").seq;
    assert!(newest > last + 2);

    let mut resumed = resume(&server, "resume", &last.to_string()).await;
    let seqs: Vec<u64> = resumed.events(8).await.iter().map(|r| r.seq).collect();
    let expected: Vec<u64> = (last + 1..=last + 8).collect();
    assert_eq!(seqs, expected);

    // The query parameter works the same for clients that cannot set headers.
    let response = http
        .get(server.url(&format!("/sse/resume?lastEventId={last}")))
        .send()
        .await
        .expect("sent");
    let mut by_query = SseReader::new(response);
    assert_eq!(by_query.next_event().await.seq, last + 1);
}

/// A stream whose last client left keeps its buffer for the retention time,
/// so a returning client resumes; after it, the stream's next life numbers
/// on above its old ids.
#[tokio::test]
async fn idle_streams_keep_their_buffer_for_the_retention_time() {
    let mut server = TestServer::start(&["--interval-ms", "20", "--retention-ms", "1500"]).await;
    let http = client();
    let mut reader = subscribe(&http, &server, "retained").await;
    let last = reader.events(4).await.last().expect("events").seq;
    drop(reader);
    eventually("the idle stream is no longer listed", || async {
        server.get_json("/api/streams").await == serde_json::json!([])
    })
    .await;
    let mut back = resume(&server, "retained", &(last - 2).to_string()).await;
    let seqs: Vec<u64> = back.events(3).await.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![last - 1, last, last + 1], "replayed, then live");
    drop(back);

    let forgotten = server
        .wait_for_log(&["stream forgotten after retention", "retained"])
        .await;
    assert!(forgotten.contains("INFO"), "{forgotten}");
    // Forgotten: the new life numbers on above the old one, and the ids
    // the client missed from the old life (here `last + 1`) are a gap.
    let mut fresh = resume(&server, "retained", &last.to_string()).await;
    let gap = loop {
        if let SseItem::Message {
            event: Some(event),
            data,
            ..
        } = fresh.next().await.expect("open")
        {
            assert_eq!(event, "gap");
            break data;
        }
    };
    assert_eq!(
        serde_json::from_str::<Value>(&gap).expect("JSON"),
        serde_json::json!({"first": last + 1, "last": last + 1})
    );
    assert_eq!(
        fresh.next_event().await.seq,
        last + 2,
        "the new life's first event"
    );
}

/// A `Last-Event-ID` older than the replay buffer yields an `event: gap`
/// naming the missing ids, then everything buffered.
#[tokio::test]
async fn an_id_older_than_the_buffer_is_signalled_as_a_gap() {
    let server = TestServer::start(&["--interval-ms", "10", "--history", "3"]).await;
    let http = client();
    let mut keeper = subscribe(&http, &server, "gappy").await;
    let newest = keeper.events(8).await.last().expect("events").seq;
    let mut late = resume(&server, "gappy", "1").await;
    let (id, event, data) = late.next_message().await;
    assert_eq!((id, event.as_deref()), (None, Some("gap")));
    let gap: Value = serde_json::from_str(&data).expect("gap JSON");
    assert_eq!(gap["first"], 2);
    let first_buffered = gap["last"].as_u64().expect("number") + 1;
    assert!(first_buffered + 2 >= newest, "at most 3 buffered");
    assert_eq!(late.next_event().await.seq, first_buffered);
}

/// The first thing on a stream is `retry:` with the configured delay plus up
/// to 50% jitter, so clients do not all come back at once.
#[tokio::test]
async fn retry_hint_carries_jitter() {
    let server = TestServer::start(&["--retry-ms", "1000"]).await;
    let http = client();
    let mut hints = Vec::new();
    for _ in 0..12 {
        let mut reader = subscribe(&http, &server, "retry").await;
        match reader.next().await {
            Some(SseItem::Retry(ms)) => hints.push(ms),
            other => panic!("expected retry first, got {other:?}"),
        }
    }
    assert!(
        hints.iter().all(|ms| (1000..=1500).contains(ms)),
        "{hints:?}"
    );
    assert!(
        hints.iter().any(|ms| *ms != hints[0]),
        "jittered: {hints:?}"
    );
}

/// An idle stream gets a `: keep-alive` comment after the keep-alive time.
#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let server = TestServer::start(&["--interval-ms", "60000", "--keep-alive-ms", "100"]).await;
    let mut reader = subscribe(&client(), &server, "quiet").await;
    assert!(matches!(reader.next().await, Some(SseItem::Retry(_))));
    // The stream's first event falls somewhere in its first minute; whether
    // or not it comes now, silences are filled with keep-alives.
    let (mut comments, mut messages) = (0, 0);
    while comments < 2 {
        match reader.next().await {
            Some(SseItem::Comment(text)) => {
                assert_eq!(text, "keep-alive");
                comments += 1;
            }
            Some(SseItem::Message { .. }) => messages += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(messages <= 1, "one event a minute at most");
}

/// Invalid stream ids get a JSON 400 naming the problem; unknown paths a
/// JSON 404; wrong methods a JSON 405.
#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let mut server = TestServer::start(&[]).await;
    let http = client();
    let long = "x".repeat(129);
    for (path, needle) in [
        ("/sse/bad%20id", "a space"),
        ("/sse/a%2Fb", "'/'"),
        ("/sse/%FF", "UTF-8"),
        ("/sse/%00", "U+0000"),
        ("/sse/caf%C3%A9", "'é'"),
        ("/sse/", "empty"),
        (&format!("/sse/{long}"), "129 characters"),
    ] {
        let response = http.get(server.url(path)).send().await.expect("sent");
        let body = assert_json_error(response, 400, "invalid_stream_id").await;
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{path}: {body}"
        );
    }
    // A browser page on another local port reads these too: they carry the
    // API's CORS grant, and are never compressed.
    for path in ["/sse/a/b", "/api/nope", "/api", "/sse", "/api/streams/x"] {
        let response = http
            .get(server.url(path))
            .header("origin", "http://localhost:5173")
            .header("accept-encoding", "gzip, br")
            .send()
            .await
            .expect("sent");
        let headers = response.headers().clone();
        assert_eq!(
            headers["access-control-allow-origin"], "http://localhost:5173",
            "{path}"
        );
        assert!(!headers.contains_key("content-encoding"), "{path}");
        assert_json_error(response, 404, "not_found").await;
    }
    for path in ["/sse/x", "/api/streams", "/api/stats"] {
        let response = http.post(server.url(path)).send().await.expect("sent");
        assert_json_error(response, 405, "method_not_allowed").await;
    }
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["rejected"]["invalid_stream_id"], 7);
    server
        .wait_for_log(&["WARN", "rejected: invalid stream id", "rejected_total=7"])
        .await;
}

/// `HEAD /sse/{id}` answers the stream's headers without joining it: no
/// stream starts, no connection is counted, and a bad id is still a 400.
#[tokio::test]
async fn head_requests_get_the_stream_headers_without_joining() {
    let mut server = TestServer::start(&["--interval-ms", "20"]).await;
    let http = client();
    let response = http
        .head(server.url("/sse/peek"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let response = http
        .head(server.url("/sse/bad%20id"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let stats = server.get_json("/api/stats").await;
    assert_eq!(
        (stats["streams"].as_u64(), stats["connections"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(server.get_json("/api/streams").await, serde_json::json!([]));
    // The first client the log mentions is a real one, not the HEAD.
    let _marker = subscribe(&http, &server, "marker").await;
    let joined = server.wait_for_log(&["client connected"]).await;
    assert!(joined.contains("marker"), "HEAD joined a stream: {joined}");
}

/// Garbage on the wire never takes the server down for anyone else.
#[tokio::test]
async fn malformed_requests_do_not_disturb_the_server() {
    let server = TestServer::start(&["--interval-ms", "20"]).await;
    let mut bystander = subscribe(&client(), &server, "bystander").await;
    bystander.next_event().await;
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let requests: Vec<Vec<u8>> = vec![
        huge_header.into_bytes(),
        b"GET /sse/\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"GET /sse/a\0b HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"\0\0\0\0\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"GET /sse/x HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: \xff\xff\r\n\r\n".to_vec(),
        b"GET /sse/x?lastEventId=%ZZ HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        (0..=255u8).cycle().take(10_000).collect(),
    ];
    for request in requests {
        let mut socket = TcpStream::connect(server.addr()).await.expect("connects");
        let _ = socket.write_all(&request).await;
        let mut answer = vec![0; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer)).await;
        if let Ok(Ok(n)) = read {
            let head = String::from_utf8_lossy(&answer[..n]);
            assert!(!head.starts_with("HTTP/1.1 5"), "no server error: {head}");
        }
    }
    assert_eq!(server.get_json("/healthz").await["status"], "ok");
    bystander.next_event().await;
}

/// Each limit answers with its status, code and `Retry-After`, and is counted.
#[tokio::test]
async fn limits_reject_with_status_code_and_retry_after() {
    let mut server = TestServer::start(&[
        "--max-streams",
        "2",
        "--max-connections",
        "4",
        "--max-connections-per-ip",
        "3",
        "--interval-ms",
        "50",
    ])
    .await;
    let http = client();
    let _a = subscribe(&http, &server, "a").await;
    let _b = subscribe(&http, &server, "b").await;
    let response = http.get(server.url("/sse/c")).send().await.expect("sent");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert_json_error(response, 503, "too_many_streams").await;

    let _a2 = subscribe(&http, &server, "a").await;
    let response = http.get(server.url("/sse/a")).send().await.expect("sent");
    assert!(response.headers().contains_key("retry-after"));
    assert_json_error(response, 429, "too_many_connections_from_ip").await;

    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["connections"], 3);
    assert_eq!(stats["streams"], 2);
    assert_eq!(stats["rejected"]["too_many_streams"], 1);
    assert_eq!(stats["rejected"]["too_many_connections_from_ip"], 1);
    assert!(stats["events_sent"].is_u64() && stats["uptime_s"].is_u64());
    // And visible in the logs, with the running total.
    server
        .wait_for_log(&["WARN", "rejected: too many streams", "rejected_total=1"])
        .await;
    server
        .wait_for_log(&["WARN", "rejected: too many connections from one address"])
        .await;
}

/// `--max-connections` caps the open streams over all clients.
#[tokio::test]
async fn the_connection_limit_answers_503() {
    let mut server = TestServer::start(&["--max-connections", "2"]).await;
    let http = client();
    let _a = subscribe(&http, &server, "a").await;
    let _b = subscribe(&http, &server, "a").await;
    let response = http.get(server.url("/sse/a")).send().await.expect("sent");
    assert_json_error(response, 503, "too_many_connections").await;
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["rejected"]["too_many_connections"], 1);
    server
        .wait_for_log(&["WARN", "rejected: too many connections", "rejected_total=1"])
        .await;
}

/// 50 clients that never read sit next to normal readers: the readers get
/// every event on time, the stalled ones are cut off after the write timeout
/// and counted, and the server's memory stays flat.
#[tokio::test]
async fn clients_that_stop_reading_do_not_hurt_anyone_else() {
    let server = TestServer::start(&[
        "--interval-ms",
        "10",
        "--write-timeout-ms",
        "500",
        "--send-buffer-bytes",
        "4096",
        "--log",
        "error",
    ])
    .await;
    let http = client();
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(subscribe(&http, &server, "busy").await);
    }
    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(stalled_client(&server, "busy").await);
    }
    eventually("every client has joined", || async {
        server.get_json("/api/stats").await["connections"] == 53
    })
    .await;
    // Every event, in order and on time, while the stalled clients fill up
    // and are cut off.
    let mut last_seqs: Vec<Option<u64>> = vec![None; readers.len()];
    let mut warm_rss = None;
    for round in 0..300 {
        for (reader, last_seq) in readers.iter_mut().zip(&mut last_seqs) {
            let (id, kind, data) = reader.next_message().await;
            assert_eq!(
                kind, None,
                "a normal reader got a `{kind:?}` message: {data}"
            );
            let seq: u64 = id.expect("events carry an id").parse().expect("numeric id");
            if let Some(last) = *last_seq {
                assert_eq!(seq, last + 1, "every event, none skipped or repeated");
            }
            *last_seq = Some(seq);
            let event: Event = serde_json::from_str(&data).expect("event JSON");
            let at = humantime::parse_rfc3339(&event.timestamp).expect("timestamp");
            let delay = SystemTime::now().duration_since(at).unwrap_or_default();
            assert!(delay < Duration::from_secs(1), "late by {delay:?}");
        }
        // By now the stalled sockets' few KiB of buffers are long full.
        if round == 100 {
            warm_rss = Some(server.rss_kib());
        }
    }
    eventually("the stalled clients are disconnected", || async {
        server.get_json("/api/stats").await["rejected"]["slow_client_disconnected"] == 50
    })
    .await;
    assert_eq!(server.get_json("/api/stats").await["connections"], 3);
    let grown = server.rss_kib().saturating_sub(warm_rss.expect("measured"));
    assert!(grown < 4 * 1024, "RSS grew by {grown} KiB");
    drop(stalled);
}

/// A client that stops reading a quiet stream (a long interval: nothing but
/// keep-alives) is cut off after the write timeout and counted as well, not
/// only at the next event.
#[tokio::test]
async fn a_client_that_stops_reading_a_quiet_stream_is_cut_off_too() {
    let mut server = TestServer::start(&[
        "--interval-ms",
        "3600000",
        "--keep-alive-ms",
        "1",
        "--write-timeout-ms",
        "300",
        "--send-buffer-bytes",
        "4096",
        "--log",
        "warn",
    ])
    .await;
    // Keep-alives fill its few KiB of buffers within a second.
    let stalled = stalled_client(&server, "quiet").await;
    server
        .wait_for_log(&["WARN", "disconnected a client that stopped reading"])
        .await;
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["rejected"]["slow_client_disconnected"], 1);
    assert_eq!(stats["connections"], 0);
    drop(stalled);
}

/// A client that stops reading for a while and then goes on gets every event
/// exactly once and in order: the server stops writing to it when its socket
/// fills, catches it up from the replay buffer once it reads again, and
/// streams live to it after that.
#[tokio::test]
async fn a_client_that_pauses_reading_gets_every_event_once_in_order() {
    let server = TestServer::start_for_stalled_clients("error").await;
    let mut paused = stalled_client(&server, "pause").await;
    let mut received = Vec::new();
    read_until_ids(&mut paused, &mut received, 20).await;
    // Not a timing assumption: a pause this long lets ~200 events (~20 KiB)
    // pile up, far more than the 2 KiB and 4 KiB socket buffers hold.
    tokio::time::sleep(Duration::from_secs(1)).await;
    read_until_ids(&mut paused, &mut received, 500).await;
    let ids = ids_in(&received);
    for pair in ids.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "event {} followed {}",
            pair[1],
            pair[0]
        );
    }
    assert!(
        !String::from_utf8_lossy(&received).contains("event: gap"),
        "no event was lost"
    );
}

/// Reads a raw stream response until it holds at least `at_least` event ids.
async fn read_until_ids(socket: &mut TcpStream, into: &mut Vec<u8>, at_least: usize) {
    let mut buffer = [0u8; 4096];
    while ids_in(into).len() < at_least {
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer))
            .await
            .expect("events keep coming")
            .expect("read");
        assert!(read > 0, "the server ended the stream");
        into.extend_from_slice(&buffer[..read]);
    }
}

/// The `id:` values of the complete lines in a raw response (chunk-size lines
/// never start with `id: `).
fn ids_in(raw: &[u8]) -> Vec<u64> {
    let complete = raw
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(&raw[..0], |end| &raw[..end]);
    String::from_utf8_lossy(complete)
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .filter_map(|seq| seq.trim().parse().ok())
        .collect()
}

/// Connections of any kind (here ones that never send a request) cannot use
/// up the server's file descriptors: beyond its open-file limit minus a
/// reserve of 64, new connections get `503 too_many_connections` at once, and
/// service resumes as soon as one closes.
#[tokio::test]
async fn idle_connections_cannot_exhaust_file_descriptors() {
    let server = TestServer::start_with_open_file_limit(
        100,
        &["--max-connections", "1000", "--log", "warn"],
    )
    .await;
    let room = 100 - 64;
    let mut idle = Vec::new();
    for _ in 0..room {
        idle.push(TcpStream::connect(server.addr()).await.expect("connects"));
    }
    let mut refused = TcpStream::connect(server.addr()).await.expect("connects");
    refused
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request sent");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), refused.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("\r\nretry-after: 5\r\n"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default())
        .expect("JSON body");
    assert_eq!(body["code"], "too_many_connections");

    // Two idle connections leave: there is room again for a request hyper
    // serves (it counts twice: its response may open a file), and the
    // refusal was counted.
    drop(idle.pop());
    drop(idle.pop());
    let http = client();
    eventually("a new client is served again", || async {
        let Ok(response) = http.get(server.url("/api/stats")).send().await else {
            return false;
        };
        response.status() == 200
            && response
                .json::<Value>()
                .await
                .is_ok_and(|stats| stats["rejected"]["too_many_connections"].as_u64() >= Some(1))
    })
    .await;
}

/// A client that keeps sending on an open stream (64 MiB of it) is cut off
/// after a few KiB instead of being read for as long as it likes, and other
/// clients are served meanwhile.
#[tokio::test]
async fn a_client_uploading_on_an_open_stream_is_cut_off() {
    let server = TestServer::start(&["--interval-ms", "50", "--log", "warn"]).await;
    let mut uploader = TcpStream::connect(server.addr()).await.expect("connect");
    uploader
        .write_all(b"GET /sse/upload HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request");
    let mut head = [0u8; 256];
    let n = uploader.read(&mut head).await.expect("the stream starts");
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200 OK"));
    let (mut reader, mut writer) = uploader.into_split();
    let upload = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 {
            if writer.write_all(&chunk).await.is_err() {
                return (sent, false);
            }
            sent += chunk.len();
        }
        (sent, true)
    });
    // The server closes the connection: reading ends (EOF or a reset).
    let closed = tokio::time::timeout(common::WAIT, async {
        let mut sink = vec![0u8; 64 * 1024];
        while reader.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    })
    .await;
    assert!(closed.is_ok(), "the uploading client was never cut off");
    let (sent, finished) = tokio::time::timeout(common::WAIT, upload)
        .await
        .expect("the upload ends")
        .expect("task");
    assert!(!finished, "all 64 MiB were taken ({sent} bytes)");
    // Everyone else is still served.
    let mut other = subscribe(&client(), &server, "other").await;
    other.next_event().await;
}
