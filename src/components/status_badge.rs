//! The connection status badge: a word, a shape and a colour.

use crate::model::ConnectionStatus;
use leptos::prelude::*;

/// Shows `status` as a badge; the shape and the word carry the meaning, the
/// colour only repeats it.
///
/// The badge is a polite live region, so screen readers announce each change
/// ("Client 1 status: reconnecting") without the user having to look for it.
/// Only a change of status touches its text, so nothing is re-announced when
/// events arrive.
#[component]
pub fn StatusBadge(
    /// The status to show.
    #[prop(into)]
    status: Signal<ConnectionStatus>,
    /// The panel's name, spoken before the status.
    #[prop(into)]
    panel: String,
) -> impl IntoView {
    // A memo: setting the same status again must not rewrite the live region.
    let status = Memo::new(move |_| status.get());
    view! {
        <span
            class=move || format!("badge badge-{}", status.get().label())
            data-testid="status-region"
            aria-live="polite"
            aria-atomic="true"
        >
            <span class="sr-only">{format!("{panel} status: ")}</span>
            <span class="badge-icon" aria-hidden="true">{move || status.get().icon()}</span>
            <span data-testid="status">{move || status.get().label()}</span>
        </span>
    }
}
