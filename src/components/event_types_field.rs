//! The stream client's "Event types" field: the named types it shows
//! besides unnamed messages.

use crate::client::StreamClient;
use crate::model::EventTypeList;
use leptos::prelude::*;

/// A comma-separated list of event types; `client` listens for its valid
/// entries as they are typed (on an open connection too), and the line
/// below says what is listened for, including the types published from the
/// page. `raw` holds the field's text. `dom_key` keeps element ids unique
/// on pages with several panels.
#[component]
pub fn EventTypesField(
    client: StreamClient,
    raw: RwSignal<String>,
    dom_key: usize,
) -> impl IntoView {
    let list = Memo::new(move |_| raw.with(|raw| EventTypeList::parse(raw)));
    Effect::new(move |_| client.listen_for_typed(list.with(|list| list.types.clone())));
    let input_id = format!("event-types-{dom_key}");
    let help_id = format!("event-types-help-{dom_key}");
    let error_id = format!("event-types-error-{dom_key}");
    let has_error = move || list.with(|list| list.error.is_some());
    let listening = move || {
        let types = client.listened_types();
        if types.is_empty() {
            "Shows unnamed messages only; add named types, comma-separated.".to_owned()
        } else {
            format!("Shows unnamed messages and: {}.", types.join(", "))
        }
    };
    view! {
        <div class="event-types">
            <label for=input_id.clone()>"Event types to show"</label>
            <input
                id=input_id
                data-testid="event-types"
                type="text"
                autocomplete="off"
                spellcheck="false"
                placeholder="e.g. order.paid, build.done"
                aria-invalid=move || has_error().to_string()
                aria-describedby=format!("{help_id} {error_id}")
                bind:value=raw
            />
            <p class="field-help" id=help_id data-testid="listened-types">{listening}</p>
            <p class="input-error" id=error_id data-testid="event-types-error" hidden=move || !has_error()>
                {move || list.with(|list| list.error.clone().unwrap_or_default())}
            </p>
        </div>
    }
}
