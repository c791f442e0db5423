//! Embeds the built site (`target/site`: the WASM, JS, CSS and favicon that
//! cargo-leptos writes) into the server binary, so that the release binary
//! runs from any directory with nothing beside it.
//!
//! - Only the server build (`ssr`) embeds; the WASM build has nothing to do.
//! - A `release` build embeds the files, Brotli-compressed here by
//!   memory-serve; other builds (tests, clippy) list them and read them
//!   from disk at request time, so a test build never waits for the site.
//! - A site not built yet (a clean clone's first `cargo test`) embeds
//!   nothing: the server then serves `target/site` from disk, as before.
//!   `make build` therefore builds the front end first, then the server.

fn main() {
    #[cfg(feature = "ssr")]
    embed_site();
}

#[cfg(feature = "ssr")]
fn embed_site() {
    use std::path::PathBuf;
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let site = PathBuf::from(manifest).join("target").join("site");
    // memory-serve lists the directory; an empty one is an empty list.
    if let Err(error) = std::fs::create_dir_all(&site) {
        panic!("cannot create {}: {error}", site.display());
    }
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    // One line per embedded file is noise in every build.
    std::env::set_var("MEMORY_SERVE_QUIET", "1");
    memory_serve::load_directory_with_embed(&site, release);
}
