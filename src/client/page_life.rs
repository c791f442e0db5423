//! The page's own comings and goings in the browser.
//!
//! A page is one Leptos island, and Leptos keeps an island's reactive owner
//! for the life of the document: its cleanups never run, so a page cannot
//! rely on being unmounted to close what it opened. `pagehide` is the signal
//! the platform gives instead (the user leaves, or the page goes into the
//! back/forward cache), and `pageshow` with `persisted` says the page came
//! back from that cache with its state.

/// Calls `on_hide` whenever the page is hidden (`pagehide`), until the
/// calling owner is cleaned up. Does nothing on the server.
pub(crate) fn on_page_hide(on_hide: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    until_cleanup("pagehide", move |_| on_hide());
    #[cfg(not(feature = "hydrate"))]
    let _ = on_hide;
}

/// Calls `on_restore` whenever the page is shown again from the
/// back/forward cache (`pageshow` with `persisted`), until the calling
/// owner is cleaned up. Does nothing on the server.
pub(crate) fn on_page_restore(on_restore: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    until_cleanup("pageshow", move |event| {
        let persisted = js_sys::Reflect::get(&event, &"persisted".into())
            .ok()
            .and_then(|value| value.as_bool());
        if persisted == Some(true) {
            on_restore();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = on_restore;
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// Whether the page is being left: `None` until [`notice_leaving`]
    /// installed its listeners.
    static LEAVING: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Starts noticing that the user leaves or reloads the page
/// (`beforeunload`, which comes before the browser closes the page's
/// connections, unlike `pagehide`), once per page; `pageshow` clears it
/// (the leaving was cancelled, or the page came back from the cache).
pub(crate) fn notice_leaving() {
    #[cfg(feature = "hydrate")]
    LEAVING.with(|leaving| {
        if leaving.get().is_some() {
            return;
        }
        leaving.set(Some(false));
        let set = |to: bool| move |_| LEAVING.with(|leaving| leaving.set(Some(to)));
        // For the life of the page: the handles are let go, not removed.
        let _ = leptos::prelude::window_event_listener_untyped("beforeunload", set(true));
        let _ = leptos::prelude::window_event_listener_untyped("pageshow", set(false));
    });
}

/// Whether the page is being left (see [`notice_leaving`]): a stream the
/// browser closes now was closed by the leaving, not refused.
#[cfg(feature = "hydrate")]
pub(crate) fn is_leaving() -> bool {
    LEAVING.with(|leaving| leaving.get() == Some(true))
}

/// Listens for `event` on the window until the calling owner is cleaned up.
#[cfg(feature = "hydrate")]
fn until_cleanup(event: &str, listener: impl Fn(web_sys::Event) + 'static) {
    use leptos::prelude::*;
    let handle = window_event_listener_untyped(event, listener);
    on_cleanup(move || handle.remove());
}
