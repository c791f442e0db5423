//! Private streams (`--private-streams`) on every path a stream request can
//! take: the first request of a fresh connection (the direct path), a later
//! one on a keep-alive connection (axum's handler, which hands the socket
//! over) and HTTP/1.0 (axum's response body). Each refuses a request without
//! the right token with the same JSON error, accepts the token as a Bearer
//! header, the `sse_hub_token` cookie or `?access_token=`, and ends the
//! stream cleanly when the token expires.

mod common;

use common::{now_s, read_until, sign, token, TestServer, SECRET};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The three ways a stream request is served.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// First request on a fresh HTTP/1.1 connection.
    Fresh,
    /// After another request on the same keep-alive connection.
    KeptAlive,
    /// HTTP/1.0.
    Http10,
}

const PATHS: [Path; 3] = [Path::Fresh, Path::KeptAlive, Path::Http10];

/// Sends `GET {target}` with `headers` on `path` and returns the socket and
/// what it received once `done` holds.
async fn request(
    server: &TestServer,
    path: Path,
    target: &str,
    headers: &str,
    done: impl Fn(&str) -> bool,
) -> (TcpStream, String) {
    let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
    if let Path::KeptAlive = path {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        read_until(&mut socket, &mut Vec::new(), |text| text.ends_with('}')).await;
    }
    let version = match path {
        Path::Http10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let head = format!("GET {target} {version}\r\nHost: localhost\r\n{headers}\r\n");
    socket.write_all(head.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    read_until(&mut socket, &mut received, done).await;
    (socket, String::from_utf8_lossy(&received).into_owned())
}

/// The status code, the headers (lower-case) and the JSON body of an error
/// answer.
fn error_of(text: &str) -> (u16, String, Value) {
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body in {text}"));
    (status, head.to_ascii_lowercase(), body)
}

fn server_args() -> Vec<&'static str> {
    vec![
        "--private-streams",
        "private-*",
        "--interval-ms",
        "50",
        "--log",
        "warn",
    ]
}

#[tokio::test]
async fn every_path_refuses_a_private_stream_with_the_same_errors() {
    let server = TestServer::start_with_secret(&server_args()).await;
    let exp = now_s() + 3600;
    let grant = json!({"exp": exp, "sse_hub": {"subscribe": ["*"]}});
    let cases = [
        (String::new(), 401, "missing_token"),
        (
            format!(
                "Authorization: Bearer {}\r\n",
                token(&[], &["private-*"], -5)
            ),
            401,
            "invalid_token",
        ),
        (
            format!(
                "Authorization: Bearer {}\r\n",
                sign(Algorithm::HS256, "not the secret", &grant)
            ),
            401,
            "invalid_token",
        ),
        (
            format!(
                "Authorization: Bearer {}\r\n",
                sign(Algorithm::HS384, SECRET, &grant)
            ),
            401,
            "invalid_token",
        ),
        (
            format!(
                "Authorization: Bearer {}\r\n",
                token(&["*"], &["private-b"], 3600)
            ),
            403,
            "forbidden",
        ),
        (
            // A publish grant is not a subscribe grant.
            format!("Cookie: sse_hub_token={}\r\n", token(&["*"], &[], 3600)),
            403,
            "forbidden",
        ),
    ];
    for path in PATHS {
        for (headers, status, code) in &cases {
            let (_, text) = request(&server, path, "/sse/private-a", headers, |t| {
                t.ends_with('}')
            })
            .await;
            let (got, head, body) = error_of(&text);
            assert_eq!(
                (got, body["code"].as_str()),
                (*status, Some(*code)),
                "{path:?}: {text}"
            );
            if *status == 401 {
                assert!(
                    head.contains("www-authenticate: bearer"),
                    "{path:?}: {head}"
                );
            }
            if *code == "forbidden" {
                assert!(body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("private-a")));
            }
        }
    }
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["rejected"]["missing_token"], 3);
    assert_eq!(stats["rejected"]["invalid_token"], 9);
    assert_eq!(stats["rejected"]["forbidden"], 6);
    assert_eq!(
        stats["connections"], 0,
        "no refused request joined the stream"
    );
}

#[tokio::test]
async fn every_path_opens_a_private_stream_with_a_token_in_any_of_its_places() {
    let server = TestServer::start_with_secret(&server_args()).await;
    let token = token(&[], &["private-*"], 3600);
    let places = [
        (
            "/sse/private-a".to_owned(),
            format!("Authorization: Bearer {token}\r\n"),
        ),
        (
            "/sse/private-a".to_owned(),
            format!("Cookie: theme=dark; sse_hub_token={token}\r\n"),
        ),
        (
            format!("/sse/private-a?access_token={token}"),
            String::new(),
        ),
        // A cookie from an allowed origin counts.
        (
            "/sse/private-a".to_owned(),
            format!("Origin: http://localhost:3000\r\nCookie: sse_hub_token={token}\r\n"),
        ),
    ];
    for path in PATHS {
        for (target, headers) in &places {
            let (_, text) = request(&server, path, target, headers, |t| t.contains("data: ")).await;
            assert!(text.contains(" 200 OK"), "{path:?} {target}: {text}");
        }
        // A public stream needs nothing.
        let (_, text) = request(&server, path, "/sse/public", "", |t| t.contains("data: ")).await;
        assert!(text.contains(" 200 OK"), "{path:?}: {text}");
    }
}

#[tokio::test]
async fn the_stream_list_leaves_private_streams_out() {
    let server = TestServer::start_with_secret(&server_args()).await;
    let headers = format!(
        "Authorization: Bearer {}\r\n",
        token(&[], &["private-*"], 3600)
    );
    let (_private, _) = request(&server, Path::Fresh, "/sse/private-user-1", &headers, |t| {
        t.contains("data: ")
    })
    .await;
    let (_public, _) = request(&server, Path::Fresh, "/sse/public-1", "", |t| {
        t.contains("data: ")
    })
    .await;
    let listed = server.get_json("/api/streams").await;
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|stream| stream["id"].as_str())
        .collect();
    assert_eq!(ids, ["public-1"]);
}

#[tokio::test]
async fn a_cookie_sent_by_a_page_elsewhere_does_not_open_a_private_stream() {
    let server = TestServer::start_with_secret(&server_args()).await;
    let headers = format!(
        "Origin: https://evil.example\r\nCookie: sse_hub_token={}\r\n",
        token(&[], &["*"], 3600)
    );
    for path in PATHS {
        let (_, text) = request(&server, path, "/sse/private-a", &headers, |t| {
            t.ends_with('}')
        })
        .await;
        assert_eq!(error_of(&text).2["code"], "missing_token", "{path:?}");
    }
}

#[tokio::test]
async fn a_private_stream_ends_cleanly_when_its_token_expires() {
    let server = TestServer::start_with_secret(&server_args()).await;
    for path in PATHS {
        // `exp` is in whole seconds: 2 s from now ends the stream in 1–2 s.
        let token = token(&[], &["private-*"], 2);
        eprintln!("path {path:?}");
        let headers = format!("Authorization: Bearer {token}\r\n");
        let (mut socket, first) = request(&server, path, "/sse/private-exp", &headers, |t| {
            t.contains("data: ")
        })
        .await;
        let mut rest = Vec::new();
        let started = tokio::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|_| panic!("{path:?}: the stream outlived its token"))
            .expect("read");
        let all = format!("{first}{}", String::from_utf8_lossy(&rest));
        assert!(started.elapsed() < Duration::from_secs(3), "{path:?}");
        if let Path::Http10 = path {
            assert!(all.contains("data: "), "{path:?}: events until the end");
        } else {
            // A clean end: the last chunk.
            assert!(all.ends_with("\r\n0\r\n\r\n"), "{path:?}: {all:?}");
        }
        // The token is spent: the same request is refused now.
        let (_, text) = request(&server, path, "/sse/private-exp", &headers, |t| {
            t.ends_with('}')
        })
        .await;
        assert_eq!(error_of(&text).2["code"], "invalid_token", "{path:?}");
    }
}
