//! Keeps the server's resident memory close to what it actually uses.
//!
//! glibc's allocator gives each thread that allocates under contention its
//! own arena and keeps freed pages for reuse. After a burst (thousands of
//! streams created and forgotten, tens of thousands of connections come and
//! gone) the freed memory stays resident, spread over several arenas and
//! pinned by the few allocations still alive in each. Two measures keep it
//! tight (see the churn scenario of `make bench`):
//!
//! - one arena for the whole process: the event path allocates nothing per
//!   subscriber, so the threads rarely meet in the allocator, and one arena
//!   fragments far less than one per worker;
//! - when the hub has just forgotten its last stream, nothing of the burst is
//!   left, and `malloc_trim` hands every whole free page back.
//!
//! Elsewhere than glibc both are no-ops.

/// Makes every thread allocate from one arena. Call before starting threads.
pub fn use_one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets a glibc allocator parameter; it is
        // called before the runtime starts any thread.
        let accepted = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
        if accepted == 0 {
            tracing::debug!("the allocator refused M_ARENA_MAX=1");
        }
    }
}

/// Returns free heap pages to the operating system.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` has no preconditions; it only returns glibc's
        // own free pages to the kernel and is thread-safe. It runs only when
        // the last stream has gone, so its walk of the heap is rare.
        let released = unsafe { libc::malloc_trim(0) };
        tracing::debug!(
            released = released != 0,
            "returned free heap memory to the system"
        );
    }
}
