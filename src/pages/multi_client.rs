//! `/test-multi-client`: several stream clients side by side.

use leptos::prelude::*;

/// The multi-client page.
#[component]
pub fn MultiClientPage() -> impl IntoView {
    view! {
        <main class="page">
            <h1>"Multi-client test"</h1>
        </main>
    }
}
