//! sse-hub: a Server-Sent Events hub with a live browser UI.
//!
//! Every stream id has its own generator that emits a random number every
//! interval; every client of the same id receives the same events, different
//! ids are independent, and a stream's generator stops when its last client
//! leaves.
//!
//! # Layout
//!
//! - [`model`]: the types both sides share (stream ids, events, stats) and the
//!   pure logic around them, unit-tested on the host.
//! - [`app`]: the HTML shell and the router, which run on the server only;
//!   each page is an island the browser hydrates.
//! - `pages/` and `components/`: the pages (home, multi-client, dashboard,
//!   not found) and the reactive pieces they are built from.
//! - `client`: the browser side: the hooks that own an `EventSource` (a
//!   stream client's, the dashboard's feed), opened only under `hydrate`.
//! - `server/`: the axum server, the hub and everything else that only runs
//!   on the host (`ssr`).

// The home page's view type (stream client and Publish card) nests deeper
// than the default limit allows the compiler to lay out.
#![recursion_limit = "256"]

pub mod app;
mod client;
mod components;
pub mod model;
mod pages;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM bundle, called once by Leptos' island loader;
/// it hydrates every island on the page (the pages are islands: see
/// `app.rs`).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console while developing; a release bundle
    // leaves the hook and its formatting code out (`make build` makes a
    // panic an immediate trap: Makefile, FRONT_BUILD_ENV).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
