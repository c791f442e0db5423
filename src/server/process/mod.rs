//! The process around the server: the signals that stop it and the
//! allocator settings that keep its memory tight. A leaf layer: the hub calls
//! [`release_free_memory`] when its last stream is gone.
//!
//! - `shutdown.rs`: SIGINT/SIGTERM.
//! - `allocator.rs`: one malloc arena; heap trim when the last stream is gone.

mod allocator;
mod shutdown;

pub use allocator::{release_free_memory, use_one_arena};
pub use shutdown::signal;
