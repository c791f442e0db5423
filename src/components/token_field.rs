//! The token field: the page's one token, for publishing and for private
//! streams.

use crate::client::token_store;
use crate::model::BearerToken;
use leptos::prelude::*;

/// Edits `token`. Once the page runs it restores the token this tab kept,
/// then keeps every change in `sessionStorage` (never in the URL: the
/// field has no `name`, so no form submission can carry it) and in the
/// token cookie that streams send, which it clears when the field is
/// emptied. The cookie is the browser's, shared by its tabs: a tab that
/// opens with no token of its own leaves it alone (clearing it would cut
/// another tab's private streams off at their next reconnect). `error`
/// is the field's check ([`BearerToken::parse`]).
#[component]
pub fn TokenField(token: RwSignal<String>, error: Memo<Option<String>>) -> impl IntoView {
    Effect::new(move |previous: Option<()>| {
        let current = token.get();
        if previous.is_none() && current.is_empty() {
            if let Some(kept) = token_store::load() {
                // Runs this effect again, which writes the cookie.
                token.set(kept);
            }
            return;
        } else if previous.is_some() {
            token_store::save(&current);
        }
        token_store::write_cookie(BearerToken::parse(&current).ok().flatten().as_ref());
    });
    let has_error = move || error.with(Option::is_some);
    view! {
        <div class="field">
            <label for="publish-token">"Token"</label>
            <input
                id="publish-token"
                data-testid="publish-token"
                type="password"
                autocomplete="off"
                spellcheck="false"
                placeholder="a JWT from the hub's operator"
                aria-invalid=move || has_error().to_string()
                aria-describedby="publish-token-help publish-token-error"
                bind:value=token
            />
            <p class="field-help" id="publish-token-help">
                "Kept in this tab's storage, never in a URL. Sent as Authorization when publishing, and as a cookie to this host's /sse/ streams when the stream client connects, so that private streams open."
            </p>
            <p class="input-error" id="publish-token-error" data-testid="publish-token-error" hidden=move || !has_error()>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
}
