//! The page's own comings and goings in the browser.
//!
//! A page is one Leptos island, and Leptos keeps an island's reactive owner
//! for the life of the document: its cleanups never run, so a page cannot
//! rely on being unmounted to close what it opened. `pagehide` is the signal
//! the platform gives instead (the user leaves, or the page goes into the
//! back/forward cache), and `pageshow` with `persisted` says the page came
//! back from that cache with its state.

/// Calls `on_hide` whenever the page is hidden (`pagehide`) and `on_restore`
/// whenever it is shown again from the back/forward cache, until the calling
/// owner is cleaned up (a panel removed from the page). Does nothing on the
/// server.
pub(crate) fn on_page_hide_and_restore(
    on_hide: impl Fn() + 'static,
    on_restore: impl Fn() + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::*;
        let hide = window_event_listener_untyped("pagehide", move |_| on_hide());
        let show = window_event_listener_untyped("pageshow", move |event| {
            let persisted = js_sys::Reflect::get(&event, &"persisted".into())
                .ok()
                .and_then(|value| value.as_bool());
            if persisted == Some(true) {
                on_restore();
            }
        });
        on_cleanup(move || {
            hide.remove();
            show.remove();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (on_hide, on_restore);
}
