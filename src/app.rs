//! The HTML shell and the router. Both run only on the server: each page is
//! a Leptos island (`#[island(lazy)]` in `pages/`), and the browser hydrates
//! the islands alone (`hydrate_islands`), so neither the router nor the meta
//! tags' code is in the WASM. Links between pages therefore load the next
//! page. The islands are lazy and the front end a split build (`cargo
//! leptos build --split`): a page fetches the main module, then only its
//! own island's chunks.

use crate::pages::{DashboardPage, HomePage, MultiClientPage, NotFoundPage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

/// The document around the app: head, hydration scripts, body.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: stylesheet, title and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/sse-hub.css"/>
        <Title text="sse-hub"/>
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=StaticSegment("") view=HomePage/>
                <Route path=StaticSegment("test-multi-client") view=MultiClientPage/>
                <Route path=StaticSegment("test-multi-client.html") view=MultiClientPage/>
                <Route path=StaticSegment("dashboard") view=DashboardPage/>
            </Routes>
        </Router>
    }
}
