//! `/dashboard`: the hub at work, live. Fed by `GET /api/stats/stream`
//! (one frame a second), closed when the page goes away.

use crate::client::StatsFeed;
use crate::components::{HubTotals, StreamsTable};
use leptos::prelude::*;

/// The dashboard page: hub-wide figures, then the busiest streams.
// Lazy: its code is a chunk of its own, fetched only by this page.
#[island(lazy)]
pub fn DashboardPage() -> impl IntoView {
    crate::client::mark_hydrated();
    let feed = StatsFeed::while_mounted();
    view! {
        <main class="page page-dashboard">
            <header class="hero">
                <h1><span class="logo" aria-hidden="true">"◉"</span>" Dashboard"</h1>
                <p>
                    "What the hub is doing now, updated every second: connections, streams, events and deliveries per second, refused requests, and the busiest streams."
                </p>
                <nav><a href="/">"← Single client"</a></nav>
            </header>
            <div class="dashboard-grid">
                <HubTotals feed/>
                <StreamsTable feed/>
            </div>
        </main>
    }
}
