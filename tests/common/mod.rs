//! Test support: start the real `sse-hub` binary on an ephemeral port and
//! read its Server-Sent Events over HTTP.
#![allow(dead_code)] // each test file uses a different subset

pub mod redis;

use futures_util::StreamExt;
use std::collections::VecDeque;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Longest any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running server process, killed on drop.
pub struct TestServer {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The server's log lines (stderr), as they come.
    pub logs: mpsc::UnboundedReceiver<String>,
    /// What the server printed on stdout after its `listening on` line.
    pub stdout: mpsc::UnboundedReceiver<String>,
}

impl TestServer {
    /// Starts the server with `--addr 127.0.0.1:0` plus `args`, and waits for
    /// its `listening on` line.
    pub async fn start(args: &[&str]) -> Self {
        Self::launch(Command::new(env!("CARGO_BIN_EXE_sse-hub")), args).await
    }

    /// Like [`start`](Self::start), with the process's open-file limit
    /// lowered to `limit` (through the shell's `ulimit`).
    pub async fn start_with_open_file_limit(limit: u32, args: &[&str]) -> Self {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_sse-hub"),
        ]);
        Self::launch(command, args).await
    }

    /// Runs `command` (the server) with `--addr 127.0.0.1:0` plus `args`.
    async fn launch(mut command: Command, args: &[&str]) -> Self {
        // Tests that do not test persistence keep nothing on disk (and
        // never share the checkout's `data/`); `--store` in `args` wins.
        let mut child = command
            .env("SSE_HUB_STORE", "memory")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("server binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("server prints its address in time")
            .expect("stdout readable")
            .expect("server printed a line");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        // Keep draining both pipes so the server never blocks on a full pipe.
        let (stdout_tx, stdout) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = stdout_tx.send(line);
            }
        });
        let (log_tx, logs) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log_tx.send(line);
            }
        });
        Self {
            child,
            base,
            logs,
            stdout,
        }
    }

    /// Starts a server for clients that stop reading: an event every 5 ms
    /// and small send buffers, so that a stalled client's sockets fill
    /// within a second, and a replay buffer of 1,000 events, enough to catch
    /// it up without a gap; logging at `log`.
    pub async fn start_for_stalled_clients(log: &str) -> Self {
        Self::start(&[
            "--interval-ms",
            "5",
            "--send-buffer-bytes",
            "4096",
            "--history",
            "1000",
            "--log",
            log,
        ])
        .await
    }

    /// URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Waits for a log line containing every one of `needles`.
    pub async fn wait_for_log(&mut self, needles: &[&str]) -> String {
        let wait = async {
            while let Some(line) = self.logs.recv().await {
                if needles.iter().all(|needle| line.contains(needle)) {
                    return line;
                }
            }
            panic!("server exited before logging {needles:?}");
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no log line with {needles:?}"))
    }

    /// Resident memory of the server process, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("server is running");
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// Fetches a JSON endpoint.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::get(self.url(path))
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body")
    }
}

/// One parsed piece of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A message: its `id:`, `event:` and joined `data:` lines.
    Message {
        id: Option<String>,
        event: Option<String>,
        data: String,
    },
    /// A `:` comment line (keep-alives).
    Comment(String),
    /// A `retry:` field.
    Retry(u64),
}

/// The token secret of servers started with [`TestServer::start_with_secret`].
pub const SECRET: &str = "integration-test-secret";

impl TestServer {
    /// Starts the server with `--jwt-secret` [`SECRET`] plus `args`.
    pub async fn start_with_secret(args: &[&str]) -> Self {
        let mut all = vec!["--jwt-secret", SECRET];
        all.extend_from_slice(args);
        Self::start(&all).await
    }
}

/// A token signed with [`SECRET`] (HS256) granting `publish` and
/// `subscribe`, expiring `ttl_s` seconds from now (negative: in the past).
pub fn token(publish: &[&str], subscribe: &[&str], ttl_s: i64) -> String {
    sign(
        jsonwebtoken::Algorithm::HS256,
        SECRET,
        &serde_json::json!({
            "exp": now_s() + ttl_s,
            "sub": "tests",
            "sse_hub": {"publish": publish, "subscribe": subscribe},
        }),
    )
}

/// `claims` signed with `secret` under `algorithm`.
pub fn sign(
    algorithm: jsonwebtoken::Algorithm,
    secret: &str,
    claims: &serde_json::Value,
) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("HMAC key"),
    )
    .expect("token encodes")
}

/// Seconds since 1970.
pub fn now_s() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_secs()).expect("in range")
}

/// A generated event together with its SSE sequence id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub seq: u64,
    pub event: Event,
}

type ByteStream = Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Reads an SSE response body incrementally, following the WHATWG parsing
/// rules for the fields sse-hub uses.
pub struct SseReader {
    body: ByteStream,
    buffer: Vec<u8>,
    pending: VecDeque<SseItem>,
}

/// Parses complete SSE blocks (each ended by a blank line) into items.
pub fn parse_blocks(text: &str) -> Vec<SseItem> {
    let mut items = Vec::new();
    for block in text.split("\n\n").filter(|block| !block.is_empty()) {
        parse_block(block, &mut items);
    }
    items
}

fn parse_block(block: &str, out: &mut Vec<SseItem>) {
    let (mut id, mut event, mut data, mut has_data) = (None, None, Vec::new(), false);
    for line in block.split('\n') {
        if let Some(comment) = line.strip_prefix(':') {
            out.push(SseItem::Comment(comment.trim().to_owned()));
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            "data" => {
                has_data = true;
                data.push(value.to_owned());
            }
            "retry" => out.push(SseItem::Retry(value.parse().expect("numeric retry"))),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
    }
    if has_data {
        out.push(SseItem::Message {
            id,
            event,
            data: data.join("\n"),
        });
    }
}

impl SseReader {
    /// Wraps a response.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    /// The next item, or `None` when the stream ended. Panics after [`WAIT`].
    pub async fn next(&mut self) -> Option<SseItem> {
        tokio::time::timeout(WAIT, self.next_unbounded())
            .await
            .expect("an SSE item arrives in time")
    }

    /// The next item without a time limit (for use under the caller's own).
    pub async fn next_unbounded(&mut self) -> Option<SseItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(block).expect("SSE is UTF-8");
                let mut items = Vec::new();
                parse_block(text.trim_end_matches('\n'), &mut items);
                self.pending.extend(items);
                continue;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// The next message (skipping comments and retry), as `(id, event, data)`.
    pub async fn next_message(&mut self) -> (Option<String>, Option<String>, String) {
        loop {
            match self.next().await.expect("stream still open") {
                SseItem::Message { id, event, data } => return (id, event, data),
                SseItem::Comment(_) | SseItem::Retry(_) => continue,
            }
        }
    }

    /// The next generated event (skipping comments, retry and gap notices).
    pub async fn next_event(&mut self) -> Received {
        loop {
            let (id, event, data) = self.next_message().await;
            if event.is_none() {
                let seq = id.expect("events carry an id").parse().expect("numeric id");
                let event = serde_json::from_str(&data).expect("event JSON");
                return Received { seq, event };
            }
        }
    }

    /// The next `n` generated events.
    pub async fn events(&mut self, n: usize) -> Vec<Received> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next_event().await);
        }
        out
    }
}

/// The event as the tests see it (parsed independently of the crate's type).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub number: u32,
    pub timestamp: String,
    pub id: String,
}

/// An HTTP client suitable for many concurrent streams.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client builds")
}

/// Opens `/sse/{id}` and checks it answered 200.
pub async fn subscribe(client: &reqwest::Client, server: &TestServer, id: &str) -> SseReader {
    let response = client
        .get(server.url(&format!("/sse/{id}")))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200, "GET /sse/{id}");
    SseReader::new(response)
}

/// Polls `check` every 20 ms until it returns `true`; fails after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that requests stream `id` and then never reads: its tiny receive
/// window fills at once, so the server's writes to it block quickly.
pub async fn stalled_client(server: &TestServer, id: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(2048).expect("SO_RCVBUF");
    let mut stream = socket
        .connect(server.addr().parse().expect("address"))
        .await
        .expect("connects");
    stream
        .write_all(format!("GET /sse/{id} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("request sent");
    stream
}

/// Reads from `socket` into `received` until `done` holds for what has been
/// received, failing the test if the connection closes first or after
/// [`WAIT`].
pub async fn read_until(
    socket: &mut tokio::net::TcpStream,
    received: &mut Vec<u8>,
    done: impl Fn(&str) -> bool,
) {
    use tokio::io::AsyncReadExt;
    let reading = async {
        while !done(&String::from_utf8_lossy(received)) {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "connection closed early: {}",
                String::from_utf8_lossy(received)
            );
            received.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(WAIT, reading)
        .await
        .unwrap_or_else(|_| panic!("timed out; got {}", String::from_utf8_lossy(received)));
}

/// One message as a client saw it: id (0 for a gap notice), event type,
/// data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: u64,
    pub event: Option<String>,
    pub data: String,
}

/// Opens `/sse/{id}` on `server`, resuming after `last` (if any).
pub async fn open_stream(server: &TestServer, stream: &str, last: Option<u64>) -> SseReader {
    let mut request = client().get(server.url(&format!("/sse/{stream}")));
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status(), 200, "GET /sse/{stream}");
    SseReader::new(response)
}

/// The next message with an id, or a gap notice, or `None` at the end of
/// the stream.
pub async fn next_seen(reader: &mut SseReader) -> Option<Seen> {
    loop {
        match reader.next().await? {
            SseItem::Message { id, event, data } => {
                let id = match (&id, event.as_deref()) {
                    (Some(id), _) => id.parse().expect("numeric id"),
                    (None, Some("gap")) => 0,
                    _ => panic!("a message without an id: {event:?} {data}"),
                };
                return Some(Seen { id, event, data });
            }
            SseItem::Comment(_) | SseItem::Retry(_) => continue,
        }
    }
}
