//! The note beside a `reconnecting` badge: since when the connection is
//! down and how many tries have failed, so that a server gone for good is
//! told apart from a blip.

use crate::client::Outage;
use crate::model::describe_failed_tries;
use leptos::prelude::*;

/// Says since when `outage` lasts; hidden while there is none. Not a live
/// region: the badge already announces `reconnecting`, and the count of
/// failed tries would be re-announced at every try.
#[component]
pub fn OutageNote(
    /// The outage shown, if any.
    outage: Outage,
    /// What is missing ("connection", "feed"): "No connection since…"
    /// fits a connection that dropped and one that never opened alike.
    what: &'static str,
    /// A last sentence: what the user gets when it is back.
    then: &'static str,
) -> impl IntoView {
    let text = move || {
        outage.since.with(|since| {
            since
                .as_ref()
                .map(|since| {
                    let tries = describe_failed_tries(outage.failed_tries.get());
                    format!("No {what} since {since}; the browser is retrying by itself ({tries}). {then}")
                })
                .unwrap_or_default()
        })
    };
    view! {
        <p class="outage-note" data-testid="outage" hidden=move || outage.since.with(Option::is_none)>
            {text}
        </p>
    }
}
