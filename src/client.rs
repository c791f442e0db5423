//! The browser side of one stream: a hook that owns an `EventSource` and
//! turns what it reports into signals the components render, plus the other
//! browser-only pieces the page needs (the token's storage and cookie, and
//! the publish request), and the dashboard's feed ([`StatsFeed`]), which
//! shares the `EventSource` wrapper (`event_source.rs`) with the stream
//! client (`source.rs`).
//!
//! [`StreamClient`] is created during render on both sides (so the server and
//! the browser render the same first view: disconnected, empty history), but
//! an `EventSource` is only ever opened from an event handler in the browser,
//! and closed on Disconnect, on switching streams, when its panel is removed
//! and when the page is hidden (`pagehide`: a page's island is never
//! unmounted, see `page_life.rs`).
//!
//! Named event types: an `EventSource` hands a named event only to a
//! listener for its name. The client listens for unnamed messages, `gap`,
//! the types in its panel's "Event types" field and every type published
//! from the page; a type added while connected gets its listener at once,
//! on the open connection (no reconnect, so nothing is missed in between),
//! and one removed from the field loses it.

#[cfg(feature = "hydrate")]
mod event_source;
mod outage;
mod page_life;
pub(crate) mod publisher;
#[cfg(feature = "hydrate")]
mod refusal;
#[cfg(feature = "hydrate")]
mod source;
mod stats_feed;
pub(crate) mod token_store;

pub use outage::Outage;
pub use stats_feed::StatsFeed;

use crate::model::{BearerToken, ConnectionStatus, EventHistory, EventType, StreamId};
use leptos::prelude::*;

/// Tells tests (and curious people) that the page's island is interactive
/// now: sets `window.__sseHubHydrated` from an effect, which runs once the
/// island has hydrated. Called at the top of every page island.
pub fn mark_hydrated() {
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        let _ = js_sys::Reflect::set(&js_sys::global(), &"__sseHubHydrated".into(), &true.into());
    });
}

/// Signals describing one stream connection, plus the connection itself.
///
/// `Copy`: every field is a handle into Leptos' reactive arena.
#[derive(Clone, Copy)]
pub struct StreamClient {
    /// What the status badge shows.
    pub status: RwSignal<ConnectionStatus>,
    /// Why the connection failed, when it did.
    pub error: RwSignal<Option<String>>,
    /// Since when the connection is down while the browser retries it.
    pub outage: Outage,
    /// Why the typed stream id was refused before connecting.
    pub input_error: RwSignal<Option<String>>,
    /// Received events, newest first, capped; also the latest number and the
    /// recent numbers, which Clear keeps and a new connection forgets.
    pub history: RwSignal<EventHistory>,
    /// Events (generated and published) received since connecting (not
    /// capped).
    pub received: RwSignal<u64>,
    /// The stream connected to (or being connected to).
    pub stream_id: RwSignal<Option<String>>,
    /// The valid types of the panel's "Event types" field.
    typed_types: RwSignal<Vec<String>>,
    /// Types published from this page, listened for from then on, each
    /// once.
    published_types: RwSignal<Vec<String>>,
    /// The page's token field, when the page has one: written to the
    /// token cookie before every connect, so that private streams open.
    token: Option<RwSignal<String>>,
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
    /// A disconnected client with an empty history, which sends whatever
    /// token cookie the browser holds.
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Disconnected),
            error: RwSignal::new(None),
            outage: Outage::new(),
            input_error: RwSignal::new(None),
            history: RwSignal::new(EventHistory::default()),
            received: RwSignal::new(0),
            stream_id: RwSignal::new(None),
            typed_types: RwSignal::new(Vec::new()),
            published_types: RwSignal::new(Vec::new()),
            token: None,
            generation: StoredValue::new(0),
            connection: StoredValue::new(None),
        }
    }

    /// A client that writes `token` (the page's token field) to the token
    /// cookie before it connects, or clears the cookie when it is blank.
    pub fn with_token(token: RwSignal<String>) -> Self {
        Self {
            token: Some(token),
            ..Self::new()
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
        self.outage.clear();
        self.stream_id.set(Some(id.to_string()));
        self.status.set(ConnectionStatus::Connecting);
        if let Some(token) = self.token {
            // A token the field refuses is not sent: the cookie is cleared.
            let token = token.with_untracked(|raw| BearerToken::parse(raw).ok().flatten());
            token_store::write_cookie(token.as_ref());
        }
        let generation = self.next_generation();
        let types = self.listened_types_untracked();
        match browser::Connection::open(self, &id, generation, &types) {
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
        self.outage.clear();
    }

    /// Closes the connection and forgets everything it received and every
    /// type published from the page (a removed panel of the multi-client
    /// page, kept for reuse). The types typed into the panel's field stay
    /// until the field changes: they follow the field, so the page empties
    /// the field.
    pub fn reset(self) {
        self.disconnect();
        self.input_error.set(None);
        self.history.update(EventHistory::reset);
        self.received.set(0);
        self.stream_id.set(None);
        self.published_types.set(Vec::new());
    }

    /// Closes the `EventSource` when the calling component unmounts and when
    /// the page is hidden (`pagehide`: the user leaves, or the page goes
    /// into the back/forward cache, which would otherwise keep the stream
    /// open). A page restored from that cache shows its open panels
    /// `disconnected`, history kept, until Connect is clicked.
    pub fn close_on_cleanup(self) {
        on_cleanup(move || self.close());
        page_life::notice_leaving();
        page_life::on_page_hide(move || {
            let open = self
                .connection
                .try_with_value(Option::is_some)
                .unwrap_or(false);
            if open {
                self.disconnect();
            }
        });
    }

    /// Listens for `types` (the valid entries of the panel's "Event types"
    /// field) instead of the ones typed before; on the open connection too.
    pub fn listen_for_typed(self, types: Vec<String>) {
        if self.typed_types.try_set(types).is_none() {
            self.sync_listeners();
        }
    }

    /// Listens for `event_type` from now on (it is about to be published
    /// from the page), on the open connection too.
    pub fn listen_for_published(self, event_type: &EventType) {
        let added = self
            .published_types
            .try_update(|types| {
                let new = !types.iter().any(|known| known == event_type.as_str());
                if new {
                    types.push(event_type.as_str().to_owned());
                }
                new
            })
            .unwrap_or(false);
        if added {
            self.sync_listeners();
        }
    }

    /// Every named type listened for, sorted (reactive, for display).
    pub fn listened_types(self) -> Vec<String> {
        let mut types = self.typed_types.get();
        types.extend(self.published_types.get());
        types.sort_unstable();
        types.dedup();
        types
    }

    /// [`Self::listened_types`] without subscribing to them.
    fn listened_types_untracked(self) -> Vec<String> {
        untrack(move || self.listened_types())
    }

    /// Gives the open connection a listener for each type listened for.
    fn sync_listeners(self) {
        let types = self.listened_types_untracked();
        let failed = self
            .connection
            .try_with_value(|connection| {
                connection
                    .as_ref()
                    .and_then(|open| open.listen_for(&types).err())
            })
            .flatten();
        if let Some(reason) = failed {
            let _ = self.error.try_set(Some(reason));
        }
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
    //! The browser's connection: see `source`.
    pub(crate) use super::source::Connection;
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
        pub(crate) fn open(
            _: StreamClient,
            _: &StreamId,
            _: u64,
            _: &[String],
        ) -> Result<Self, String> {
            Err("streams can only be opened in the browser".into())
        }

        /// Nothing to listen on.
        pub(crate) fn listen_for(&self, _: &[String]) -> Result<(), String> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_type(raw: &str) -> EventType {
        EventType::parse(raw).expect("a valid event type")
    }

    #[test]
    fn typed_and_published_types_are_listened_for_once_each_in_order() {
        // Signals live in an owner's arena.
        Owner::new().with(|| {
            let client = StreamClient::new();
            client.listen_for_typed(vec!["order.paid".into(), "alert".into()]);
            client.listen_for_published(&event_type("alert"));
            client.listen_for_published(&event_type("zebra"));
            client.listen_for_published(&event_type("zebra"));
            assert_eq!(client.listened_types(), ["alert", "order.paid", "zebra"]);
            // A type removed from the field stays while it is published
            // from the page; the others go.
            client.listen_for_typed(vec!["alert".into()]);
            assert_eq!(client.listened_types(), ["alert", "zebra"]);
            client.listen_for_typed(Vec::new());
            assert_eq!(client.listened_types(), ["alert", "zebra"]);
        });
    }

    #[test]
    fn reset_forgets_what_the_client_received_and_published() {
        Owner::new().with(|| {
            let client = StreamClient::new();
            client.connect("reset-me");
            client.listen_for_published(&event_type("alert"));
            client.received.set(3);
            client.input_error.set(Some("a refused id".into()));
            client.outage.note_error(|| "12:00:00.000".into());
            client.reset();
            assert_eq!(
                client.status.get_untracked(),
                ConnectionStatus::Disconnected
            );
            assert_eq!(client.stream_id.get_untracked(), None);
            assert_eq!(client.received.get_untracked(), 0);
            assert_eq!(client.error.get_untracked(), None);
            assert_eq!(client.outage.since.get_untracked(), None);
            assert_eq!(client.input_error.get_untracked(), None);
            assert!(client.history.with_untracked(EventHistory::is_empty));
            assert!(client.listened_types().is_empty());
        });
    }
}
