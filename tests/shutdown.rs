//! Graceful shutdown: SIGTERM or SIGINT ends every open stream cleanly and
//! the process exits 0 within 2 s, even with many streams open.

mod common;

use common::{client, TestServer};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Sends `signal` to the server process.
fn send_signal(server: &TestServer, signal: &str) {
    let pid = server.child.id().expect("server running").to_string();
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Opens `n` streams over `ids` ids and waits until each has received its
/// first bytes (the `retry:` hint), so all are really open.
async fn open_streams(server: &TestServer, n: usize, ids: usize) -> Vec<reqwest::Response> {
    let http = client();
    let mut responses = Vec::with_capacity(n);
    for i in 0..n {
        let response = http
            .get(server.url(&format!("/sse/shutdown-{}", i % ids)))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        responses.push(response);
    }
    responses
}

/// Reads a body to its end; `true` when it ended cleanly (complete chunked
/// encoding), `false` on a transport error.
async fn ends_cleanly(response: reqwest::Response) -> bool {
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        if chunk.is_err() {
            return false;
        }
    }
    true
}

async fn shuts_down_gracefully(signal: &str, connections: usize) {
    let mut server = TestServer::start(&["--interval-ms", "100", "--log", "warn"]).await;
    let streams = open_streams(&server, connections, 50).await;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|r| tokio::spawn(ends_cleanly(r)))
        .collect();
    let started = Instant::now();
    send_signal(&server, signal);
    let status = tokio::time::timeout(Duration::from_secs(5), server.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "exit code");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let mut clean = 0;
    for reader in readers {
        if reader.await.expect("reader joined") {
            clean += 1;
        }
    }
    assert_eq!(clean, connections, "every stream ended cleanly");
    assert!(
        reqwest::get(server.url("/healthz")).await.is_err(),
        "no longer accepting"
    );
}

/// SIGTERM with a thousand open streams.
#[tokio::test]
async fn sigterm_ends_a_thousand_streams_cleanly_and_exits_zero() {
    shuts_down_gracefully("TERM", 1000).await;
}

/// SIGINT (Ctrl-C) behaves the same.
#[tokio::test]
async fn sigint_ends_streams_cleanly_and_exits_zero() {
    shuts_down_gracefully("INT", 20).await;
}
