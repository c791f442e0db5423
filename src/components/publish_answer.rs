//! The Publish card's answer line.

use crate::model::PublishAnswer;
use leptos::prelude::*;

/// What the last publish came to: the new event's id, or the server's error
/// sentence and code. A polite live region, so screen readers hear it
/// without leaving the form; `data-state`, `data-id` and `data-code` repeat
/// it for styling and tests.
#[component]
pub fn PublishAnswerLine(answer: RwSignal<Option<PublishAnswer>>) -> impl IntoView {
    let state = move || answer.with(|answer| answer.as_ref().map_or("idle", PublishAnswer::state));
    let id = move || {
        answer.with(|answer| match answer {
            Some(PublishAnswer::Published(published)) => Some(published.id.to_string()),
            _ => None,
        })
    };
    let code = move || {
        answer.with(|answer| match answer {
            Some(PublishAnswer::Refused { code, .. }) => code.clone(),
            _ => None,
        })
    };
    view! {
        <p
            class="publish-answer"
            role="status"
            aria-live="polite"
            data-testid="publish-answer"
            data-state=state
            data-id=id
            data-code=code
        >
            {move || answer.with(|answer| answer.as_ref().map(PublishAnswer::message).unwrap_or_default())}
        </p>
    }
}
