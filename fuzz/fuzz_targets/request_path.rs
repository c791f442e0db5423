//! Fuzzes request path handling: any bytes as a request path (under `/sse/`,
//! or as the whole path when they start with `/`), then optionally, after
//! newlines, a `Last-Event-ID` and a method, go through the real router. No
//! input may panic or produce a server error.
#![no_main]

#[allow(dead_code)] // this target uses the application only
#[path = "../differential/both_paths.rs"]
mod both_paths;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use sse_hub::server::transport::Client;
use std::sync::OnceLock;

/// The application, built once per fuzzing process.
fn app() -> &'static both_paths::App {
    static APP: OnceLock<both_paths::App> = OnceLock::new();
    APP.get_or_init(both_paths::App::new)
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(3, |b| *b == b'\n');
    let path = fields.next().unwrap_or_default();
    let last_event_id = fields.next();
    let method = match fields.next() {
        Some(name) => match Method::from_bytes(name) {
            Ok(method) => method,
            // Methods hyper would refuse never reach the router.
            Err(_) => return,
        },
        None => Method::GET,
    };
    let mut target = if path.starts_with(b"/") {
        Vec::new()
    } else {
        b"/sse/".to_vec()
    };
    target.extend_from_slice(path);
    // Paths hyper would refuse never reach the router; skip them.
    let Ok(uri) = Uri::try_from(target.as_slice()) else {
        return;
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost");
    if let Some(value) = last_event_id.and_then(|v| axum::http::HeaderValue::from_bytes(v).ok()) {
        request = request.header("last-event-id", value);
    }
    let Ok(mut request) = request.body(Body::empty()) else {
        return;
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(Client::at(([127, 0, 0, 1], 9).into())));
    let response = app().respond(request);
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.status().as_u16() < 500 || response.status() == StatusCode::SERVICE_UNAVAILABLE
    );
});
