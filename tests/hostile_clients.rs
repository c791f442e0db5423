//! One client must not be able to take the server down: every request head
//! has a deadline and a size bound on both paths, one address cannot hold
//! every socket or open connections as fast as it likes, a stream's ids are
//! unambiguous across its lives, requests for other hosts are refused, and
//! both paths read a request the same way.

mod common;

use common::{client, subscribe, SseItem, SseReader, TestServer, WAIT};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// A connection to `server` from the loopback address `from` (Linux routes
/// all of 127.0.0.0/8 to the loopback interface).
async fn connect_from(from: Ipv4Addr, server: &TestServer) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    let addr: SocketAddr = server.addr().parse().expect("address");
    socket.connect(addr).await.expect("connects")
}

/// Reads until the server closes the connection (or resets it) and returns
/// what arrived; fails after [`WAIT`].
async fn read_until_closed(socket: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read_all)
        .await
        .expect("the server closed the connection in time");
    String::from_utf8_lossy(&received).into_owned()
}

/// Sends `request` and reads one response head and its JSON body (the
/// server's errors are small and sent at once, with a content-length).
async fn exchange(socket: &mut TcpStream, request: &[u8]) -> (String, Value) {
    socket.write_all(request).await.expect("request sent");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole answer: {received:?}");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|value| value.trim().parse::<usize>().ok());
                if length.is_some_and(|length| body.len() >= length) {
                    let body = serde_json::from_str(body).unwrap_or(Value::Null);
                    return (head.to_owned(), body);
                }
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("answered in time")
}

/// Asserts that a client at 127.0.0.1 still gets its `GET /healthz`.
async fn assert_still_served(server: &TestServer) {
    let health = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
}

/// Trickles `bytes` one at a time, 50 ms apart, until the server closes the
/// connection; returns how long that took.
async fn trickle_until_closed(socket: TcpStream) -> Duration {
    let started = Instant::now();
    let (mut reader, mut writer) = socket.into_split();
    let trickle = tokio::spawn(async move {
        for byte in b"X-Slow: ".iter().chain(std::iter::repeat(&b'x')) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let closed = tokio::time::timeout(WAIT, async {
        let mut sink = [0u8; 1024];
        while reader.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "a head trickled for {WAIT:?} was never cut off"
    );
    started.elapsed()
}

/// A first request head sent one byte at a time is cut off at the head
/// deadline, also once it is past the 8 KiB at which the gateway used to
/// hand it to hyper, which had no deadline at all.
#[tokio::test]
async fn a_slow_first_head_is_cut_off_at_the_deadline() {
    let server = TestServer::start(&["--head-timeout-ms", "500", "--log", "warn"]).await;
    for prefix in [0usize, 9 * 1024] {
        let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
        let mut head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n".to_vec();
        if prefix > 0 {
            head.extend_from_slice(b"X-Padding: ");
            head.resize(prefix, b'p');
            head.extend_from_slice(b"\r\n");
        }
        socket.write_all(&head).await.expect("send");
        let took = trickle_until_closed(socket).await;
        assert!(
            took >= Duration::from_millis(400),
            "closed after {took:?}, before the deadline"
        );
    }
    assert_still_served(&server).await;
}

/// The second request head on a keep-alive connection has the same
/// deadline as the first.
#[tokio::test]
async fn a_slow_head_on_a_keep_alive_connection_is_cut_off_too() {
    let server = TestServer::start(&["--head-timeout-ms", "500", "--log", "warn"]).await;
    let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
    let (head, _) = exchange(
        &mut socket,
        b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    socket
        .write_all(b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("send");
    trickle_until_closed(socket).await;
}

/// A head over 16 KiB is refused with `431`, on the first request (a JSON
/// error from the gateway) and on a later one (hyper's bound).
#[tokio::test]
async fn an_oversized_head_gets_431() {
    let server = TestServer::start(&["--log", "warn"]).await;
    let mut big = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ".to_vec();
    big.resize(17 * 1024, b'b');

    let mut first = TcpStream::connect(server.addr()).await.expect("connect");
    first.write_all(&big).await.expect("send");
    let answer = read_until_closed(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let body: Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).expect("JSON");
    assert_eq!(body["code"], "head_too_large");
    assert_eq!(body["error"], "the request head is over 16384 bytes");

    // More headers than hyper takes: refused by the gateway too, not handed
    // to hyper half-read (whose own head deadline would start afresh).
    let mut many = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for n in 0..120 {
        many.extend_from_slice(format!("X-{n}: v\r\n").as_bytes());
    }
    let mut crowded = TcpStream::connect(server.addr()).await.expect("connect");
    crowded.write_all(&many).await.expect("send");
    let answer = read_until_closed(&mut crowded).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(answer.contains("\"code\":\"head_too_large\""), "{answer}");
    // The message names the bound it passed, not the size.
    assert!(answer.contains("more than 100 header lines"), "{answer}");

    let mut later = TcpStream::connect(server.addr()).await.expect("connect");
    let (head, _) = exchange(
        &mut later,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    later.write_all(&big).await.expect("send");
    let answer = read_until_closed(&mut later).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

/// A flood of idle connections from one address (127.0.0.2) takes its
/// share of the sockets only: a client at 127.0.0.1 is still served, and
/// the flood's connections beyond its share are refused with `429`.
#[tokio::test]
async fn a_flood_from_one_address_leaves_the_others_served() {
    // 200 descriptors: 136 sockets in all, 64 for one address. The rate of
    // new connections is another test's business.
    let server = TestServer::start_with_open_file_limit(
        200,
        &[
            "--interval-ms",
            "50",
            "--max-connections",
            "1000",
            "--max-connection-rate-per-ip",
            "0",
            "--log",
            "warn",
        ],
    )
    .await;
    let flooder = Ipv4Addr::new(127, 0, 0, 2);
    let mut flood = Vec::new();
    for _ in 0..136 {
        flood.push(connect_from(flooder, &server).await);
    }
    // Beyond its share the flooder is refused. (At most 16 refusals are
    // answered at a time, each waiting up to 1 s for its request; the
    // flood's idle refused sockets hold those slots for that second, and
    // meanwhile a refused connection is closed unanswered.)
    let refusal = async {
        loop {
            let mut beyond = connect_from(flooder, &server).await;
            let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
            if beyond.write_all(request).await.is_err() {
                continue;
            }
            let answer = read_until_closed(&mut beyond).await;
            if !answer.is_empty() {
                break answer;
            }
        }
    };
    let answer = tokio::time::timeout(WAIT, refusal)
        .await
        .expect("a refusal answered");
    assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
    assert!(
        answer.contains("\"code\":\"too_many_sockets_from_ip\""),
        "{answer}"
    );

    // Everyone else is served: a page request and a stream.
    let http = client();
    let health = http.get(server.url("/healthz")).send().await.expect("get");
    assert_eq!(health.status(), 200);
    let mut stream = subscribe(&http, &server, "served").await;
    stream.next_event().await;
    let stats: Value = http
        .get(server.url("/api/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert!(
        stats["rejected"]["too_many_sockets_from_ip"].as_u64() >= Some(136 - 64),
        "{stats}"
    );
    drop(flood);
}

/// An address opening connections faster than `--max-connection-rate-per-ip`
/// is refused with `429 connection_rate_limited` and `Retry-After: 1`, while
/// another address is served.
#[tokio::test]
async fn an_address_opening_connections_too_fast_is_refused() {
    let server = TestServer::start(&["--max-connection-rate-per-ip", "5", "--log", "warn"]).await;
    let flooder = Ipv4Addr::new(127, 0, 0, 3);
    let mut refused = None;
    for _ in 0..50 {
        let mut socket = connect_from(flooder, &server).await;
        let (head, body) = exchange(
            &mut socket,
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        if head.starts_with("HTTP/1.1 429 ") {
            refused = Some((head, body));
            break;
        }
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    }
    let (head, body) = refused.expect("50 connections at once were all accepted");
    assert_eq!(body["code"], "connection_rate_limited");
    assert!(
        head.to_ascii_lowercase().contains("\r\nretry-after: 1"),
        "{head}"
    );
    // Another address is not limited.
    assert_still_served(&server).await;
}

/// The id of the last event in `reader`'s next `n` events.
async fn ids_of(reader: &mut SseReader, n: usize) -> Vec<u64> {
    reader
        .events(n)
        .await
        .iter()
        .map(|event| event.seq)
        .collect()
}

/// A stream forgotten after its retention time comes back numbering above
/// its earlier life, so a client resuming with an id from that life is
/// told of the gap instead of silently skipping the new life's events.
#[tokio::test]
async fn ids_are_unambiguous_across_a_streams_lives() {
    let mut server = TestServer::start(&[
        "--interval-ms",
        "50",
        "--retention-ms",
        "50",
        "--log",
        "info",
    ])
    .await;
    let http = client();
    let mut first_life = subscribe(&http, &server, "lives").await;
    let old = ids_of(&mut first_life, 5).await;
    let last_old = *old.last().expect("ids");
    drop(first_life);
    server
        .wait_for_log(&["stream forgotten after retention", "lives"])
        .await;

    // The new life's ids are above the old life's.
    let mut second_life = subscribe(&http, &server, "lives").await;
    let new = ids_of(&mut second_life, 3).await;
    assert!(
        new[0] > last_old,
        "the new life starts at {} after the old one reached {last_old}",
        new[0]
    );
    // A client from the first life that missed some of its events gets a
    // gap notice, then the new life's events it has not seen.
    let behind = old[1];
    let response = http
        .get(server.url("/sse/lives"))
        .header("last-event-id", behind.to_string())
        .send()
        .await
        .expect("resume");
    let mut resumed = SseReader::new(response);
    let gap = loop {
        match resumed.next().await.expect("open") {
            SseItem::Message {
                event: Some(event),
                data,
                ..
            } if event == "gap" => break data,
            SseItem::Message { id, .. } => {
                panic!("an event ({id:?}) before the gap notice (old {old:?}, new {new:?})")
            }
            _ => continue,
        }
    };
    let gap: Value = serde_json::from_str(&gap).expect("gap JSON");
    assert_eq!(gap["first"].as_u64(), Some(behind + 1), "{gap}");
    assert!(gap["last"].as_u64() >= Some(last_old), "{gap}");
    let next = resumed.next_event().await.seq;
    assert!(next > last_old, "then the new life's events: {next}");
}

/// A request for a host the server does not answer for (a DNS-rebinding
/// page) gets `421 host_not_allowed` on every path; one without `Host`
/// gets `400 missing_host`; `--allowed-hosts '*'` answers any.
#[tokio::test]
async fn requests_for_other_hosts_are_refused_on_both_paths() {
    let server = TestServer::start(&["--log", "warn"]).await;
    let evil_stream = b"GET /sse/rebind HTTP/1.1\r\nHost: evil.example:3000\r\n\r\n";
    // The direct path: a stream as the first request.
    let mut direct = TcpStream::connect(server.addr()).await.expect("connect");
    let (head, body) = exchange(&mut direct, evil_stream).await;
    assert!(head.starts_with("HTTP/1.1 421 "), "{head}");
    assert_eq!(body["code"], "host_not_allowed");
    // axum: a page, an API call, and a stream on a keep-alive connection.
    let mut served = TcpStream::connect(server.addr()).await.expect("connect");
    for request in [
        &b"GET / HTTP/1.1\r\nHost: evil.example:3000\r\n\r\n"[..],
        b"GET /api/stats HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        evil_stream,
    ] {
        let (head, body) = exchange(&mut served, request).await;
        assert!(head.starts_with("HTTP/1.1 421 "), "{head}");
        assert_eq!(body["code"], "host_not_allowed");
    }
    // A target in absolute form names the host itself, and `Host` is
    // ignored (RFC 9112 3.2.2), on a stream request too.
    for request in [
        &b"GET http://evil.example/api/stats HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"GET http://evil.example:3000/sse/rebind HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let (head, body) = exchange(&mut served, request).await;
        assert!(head.starts_with("HTTP/1.1 421 "), "{head}");
        assert_eq!(body["code"], "host_not_allowed");
    }
    let (head, _) = exchange(
        &mut served,
        b"GET http://localhost:3000/api/stats HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // Still, an HTTP/1.1 request without a Host header is refused,
    // absolute-form target or not.
    let (head, body) = exchange(
        &mut served,
        b"GET http://localhost:3000/api/stats HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert_eq!(body["code"], "missing_host");
    let (head, body) = exchange(&mut served, b"GET /api/stats HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert_eq!(body["code"], "missing_host");
    // Two Host headers (which counts is what a proxy in front and this
    // server could disagree on), or one that is no host: 400, on a first
    // stream request (the direct path's) and on a keep-alive connection.
    for request in [
        &b"GET /sse/a HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"[..],
        b"GET /sse/a HTTP/1.1\r\nHost: localhost:abc\r\n\r\n",
        b"GET /sse/a HTTP/1.1\r\nHost: user@localhost\r\n\r\n",
    ] {
        let mut first = TcpStream::connect(server.addr()).await.expect("connect");
        let (head, body) = exchange(&mut first, request).await;
        assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
        assert_eq!(body["code"], "invalid_host", "{body}");
        let (head, body) = exchange(&mut served, request).await;
        assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
        assert_eq!(body["code"], "invalid_host", "{body}");
    }
    let stats: Value = reqwest::get(server.url("/api/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["rejected"]["invalid_host"], 6, "{stats}");
    let mut hostless_stream = TcpStream::connect(server.addr()).await.expect("connect");
    let (head, body) = exchange(&mut hostless_stream, b"GET /sse/a HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert_eq!(body["code"], "missing_host");

    let any = TestServer::start(&["--allowed-hosts", "*", "--log", "warn"]).await;
    let mut socket = TcpStream::connect(any.addr()).await.expect("connect");
    let (head, _) = exchange(
        &mut socket,
        b"GET /api/stats HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}

/// What a stream request gets, read from the raw answer: the status line,
/// the headers a client acts on, and the first message (or the error body).
async fn stream_answer(socket: &mut TcpStream, request: &[u8]) -> (String, Vec<String>, String) {
    socket.write_all(request).await.expect("request sent");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = socket.read(&mut buf).await.unwrap_or(0);
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let ok = head.starts_with("HTTP/1.1 200");
                let done = if ok {
                    body.contains("\n\n") && body.contains("data:")
                } else {
                    body.contains('}')
                };
                if done || n == 0 {
                    return (head.to_owned(), body.to_owned());
                }
            }
            assert!(n > 0, "closed early: {text}");
        }
    };
    let (head, body) = tokio::time::timeout(WAIT, read).await.expect("answered");
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let mut headers: Vec<String> = lines
        .map(str::to_ascii_lowercase)
        .filter(|line| {
            ["content-type", "access-control-allow-origin", "retry-after"]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .collect();
    headers.sort();
    // The first message with its id, whichever framing carried it.
    let first = body
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|line| {
                    line.starts_with("id:")
                        || line.starts_with("data:")
                        || line.starts_with("event:")
                        || line.starts_with('{')
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .find(|block| !block.is_empty())
        .unwrap_or_default();
    (status, headers, first)
}

/// The same stream request gets the same answer whichever path serves it:
/// as the first request of a connection (the direct path) and after a
/// request on a keep-alive connection (axum), for the cases where the
/// direct path used to read a request differently from hyper.
#[tokio::test]
async fn both_paths_read_a_stream_request_the_same_way() {
    let server = TestServer::start(&["--interval-ms", "100", "--log", "warn"]).await;
    // Stream `same` has events; each request below resumes before its
    // second (`0` would mean a fresh start), so both paths answer with the
    // same replayed event first.
    let mut warm = subscribe(&client(), &server, "same").await;
    let first = warm.events(2).await[1].seq;
    let before = first - 1;
    let requests = [
        format!("GET /sse/same HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: {before}\r\n\r\n"),
        format!("GET /sse/same?lastEventId={before}#frag HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        format!("GET /sse/same HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: {before}\r\nLast-Event-ID: {first}\r\n\r\n"),
        format!("GET /sse/same HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: {before}\r\nOrigin: http://localhost:1\r\nOrigin: http://evil.example\r\n\r\n"),
        format!("GET /sse/same?x=<script> HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: {before}\r\n\r\n"),
        format!("GET /sse/same HTTP/1.1\r\nHost: evil.example\r\nLast-Event-ID: {before}\r\n\r\n"),
    ];
    for request in &requests {
        let mut fresh = TcpStream::connect(server.addr()).await.expect("connect");
        let direct = stream_answer(&mut fresh, request.as_bytes()).await;
        let mut keep_alive = TcpStream::connect(server.addr()).await.expect("connect");
        let (head, _) = exchange(
            &mut keep_alive,
            b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let served = stream_answer(&mut keep_alive, request.as_bytes()).await;
        assert_eq!(direct, served, "{request:?}");
    }
}

#[tokio::test]
async fn a_target_that_is_no_path_or_an_unknown_api_path_gets_the_json_404() {
    let server = TestServer::start(&["--interval-ms", "50"]).await;
    let requests: [&[u8]; 6] = [
        b"CONNECT localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /sse/a/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /sse// HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /api/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST /sse/./x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
    ];
    for request in requests {
        let mut socket = connect_from(Ipv4Addr::LOCALHOST, &server).await;
        let (head, body) = exchange(&mut socket, request).await;
        let shown = String::from_utf8_lossy(request);
        assert!(head.starts_with("HTTP/1.1 404"), "{shown}: {head}");
        assert_eq!(body["code"], "not_found", "{shown}: {body}");
    }
    assert_still_served(&server).await;
}
