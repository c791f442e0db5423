//! The site's static files (WASM, JS, CSS, favicon) from inside the binary.
//!
//! `build.rs` has memory-serve list `target/site` at compile time; a release
//! build embeds the files, Brotli-compressed at build time. memory-serve
//! answers `Accept-Encoding` (Brotli, or gzip made once at start),
//! `If-None-Match` with `304`, and here `Cache-Control: no-cache` for every
//! file: their names carry no content hash, so a browser must revalidate
//! (a `304` costs a round trip, not a download). A test or clippy build
//! lists the files and reads them from disk at request time; a build made
//! before the site existed lists none, and the site is then served from
//! `target/site` on disk by Leptos's file handler, as the router's fallback.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use memory_serve::{Asset, CacheControl, MemoryServe};
use std::sync::OnceLock;
use tower::ServiceExt;

/// What build.rs listed: one named directory, `default`.
static LISTED: &[(&str, &[Asset])] = include!(concat!(env!("OUT_DIR"), "/memory_serve_assets.rs"));

/// The files build.rs listed (none when the site was not built yet).
fn files() -> &'static [Asset] {
    LISTED.first().map(|(_, files)| *files).unwrap_or_default()
}

/// Whether this binary carries the site inside it (a release build made
/// after the front end).
pub fn is_embedded() -> bool {
    files().iter().any(|file| file.bytes.is_some())
}

/// memory-serve's router, once [`served`] has built it.
static SERVED: OnceLock<Router> = OnceLock::new();

/// memory-serve's router for the listed files, built on first use: it
/// decompresses every embedded file and gzips the compressible ones (about
/// 0.1 s for the WASM), and leaks them and its options by design, so it is
/// built once per process and shared by every router made from it.
fn served() -> &'static Router {
    SERVED.get_or_init(|| {
        MemoryServe::new(files())
            // Pages are Leptos's; only files are served here.
            .index_file(None)
            .html_cache_control(CacheControl::NoCache)
            .cache_control(CacheControl::NoCache)
            .into_router()
    })
}

/// Prepares the files on the blocking pool, so that starting (and the
/// first byte a restarted server serves) does not wait for it; a file
/// requested before it is done waits for it.
pub fn warm_up() {
    tokio::task::spawn_blocking(served);
}

/// Adds a route for every listed file to `router`.
pub(crate) fn with_files<S>(mut router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    for file in files() {
        router = router.route(file.route, get(embedded_file));
    }
    router
}

/// One listed file, answered by memory-serve.
async fn embedded_file(request: Request) -> Response {
    let ready = SERVED.get();
    let served = match ready {
        Some(served) => Ok(served),
        None => tokio::task::spawn_blocking(served).await,
    };
    let served = match served {
        Ok(served) => served.clone(),
        Err(error) => {
            tracing::error!(%error, "the embedded site could not be prepared");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match served.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
