//! Fuzzes request path handling: any bytes as a request path (under `/sse/`,
//! or as the whole path when they start with `/`), then optionally, after
//! newlines, a `Last-Event-ID` and a method, go through the real router. No
//! input may panic or produce a server error.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::Router;
use clap::Parser;
use libfuzzer_sys::fuzz_target;
use sse_hub::server::config::Config;
use sse_hub::server::transport::Client;
use sse_hub::server::{build_state, router};
use std::sync::OnceLock;
use tower::ServiceExt;

/// The runtime and the application, built once per fuzzing process.
fn app() -> &'static (tokio::runtime::Runtime, Router) {
    static APP: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let settings =
            Config::parse_from(["sse-hub", "--retention-ms", "1", "--interval-ms", "60000"])
                .validate()
                .expect("valid settings");
        let options = leptos::config::LeptosOptions::builder()
            .output_name("sse-hub")
            .build();
        let state = runtime.block_on(async {
            build_state(
                &settings,
                options,
                tokio_util::sync::CancellationToken::new(),
            )
        });
        (runtime, router(state))
    })
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
    let (runtime, app) = app();
    let response = runtime
        .block_on(app.clone().oneshot(request))
        .expect("infallible service");
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.status().as_u16() < 500 || response.status() == StatusCode::SERVICE_UNAVAILABLE
    );
});
