//! Graceful shutdown: SIGTERM or SIGINT ends every open stream cleanly and
//! the process exits 0 within 2 s, even with many streams open.

mod common;

use common::{client, eventually, stalled_client, TestServer};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

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
}

/// SIGTERM with two thousand open streams.
#[tokio::test]
async fn sigterm_ends_two_thousand_streams_cleanly_and_exits_zero() {
    shuts_down_gracefully("TERM", 2000).await;
}

/// SIGINT (Ctrl-C) behaves the same.
#[tokio::test]
async fn sigint_ends_streams_cleanly_and_exits_zero() {
    shuts_down_gracefully("INT", 20).await;
}

/// Shutdown stops accepting at once, while it still waits (here for a client
/// that stopped reading) before exiting.
#[tokio::test]
async fn stops_accepting_while_it_finishes() {
    let mut server = TestServer::start(&[
        "--interval-ms",
        "5",
        "--send-buffer-bytes",
        "4096",
        "--log",
        "info",
    ])
    .await;
    // A client that never reads: its buffers fill, so its goodbye blocks and
    // shutdown waits its grace period for it.
    let stalled = stalled_client(&server, "stalled").await;
    // Far more bytes than the few KiB both socket buffers hold.
    eventually("the stalled client's buffers are full", || async {
        server.get_json("/api/streams").await[0]["events_sent"]
            .as_u64()
            .is_some_and(|sent| sent >= 300)
    })
    .await;

    send_signal(&server, "TERM");
    server.wait_for_log(&["received SIGTERM"]).await;
    let refused_while_running = async {
        loop {
            let refused = TcpStream::connect(server.addr()).await.is_err();
            let running = server.child.try_wait().expect("status").is_none();
            assert!(running, "exited before refusing new connections");
            if refused {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), refused_while_running)
        .await
        .expect("refuses new connections");
    let status = tokio::time::timeout(Duration::from_secs(5), server.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert_eq!(status.code(), Some(0));
    drop(stalled);
}
