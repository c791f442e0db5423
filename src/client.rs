//! The browser side of one stream: a hook that owns an `EventSource` and
//! turns what it reports into signals the components render.
//!
//! [`StreamClient`] is created during render on both sides (so the server and
//! the browser render the same first view: disconnected, empty history), but
//! an `EventSource` is only ever opened from an event handler in the browser,
//! and closed on Disconnect, on switching streams and on unmount.

use crate::model::{ConnectionStatus, EventHistory, StreamId};
use leptos::prelude::*;

/// Signals describing one stream connection, plus the connection itself.
///
/// `Copy`: every field is a handle into Leptos' reactive arena.
#[derive(Clone, Copy)]
pub struct StreamClient {
    /// What the status badge shows.
    pub status: RwSignal<ConnectionStatus>,
    /// Why the connection failed, when it did.
    pub error: RwSignal<Option<String>>,
    /// Why the typed stream id was refused before connecting.
    pub input_error: RwSignal<Option<String>>,
    /// Received events, newest first, capped; also the latest number and the
    /// recent numbers, which Clear keeps and a new connection forgets.
    pub history: RwSignal<EventHistory>,
    /// Events received since connecting (not capped).
    pub received: RwSignal<u64>,
    /// The stream connected to (or being connected to).
    pub stream_id: RwSignal<Option<String>>,
    /// Bumped on every open and close, so callbacks of an old connection
    /// recognise themselves as stale and do nothing.
    generation: StoredValue<u64>,
    /// The open connection, if any.
    connection: StoredValue<Option<browser::Connection>>,
}

impl Default for StreamClient {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamClient {
    /// A disconnected client with an empty history.
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Disconnected),
            error: RwSignal::new(None),
            input_error: RwSignal::new(None),
            history: RwSignal::new(EventHistory::default()),
            received: RwSignal::new(0),
            stream_id: RwSignal::new(None),
            generation: StoredValue::new(0),
            connection: StoredValue::new(None),
        }
    }

    /// Validates `raw` and, when it is a valid id, closes any open connection,
    /// resets the history (rows, latest and recent numbers) and opens
    /// `/sse/{id}`. An invalid id sets
    /// [`Self::input_error`] and opens nothing.
    pub fn connect(self, raw: &str) {
        let id = match StreamId::parse(raw.trim()) {
            Ok(id) => id,
            Err(reason) => {
                self.input_error.set(Some(reason.to_string()));
                return;
            }
        };
        self.input_error.set(None);
        self.close();
        self.history.update(EventHistory::reset);
        self.received.set(0);
        self.error.set(None);
        self.stream_id.set(Some(id.to_string()));
        self.status.set(ConnectionStatus::Connecting);
        let generation = self.next_generation();
        match browser::Connection::open(self, &id, generation) {
            Ok(connection) => self.connection.set_value(Some(connection)),
            Err(reason) => {
                self.status.set(ConnectionStatus::Error);
                self.error.set(Some(reason));
            }
        }
    }

    /// [`Self::connect`] to the id typed in `input`; the surrounding spaces
    /// it ignores are removed from the input too, so that the field shows
    /// the id actually connected to.
    pub fn connect_to_input(self, input: RwSignal<String>) {
        let typed = input.get_untracked();
        self.connect(&typed);
        let trimmed = typed.trim();
        if trimmed.len() != typed.len() && self.input_error.with_untracked(Option::is_none) {
            input.set(trimmed.to_owned());
        }
    }

    /// Closes the connection and shows `disconnected`; the history stays.
    pub fn disconnect(self) {
        self.close();
        self.status.set(ConnectionStatus::Disconnected);
        self.error.set(None);
    }

    /// Closes the `EventSource` when the calling component unmounts.
    pub fn close_on_cleanup(self) {
        on_cleanup(move || self.close());
    }

    /// Closes the connection without touching the visible state.
    fn close(self) {
        self.next_generation();
        // Dropping the connection closes the EventSource and its callbacks.
        let _ = self
            .connection
            .try_update_value(|connection| connection.take());
    }

    /// Starts a new generation and returns it.
    fn next_generation(self) -> u64 {
        self.generation
            .try_update_value(|generation| {
                *generation += 1;
                *generation
            })
            .unwrap_or_default()
    }

    /// Whether `generation` is still the current connection.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn is_current(self, generation: u64) -> bool {
        self.generation.try_get_value() == Some(generation)
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The `EventSource` and its callbacks; browser only.

    use super::StreamClient;
    use crate::model::{
        format_clock, ConnectionStatus, ErrorBody, GapNotice, RowKind, StreamEvent, StreamId,
    };
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{Event, EventSource, MessageEvent};

    /// An open `EventSource` with the callbacks it calls.
    pub(crate) struct Connection {
        /// Held for its `Drop`, which closes the source.
        _live: SendWrapper<Live>,
    }

    /// The source and the Rust closures it calls, which must live as long.
    struct Live {
        source: EventSource,
        on_open: Closure<dyn FnMut(Event)>,
        on_message: Closure<dyn FnMut(MessageEvent)>,
        on_gap: Closure<dyn FnMut(MessageEvent)>,
        on_error: Closure<dyn FnMut(Event)>,
    }

    impl Connection {
        /// Opens `/sse/{id}` and wires its callbacks to `client`.
        pub(crate) fn open(
            client: StreamClient,
            id: &StreamId,
            generation: u64,
        ) -> Result<Self, String> {
            let url = format!("/sse/{}", js_sys::encode_uri_component(id.as_str()));
            let source = EventSource::new(&url)
                .map_err(|error| format!("the browser cannot open {url}: {error:?}"))?;
            let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                if client.is_current(generation) {
                    client.status.set(ConnectionStatus::Connected);
                    client.error.set(None);
                }
            });
            let on_message =
                Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                    if client.is_current(generation) {
                        record_message(client, &message);
                    }
                });
            let on_gap = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                if client.is_current(generation) {
                    record_gap(client, &message);
                }
            });
            let error_url = url.clone();
            let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
                if !client.is_current(generation) {
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
                on_gap,
                on_error,
            };
            live.attach()?;
            Ok(Self {
                _live: SendWrapper::new(live),
            })
        }
    }

    impl Live {
        /// Points the source's handlers at the closures.
        fn attach(&self) -> Result<(), String> {
            self.source
                .set_onopen(Some(self.on_open.as_ref().unchecked_ref()));
            self.source
                .set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
            self.source
                .set_onerror(Some(self.on_error.as_ref().unchecked_ref()));
            self.source
                .add_event_listener_with_callback("gap", self.on_gap.as_ref().unchecked_ref())
                .map_err(|error| format!("cannot listen for gap events: {error:?}"))
        }
    }

    impl Drop for Live {
        fn drop(&mut self) {
            self.source.close();
            // Detach before the closures are freed, so nothing calls them.
            self.source.set_onopen(None);
            self.source.set_onmessage(None);
            self.source.set_onerror(None);
            let _ = self
                .source
                .remove_event_listener_with_callback("gap", self.on_gap.as_ref().unchecked_ref());
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

    /// Adds a received message to the history: an event, or an error row when
    /// its data is not a valid event.
    fn record_message(client: StreamClient, message: &MessageEvent) {
        let data = message.data().as_string().unwrap_or_default();
        let row = match serde_json::from_str::<StreamEvent>(&data) {
            Ok(event) => {
                client.received.update(|count| *count += 1);
                RowKind::Event {
                    seq: message.last_event_id().parse().ok(),
                    event,
                }
            }
            Err(error) => RowKind::Malformed {
                reason: format!("could not read event data ({error})"),
            },
        };
        push_row(client, row);
    }

    /// Adds a gap notice to the history.
    fn record_gap(client: StreamClient, message: &MessageEvent) {
        let data = message.data().as_string().unwrap_or_default();
        let row = match serde_json::from_str::<GapNotice>(&data) {
            Ok(gap) => RowKind::Gap(gap),
            Err(error) => RowKind::Malformed {
                reason: format!("could not read gap notice ({error})"),
            },
        };
        push_row(client, row);
    }

    /// How long the question "why was the stream refused?" may take.
    const REFUSAL_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

    /// `EventSource` hides why it gave up; ask the server once with `fetch`
    /// and show its JSON error.
    fn explain_refusal(client: StreamClient, generation: u64, url: String) {
        leptos::task::spawn_local(async move {
            let controller = web_sys::AbortController::new().ok();
            let signal = controller.as_ref().map(web_sys::AbortController::signal);
            // A server that accepts but never answers must not leave the
            // question (and a connection) open for ever.
            if let Some(controller) = controller.clone() {
                set_timeout(move || controller.abort(), REFUSAL_LOOKUP_TIMEOUT);
            }
            let request = gloo_net::http::Request::get(&url).abort_signal(signal.as_ref());
            let reason = match request.send().await {
                Ok(response) if response.ok() => {
                    // The stream is fine now; do not keep this second copy open.
                    if let Some(controller) = &controller {
                        controller.abort();
                    }
                    "the stream closed unexpectedly; connect again".to_owned()
                }
                Ok(response) => match response.json::<ErrorBody>().await {
                    Ok(body) => format!("{} (HTTP {})", body.error, response.status()),
                    Err(_) => format!("the server answered HTTP {}", response.status()),
                },
                Err(error) => format!("the server cannot be reached ({error})"),
            };
            if client.is_current(generation) {
                let _ = client.error.try_set(Some(reason));
            }
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    //! The server never opens a connection: render only.

    use super::StreamClient;
    use crate::model::StreamId;

    /// Stands in for the browser's connection type.
    pub(crate) struct Connection;

    impl Connection {
        /// Never called on the server (connections open from event handlers).
        pub(crate) fn open(_: StreamClient, _: &StreamId, _: u64) -> Result<Self, String> {
            Err("streams can only be opened in the browser".into())
        }
    }
}
