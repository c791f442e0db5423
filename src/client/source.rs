//! A stream client's `EventSource` callbacks; browser only.

use super::event_source::{local_clock, source_closed, OpenSource};
use super::refusal::explain_refusal;
use super::StreamClient;
use crate::model::{
    needs_own_listener, read_message, ConnectionStatus, RowKind, StreamId, GAP_TYPE,
};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use web_sys::{Event, MessageEvent};

/// An open `EventSource` with the callbacks it calls.
pub(crate) struct Connection {
    /// Held for its `Drop`, which closes the source.
    live: SendWrapper<OpenSource>,
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
        let on_open = move |event: Event| {
            // A published event named `open` is a message, not the
            // connection opening.
            if event.is_instance_of::<MessageEvent>() || !client.is_current(generation) {
                return;
            }
            client.status.set(ConnectionStatus::Connected);
            client.error.set(None);
            client.outage.clear();
        };
        let on_message = move |event: Event| {
            // A listener for a type named `open` or `error` also hears the
            // connection's own (plain) events of that name: not messages.
            if let Some(message) = event.dyn_ref::<MessageEvent>() {
                if client.is_current(generation) {
                    record_message(client, message);
                }
            }
        };
        let error_url = url.clone();
        let on_error = move |event: Event| {
            // A published event named `error` is a message, not a failure.
            if event.is_instance_of::<MessageEvent>() || !client.is_current(generation) {
                return;
            }
            // Leaving the page closes the stream before `pagehide`: not a
            // refusal to look into (the question would open the stream
            // again on the server as the page goes).
            if super::page_life::is_leaving() {
                return;
            }
            if source_closed(&event) {
                client.outage.clear();
                client.status.set(ConnectionStatus::Error);
                client
                    .error
                    .set(Some("the server refused the stream".into()));
                explain_refusal(client, generation, error_url.clone());
            } else {
                client.status.set(ConnectionStatus::Reconnecting);
                client.outage.note_error(local_clock);
            }
        };
        let live = OpenSource::open(&url, on_open, on_message, on_error)?;
        live.listen_exactly(&wanted_types(types))?;
        Ok(Self {
            live: SendWrapper::new(live),
        })
    }

    /// Listens for exactly `types` (and gap notices) from now on: adds the
    /// listeners that are missing, removes those no longer wanted.
    pub(crate) fn listen_for(&self, types: &[String]) -> Result<(), String> {
        self.live.listen_exactly(&wanted_types(types))
    }
}

/// The named types a stream client listens for: those of `types` that
/// need a listener of their own, and gap notices.
fn wanted_types(types: &[String]) -> Vec<String> {
    types
        .iter()
        .filter(|kind| needs_own_listener(kind))
        .cloned()
        .chain([GAP_TYPE.to_owned()])
        .collect()
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
