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

use axum::Router;
use memory_serve::{Asset, CacheControl, MemoryServe};
use std::sync::OnceLock;

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

/// Adds a route for every listed file to `router`. memory-serve's router is
/// built once per process (it leaks its options and decompressed files by
/// design) and shared by every router made from it.
pub(crate) fn with_files<S>(mut router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    static SERVED: OnceLock<Router> = OnceLock::new();
    let served = SERVED.get_or_init(|| {
        MemoryServe::new(files())
            // Pages are Leptos's; only files are served here.
            .index_file(None)
            .html_cache_control(CacheControl::NoCache)
            .cache_control(CacheControl::NoCache)
            .into_router()
    });
    for file in files() {
        router = router.route_service(file.route, served.clone());
    }
    router
}
