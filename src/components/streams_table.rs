//! The dashboard's table of the busiest streams, sortable by any column
//! (buttons in the headers), scrolling inside its own box on a narrow
//! screen.

use super::hub_totals::stale_class;
use super::sparkline::Sparkline;
use crate::client::StatsFeed;
use crate::model::{
    format_age, format_count, format_rate, SortKey, SortOrder, StreamRow, STATS_FRAME_STREAMS,
};
use leptos::prelude::*;

/// The table, sorted by the column last clicked.
#[component]
pub fn StreamsTable(
    /// The feed whose streams are listed.
    feed: StatsFeed,
) -> impl IntoView {
    let board = feed.board;
    let order = RwSignal::new(SortOrder::default());
    // A memo: every row looks itself up in it, and a frame that changed
    // nothing visible (or a sort that kept the order) touches no row.
    let rows = Memo::new(move |_| board.with(|board| board.rows(order.get())));
    let ids = move || rows.with(|rows| rows.iter().map(|row| row.id.clone()).collect::<Vec<_>>());
    // Said only once a frame has shown the hub has no stream, not before.
    let no_streams = move || board.with(|board| board.has_data() && !board.has_streams());
    let headers = SortKey::ALL
        .into_iter()
        .map(|key| {
            view! {
                <th scope="col" class:num=key.is_numeric() aria-sort=move || order.get().aria_sort(key)>
                    <button
                        type="button"
                        class="sort"
                        data-testid="sort"
                        on:click=move |_| order.update(|order| *order = order.clicked(key))
                    >
                        {key.label()}
                        <span class="sort-mark" aria-hidden="true">
                            {move || match order.get().aria_sort(key) {
                                "ascending" => "▲",
                                "descending" => "▼",
                                _ => "",
                            }}
                        </span>
                    </button>
                </th>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="streams-heading">
            <div class="panel-head">
                <h2 id="streams-heading">"Busiest streams"</h2>
            </div>
            <p class="note">
                "Streams with subscribers (the " {STATS_FRAME_STREAMS}
                " busiest; private ones are not listed), updated every second. Press a column's header to sort by it."
            </p>
            // Focusable, so that keyboard users can scroll it sideways.
            <div class="table-scroll" role="region" aria-label="Streams table" tabindex="0">
                <table class=move || stale_class("streams-table", feed) data-testid="streams-table">
                    <thead>
                        <tr>{headers}</tr>
                    </thead>
                    <tbody>
                        // Keyed by the stream id: a stream keeps its row (its
                        // elements, and so a text selection in it) from one
                        // frame to the next, and only the figures that
                        // changed are rewritten; a new order moves rows.
                        <For each=ids key=|id| id.clone() let:id>
                            <StreamRowView id rows/>
                        </For>
                    </tbody>
                </table>
            </div>
            <p class="note" data-testid="streams-empty" hidden=move || !no_streams()>
                "No stream has subscribers right now."
            </p>
        </section>
    }
}

/// One stream's row, reading its figures from `rows` each frame.
#[component]
fn StreamRowView(
    /// The stream this row shows.
    id: String,
    /// Every listed stream's figures, in the table's order.
    rows: Memo<Vec<StreamRow>>,
) -> impl IntoView {
    let row = {
        let id = id.clone();
        Memo::new(move |_| rows.with(|rows| rows.iter().find(|row| row.id == id).cloned()))
    };
    let figure = move |show: fn(&StreamRow) -> String| {
        move || row.with(|row| row.as_ref().map(show).unwrap_or_default())
    };
    let trend = Signal::derive(move || {
        row.with(|row| {
            row.as_ref()
                .map(|row| row.trend.clone())
                .unwrap_or_default()
        })
    });
    let trend_label = Signal::derive(move || {
        let peak = trend.with(|trend| trend.iter().copied().max().map(u64::from));
        ["Rate over the last minute, peak ", &format_rate(peak)].concat()
    });
    view! {
        <tr data-testid="stream-row" data-stream=id.clone()>
            // An id longer than the column is cut with an ellipsis: the
            // whole id is its tooltip.
            <th scope="row" class="stream-id" data-testid="row-id" title=id.clone()>{id.clone()}</th>
            <td class="num" data-testid="row-subscribers">{figure(|row| format_count(row.subscribers as u64))}</td>
            <td class="num" data-testid="row-events">{figure(|row| format_count(row.events))}</td>
            <td class="num" data-testid="row-rate">{figure(|row| format_rate(row.rate))}</td>
            <td class="num" data-testid="row-age">{figure(|row| format_age(row.last_event_ms_ago))}</td>
            <td class="trend">
                <Sparkline values=trend label=trend_label from_zero=true/>
            </td>
        </tr>
    }
}
