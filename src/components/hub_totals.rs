//! The dashboard's hub-wide figures: connections, streams, the two rates
//! and the rejections by code.

use super::outage_note::OutageNote;
use super::status_badge::StatusBadge;
use crate::client::StatsFeed;
use crate::model::{format_count, format_rate, ConnectionStatus};
use leptos::prelude::*;

/// The figures above the streams table, with the feed's status.
#[component]
pub fn HubTotals(
    /// The feed whose board is shown.
    feed: StatsFeed,
) -> impl IntoView {
    let board = feed.board;
    let totals = move || board.with(|board| board.totals().clone());
    let count = move |pick: fn(&crate::model::Totals) -> u64| {
        move || format_count(board.with(|board| pick(board.totals())))
    };
    let rejections = move || {
        let listed = totals().rejections;
        if listed.is_empty() {
            return "none".to_owned();
        }
        listed
            .iter()
            .map(|(code, count)| [*code, ": ", &format_count(*count)].concat())
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <section class="panel" aria-labelledby="totals-heading">
            <div class="panel-head">
                <h2 id="totals-heading">"Hub"</h2>
                <StatusBadge status=feed.status panel="Dashboard"/>
            </div>
            <OutageNote outage=feed.outage what="feed" then="The figures shown are from then."/>
            // Greyed while the feed is down: frozen figures must not pass
            // for live ones.
            <dl class=move || stale_class("figures", feed)>
                <div class="figure">
                    <dt>"Connections"</dt>
                    <dd data-testid="total-connections">{count(|totals| totals.connections)}</dd>
                </div>
                <div class="figure">
                    <dt>"Streams"</dt>
                    <dd data-testid="total-streams">{count(|totals| totals.streams)}</dd>
                </div>
                <div class="figure">
                    <dt>"Events"</dt>
                    <dd data-testid="total-events-rate">{move || format_rate(totals().events_rate)}</dd>
                </div>
                <div class="figure">
                    <dt>"Deliveries"</dt>
                    <dd data-testid="total-deliveries-rate">{move || format_rate(totals().deliveries_rate)}</dd>
                </div>
                <div class="figure figure-wide">
                    <dt>"Rejections"</dt>
                    <dd class="rejections" data-testid="total-rejections">{rejections}</dd>
                </div>
            </dl>
            <p class="connection-error" role="alert" data-testid="feed-error" hidden=move || feed.error.with(Option::is_none)>
                {move || feed.error.get().unwrap_or_default()}
            </p>
        </section>
    }
}

/// `base`, plus ` stale` while `feed` is not connected (retrying, refused
/// for good, or closed with the page): its figures are frozen. (A class
/// string rather than `class:stale`, whose toggle is code of its own in
/// the bundle.)
pub(super) fn stale_class(base: &str, feed: StatsFeed) -> String {
    let stale = feed.status.get() != ConnectionStatus::Connected;
    [base, if stale { " stale" } else { "" }].concat()
}
