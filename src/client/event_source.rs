//! An open `EventSource` and the Rust callbacks it calls, closed on drop;
//! browser only. Both browser connections are one: a stream client's
//! ([`super::source`]) and the dashboard's feed ([`super::stats_feed`]).

use crate::model::format_clock;
use std::cell::RefCell;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource};

/// The source and the closures it calls, which must live as long: dropping
/// it closes the source and detaches them first.
pub(crate) struct OpenSource {
    source: EventSource,
    on_open: Closure<dyn FnMut(Event)>,
    /// Every message: the unnamed ones (`onmessage`) and each named type
    /// (one listener per name, the same closure).
    on_message: Closure<dyn FnMut(Event)>,
    on_error: Closure<dyn FnMut(Event)>,
    /// The named types `on_message` listens to now (a `Vec`: a handful at
    /// most, and a B-tree would add its code to the bundle for them).
    named: RefCell<Vec<String>>,
}

impl OpenSource {
    /// Opens `url` with the three callbacks attached.
    pub(crate) fn open(
        url: &str,
        on_open: impl FnMut(Event) + 'static,
        on_message: impl FnMut(Event) + 'static,
        on_error: impl FnMut(Event) + 'static,
    ) -> Result<Self, String> {
        let source = EventSource::new(url)
            .map_err(|error| format!("the browser cannot open {url}: {error:?}"))?;
        // Built before anything is attached: if attaching fails, its Drop
        // closes the source and detaches what was attached.
        let open = Self {
            source,
            on_open: Closure::new(on_open),
            on_message: Closure::new(on_message),
            on_error: Closure::new(on_error),
            named: RefCell::new(Vec::new()),
        };
        open.source
            .set_onopen(Some(open.on_open.as_ref().unchecked_ref()));
        open.source
            .set_onmessage(Some(open.on_message.as_ref().unchecked_ref()));
        open.source
            .set_onerror(Some(open.on_error.as_ref().unchecked_ref()));
        Ok(open)
    }

    /// Hands exactly the messages named in `wanted` (besides unnamed ones)
    /// to the message callback from now on: adds the listeners that are
    /// missing, removes those no longer wanted.
    pub(crate) fn listen_exactly(&self, wanted: &[String]) -> Result<(), String> {
        let mut named = self.named.borrow_mut();
        let callback = self.on_message.as_ref().unchecked_ref();
        named.retain(|kind| {
            let keep = wanted.contains(kind);
            if !keep {
                let _ = self
                    .source
                    .remove_event_listener_with_callback(kind, callback);
            }
            keep
        });
        for new in wanted {
            if named.contains(new) {
                continue;
            }
            self.source
                .add_event_listener_with_callback(new, callback)
                .map_err(|error| format!("cannot listen for {new} events: {error:?}"))?;
            named.push(new.clone());
        }
        Ok(())
    }
}

impl Drop for OpenSource {
    fn drop(&mut self) {
        self.source.close();
        // Detach before the closures are freed, so nothing calls them.
        self.source.set_onopen(None);
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        let callback = self.on_message.as_ref().unchecked_ref();
        for kind in self.named.borrow().iter() {
            let _ = self
                .source
                .remove_event_listener_with_callback(kind, callback);
        }
    }
}

/// Whether the error event `event` means its source gave up for good (the
/// server refused it, or it is closed) rather than reconnecting by itself.
pub(crate) fn source_closed(event: &Event) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<EventSource>().ok())
        .is_none_or(|source| source.ready_state() == EventSource::CLOSED)
}

/// The browser's local time of day, `HH:MM:SS.mmm`: when an outage
/// started, when a row arrived.
pub(crate) fn local_clock() -> String {
    let now = js_sys::Date::new_0();
    format_clock(
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds(),
        now.get_milliseconds(),
    )
}
