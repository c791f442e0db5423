//! Recognises, from the first bytes of a new connection, the one request the
//! direct stream path answers itself: `GET /sse/{id}` over HTTP/1.1 with a
//! valid id, no body and nothing after it. Anything else, including every
//! request that would get an error for its path or id, goes to axum unchanged.
//!
//! Contract: what this takes is a strict subset of what hyper and axum
//! accept, read the way they read it: the target must parse as an
//! `http::Uri` (so `<`, `>` or `"` send the request to hyper, which refuses
//! it), a `#fragment` is not part of the query, and of repeated headers the
//! first counts, as `HeaderMap::get` returns it (but two `Host` headers send
//! the request to axum, whose host check refuses them).

use crate::model::StreamId;
use crate::server::sse::last_event_id_param;

/// Most bytes a request head may take, on either path: beyond it the
/// request is refused with `431` (hyper's read buffer has the same bound).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most header lines a request may have: hyper's bound, so that no partial
/// head the gateway could not read ever goes to hyper (whose deadline would
/// start afresh); a request with more is refused as too large, as hyper
/// refuses it.
pub const MAX_HEADERS: usize = 100;

/// Which bound a request head passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLimit {
    /// More than this many bytes ([`MAX_HEAD_BYTES`]).
    Bytes(usize),
    /// More than this many header lines ([`MAX_HEADERS`]).
    HeaderLines(usize),
}

/// What the first bytes of a connection turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// The request head is not complete yet: read more.
    Incomplete,
    /// A stream request the direct path answers.
    Stream(StreamRequest),
    /// Anything else: hand the connection, with these bytes, to axum.
    Other,
    /// [`MAX_HEAD_BYTES`] received and the head still not complete, or
    /// more than [`MAX_HEADERS`] header lines.
    TooLarge(HeadLimit),
}

/// A `GET /sse/{id}` the direct path answers.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamRequest {
    /// The stream to join.
    pub id: StreamId,
    /// `Last-Event-ID` header, else the `lastEventId` query parameter.
    pub last_event_id: Option<String>,
    /// The `Origin` header, for CORS.
    pub origin: Option<Vec<u8>>,
    /// The `Host` header, checked against the allowed hosts.
    pub host: Option<Vec<u8>>,
    /// What may carry a token, for private streams.
    pub credentials: RawCredentials,
}

/// The parts of a request that may carry a token, as received: the HTTP
/// layer decides what they mean (for both paths alike).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RawCredentials {
    /// The `Authorization` header.
    pub authorization: Option<Vec<u8>>,
    /// The `Cookie` header.
    pub cookie: Option<Vec<u8>>,
    /// The query string, undecoded.
    pub query: Option<Box<str>>,
}

/// Classifies the bytes received so far on a new connection.
pub fn classify(bytes: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD_BYTES => return Head::Incomplete,
        Ok(httparse::Status::Partial) => return Head::TooLarge(HeadLimit::Bytes(MAX_HEAD_BYTES)),
        Err(httparse::Error::TooManyHeaders) => {
            return Head::TooLarge(HeadLimit::HeaderLines(MAX_HEADERS))
        }
        // Bytes no request head may hold: hyper answers 400 for them at
        // once, from the bytes already received.
        Err(_) => return Head::Other,
    };
    // Pipelined requests and request bodies are hyper's business.
    if head_len != bytes.len() || request.method != Some("GET") || request.version != Some(1) {
        return Head::Other;
    }
    // Read as hyper reads it; a target hyper refuses is hyper's to refuse.
    let Some(Ok(target)) = request.path.map(axum::http::Uri::try_from) else {
        return Head::Other;
    };
    if target.scheme().is_some() {
        return Head::Other;
    }
    // A valid id needs no percent-decoding; an id that does (or is invalid)
    // goes to axum, which decodes it and answers with the right error.
    let Some(Ok(id)) = target.path().strip_prefix("/sse/").map(StreamId::parse) else {
        return Head::Other;
    };
    let mut last_event_id = None;
    let mut origin = None;
    let mut host = None;
    let mut credentials = RawCredentials::default();
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("last-event-id") {
            // The first counts; one that is not text is as if absent (as
            // the handler's `to_str` reads it).
            if last_event_id.is_none() {
                last_event_id = Some(visible_ascii(header.value).map(str::to_owned));
            }
        } else if name.eq_ignore_ascii_case("origin") {
            origin.get_or_insert_with(|| header.value.to_vec());
        } else if name.eq_ignore_ascii_case("host") {
            // Two are refused: the router's check says so.
            if host.is_some() {
                return Head::Other;
            }
            host = Some(header.value.to_vec());
        } else if name.eq_ignore_ascii_case("authorization") {
            (credentials.authorization).get_or_insert_with(|| header.value.to_vec());
        } else if name.eq_ignore_ascii_case("cookie") {
            (credentials.cookie).get_or_insert_with(|| header.value.to_vec());
        } else if name.eq_ignore_ascii_case("content-length") {
            if header.value.trim_ascii() != b"0" {
                return Head::Other;
            }
        } else if ["transfer-encoding", "upgrade", "expect"]
            .iter()
            .any(|special| name.eq_ignore_ascii_case(special))
        {
            return Head::Other;
        }
    }
    let last_event_id = last_event_id
        .flatten()
        .or_else(|| target.query().and_then(last_event_id_param));
    credentials.query = target.query().map(Box::from);
    Head::Stream(StreamRequest {
        id,
        last_event_id,
        origin,
        host,
        credentials,
    })
}

/// A header value as text when it is printable ASCII (what `HeaderValue::to_str`
/// accepts), else `None`.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (0x20..0x7f).contains(&byte))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(id: &str, last_event_id: Option<&str>, origin: Option<&str>) -> Head {
        Head::Stream(StreamRequest {
            id: StreamId::parse(id).expect("valid id"),
            last_event_id: last_event_id.map(str::to_owned),
            origin: origin.map(|o| o.as_bytes().to_vec()),
            host: None,
            credentials: RawCredentials::default(),
        })
    }

    /// [`classify`], with the `Host` header left out of a stream request
    /// (the tests below that are not about it).
    fn classify_hostless(bytes: &[u8]) -> Head {
        match classify(bytes) {
            Head::Stream(request) => Head::Stream(StreamRequest {
                host: None,
                credentials: RawCredentials::default(),
                ..request
            }),
            other => other,
        }
    }

    #[test]
    fn keeps_what_may_carry_a_token() {
        let head = b"GET /sse/p?access_token=t1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t2\r\nCookie: a=b\r\nCookie: c=d\r\n\r\n";
        let Head::Stream(request) = classify(head) else {
            panic!("a stream request");
        };
        assert_eq!(
            request.credentials,
            RawCredentials {
                authorization: Some(b"Bearer t2".to_vec()),
                cookie: Some(b"a=b".to_vec()),
                query: Some("access_token=t1".into()),
            }
        );
    }

    #[test]
    fn two_host_headers_go_to_axum_which_refuses_them() {
        let head = b"GET /sse/a HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n";
        assert_eq!(classify(head), Head::Other);
    }

    #[test]
    fn recognises_a_plain_stream_request() {
        let head = b"GET /sse/room-1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
        assert_eq!(classify_hostless(head), stream("room-1", None, None));
    }

    #[test]
    fn reads_resume_position_and_origin() {
        let head = b"GET /sse/a?lastEventId=7 HTTP/1.1\r\nOrigin: http://localhost:5\r\n\r\n";
        assert_eq!(
            classify_hostless(head),
            stream("a", Some("7"), Some("http://localhost:5"))
        );
        let header_wins = b"GET /sse/a?lastEventId=7 HTTP/1.1\r\nlast-event-id: 9\r\n\r\n";
        assert_eq!(classify_hostless(header_wins), stream("a", Some("9"), None));
    }

    #[test]
    fn skips_empty_lines_before_the_request_line_as_hyper_does() {
        let head = b"\r\n\nGET /sse/a HTTP/1.1\nHost: x\n\r\n";
        assert_eq!(classify_hostless(head), stream("a", None, None));
    }

    #[test]
    fn waits_for_the_rest_of_a_head() {
        assert_eq!(classify(b""), Head::Incomplete);
        assert_eq!(classify(b"GET /sse/a HTTP/1.1\r\nHost"), Head::Incomplete);
    }

    #[test]
    fn leaves_everything_else_to_axum() {
        let others: [&[u8]; 11] = [
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET /sse/ HTTP/1.1\r\n\r\n",
            b"GET /sse/a/b HTTP/1.1\r\n\r\n",
            b"GET /sse/%41 HTTP/1.1\r\n\r\n",
            b"POST /sse/a HTTP/1.1\r\n\r\n",
            b"HEAD /sse/a HTTP/1.1\r\n\r\n",
            b"GET /sse/a HTTP/1.0\r\n\r\n",
            b"GET /sse/a HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
            b"GET /sse/a HTTP/1.1\r\n\r\nGET /sse/b HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"\x00\xff garbage\r\n\r\n",
        ];
        for head in others {
            assert_eq!(
                classify(head),
                Head::Other,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn an_oversized_head_is_too_large_and_a_long_one_is_not() {
        let mut head = b"GET /sse/a HTTP/1.1\r\nX-Big: ".to_vec();
        head.resize(MAX_HEAD_BYTES - 10, b'x');
        assert_eq!(classify(&head), Head::Incomplete);
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(classify_hostless(&head), stream("a", None, None));
        head.truncate(MAX_HEAD_BYTES - 10);
        head.resize(MAX_HEAD_BYTES, b'x');
        assert_eq!(
            classify(&head),
            Head::TooLarge(HeadLimit::Bytes(MAX_HEAD_BYTES))
        );
    }

    #[test]
    fn a_head_with_more_headers_than_hyper_takes_is_too_large() {
        let mut head = b"GET /healthz HTTP/1.1\r\n".to_vec();
        for n in 0..MAX_HEADERS {
            head.extend_from_slice(format!("X-{n}: v\r\n").as_bytes());
        }
        assert_eq!(classify(&head), Head::Incomplete, "100 headers so far");
        head.extend_from_slice(b"X-One-More: v\r\n");
        assert_eq!(
            classify(&head),
            Head::TooLarge(HeadLimit::HeaderLines(MAX_HEADERS)),
            "partial, over the count"
        );
    }

    #[test]
    fn reads_the_target_and_repeated_headers_as_axum_does() {
        // Characters hyper's URI parser refuses: hyper answers.
        for target in ["/sse/a?x=<", "/sse/a?x=>", "/sse/a?x=\"", "http://h/sse/a"] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(classify(head.as_bytes()), Head::Other, "{target}");
        }
        // A fragment is not part of the query.
        let fragment = b"GET /sse/a?lastEventId=4#frag HTTP/1.1\r\n\r\n";
        assert_eq!(classify_hostless(fragment), stream("a", Some("4"), None));
        let only_fragment = b"GET /sse/a#lastEventId=4 HTTP/1.1\r\n\r\n";
        assert_eq!(classify_hostless(only_fragment), stream("a", None, None));
        // Of repeated headers the first counts (two Hosts go to axum: see
        // two_host_headers_go_to_axum_which_refuses_them).
        let repeated = b"GET /sse/a HTTP/1.1\r\nHost: one\r\nOrigin: http://a\r\nOrigin: http://b\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n";
        let Head::Stream(request) = classify(repeated) else {
            panic!("a stream request");
        };
        assert_eq!(request.host.as_deref(), Some(&b"one"[..]));
        assert_eq!(request.origin.as_deref(), Some(&b"http://a"[..]));
        assert_eq!(request.last_event_id.as_deref(), Some("1"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_classified_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Head::Stream(request) = classify(&bytes) {
                // Empty lines before the request line are allowed (RFC 9112, 2.2).
                let start = bytes.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(0);
                proptest::prop_assert!(bytes[start..].starts_with(b"GET /sse/"));
                proptest::prop_assert!(StreamId::parse(request.id.as_str()).is_ok());
            }
        }

        #[test]
        fn every_valid_id_is_taken_with_its_resume_position(
            id in "[A-Za-z0-9._~-]{1,128}",
            last in proptest::option::of("[0-9]{1,20}"),
            split in 0usize..200,
        ) {
            proptest::prop_assume!(id != "." && id != "..");
            let resume = last.as_ref().map(|l| format!("Last-Event-ID: {l}\r\n")).unwrap_or_default();
            let head = format!("GET /sse/{id} HTTP/1.1\r\nHost: x\r\n{resume}\r\n");
            // However the head is split across reads, only the whole of it is taken.
            let split = split.min(head.len() - 1);
            proptest::prop_assert_eq!(classify(&head.as_bytes()[..split]), Head::Incomplete);
            proptest::prop_assert_eq!(classify_hostless(head.as_bytes()), stream(&id, last.as_deref(), None));
        }
    }
}
