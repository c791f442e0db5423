//! The dashboard's feed: `GET /api/stats/stream` through an `EventSource`,
//! each `stats` frame applied to a [`Dashboard`].
//!
//! Like a stream client, it is created during render on both sides (the
//! server renders the dashboard empty, and so does the browser's first
//! render), opened only in the browser (from an effect, after hydration),
//! and closed when the page is hidden (`pagehide`), so that leaving the page
//! ends the request like every other stream; a page restored from the
//! back/forward cache opens it again.

use super::Outage;
use crate::model::{ConnectionStatus, Dashboard};
use leptos::prelude::*;

/// The dashboard's signals, plus the connection that feeds them. `Copy`:
/// every field is a handle into Leptos' reactive arena.
#[derive(Clone, Copy)]
pub struct StatsFeed {
    /// Whether frames are arriving.
    pub status: RwSignal<ConnectionStatus>,
    /// Everything shown, updated by each frame.
    pub board: RwSignal<Dashboard>,
    /// Why the feed failed, when it did.
    pub error: RwSignal<Option<String>>,
    /// Since when the feed is down while the browser retries it: the
    /// figures shown are from then.
    pub outage: Outage,
    /// The open connection, if any.
    connection: StoredValue<Option<browser::Feed>>,
}

impl StatsFeed {
    /// A feed that opens once the page runs in the browser, closes when the
    /// calling component unmounts or the page is hidden, and opens again
    /// when the page comes back from the back/forward cache.
    pub fn while_mounted() -> Self {
        let feed = Self {
            status: RwSignal::new(ConnectionStatus::Connecting),
            board: RwSignal::new(Dashboard::default()),
            error: RwSignal::new(None),
            outage: Outage::new(),
            connection: StoredValue::new(None),
        };
        // Effects run only in the browser, after hydration.
        Effect::new(move |_| feed.open());
        on_cleanup(move || feed.close());
        super::page_life::on_page_hide(move || {
            feed.close();
            let _ = feed.status.try_set(ConnectionStatus::Disconnected);
            feed.outage.clear();
        });
        super::page_life::on_page_restore(move || {
            let _ = feed.status.try_set(ConnectionStatus::Connecting);
            feed.open();
        });
        feed
    }

    /// Opens the `EventSource` (browser only).
    fn open(self) {
        match browser::Feed::open(self) {
            Ok(feed) => self.connection.set_value(Some(feed)),
            Err(reason) => {
                self.status.set(ConnectionStatus::Error);
                self.error.set(Some(reason));
            }
        }
    }

    /// Drops the connection, which closes the `EventSource`.
    fn close(self) {
        let _ = self
            .connection
            .try_update_value(|connection| connection.take());
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The browser's side: the source and its callbacks.

    use super::StatsFeed;
    use crate::client::event_source::{local_clock, source_closed, OpenSource};
    use crate::model::{read_json, ConnectionStatus, StatsFrame};
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::JsCast;
    use web_sys::{Event, MessageEvent};

    /// Where the feed comes from.
    const STATS_STREAM_URL: &str = "/api/stats/stream";

    /// The event type of every frame.
    const STATS_EVENT: &str = "stats";

    /// The open source, held for its `Drop`.
    pub(crate) struct Feed {
        _live: SendWrapper<OpenSource>,
    }

    impl Feed {
        /// Opens the feed and applies each frame to `feed`'s board.
        pub(crate) fn open(feed: StatsFeed) -> Result<Self, String> {
            let on_open = move |_: Event| {
                let _ = feed.status.try_set(ConnectionStatus::Connected);
                let _ = feed.error.try_set(None);
                feed.outage.clear();
            };
            let on_message = move |event: Event| {
                let Some(message) = event.dyn_ref::<MessageEvent>() else {
                    return;
                };
                let data = message.data().as_string().unwrap_or_default();
                match read_json::<StatsFrame>(&data) {
                    Ok(frame) => {
                        let _ = feed.board.try_update(|board| board.apply(frame));
                    }
                    Err(error) => {
                        let _ = feed
                            .error
                            .try_set(Some(format!("unreadable stats frame: {error}")));
                    }
                }
            };
            let on_error = move |event: Event| {
                let status = if source_closed(&event) {
                    feed.outage.clear();
                    let _ = feed
                        .error
                        .try_set(Some("the server refused the stats stream".into()));
                    ConnectionStatus::Error
                } else {
                    feed.outage.note_error(local_clock);
                    ConnectionStatus::Reconnecting
                };
                let _ = feed.status.try_set(status);
            };
            let live = OpenSource::open(STATS_STREAM_URL, on_open, on_message, on_error)?;
            live.listen_exactly(&[STATS_EVENT.to_owned()])?;
            Ok(Self {
                _live: SendWrapper::new(live),
            })
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    //! The server never opens the feed: render only.

    use super::StatsFeed;

    /// Stands in for the browser's connection type.
    pub(crate) struct Feed;

    impl Feed {
        /// Never called on the server (effects run only in the browser).
        pub(crate) fn open(_: StatsFeed) -> Result<Self, String> {
            Err("the stats stream can only be opened in the browser".into())
        }
    }
}
