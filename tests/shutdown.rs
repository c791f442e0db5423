//! Graceful shutdown: SIGTERM or SIGINT ends every open stream cleanly and
//! the process exits 0 within 2 s, even with many streams open.

mod common;

use common::{client, eventually, stalled_client, TestServer, WAIT};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
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
    // Every stream comes from 127.0.0.1: no per-address share or rate.
    let mut server = TestServer::start(&[
        "--interval-ms",
        "100",
        "--max-sockets-per-ip",
        "0",
        "--max-connection-rate-per-ip",
        "0",
        "--log",
        "warn",
    ])
    .await;
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

/// Opens a client on stream `id` that never reads, waits until the stream
/// has sent several times what the client's and the server's socket buffers
/// hold, then sends SIGTERM and waits until the server has logged it.
async fn sigterm_with_a_client_far_behind(server: &mut TestServer, id: &str) -> TcpStream {
    let behind = stalled_client(server, id).await;
    eventually("the client is far behind", || async {
        server.get_json("/api/streams").await[0]["events_sent"]
            .as_u64()
            .is_some_and(|sent| sent >= 300)
    })
    .await;
    send_signal(server, "TERM");
    server.wait_for_log(&["received SIGTERM"]).await;
    behind
}

/// Shutdown stops accepting at once, while it still waits (here for a client
/// that stopped reading) before exiting.
#[tokio::test]
async fn stops_accepting_while_it_finishes() {
    let mut server = TestServer::start_for_stalled_clients("info").await;
    // A client that never reads: its buffers fill, so its goodbye blocks and
    // shutdown waits its grace period for it.
    let stalled = sigterm_with_a_client_far_behind(&mut server, "stalled").await;
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

/// A client that is behind when the server shuts down is usually in the
/// middle of a write of several events. It still gets a well-formed response
/// with nothing cut out: the rest of that write, then the last chunk (a last
/// chunk after half a chunk would be read as chunk data, and the response
/// would never end).
#[tokio::test]
async fn a_client_behind_gets_the_rest_of_its_write_then_a_clean_end() {
    let mut server = TestServer::start_for_stalled_clients("info").await;
    let mut behind = sigterm_with_a_client_far_behind(&mut server, "behind").await;
    // Read at once: the server gives a client half a second to take the end.
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), behind.read_to_end(&mut raw))
        .await
        .expect("the response ends")
        .expect("the response ends without a reset");
    let body = chunked_body(&raw).expect("well-formed chunked response");
    let body = String::from_utf8(body).expect("UTF-8 body");
    let ids: Vec<u64> = body
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .map(|id| id.parse().expect("numeric id"))
        .collect();
    assert!(ids.len() > 50, "got {} events", ids.len());
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected, "every event from the first, once, in order");
}

/// Decodes `raw`, a response head and a chunked body, checking that the body
/// is complete (ends in the last chunk and nothing after it).
fn chunked_body(raw: &[u8]) -> Result<Vec<u8>, String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of head")?;
    let mut rest = &raw[head_end + 4..];
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| format!("no size line after {} body bytes", body.len()))?;
        let size_line = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size = usize::from_str_radix(&size_line, 16)
            .map_err(|_| format!("size line {size_line:?} after {} body bytes", body.len()))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return if rest == b"\r\n" {
                Ok(body)
            } else {
                Err(format!("{} bytes after the last chunk", rest.len()))
            };
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return Err(format!("a chunk of {size} bytes cut short"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The server with `--store memory` on a free port, its stdout piped
/// and its stderr as given: a bare process, for tests of how it stops.
fn spawn_bare(stderr: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sse-hub"))
        .args(["--addr", "127.0.0.1:0", "--store", "memory"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("server starts")
}

/// Sends SIGTERM to `child` and returns how it ended; fails when it is
/// still running after [`WAIT`].
fn sigterm_and_wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(exited) = child.try_wait().expect("wait") {
            return exited;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_a_server_whose_log_reader_is_gone() {
    // Like a server piped into `head` or a log shipper that died: once its
    // first line is read, nobody reads its stdout (the reader is dropped at
    // once) or its stderr.
    let mut child = spawn_bare(std::process::Stdio::piped());
    let stdout = child.stdout.take().expect("piped");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).expect("stdout");
    assert!(first.starts_with("listening on "), "{first:?}");
    drop(child.stderr.take());
    let exited = sigterm_and_wait(&mut child);
    assert!(exited.success(), "{exited:?}");
}

#[test]
fn sigterm_right_after_the_listening_line_is_a_clean_stop() {
    // A supervisor that stops a server as soon as it has started.
    for _ in 0..5 {
        let mut child = spawn_bare(std::process::Stdio::null());
        let mut stdout = child.stdout.take().expect("piped");
        // Up to the first line's end, not a byte more.
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\n") {
            std::io::Read::read_exact(&mut stdout, &mut byte).expect("stdout");
            line.push(byte[0]);
        }
        assert!(line.starts_with(b"listening on "), "{line:?}");
        let exited = sigterm_and_wait(&mut child);
        assert_eq!(
            exited.code(),
            Some(0),
            "a clean stop, not killed: {exited:?}"
        );
    }
}
