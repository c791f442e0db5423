//! The note beside a `reconnecting` badge: since when the connection is
//! down and how many tries have failed, so that a server gone for good is
//! told apart from a blip.

use crate::model::Outage;
use leptos::prelude::*;

/// Says since when `outage` lasts; hidden while there is none. Not a live
/// region: the badge already announces `reconnecting`, and the count of
/// failed tries would be re-announced at every try.
#[component]
pub fn OutageNote(
    /// The outage shown, if any.
    outage: RwSignal<Option<Outage>>,
    /// What was lost ("the connection", "the feed").
    what: &'static str,
    /// A last sentence: what the user gets when it is back.
    then: &'static str,
) -> impl IntoView {
    let text = move || {
        outage.with(|outage| {
            outage
                .as_ref()
                .map(|outage| {
                    format!(
                        "Lost {what} at {}; the browser is retrying by itself ({}). {then}",
                        outage.since,
                        outage.tries()
                    )
                })
                .unwrap_or_default()
        })
    };
    view! {
        <p class="outage-note" data-testid="outage" hidden=move || outage.with(Option::is_none)>
            {text}
        </p>
    }
}
