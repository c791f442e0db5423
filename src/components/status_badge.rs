//! The connection status badge: a word, a shape and a colour.

use crate::model::ConnectionStatus;
use leptos::prelude::*;

/// Shows `status` as a badge; the shape and the word carry the meaning, the
/// colour only repeats it.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<ConnectionStatus>) -> impl IntoView {
    view! {
        <span class=move || format!("badge badge-{}", status.get().label())>
            <span class="badge-icon" aria-hidden="true">{move || status.get().icon()}</span>
            <span data-testid="status">{move || status.get().label()}</span>
        </span>
    }
}
