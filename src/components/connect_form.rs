//! The stream id input with Connect and Disconnect.

use crate::client::StreamClient;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// The form: Enter or Connect opens the typed stream, Disconnect closes it.
/// `dom_key` makes the input's id unique on pages with several forms.
#[component]
pub fn ConnectForm(client: StreamClient, input: RwSignal<String>, dom_key: usize) -> impl IntoView {
    let input_id = format!("stream-id-{dom_key}");
    let error_id = format!("stream-id-error-{dom_key}");
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        client.connect(&input.get_untracked());
    };
    let has_error = move || client.input_error.with(Option::is_some);
    // The message is about what was submitted; once the user edits the id it
    // no longer applies (it comes back on the next submit if still true).
    // An effect on the bound value rather than an `on:input` handler, which
    // would replace the one `bind:value` installs (both are delegated).
    Effect::new(move |first_run: Option<()>| {
        input.track();
        if first_run.is_some() && client.input_error.with_untracked(Option::is_some) {
            client.input_error.set(None);
        }
    });
    view! {
        <form class="connect-form" on:submit=on_submit novalidate>
            <label for=input_id.clone()>"Stream ID"</label>
            <div class="connect-row">
                <input
                    id=input_id
                    data-testid="stream-id"
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="e.g. test1"
                    aria-invalid=move || has_error().to_string()
                    aria-describedby=error_id.clone()
                    bind:value=input
                />
                <button type="submit" class="primary" data-testid="connect">"Connect"</button>
                <button
                    type="button"
                    data-testid="disconnect"
                    disabled=move || !client.status.get().is_active()
                    on:click=move |_| client.disconnect()
                >
                    "Disconnect"
                </button>
            </div>
            <p class="input-error" id=error_id data-testid="id-error" role="alert" hidden=move || !has_error()>
                {move || client.input_error.get().unwrap_or_default()}
            </p>
        </form>
    }
}
