//! The differential check of the two transport paths, shared by the
//! `both_paths` fuzz target and the corpus test `tests/both_paths.rs` (each
//! includes this file with `#[path]`; `request_path` uses its [`App`]).
//!
//! The same bytes, as the first request of a connection, are decided by the
//! direct path (when [`classify`] takes them: the gateway's request head
//! reading, then the HTTP layer's [`StreamGate`]) and by axum (the bytes read
//! as hyper reads a request head, then the real router). Requests the direct
//! path does not take go to hyper either way, so only those it takes are
//! compared: their status, the headers a client acts on, an error's `code`,
//! and the messages a stream sends first (the gap notice and replay its
//! `Last-Event-ID` asks for) must be the same.
//!
//! So that the first messages are known, streams get their events from
//! [`Preset`]: [`PRESET_EVENTS`] at once the first time a stream id has a
//! subscriber, then never again. Each check first joins the stream itself
//! and waits until it holds those events, then asks both paths, then
//! leaves.

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, Version};
use axum::response::Response;
use axum::Router;
use clap::Parser;
use sse_hub::model::StreamId;
use sse_hub::server::config::Config;
use sse_hub::server::hub::{Emitter, Pace, Producer, Production, Subscription};
use sse_hub::server::store::MemoryStore;
use sse_hub::server::store::NewEvent;
use sse_hub::server::transport::request_head::{classify, Head};
use sse_hub::server::transport::{Client, StreamGate};
use sse_hub::server::{build_state_producing, router, AppState};
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower::ServiceExt;

/// Events a stream id gets, once.
pub const PRESET_EVENTS: usize = 3;

/// Most messages compared from the start of a stream: a gap notice and
/// every event.
const FIRST_MESSAGES: usize = PRESET_EVENTS + 1;

/// The producer of the checks: [`PRESET_EVENTS`] events at once for each
/// stream id it has not made events for yet, then none, whenever its
/// subscribers come and go.
#[derive(Default)]
pub struct Preset {
    made_for: Mutex<HashSet<StreamId>>,
}

impl Producer for Preset {
    fn produce(&self, stream: Emitter) -> Option<Production> {
        let first_time = self
            .made_for
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(stream.stream_id().clone());
        if !first_time {
            return None;
        }
        Some(Box::pin(async move {
            for n in 0..PRESET_EVENTS {
                let event = NewEvent {
                    event: None,
                    data: Bytes::from(format!("{{\"n\":{n}}}")),
                };
                if !matches!(stream.emit(event, Pace::OnTime).await, Ok(Some(_))) {
                    return;
                }
            }
        }))
    }
}

/// The headers compared: what a client acts on.
const COMPARED_HEADERS: [&str; 4] = [
    "content-type",
    "access-control-allow-origin",
    "vary",
    "retry-after",
];

/// The peer every request comes from.
const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 9);

/// One application, with the runtime it runs on, for many checks.
pub struct App {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    router: Router,
}

impl App {
    /// The application with its default settings (plus a secret and
    /// private streams) and the [`Preset`] producer.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        // A known secret and private streams, so that seeds with tokens
        // (signed with it, valid until 2100) are compared too.
        let settings = Config::parse_from([
            "sse-hub",
            "--jwt-secret",
            "fuzz-secret",
            "--private-streams",
            "private-*",
        ])
        .validate()
        .expect("valid settings");
        let options = leptos::config::LeptosOptions::builder()
            .output_name("sse-hub")
            .build();
        let state = runtime.block_on(async {
            let shutdown = tokio_util::sync::CancellationToken::new();
            build_state_producing(
                &settings,
                options,
                Arc::new(MemoryStore::new()),
                Arc::new(Preset::default()),
                shutdown,
            )
        });
        let router = router(state.clone());
        Self {
            runtime,
            state,
            router,
        }
    }
}

impl App {
    /// The router's answer to `request` (for the `request_path` target,
    /// which shares this application).
    #[allow(dead_code)] // each includer uses a different part
    pub fn respond(&self, request: Request<Body>) -> Response {
        self.runtime
            .block_on(self.router.clone().oneshot(request))
            .unwrap_or_else(|never| match never {})
    }
}

/// What a request got, as far as the comparison goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    code: Option<String>,
    /// A stream's first messages (after its `retry:` hint).
    first: Vec<Bytes>,
}

/// Decides `data` on both paths and panics, naming both answers, when they
/// differ. Returns whether the direct path took it (so a test can tell that
/// its cases exercised something).
pub fn check(app: &App, data: &[u8]) -> bool {
    let Head::Stream(request) = classify(data) else {
        return false;
    };
    let peer = SocketAddr::from(PEER);
    let (direct, served) = app.runtime.block_on(async {
        // Join first and wait until the stream holds its preset events, so
        // that both paths find the same events in it. (A stream evicted at
        // --max-streams and begun again holds none: nothing to compare.)
        let Ok(warm) = app.state.hub.subscribe(&request.id, None, peer.ip()).await else {
            return (None, None);
        };
        let holds_its_events = || {
            app.state.hub.active_streams().iter().any(|stream| {
                stream.id == request.id.as_str() && stream.events_sent >= PRESET_EVENTS as u64
            })
        };
        let waited = tokio::time::timeout(Duration::from_secs(1), async {
            while !holds_its_events() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        if waited.await.is_err() {
            return (None, None);
        }
        let direct = match app.state.open(request, peer).await {
            Ok(opened) => {
                let mut headers: Vec<(HeaderName, HeaderValue)> = opened.headers;
                headers.push((
                    HeaderName::from_static("content-type"),
                    HeaderValue::from_static("text/event-stream"),
                ));
                Answer {
                    status: 200,
                    headers: compared(headers.iter().map(|(name, value)| (name, value))),
                    code: None,
                    first: first_messages(opened.subscription),
                }
            }
            Err(response) => answer_of(response).await,
        };
        let served = match as_hyper_reads(data) {
            Some(request) => {
                let response = app
                    .router
                    .clone()
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {});
                answer_of(response).await
            }
            // hyper would refuse the request itself.
            None => Answer {
                status: 400,
                headers: Vec::new(),
                code: None,
                first: Vec::new(),
            },
        };
        drop(warm);
        (Some(direct), Some(served))
    });
    let (Some(direct), Some(served)) = (direct, served) else {
        // The hub refused even the warm-up (a limit): nothing to compare.
        return false;
    };
    assert_eq!(
        direct,
        served,
        "the direct path (left) and axum (right) answer {:?} differently",
        String::from_utf8_lossy(data)
    );
    true
}

/// The compared headers among `headers`, in a stable order.
fn compared<'a>(
    headers: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = headers
        .filter(|(name, _)| COMPARED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase(),
            )
        })
        .collect();
    kept.sort();
    kept
}

/// A response's status, compared headers and (for an error) JSON `code`.
async fn answer_of(response: Response) -> Answer {
    let status = response.status().as_u16();
    let headers = compared(response.headers().iter());
    if status == 200 {
        // An open stream's body never ends: what it has ready now, after
        // its `retry:` hint.
        let mut body = pin!(response.into_body().into_data_stream());
        let mut first: Vec<Bytes> = std::iter::from_fn(|| {
            use futures_util::StreamExt;
            ready_now(body.next()).flatten().and_then(Result::ok)
        })
        .skip(1)
        .collect();
        first.truncate(FIRST_MESSAGES);
        return Answer {
            status,
            headers,
            code: None,
            first,
        };
    }
    let code = {
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json["code"].as_str().map(str::to_owned))
    };
    Answer {
        status,
        headers,
        code,
        first: Vec::new(),
    }
}

/// The messages `subscription` has ready now, as the direct path would
/// write them first.
fn first_messages(mut subscription: Subscription) -> Vec<Bytes> {
    std::iter::from_fn(|| subscription.try_next_message())
        .take(FIRST_MESSAGES)
        .collect()
}

/// `future`'s output if it is ready on its first poll.
fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// `data` read as hyper reads a request head (httparse, then `http`'s URI
/// and header name checks); `None` where hyper would answer `400` itself.
fn as_hyper_reads(data: &[u8]) -> Option<Request<Body>> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(data).ok()?.is_complete().then_some(())?;
    let mut request = Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(Version::HTTP_11);
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(header.value).ok()?;
        request = request.header(name, value);
    }
    let mut request = request.body(Body::empty()).ok()?;
    request
        .extensions_mut()
        .insert(ConnectInfo(Client::at(SocketAddr::from(PEER))));
    Some(request)
}
