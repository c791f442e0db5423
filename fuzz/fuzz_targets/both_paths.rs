//! Differential fuzzing of the two transport paths: any bytes as the first
//! request of a connection must get the same status, headers and error code
//! from the direct path as from axum (see `differential/both_paths.rs`).
#![no_main]

#[path = "../differential/both_paths.rs"]
mod both_paths;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The application, built once per fuzzing process.
fn app() -> &'static both_paths::App {
    static APP: OnceLock<both_paths::App> = OnceLock::new();
    APP.get_or_init(both_paths::App::new)
}

fuzz_target!(|data: &[u8]| {
    both_paths::check(app(), data);
});
