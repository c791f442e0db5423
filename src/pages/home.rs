//! `/`: one stream client.

use leptos::prelude::*;

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <main class="page">
            <h1>"sse-hub"</h1>
            <p>"Live Server-Sent Events."</p>
        </main>
    }
}
