//! The `sse-hub` server binary: configuration, logging, then serve.

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    sse_hub::server::main()
}

/// The binary only exists for the server build; the WASM build uses `lib.rs`.
#[cfg(not(feature = "ssr"))]
fn main() {}
