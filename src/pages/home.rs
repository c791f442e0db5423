//! `/`: one stream client, front and centre, with the Publish card beside
//! it.

use crate::client::StreamClient;
use crate::components::{PublishCard, StreamPanel};
use leptos::prelude::*;

/// The stream the page starts with, in both the client and the card.
const FIRST_STREAM: &str = "test1";

/// The home page. Its one token (typed in the Publish card) serves both
/// the card and the stream client.
// Lazy: its code is a chunk of its own, fetched only by this page.
#[island(lazy)]
pub fn HomePage() -> impl IntoView {
    crate::client::mark_hydrated();
    let token = RwSignal::new(String::new());
    let client = StreamClient::with_token(token);
    let input = RwSignal::new(FIRST_STREAM.to_owned());
    view! {
        <main class="page page-home">
            <header class="hero">
                <h1><span class="logo" aria-hidden="true">"◉"</span>" sse-hub"</h1>
                <p>
                    "Type a stream id and press Connect: the server sends a new number to every client of that id at each interval."
                </p>
                <nav class="links">
                    <a href="/test-multi-client">"Compare clients side by side →"</a>
                    <a href="/dashboard">"Dashboard →"</a>
                </nav>
            </header>
            <div class="home-grid">
                <StreamPanel client input dom_key=0 title="Stream"/>
                <PublishCard client token stream=FIRST_STREAM/>
            </div>
        </main>
    }
}
