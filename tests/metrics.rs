//! `GET /metrics` and `--log-format json`, against the real binary: the
//! exposition passes `promtool check metrics` (Prometheus's own linter)
//! under light load, its counters move as events flow, `--metrics-addr`
//! moves it off the public listener, and JSON log lines carry the
//! connection's fields.

mod common;

use common::{client, eventually, open_stream, subscribe, TestServer, WAIT};
use std::collections::BTreeMap;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// One scrape: each sample's name with its labels (as written) → value.
async fn scrape(url: &str) -> (String, BTreeMap<String, f64>) {
    let response = client().get(url).send().await.expect("scrape sent");
    assert_eq!(response.status(), 200, "GET {url}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("scrape body");
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect();
    (text, samples)
}

fn sample(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no sample {name} in {samples:#?}"))
}

/// The `http://…/metrics` URL the server printed for `--metrics-addr`.
async fn metrics_url(server: &mut TestServer) -> String {
    let printed = async {
        while let Some(line) = server.stdout.recv().await {
            if let Some(url) = line.strip_prefix("metrics on ") {
                return url.to_owned();
            }
        }
        panic!("the server printed no metrics address");
    };
    tokio::time::timeout(WAIT, printed)
        .await
        .expect("the metrics address is printed in time")
}

/// `promtool check metrics` on `text`: its complaints, empty when clean.
async fn promtool(text: &str) -> String {
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (make setup installs Debian's prometheus package)");
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(text.as_bytes()).await.expect("fed");
    drop(stdin);
    let output = child.wait_with_output().await.expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        String::new()
    } else {
        said
    }
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_what_flows() {
    let server = TestServer::start(&["--interval-ms", "50", "--store", "memory"]).await;
    let http = client();
    let mut one = subscribe(&http, &server, "metered").await;
    let mut two = subscribe(&http, &server, "metered").await;
    one.events(2).await;
    two.events(2).await;
    // One rejection of a known code.
    let bad = http
        .get(server.url("/sse/bad%20id"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);

    let (text, before) = scrape(&server.url("/metrics")).await;
    let complaints = promtool(&text).await;
    assert!(complaints.is_empty(), "promtool: {complaints}\n{text}");
    assert_eq!(sample(&before, "sse_hub_connections"), 2.0);
    assert_eq!(sample(&before, "sse_hub_streams"), 1.0);
    assert_eq!(
        sample(
            &before,
            "sse_hub_rejections_total{code=\"invalid_stream_id\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&before, "sse_hub_rejections_total{code=\"forbidden\"}"),
        0.0
    );
    assert!(text.contains("sse_hub_build_info{version=\""), "{text}");
    assert!(text.contains("store=\"memory\"} 1"), "{text}");
    assert!(sample(&before, "sse_hub_store_append_seconds_count") >= 2.0);

    // Counters move as events flow: each event goes to both clients.
    one.events(3).await;
    two.events(3).await;
    let (_, after) = scrape(&server.url("/metrics")).await;
    let events = sample(&after, "sse_hub_events_total") - sample(&before, "sse_hub_events_total");
    let deliveries =
        sample(&after, "sse_hub_deliveries_total") - sample(&before, "sse_hub_deliveries_total");
    assert!(events >= 3.0, "events moved by {events}");
    assert_eq!(
        sample(&after, "sse_hub_events_generated_total"),
        sample(&after, "sse_hub_events_total"),
        "nothing published: every event was generated"
    );
    assert!(
        deliveries >= 2.0 * events - 2.0,
        "{deliveries} deliveries for {events} events to two clients"
    );
    assert!(
        sample(&after, "sse_hub_delivered_bytes_total")
            > sample(&before, "sse_hub_delivered_bytes_total")
    );

    // A resume replays from the ring, and the gauges follow clients out.
    drop(one);
    drop(two);
    let mut resumed = open_stream(&server, "metered", Some(1)).await;
    resumed.events(1).await;
    let (_, later) = scrape(&server.url("/metrics")).await;
    assert!(sample(&later, "sse_hub_replayed_events_total") >= 1.0);
    drop(resumed);
    eventually("the connections gauge drops to 0", || async {
        let (_, now) = scrape(&server.url("/metrics")).await;
        sample(&now, "sse_hub_connections") == 0.0
    })
    .await;
}

#[tokio::test]
async fn metrics_addr_serves_metrics_privately_and_not_publicly() {
    let mut server = TestServer::start(&["--metrics-addr", "127.0.0.1:0"]).await;
    let private = metrics_url(&mut server).await;
    let (text, _) = scrape(&private).await;
    assert!(text.contains("sse_hub_connections"), "{text}");
    let public = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(public.status(), 404);
    let body: serde_json::Value = public.json().await.expect("JSON 404");
    assert_eq!(body["code"], "not_found");
    let other = client()
        .get(private.replace("/metrics", "/api/stats"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        other.status(),
        404,
        "the metrics listener serves nothing else"
    );
}

#[tokio::test]
async fn json_logs_carry_stream_client_and_subscribers_as_fields() {
    let mut server = TestServer::start(&["--log-format", "json", "--log", "info"]).await;
    let http = client();
    let reader = subscribe(&http, &server, "logged").await;
    let line = server.wait_for_log(&["client connected"]).await;
    let entry: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    assert_eq!(entry["stream"], "logged", "{line}");
    assert_eq!(entry["client"], "127.0.0.1", "{line}");
    assert_eq!(entry["subscribers"], 1, "{line}");
    assert_eq!(entry["level"], "INFO", "{line}");
    assert!(entry["timestamp"].is_string(), "{line}");
    drop(reader);
    let line = server.wait_for_log(&["client disconnected"]).await;
    let entry: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    assert_eq!(entry["stream"], "logged", "{line}");
    assert_eq!(entry["client"], "127.0.0.1", "{line}");
    assert_eq!(entry["subscribers"], 0, "{line}");
}

#[tokio::test]
async fn a_bad_log_format_exits_2_with_a_message() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-hub"))
        .args(["--log-format", "xml", "--store", "memory"])
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--log-format"), "{said}");
}

/// The counters of one scrape at `url`, by name (with labels).
async fn counters(url: &str) -> BTreeMap<String, f64> {
    scrape(url).await.1
}

#[tokio::test]
async fn replayed_events_and_gap_notices_are_counted_exactly() {
    let server = TestServer::start(&["--interval-ms", "20", "--history", "3"]).await;
    let http = client();
    let mut first = subscribe(&http, &server, "ringed").await;
    // More than the ring holds, so that id 1 has fallen out of it.
    while first.next_event().await.seq < 8 {}
    let before = counters(&server.url("/metrics")).await;
    let mut resumed = open_stream(&server, "ringed", Some(1)).await;
    let notice = loop {
        match resumed.next().await.expect("the resume answers") {
            common::SseItem::Message { event, .. } => break event,
            _ => continue,
        }
    };
    assert_eq!(
        notice.as_deref(),
        Some("gap"),
        "ids 2.. are gone from the ring"
    );
    let after = counters(&server.url("/metrics")).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    // The ring's 3 events, not its gap notice too.
    assert_eq!(moved("sse_hub_replayed_events_total"), 3.0);
    assert_eq!(moved("sse_hub_gap_notices_total"), 1.0);
}

#[tokio::test]
async fn each_host_refusal_is_counted_under_its_own_code() {
    let server = TestServer::start(&[]).await;
    let mut socket = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connects");
    socket
        .write_all(b"GET /api/stats HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("sent");
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut socket, &mut answer)
        .await
        .expect("answered");
    assert!(answer.contains("\"missing_host\""), "{answer}");
    let now = counters(&server.url("/metrics")).await;
    assert_eq!(
        sample(&now, "sse_hub_rejections_total{code=\"missing_host\"}"),
        1.0
    );
    assert_eq!(
        sample(&now, "sse_hub_rejections_total{code=\"host_not_allowed\"}"),
        0.0
    );
}

#[tokio::test]
async fn the_metrics_listener_has_the_public_listeners_deadlines_and_answers() {
    let mut server =
        TestServer::start(&["--metrics-addr", "127.0.0.1:0", "--head-timeout-ms", "300"]).await;
    let private = metrics_url(&mut server).await;
    let addr = private
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    // A head that never ends is closed after --head-timeout-ms.
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connects");
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("sent");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_to_end(&mut slow, &mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "an unfinished head was still open after {WAIT:?}"
    );
    // Another method gets the API's JSON 405; another host name its 421.
    let post = client().post(&private).send().await.expect("sent");
    assert_eq!(post.status(), 405);
    let body: serde_json::Value = post.json().await.expect("JSON");
    assert_eq!(body["code"], "method_not_allowed");
    let rebound = client()
        .get(&private)
        .header("Host", "evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(rebound.status(), 421);
    // A scraper reaching it by IP address is answered.
    let by_address = client().get(&private).send().await.expect("sent");
    assert_eq!(by_address.status(), 200);
}
