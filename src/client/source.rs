//! The `EventSource` and its callbacks; browser only.

use super::refusal::explain_refusal;
use super::StreamClient;
use crate::model::{
    format_clock, needs_own_listener, read_message, ConnectionStatus, RowKind, StreamId, GAP_TYPE,
};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::RefCell;
use std::collections::BTreeSet;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, MessageEvent};

/// An open `EventSource` with the callbacks it calls.
pub(crate) struct Connection {
    /// Held for its `Drop`, which closes the source.
    live: SendWrapper<Live>,
}

/// The source and the Rust closures it calls, which must live as long.
struct Live {
    source: EventSource,
    on_open: Closure<dyn FnMut(Event)>,
    /// Every message: the unnamed ones (`onmessage`) and each named type
    /// (one listener per name, the same closure).
    on_message: Closure<dyn FnMut(Event)>,
    on_error: Closure<dyn FnMut(Event)>,
    /// The named types `on_message` listens to now.
    named: RefCell<BTreeSet<String>>,
}

impl Connection {
    /// Opens `/sse/{id}`, wires its callbacks to `client` and listens for
    /// `types` besides unnamed messages and gap notices.
    pub(crate) fn open(
        client: StreamClient,
        id: &StreamId,
        generation: u64,
        types: &[String],
    ) -> Result<Self, String> {
        let url = format!("/sse/{}", js_sys::encode_uri_component(id.as_str()));
        let source = EventSource::new(&url)
            .map_err(|error| format!("the browser cannot open {url}: {error:?}"))?;
        let on_open = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            // A published event named `open` is a message, not the
            // connection opening.
            if event.is_instance_of::<MessageEvent>() || !client.is_current(generation) {
                return;
            }
            client.status.set(ConnectionStatus::Connected);
            client.error.set(None);
        });
        let on_message = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            // A listener for a type named `open` or `error` also hears the
            // connection's own (plain) events of that name: not messages.
            if let Some(message) = event.dyn_ref::<MessageEvent>() {
                if client.is_current(generation) {
                    record_message(client, message);
                }
            }
        });
        let error_url = url.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            // A published event named `error` is a message, not a failure.
            if event.is_instance_of::<MessageEvent>() || !client.is_current(generation) {
                return;
            }
            let closed = event
                .target()
                .and_then(|target| target.dyn_into::<EventSource>().ok())
                .is_none_or(|source| source.ready_state() == EventSource::CLOSED);
            if closed {
                client.status.set(ConnectionStatus::Error);
                client
                    .error
                    .set(Some("the server refused the stream".into()));
                explain_refusal(client, generation, error_url.clone());
            } else {
                client.status.set(ConnectionStatus::Reconnecting);
            }
        });
        // Built before anything is attached: if attaching fails, its Drop
        // closes the source and detaches what was attached.
        let live = Live {
            source,
            on_open,
            on_message,
            on_error,
            named: RefCell::new(BTreeSet::new()),
        };
        live.attach();
        live.listen_for(types)?;
        Ok(Self {
            live: SendWrapper::new(live),
        })
    }

    /// Listens for exactly `types` (and gap notices) from now on: adds the
    /// listeners that are missing, removes those no longer wanted.
    pub(crate) fn listen_for(&self, types: &[String]) -> Result<(), String> {
        self.live.listen_for(types)
    }
}

impl Live {
    /// Points the source's handlers at the closures.
    fn attach(&self) {
        self.source
            .set_onopen(Some(self.on_open.as_ref().unchecked_ref()));
        self.source
            .set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
        self.source
            .set_onerror(Some(self.on_error.as_ref().unchecked_ref()));
    }

    /// See [`Connection::listen_for`].
    fn listen_for(&self, types: &[String]) -> Result<(), String> {
        let wanted: BTreeSet<String> = types
            .iter()
            .filter(|kind| needs_own_listener(kind))
            .cloned()
            .chain([GAP_TYPE.to_owned()])
            .collect();
        let mut named = self.named.borrow_mut();
        let callback = self.on_message.as_ref().unchecked_ref();
        for gone in named.difference(&wanted).cloned().collect::<Vec<_>>() {
            let _ = self
                .source
                .remove_event_listener_with_callback(&gone, callback);
            named.remove(&gone);
        }
        for new in wanted.difference(&named).cloned().collect::<Vec<_>>() {
            self.source
                .add_event_listener_with_callback(&new, callback)
                .map_err(|error| format!("cannot listen for {new} events: {error:?}"))?;
            named.insert(new);
        }
        Ok(())
    }
}

impl Drop for Live {
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

/// The browser's local time of day, `HH:MM:SS.mmm`.
fn local_clock() -> String {
    let now = js_sys::Date::new_0();
    format_clock(
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds(),
        now.get_milliseconds(),
    )
}

/// Adds `row` to the top of the history, stamped with the local time.
fn push_row(client: StreamClient, row: RowKind) {
    let received_at = local_clock();
    client
        .history
        .update(|history| history.push(row, received_at));
}

/// Adds a received message to the history: a generated or published
/// event, a gap notice, or an error row when its data cannot be read.
fn record_message(client: StreamClient, message: &MessageEvent) {
    let data = message.data().as_string().unwrap_or_default();
    let row = read_message(&message.type_(), &message.last_event_id(), &data);
    if row.is_event() {
        client.received.update(|count| *count += 1);
    }
    push_row(client, row);
}
