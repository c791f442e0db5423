//! The publish API against the real binary: events published with one HTTP
//! call reach every subscriber under the stream's own sequence ids, resume
//! covers them, retries with an idempotency key append once, and every bad
//! request gets its own JSON error with nothing appended.

mod common;

use common::{client, now_s, sign, subscribe, token, SseItem, TestServer, SECRET};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `POST /api/streams/{id}/events` with `body` and the bearer `token`.
async fn publish(
    server: &TestServer,
    id: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = client()
        .post(server.url(&format!("/api/streams/{id}/events")))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

/// The status and JSON body of a response.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A publisher's token for every stream.
fn publisher() -> String {
    token(&["*"], &[], 3600)
}

/// The next message that is not a generated number: `(id, event, data)`.
async fn next_published(reader: &mut common::SseReader) -> (u64, Option<String>, String) {
    loop {
        let (id, event, data) = reader.next_message().await;
        let generated = event.is_none() && data.contains("\"number\"");
        if !generated {
            let id = id.expect("an id").parse().expect("numeric id");
            return (id, event, data);
        }
    }
}

#[tokio::test]
async fn a_published_event_reaches_every_subscriber_with_one_id() {
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let http = client();
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(subscribe(&http, &server, "orders").await);
    }
    let data = json!({"order": 17, "note": "line one\nline two", "tags": ["a", "b"]});
    let (status, body) = answer(
        publish(
            &server,
            "orders",
            Some(&publisher()),
            &json!({"data": data, "event": "order.paid"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["stream"], "orders");
    let id = body["id"].as_u64().expect("numeric id");
    for reader in &mut readers {
        let (seq, event, received) = next_published(reader).await;
        assert_eq!(seq, id);
        assert_eq!(event.as_deref(), Some("order.paid"));
        // Compact JSON, one data line, equal to what was sent.
        assert!(
            !received.contains('\n') && !received.contains(": "),
            "{received}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&received).expect("JSON"),
            data
        );
    }
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["events_published"], 1);
}

#[tokio::test]
async fn resume_covers_published_and_generated_events_alike() {
    let server = TestServer::start_with_secret(&["--interval-ms", "50", "--log", "warn"]).await;
    let http = client();
    let mut reader = subscribe(&http, &server, "mixed").await;
    let first = reader.next_event().await.seq;
    let (status, body) = answer(
        publish(
            &server,
            "mixed",
            Some(&publisher()),
            &json!({"data": "hello", "event": "note"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let published = body["id"].as_u64().expect("id");
    // Everything after `first` as this client saw it, published included.
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(seq, _, _)| *seq < published + 2) {
        let (id, event, data) = reader.next_message().await;
        seen.push((
            id.expect("id").parse::<u64>().expect("numeric"),
            event,
            data,
        ));
    }
    drop(reader);
    let ids: Vec<u64> = seen.iter().map(|(seq, _, _)| *seq).collect();
    let expected: Vec<u64> = (first + 1..=first + ids.len() as u64).collect();
    assert_eq!(ids, expected, "one sequence, no gap");
    assert!(seen.contains(&(published, Some("note".into()), "\"hello\"".into())));

    // A client resuming from `first` gets the same events in the same order.
    let response = http
        .get(server.url("/sse/mixed"))
        .header("Last-Event-ID", first.to_string())
        .send()
        .await
        .expect("request sent");
    let mut resumed = common::SseReader::new(response);
    for expected in &seen {
        let (id, event, data) = resumed.next_message().await;
        let got = (
            id.expect("id").parse::<u64>().expect("numeric"),
            event,
            data,
        );
        assert_eq!(&got, expected);
    }
}

#[tokio::test]
async fn a_stream_nobody_listens_to_keeps_what_was_published_for_a_resume() {
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let token = publisher();
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, body) =
            answer(publish(&server, "later", Some(&token), &json!({"data": n})).await).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_u64().expect("id"));
    }
    assert_eq!(ids, [ids[0], ids[0] + 1, ids[0] + 2]);
    let http = client();
    let response = http
        .get(server.url("/sse/later"))
        .header("Last-Event-ID", ids[0].to_string())
        .send()
        .await
        .expect("request sent");
    let mut reader = common::SseReader::new(response);
    for (n, id) in ids.iter().enumerate().skip(1) {
        let (seq, event, data) = next_published(&mut reader).await;
        assert_eq!((seq, event, data), (*id, None, n.to_string()));
    }
}

#[tokio::test]
async fn concurrent_retries_of_one_key_append_once() {
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let http = client();
    let token = publisher();
    let retries = (0..100).map(|_| {
        let request = http
            .post(server.url("/api/streams/pay/events"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "payment-42")
            .json(&json!({"data": {"amount": 5}}));
        async move {
            let response = request.send().await.expect("request sent");
            let replayed = response.headers().get("idempotent-replayed").is_some();
            let (status, body) = answer(response).await;
            (status, body["id"].as_u64(), replayed)
        }
    });
    let answers = futures_util::future::join_all(retries).await;
    assert!(
        answers.iter().all(|(status, _, _)| *status == 201),
        "{answers:?}"
    );
    let first = answers[0].1;
    assert!(answers.iter().all(|(_, id, _)| *id == first), "{answers:?}");
    let fresh = answers.iter().filter(|(_, _, replayed)| !replayed).count();
    assert_eq!(fresh, 1, "one answer is the original, the rest replays");
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["events_published"], 1);
    // Another key appends.
    let response = http
        .post(server.url("/api/streams/pay/events"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "payment-43")
        .json(&json!({"data": {"amount": 5}}))
        .send()
        .await
        .expect("sent");
    let (status, body) = answer(response).await;
    assert_eq!((status, body["id"].as_u64()), (201, first.map(|id| id + 1)));
}

#[tokio::test]
async fn bad_requests_get_their_own_codes_and_append_nothing() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-event-bytes",
        "1024",
        "--log",
        "warn",
    ])
    .await;
    let http = client();
    let url = server.url("/api/streams/bad/events");
    let token = publisher();
    let post = |body: &'static str, content_type: &'static str| {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
    };
    for (request, status, code) in [
        (post("not json", "application/json"), 400, "invalid_event"),
        (
            post(r#"{"event":"x"}"#, "application/json"),
            400,
            "invalid_event",
        ),
        (
            post(r#"{"data":1,"event":"gap"}"#, "application/json"),
            400,
            "invalid_event_type",
        ),
        (
            post(r#"{"data":1,"event":"has space"}"#, "application/json"),
            400,
            "invalid_event_type",
        ),
        (
            post(r#"{"data":1}"#, "text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            http.post(&url)
                .bearer_auth(&token)
                .json(&json!({"data": "x".repeat(2000)})),
            413,
            "event_too_large",
        ),
        (
            post(r#"{"data":1}"#, "application/json").header("Idempotency-Key", ""),
            400,
            "invalid_idempotency_key",
        ),
        (
            http.post(server.url("/api/streams/a%2Fb/events"))
                .bearer_auth(&token)
                .json(&json!({"data": 1})),
            400,
            "invalid_stream_id",
        ),
    ] {
        let (got, body) = answer(request.send().await.expect("sent")).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["events_published"], 0);
    assert_eq!(stats["rejected"]["invalid_event"], 2);
    assert_eq!(stats["rejected"]["event_too_large"], 1);
    // The wrong method on the endpoint is a JSON 405.
    let (status, body) = answer(http.get(&url).send().await.expect("sent")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn publishing_needs_a_token_that_grants_the_stream() {
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let body = json!({"data": 1});
    let response = publish(&server, "orders-1", None, &body).await;
    assert!(response
        .headers()
        .get("www-authenticate")
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("Bearer"))));
    assert_eq!(answer(response).await.1["code"], "missing_token");

    let exp = now_s() + 3600;
    let grant = json!({"exp": exp, "sse_hub": {"publish": ["*"]}});
    let cases = [
        (token(&["orders-*"], &[], 3600), 201, None),
        (token(&["billing-*"], &[], 3600), 403, Some("forbidden")),
        (token(&["*"], &[], -10), 401, Some("invalid_token")),
        (
            sign(Algorithm::HS512, SECRET, &grant),
            401,
            Some("invalid_token"),
        ),
        (
            sign(Algorithm::HS256, "another secret", &grant),
            401,
            Some("invalid_token"),
        ),
        ("not.a.token".to_owned(), 401, Some("invalid_token")),
        // An `exp` beyond any representable time (it once panicked).
        (
            sign(
                Algorithm::HS256,
                SECRET,
                &json!({"exp": 1u64 << 63, "sse_hub": {"publish": ["*"]}}),
            ),
            401,
            Some("invalid_token"),
        ),
        // Not valid yet.
        (
            sign(
                Algorithm::HS256,
                SECRET,
                &json!({"exp": exp, "nbf": exp - 60, "sse_hub": {"publish": ["*"]}}),
            ),
            401,
            Some("invalid_token"),
        ),
    ];
    for (token, status, code) in cases {
        let (got, body) = answer(publish(&server, "orders-1", Some(&token), &body).await).await;
        assert_eq!(got, status, "{body}");
        if let Some(code) = code {
            assert_eq!(body["code"], code);
        }
    }
    // Expired and wrongly signed tokens say which.
    let (_, expired) =
        answer(publish(&server, "orders-1", Some(&token(&["*"], &[], -10)), &body).await).await;
    assert!(
        expired["error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{expired}"
    );
    let hs512 = sign(Algorithm::HS512, SECRET, &grant);
    let (_, wrong) = answer(publish(&server, "orders-1", Some(&hs512), &body).await).await;
    assert!(
        wrong["error"].as_str().is_some_and(|e| e.contains("HS256")),
        "{wrong}"
    );

    // A payload changed after signing (a grant widened) is refused.
    let narrow = token(&["orders-*"], &[], 3600);
    let wide = token(&["*"], &[], 3600);
    let mut parts: Vec<&str> = narrow.split('.').collect();
    let wide_payload = wide.split('.').nth(1).expect("payload").to_owned();
    parts[1] = &wide_payload;
    let tampered = parts.join(".");
    let (status, body) = answer(publish(&server, "billing-1", Some(&tampered), &body).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );

    // alg "none" with no signature.
    let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let none = format!("{header}.{wide_payload}.");
    let (status, _) = answer(publish(&server, "orders-1", Some(&none), &body).await).await;
    assert_eq!(status, 401);

    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["events_published"], 1);
    assert_eq!(stats["rejected"]["missing_token"], 1);
    assert_eq!(stats["rejected"]["forbidden"], 1);
}

#[tokio::test]
async fn a_stream_over_its_publish_rate_is_refused_and_others_are_not() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-publish-rate",
        "5",
        "--log",
        "warn",
    ])
    .await;
    let token = publisher();
    let body = json!({"data": 1});
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = publish(&server, "busy", Some(&token), &body).await;
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, answer) = answer(response).await;
        if status == 429 {
            assert_eq!(answer["code"], "publish_rate_limited");
            assert!(retry_after.is_some(), "429 carries Retry-After");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    let (status, _) = answer(publish(&server, "quiet", Some(&token), &body).await).await;
    assert_eq!(status, 201, "another stream has its own budget");
}

#[tokio::test]
async fn an_oversized_body_sent_slowly_is_refused_before_it_ends() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-event-bytes",
        "4096",
        "--log",
        "warn",
    ])
    .await;
    let auth = format!("Bearer {}", publisher());
    for declared in [true, false] {
        let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
        let framing = if declared {
            "Content-Length: 1000000\r\n".to_owned()
        } else {
            "Transfer-Encoding: chunked\r\n".to_owned()
        };
        let head = format!(
            "POST /api/streams/big/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n{framing}\r\n"
        );
        socket.write_all(head.as_bytes()).await.expect("write head");
        // 1 KiB every 20 ms, far less than the declared million bytes.
        let chunk = "x".repeat(1024);
        let mut reply = Vec::new();
        let mut sent = 0;
        let answered = loop {
            let piece = if declared {
                chunk.clone()
            } else {
                format!("{:x}\r\n{chunk}\r\n", chunk.len())
            };
            if socket.write_all(piece.as_bytes()).await.is_err() {
                break false;
            }
            sent += 1024;
            let mut buf = [0u8; 4096];
            match tokio::time::timeout(Duration::from_millis(20), socket.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    reply.extend_from_slice(&buf[..n]);
                    break true;
                }
                Ok(_) => break false,
                Err(_) => {}
            }
            assert!(sent < 64 * 1024, "no answer after {sent} bytes");
        };
        assert!(answered, "the server answered (declared: {declared})");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(
            sent <= 8 * 1024,
            "refused after {sent} bytes (declared: {declared})"
        );
        if declared {
            assert_eq!(sent, 1024, "refused from the Content-Length alone");
        }
    }
    let stats = server.get_json("/api/stats").await;
    assert_eq!(stats["rejected"]["event_too_large"], 2);
    assert_eq!(stats["events_published"], 0);
}

#[tokio::test]
async fn generate_none_streams_carry_only_published_events() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--keep-alive-ms",
        "100",
        "--log",
        "warn",
    ])
    .await;
    let http = client();
    let mut reader = subscribe(&http, &server, "quiet").await;
    // A few keep-alives pass and no event.
    let mut comments = 0;
    while comments < 3 {
        match reader.next().await.expect("open") {
            SseItem::Comment(_) => comments += 1,
            SseItem::Retry(_) => {}
            SseItem::Message { data, .. } => panic!("unexpected message {data}"),
        }
    }
    let (status, _) =
        answer(publish(&server, "quiet", Some(&publisher()), &json!({"data": [1]})).await).await;
    assert_eq!(status, 201);
    assert_eq!(next_published(&mut reader).await.2, "[1]");
}

#[tokio::test]
async fn the_token_printed_at_start_publishes_at_once() {
    let mut server = TestServer::start(&["--generate", "none", "--log", "warn"]).await;
    let line = tokio::time::timeout(common::WAIT, server.stdout.recv())
        .await
        .expect("a second line in time")
        .expect("a second line");
    let token = line
        .strip_prefix("token: ")
        .expect("a token line")
        .to_owned();
    let (status, body) =
        answer(publish(&server, "any", Some(&token), &json!({"data": 1})).await).await;
    assert_eq!(status, 201, "{body}");
    // It is the server's own random secret: a token from the tests' secret
    // is refused.
    let (status, _) =
        answer(publish(&server, "any", Some(&publisher()), &json!({"data": 1})).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_browser_on_an_allowed_origin_may_post_with_a_token() {
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let response = client()
        .request(
            reqwest::Method::OPTIONS,
            server.url("/api/streams/x/events"),
        )
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success());
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(
        header("access-control-allow-origin"),
        "http://localhost:5173"
    );
    assert!(header("access-control-allow-methods").contains("post"));
    assert!(header("access-control-allow-headers").contains("authorization"));
    assert!(header("access-control-allow-headers").contains("content-type"));
}

/// An `OPTIONS` for a path the API does not have is its JSON 404 like any
/// other method, preflight or not (a preflight's 200 would tell a page the
/// path exists), still readable from an allowed origin.
#[tokio::test]
async fn an_options_request_for_an_unknown_api_path_is_a_404() {
    let server = TestServer::start(&["--generate", "none", "--log", "warn"]).await;
    for path in ["/api/nope", "/api/streams/x/nope", "/sse/x/more", "/sse/x/"] {
        for preflight in [false, true] {
            let mut request = client()
                .request(reqwest::Method::OPTIONS, server.url(path))
                .header("Origin", "http://localhost:5173");
            if preflight {
                request = request.header("Access-Control-Request-Method", "GET");
            }
            let response = request.send().await.expect("sent");
            let origin = response
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (status, body) = answer(response).await;
            assert_eq!(status, 404, "{path} (preflight {preflight}): {body}");
            assert_eq!(body["code"], "not_found", "{path}");
            assert_eq!(origin.as_deref(), Some("http://localhost:5173"), "{path}");
        }
    }
}

#[tokio::test]
async fn a_replayed_answer_is_not_refused_by_the_rate_limit() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-publish-rate",
        "2",
        "--log",
        "warn",
    ])
    .await;
    let http = client();
    let token = publisher();
    let send = |key: &'static str| {
        http.post(server.url("/api/streams/r/events"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&json!({"data": key}))
            .send()
    };
    let first = answer(send("k1").await.expect("sent")).await;
    assert_eq!(first.0, 201);
    assert_eq!(answer(send("k2").await.expect("sent")).await.0, 201);
    // The budget is spent: a new event is refused, a retry is answered.
    assert_eq!(answer(send("k3").await.expect("sent")).await.0, 429);
    let retry = send("k1").await.expect("sent");
    assert!(retry.headers().get("idempotent-replayed").is_some());
    let (status, body) = answer(retry).await;
    assert_eq!((status, &body["id"]), (201, &first.1["id"]));
}

#[tokio::test]
async fn publishing_to_new_streams_never_wipes_a_retained_one() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-streams",
        "2",
        "--log",
        "warn",
    ])
    .await;
    let token = publisher();
    let mut kept = Vec::new();
    for _ in 0..2 {
        let (status, body) =
            answer(publish(&server, "kept", Some(&token), &json!({"data": 1})).await).await;
        assert_eq!(status, 201);
        kept.push(body["id"].as_u64().expect("id"));
    }
    assert_eq!(
        answer(publish(&server, "other", Some(&token), &json!({"data": 1})).await)
            .await
            .0,
        201
    );
    // Both slots are taken by idle streams: a publish to a third is refused…
    let (status, body) =
        answer(publish(&server, "spray-1", Some(&token), &json!({"data": 1})).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("too_many_streams"))
    );
    // …and the retained stream still has its history.
    let response = client()
        .get(server.url("/sse/kept"))
        .header("Last-Event-ID", kept[0].to_string())
        .send()
        .await
        .expect("sent");
    let mut reader = common::SseReader::new(response);
    assert_eq!(
        next_published(&mut reader).await,
        (kept[1], None, "1".into())
    );
}

#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--head-timeout-ms",
        "1000",
        "--log",
        "warn",
    ])
    .await;
    let auth = format!("Bearer {}", publisher());
    let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
    let head = format!(
        "POST /api/streams/slow/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("write head");
    let started = tokio::time::Instant::now();
    // A byte every 100 ms: each resets any idle timer, none ends the body.
    let mut reply = Vec::new();
    while reply.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no answer after {:?}",
            started.elapsed()
        );
        if socket.write_all(b" ").await.is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(100), socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => reply.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"code\":\"invalid_event\""), "{text}");
    assert!(text.contains("did not arrive within 1000 ms"), "{text}");
}

#[tokio::test]
async fn a_publish_refused_for_want_of_a_stream_slot_does_not_use_up_the_streams_rate() {
    let server = TestServer::start_with_secret(&[
        "--generate",
        "none",
        "--max-streams",
        "1",
        "--max-publish-rate",
        "2",
        "--log",
        "warn",
    ])
    .await;
    let token = publisher();
    let (status, _) =
        answer(publish(&server, "taken", Some(&token), &json!({"data": 1})).await).await;
    assert_eq!(status, 201);
    // Every one of these is refused for want of a slot, and says so.
    for _ in 0..5 {
        let (status, body) =
            answer(publish(&server, "no-room", Some(&token), &json!({"data": 1})).await).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("too_many_streams"))
        );
    }
}
