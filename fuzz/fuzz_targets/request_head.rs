//! Fuzzes the gateway's first look at a connection: any bytes as the start of
//! a request. No input may panic, and only a complete `GET /sse/{valid id}`
//! head with nothing after it may be taken by the direct stream path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_hub::model::StreamId;
use sse_hub::server::transport::request_head::{classify, Head};

fuzz_target!(|data: &[u8]| {
    if let Head::Stream(request) = classify(data) {
        // Empty lines before the request line are allowed (RFC 9112, 2.2).
        let start = data
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(0);
        assert!(data[start..].starts_with(b"GET /sse/"));
        // The whole input is one complete head (httparse also accepts bare
        // `\n` line ends), nothing after it.
        assert!(data.ends_with(b"\n"));
        assert!(StreamId::parse(request.id.as_str()).is_ok());
    }
});
