//! `/test-multi-client`: several independent stream clients side by side,
//! with a verdict on whether those sharing a stream saw the same events.
//!
//! The page has a fixed set of panel slots, all rendered by the server:
//! the first two shown, the others hidden until "Add panel" shows one.
//! Removing a panel closes its stream, resets it and hides it again. The
//! browser therefore only ever hydrates panels, never builds one: building
//! a panel in the browser would put a second copy of every panel
//! element's code into this page's bundle (about 13 KiB gzip, measured).

use crate::client::StreamClient;
use crate::components::StreamPanel;
use crate::model::{compare_panels, Consistency, PanelEvents};
use leptos::html;
use leptos::prelude::*;

/// Most panels on the page (see the note rendered below the toolbar).
const MAX_PANELS: usize = 4;

/// Panels shown when the page opens.
const FIRST_PANELS: usize = 2;

/// The stream id a panel's input starts with.
const FIRST_STREAM: &str = "demo";

/// One panel's state, owned by the page so the toolbar can drive it and
/// "Remove" can reset it.
#[derive(Clone, Copy)]
struct PanelSlot {
    /// Position on the page, from 0; the panel is titled "Client {key + 1}".
    key: usize,
    client: StreamClient,
    /// The stream id input's text.
    input: RwSignal<String>,
    /// The "Event types" field's text.
    event_types: RwSignal<String>,
    /// Whether the panel is on the page (a removed or not yet added panel
    /// is hidden).
    shown: RwSignal<bool>,
    /// The stream id input, which takes focus when the panel is added.
    input_ref: NodeRef<html::Input>,
}

impl PanelSlot {
    /// Slot `key` as the page opens: disconnected, empty, shown if it is
    /// one of the first panels.
    fn new(key: usize) -> Self {
        Self {
            key,
            client: StreamClient::new(),
            input: RwSignal::new(FIRST_STREAM.to_owned()),
            event_types: RwSignal::new(String::new()),
            shown: RwSignal::new(key < FIRST_PANELS),
            input_ref: NodeRef::new(),
        }
    }

    /// Removes the panel: closes its stream, forgets its history and its
    /// fields (shown again, it starts as a new panel does) and hides it.
    fn put_away(self) {
        self.client.reset();
        self.input.set(FIRST_STREAM.to_owned());
        self.event_types.set(String::new());
        self.shown.set(false);
    }
}

/// The multi-client page.
// Lazy: its code is a chunk of its own, fetched only by this page.
#[island(lazy)]
pub fn MultiClientPage() -> impl IntoView {
    crate::client::mark_hydrated();
    let slots: [PanelSlot; MAX_PANELS] = std::array::from_fn(PanelSlot::new);
    let shown = move || slots.into_iter().filter(|slot| slot.shown.get());
    let shown_count = Memo::new(move |_| shown().count());
    // Where keyboard focus goes when the panel holding it is removed.
    let add_button = NodeRef::<html::Button>::new();

    let add_panel = move |_| {
        let Some(slot) = slots.into_iter().find(|slot| !slot.shown.get_untracked()) else {
            return;
        };
        slot.shown.set(true);
        // Once the panel is no longer hidden (a hidden input takes no focus).
        request_animation_frame(move || {
            if let Some(input) = slot.input_ref.get_untracked() {
                let _ = input.focus();
            }
        });
    };
    let remove_panel = move |slot: PanelSlot| {
        if shown_count.get_untracked() > 1 {
            slot.put_away();
        }
        // After the page has re-rendered without the panel (and "Add panel"
        // is enabled again if it was not).
        request_animation_frame(move || {
            if let Some(button) = add_button.get_untracked() {
                let _ = button.focus();
            }
        });
    };
    let shown_now = move || slots.into_iter().filter(|slot| slot.shown.get_untracked());
    let connect_all = move |_| {
        for slot in shown_now() {
            slot.client.connect_to_input(slot.input);
        }
    };
    let disconnect_all = move |_| {
        for slot in shown_now() {
            slot.client.disconnect();
        }
    };
    let verdict = Memo::new(move |_| {
        let compared: Vec<PanelEvents> = shown()
            .filter(|slot| slot.client.status.get().is_active())
            .filter_map(|slot| {
                let stream_id = slot.client.stream_id.get()?;
                let ticks = slot
                    .client
                    .history
                    .with(|history| history.ticks().cloned().collect());
                Some(PanelEvents { stream_id, ticks })
            })
            .collect();
        compare_panels(&compared)
    });

    view! {
        <main class="page page-multi">
            <header class="hero">
                <h1>"Multi-client test"</h1>
                <p>
                    "Each panel is an independent client with its own connection. Panels on the same stream id must show identical events; panels on different ids run independent generators."
                </p>
                <nav><a href="/">"← Single client"</a></nav>
            </header>
            <div class="toolbar">
                <button type="button" class="primary" data-testid="connect-all" on:click=connect_all>"Connect all"</button>
                <button type="button" data-testid="disconnect-all" on:click=disconnect_all>"Disconnect all"</button>
                <button
                    type="button"
                    data-testid="add-panel"
                    node_ref=add_button
                    on:click=add_panel
                    // Braced: a bare `>` would end the tag.
                    disabled=move || { shown_count.get() >= MAX_PANELS }
                >
                    "Add panel"
                </button>
                <ConsistencyIndicator verdict/>
            </div>
            <p class="note">
                "Up to " {MAX_PANELS} " panels: browsers allow only 6 HTTP/1.1 connections per site, each open stream holds one, and the page needs a couple for itself."
            </p>
            <div class="panel-grid">
                {slots.map(|slot| view! {
                    <StreamPanel
                        client=slot.client
                        input=slot.input
                        event_types=slot.event_types
                        input_ref=slot.input_ref
                        dom_key=slot.key
                        title=format!("Client {}", slot.key + 1)
                        hidden=Signal::derive(move || !slot.shown.get())
                        on_remove=Callback::new(move |()| remove_panel(slot))
                        remove_disabled=Signal::derive(move || shown_count.get() <= 1)
                    />
                })}
            </div>
        </main>
    }
}

/// States whether panels sharing a stream received identical events.
///
/// The visible line updates with every event (its counts grow); screen
/// readers get a separate polite region that changes, and so speaks, only
/// when the verdict itself changes.
#[component]
fn ConsistencyIndicator(verdict: Memo<Consistency>) -> impl IntoView {
    let state = Memo::new(move |_| match verdict.get() {
        Consistency::NothingToCompare => "idle",
        Consistency::Waiting => "waiting",
        Consistency::Compared { differences: 0, .. } => "identical",
        Consistency::Compared { .. } => "different",
    });
    let text = move || match verdict.get() {
        Consistency::NothingToCompare => {
            "Connect two panels to the same stream id to compare them.".to_owned()
        }
        Consistency::Waiting => "Waiting for events both panels received…".to_owned(),
        Consistency::Compared {
            compared,
            differences: 0,
        } => format!("✓ Identical: {compared} shared events compared, 0 differences"),
        Consistency::Compared {
            compared,
            differences,
        } => format!(
            "✕ {differences} {} in {compared} shared events",
            if differences == 1 {
                "difference"
            } else {
                "differences"
            }
        ),
    };
    let announcement = move || match state.get() {
        "waiting" => "Consistency: waiting for events both panels received.",
        "identical" => "Consistency: panels on the same stream received identical events.",
        "different" => "Consistency: panels on the same stream received different events.",
        _ => "",
    };
    view! {
        <p class="consistency" data-testid="consistency" data-state=move || state.get()>{text}</p>
        <p class="sr-only" role="status" data-testid="consistency-announcer">{announcement}</p>
    }
}
