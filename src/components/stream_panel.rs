//! One complete stream client: form, status, latest number, sparkline, the
//! event types it shows and history. The home page shows one; the
//! multi-client page several.

use super::connect_form::ConnectForm;
use super::event_history::EventHistoryList;
use super::event_types_field::EventTypesField;
use super::outage_note::OutageNote;
use super::sparkline::Sparkline;
use super::status_badge::StatusBadge;
use crate::client::StreamClient;
use crate::model::{EventHistory, RowKind, UNNAMED_TYPE};
use leptos::prelude::*;

/// A stream client panel. Its connection closes when the page is hidden
/// (and when the panel unmounts, should a page ever unmount one); the
/// multi-client page closes it on Remove too.
#[component]
pub fn StreamPanel(
    /// The connection and its signals.
    client: StreamClient,
    /// The text in the stream id input.
    input: RwSignal<String>,
    /// Unique per page; keeps element ids unique.
    dom_key: usize,
    /// Heading of the panel.
    #[prop(into)]
    title: String,
    /// Shows a Remove button that calls this.
    #[prop(optional)]
    on_remove: Option<Callback<()>>,
    /// Whether the Remove button is disabled (e.g. for the last panel).
    #[prop(optional, into)]
    remove_disabled: Signal<bool>,
    /// Hides the panel (a spare slot of the multi-client page).
    #[prop(optional, into)]
    hidden: Signal<bool>,
    /// The "Event types" field's text, when the page needs to reset it;
    /// otherwise the panel keeps its own.
    #[prop(optional)]
    event_types: Option<RwSignal<String>>,
    /// The stream id input, for a page that moves keyboard focus into it.
    #[prop(optional)]
    input_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    client.close_on_cleanup();
    let event_types = event_types.unwrap_or_else(|| RwSignal::new(String::new()));
    // Kept by the history apart from its rows: Clear leaves them as they are.
    // Memos, so that a Clear (which changes the history but not these) does
    // not touch the DOM.
    let latest = Memo::new(move |_| client.history.with(EventHistory::latest_number));
    let numbers = Memo::new(move |_| client.history.with(EventHistory::recent_numbers));
    let announcement = announcement(client, title.clone());
    let remove_label = format!("Remove {}", title.to_ascii_lowercase());
    view! {
        <section class="panel" data-testid="panel" aria-label=title.clone() hidden=move || hidden.get()>
            <header class="panel-head">
                <h2>{title.clone()}</h2>
                <StatusBadge status=client.status panel=title.clone()/>
                {on_remove.map(|remove| view! {
                    <button
                        type="button"
                        class="ghost"
                        data-testid="remove-panel"
                        aria-label=remove_label
                        disabled=move || remove_disabled.get()
                        on:click=move |_| remove.run(())
                    >
                        "Remove"
                    </button>
                })}
            </header>
            <ConnectForm client input dom_key input_ref/>
            <p class="connection-error" data-testid="error" role="alert" hidden=move || client.error.with(Option::is_none)>
                {move || client.error.get().unwrap_or_default()}
            </p>
            <OutageNote
                outage=client.outage
                what="connection"
                then="Events missed meanwhile follow once it is back."
            />
            <div class="readout">
                <div class="latest-box">
                    <span class="caption">"Latest"</span>
                    <span class="latest" data-testid="latest">{move || latest.get().map(|n| n.to_string()).unwrap_or_else(|| "–".into())}</span>
                </div>
                <div class="count-box">
                    <span class="caption">"Events"</span>
                    <span class="count" data-testid="count">{move || client.received.get()}</span>
                </div>
                <div class="spark-box">
                    <span class="caption">"Trend"</span>
                    <Sparkline values=numbers/>
                </div>
            </div>
            <p class="sr-only" aria-live="polite" data-testid="announcer">{move || announcement.get()}</p>
            <EventTypesField client raw=event_types dom_key/>
            <div class="history-head">
                <h3>"History" <span class="muted">{move || format!(" ({} shown, newest first)", client.history.with(EventHistory::len))}</span></h3>
                <button
                    type="button"
                    class="ghost"
                    data-testid="clear"
                    on:click=move |_| client.history.update(EventHistory::clear)
                >
                    "Clear"
                </button>
            </div>
            <EventHistoryList history=client.history received=client.received/>
        </section>
    }
}

/// What the panel's polite live region says about the newest row: named
/// after the panel (a page may have several) and unique per event, so that
/// two events in a row with the same number are both announced. A Clear
/// leaves it as it was; a new connection (or a reset) empties it.
fn announcement(client: StreamClient, title: String) -> Memo<String> {
    Memo::new(move |previous: Option<&String>| {
        client.history.with(|history| {
            let said = history.newest().map(|row| match &row.kind {
                RowKind::Event { event, .. } => format!(
                    "{title}: latest number {} (event {})",
                    event.number,
                    client.received.get_untracked()
                ),
                RowKind::Published(event) => format!(
                    "{title}: {} event received (event {})",
                    event.event_type.as_deref().unwrap_or(UNNAMED_TYPE),
                    client.received.get_untracked()
                ),
                RowKind::Gap(gap) => {
                    format!("{title}: missed events {} to {}", gap.first, gap.last)
                }
                RowKind::Malformed { .. } => format!("{title}: could not read an event"),
            });
            // Nothing received since connecting (or since a reset): nothing
            // to say yet. After a Clear, the last announcement stands.
            said.or_else(|| (!history.is_fresh()).then(|| previous.cloned()).flatten())
                .unwrap_or_default()
        })
    })
}
