//! The stream id input with Connect and Disconnect.

use crate::client::StreamClient;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// The form: Enter or Connect opens the typed stream, Disconnect closes it.
/// `dom_key` makes the input's id unique on pages with several forms.
#[component]
pub fn ConnectForm(
    client: StreamClient,
    input: RwSignal<String>,
    dom_key: usize,
    /// The input, for a page that moves keyboard focus into it.
    #[prop(optional)]
    input_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let input_id = format!("stream-id-{dom_key}");
    let error_id = format!("stream-id-error-{dom_key}");
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        client.connect_to_input(input);
    };
    // Disconnect disables itself; keyboard focus moves to Connect rather
    // than falling back to the top of the page.
    let connect_button = NodeRef::<leptos::html::Button>::new();
    let on_disconnect = move |_| {
        client.disconnect();
        if let Some(button) = connect_button.get_untracked() {
            let _ = button.focus();
        }
    };
    // Until the app has hydrated, a click on Connect would submit the form
    // natively and reload the page: the server renders it disabled, and the
    // browser enables it once the app runs (effects run only there).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
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
                    node_ref=input_ref
                />
                <button
                    type="submit"
                    class="primary"
                    data-testid="connect"
                    node_ref=connect_button
                    disabled=move || !hydrated.get()
                >
                    "Connect"
                </button>
                <button
                    type="button"
                    data-testid="disconnect"
                    disabled=move || !client.status.get().is_active()
                    on:click=on_disconnect
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
