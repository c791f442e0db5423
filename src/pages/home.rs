//! `/`: one stream client, front and centre.

use crate::client::StreamClient;
use crate::components::StreamPanel;
use leptos::prelude::*;

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let client = StreamClient::new();
    let input = RwSignal::new("test1".to_owned());
    view! {
        <main class="page page-home">
            <header class="hero">
                <h1><span class="logo" aria-hidden="true">"◉"</span>" sse-hub"</h1>
                <p>
                    "Type a stream id and press Connect: the server sends a new number to every client of that id at each interval."
                </p>
                <nav><a href="/test-multi-client">"Compare clients side by side →"</a></nav>
            </header>
            <StreamPanel client input dom_key=0 title="Stream"/>
        </main>
    }
}
