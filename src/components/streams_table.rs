//! The dashboard's table of the busiest streams, sortable by any column
//! (buttons in the headers), scrolling inside its own box on a narrow
//! screen.

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
    let rows = move || board.with(|board| board.rows(order.get()));
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
                <table class="streams-table" data-testid="streams-table">
                    <thead>
                        <tr>{headers}</tr>
                    </thead>
                    <tbody>
                        // Keyed by the whole row: a row whose figures changed
                        // is redrawn, an unchanged one is left alone.
                        <For each=rows key=|row| row.clone() let:row>
                            <StreamRowView row/>
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

/// One stream's row.
#[component]
fn StreamRowView(row: StreamRow) -> impl IntoView {
    let peak = row.trend.iter().copied().max().map(u64::from);
    let trend_label = ["Rate over the last minute, peak ", &format_rate(peak)].concat();
    view! {
        <tr data-testid="stream-row" data-stream=row.id.clone()>
            <th scope="row" class="stream-id" data-testid="row-id">{row.id.clone()}</th>
            <td class="num" data-testid="row-subscribers">{format_count(row.subscribers as u64)}</td>
            <td class="num" data-testid="row-events">{format_count(row.events)}</td>
            <td class="num" data-testid="row-rate">{format_rate(row.rate)}</td>
            <td class="num" data-testid="row-age">{format_age(row.last_event_ms_ago)}</td>
            <td class="trend">
                <Sparkline values=Signal::stored(row.trend) label=trend_label from_zero=true/>
            </td>
        </tr>
    }
}
