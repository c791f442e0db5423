//! One published event in the history: its type as a tag, its data laid
//! out as JSON, folded when long.
//!
//! Everything the publisher sent is rendered as text nodes (never as
//! markup), so a published `<img onerror=…>` shows as the characters it is.

use crate::model::{FoldedJson, PublishedEvent, FOLD_LINES, UNNAMED_TYPE};
use leptos::prelude::*;

/// The row of a published event; `received_at` is the browser's local time.
#[component]
pub fn PublishedItem(event: PublishedEvent, received_at: String) -> impl IntoView {
    let PublishedEvent {
        seq,
        event_type,
        data,
        ..
    } = event;
    let untyped = event_type.is_none();
    let type_label = event_type
        .clone()
        .unwrap_or_else(|| UNNAMED_TYPE.to_owned());
    let seq_text = seq.map(|seq| format!("id {seq} · "));
    view! {
        <li
            class="row row-published"
            data-testid="published-event"
            data-seq=seq.map(|seq| seq.to_string())
            data-type=event_type
        >
            <div class="published-head">
                <span
                    class=if untyped { "tag tag-untyped" } else { "tag" }
                    data-testid="event-type"
                    title=if untyped { "Unnamed message (no event type)" } else { "Event type" }
                >
                    {type_label}
                </span>
                <span class="row-received">{seq_text} "received " {received_at}</span>
            </div>
            <FoldedData data/>
        </li>
    }
}

/// The data block, with a toggle between its first lines and all of it
/// when it is long.
#[component]
fn FoldedData(data: FoldedJson) -> impl IntoView {
    let FoldedJson {
        full,
        preview,
        lines,
    } = data;
    let expanded = RwSignal::new(false);
    let more_label = if lines > FOLD_LINES {
        format!("Show all {lines} lines")
    } else {
        format!("Show all {} characters", full.chars().count())
    };
    let toggle = preview.is_some().then(|| {
        view! {
            <button
                type="button"
                class="ghost fold-toggle"
                data-testid="fold-toggle"
                aria-expanded=move || expanded.get().to_string()
                on:click=move |_| expanded.update(|open| *open = !*open)
            >
                {move || if expanded.get() { "Show less".to_owned() } else { more_label.clone() }}
            </button>
        }
    });
    let shown = move || match (&preview, expanded.get()) {
        (Some(preview), false) => preview.clone(),
        _ => full.clone(),
    };
    view! {
        <pre class="published-data" data-testid="event-data">{shown}</pre>
        {toggle}
    }
}
