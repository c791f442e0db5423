//! `/test-multi-client`: several independent stream clients side by side,
//! with a verdict on whether those sharing a stream saw the same events.

use crate::client::StreamClient;
use crate::components::StreamPanel;
use crate::model::{compare_panels, Consistency, PanelEvents};
use leptos::prelude::*;

/// Most panels on the page (see the note rendered below the toolbar).
const MAX_PANELS: usize = 4;

/// One panel's state, owned by the page so the toolbar can drive it.
#[derive(Clone, Copy)]
struct PanelSlot {
    key: usize,
    client: StreamClient,
    input: RwSignal<String>,
    /// Added by the user (not one of the first two): its input takes focus.
    added: bool,
}

impl PanelSlot {
    /// A panel whose signals belong to a child of `page` (when there is a
    /// page owner), returned with it: dropping that owner frees them, which
    /// removing the panel does.
    fn create(page: Option<&Owner>, key: usize, added: bool) -> (Self, Option<Owner>) {
        let new = move || Self {
            key,
            client: StreamClient::new(),
            input: RwSignal::new("demo".to_owned()),
            added,
        };
        match page {
            Some(page) => {
                let owner = page.child();
                (owner.with(new), Some(owner))
            }
            None => (new(), None),
        }
    }
}

/// The multi-client page.
// Lazy: its code is a chunk of its own, fetched only by this page.
#[island(lazy)]
pub fn MultiClientPage() -> impl IntoView {
    crate::client::mark_hydrated();
    let page = Owner::current();
    let (first, first_owner) = PanelSlot::create(page.as_ref(), 0, false);
    let (second, second_owner) = PanelSlot::create(page.as_ref(), 1, false);
    let panels = RwSignal::new(vec![first, second]);
    // The owner of each panel's signals, by key (see `PanelSlot::create`).
    let panel_owners = StoredValue::new(
        [(0, first_owner), (1, second_owner)]
            .into_iter()
            .filter_map(|(key, owner)| Some((key, owner?)))
            .collect::<Vec<_>>(),
    );
    let next_key = StoredValue::new(2usize);
    // Where keyboard focus goes when the panel holding it is removed.
    let add_button = NodeRef::<leptos::html::Button>::new();

    let add_panel = move |_| {
        if panels.with(Vec::len) >= MAX_PANELS {
            return;
        }
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        // The panel's signals belong to the page, not to the click handler.
        let (slot, owner) = PanelSlot::create(page.as_ref(), key, true);
        if let Some(owner) = owner {
            panel_owners.update_value(|owners| owners.push((key, owner)));
        }
        panels.update(|list| list.push(slot));
    };
    let connect_all = move |_| {
        for slot in panels.get_untracked() {
            slot.client.connect_to_input(slot.input);
        }
    };
    let disconnect_all = move |_| {
        for slot in panels.get_untracked() {
            slot.client.disconnect();
        }
    };
    let verdict = Memo::new(move |_| {
        let shared: Vec<PanelEvents> = panels.with(|list| {
            list.iter()
                .filter(|slot| slot.client.status.get().is_active())
                .filter_map(|slot| {
                    let stream_id = slot.client.stream_id.get()?;
                    let ticks = slot
                        .client
                        .history
                        .with(|history| history.ticks().cloned().collect());
                    Some(PanelEvents { stream_id, ticks })
                })
                .collect()
        });
        compare_panels(&shared)
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
                    disabled=move || { panels.with(Vec::len) >= MAX_PANELS }
                >
                    "Add panel"
                </button>
                <ConsistencyIndicator verdict/>
            </div>
            <p class="note">
                "Up to " {MAX_PANELS} " panels: browsers allow only 6 HTTP/1.1 connections per site, each open stream holds one, and the page needs a couple for itself."
            </p>
            <div class="panel-grid">
                <For each=move || panels.get() key=|slot| slot.key let:slot>
                    <StreamPanel
                        client=slot.client
                        input=slot.input
                        dom_key=slot.key
                        title=format!("Client {}", slot.key + 1)
                        on_remove=Callback::new(move |()| {
                            let removed = panels
                                .try_update(|list| {
                                    let before = list.len();
                                    if before > 1 {
                                        list.retain(|other| other.key != slot.key);
                                    }
                                    list.len() < before
                                })
                                .unwrap_or(false);
                            // After the page has re-rendered without the panel
                            // (and "Add panel" is enabled again if it was not).
                            request_animation_frame(move || {
                                if let Some(button) = add_button.get_untracked() {
                                    let _ = button.focus();
                                }
                                if removed {
                                    // Frees the panel's signals and its history.
                                    let owner = panel_owners.try_update_value(|owners| {
                                        let at = owners.iter().position(|(key, _)| *key == slot.key)?;
                                        Some(owners.remove(at))
                                    });
                                    drop(owner);
                                }
                            });
                        })
                        focus_on_mount=slot.added
                        remove_disabled=Signal::derive(move || panels.with(Vec::len) <= 1)
                    />
                </For>
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
