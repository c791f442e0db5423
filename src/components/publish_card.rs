//! The home page's Publish card: sends an event to a stream through the
//! publish API, so that its arrival can be watched in the stream client.

use super::publish_answer::PublishAnswerLine;
use super::token_field::TokenField;
use crate::client::{publisher, StreamClient};
use crate::model::{
    check_event_type, check_json, check_stream, BearerToken, DraftField, PublishAnswer,
    PublishDraft,
};
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

/// What the data editor starts with.
const EXAMPLE_DATA: &str = "{\n  \"order\": 42,\n  \"paid\": true\n}";

/// The card. Its stream field starts at `stream` and takes the id `client`
/// connects to each time it connects (it can then be changed, to publish
/// elsewhere). Every field is checked as it is typed, and Publish stays
/// disabled while one is wrong, so an invalid event is never sent. The type
/// of each event published is added to what `client` listens for before
/// the request leaves, so the event cannot arrive unheard. `token` is the
/// page's token, shared with `client`.
#[component]
pub fn PublishCard(
    client: StreamClient,
    token: RwSignal<String>,
    #[prop(into)] stream: String,
) -> impl IntoView {
    let stream = RwSignal::new(stream);
    let event_type = RwSignal::new(String::new());
    let data = RwSignal::new(EXAMPLE_DATA.to_owned());
    let answer = RwSignal::new(None::<PublishAnswer>);
    Effect::new(move |_| {
        if let Some(connected) = client.stream_id.get() {
            stream.set(connected);
        }
    });
    let stream_error = Memo::new(move |_| stream.with(|raw| check_stream(raw).err()));
    let type_error = Memo::new(move |_| event_type.with(|raw| check_event_type(raw).err()));
    let data_error = Memo::new(move |_| data.with(|raw| check_json(raw).err()));
    let token_error = Memo::new(move |_| token.with(|raw| BearerToken::parse(raw).err()));
    let invalid = move || {
        stream_error.with(Option::is_some)
            || type_error.with(Option::is_some)
            || data_error.with(Option::is_some)
            || token_error.with(Option::is_some)
    };
    let sending = move || answer.with(|a| matches!(a, Some(PublishAnswer::Sending { .. })));
    // As for Connect: served disabled, enabled once the app runs, so that an
    // early click cannot submit the form natively.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let fields = FieldRefs::default();
    let on_submit = move |submit: SubmitEvent| {
        submit.prevent_default();
        if answer.with_untracked(|a| matches!(a, Some(PublishAnswer::Sending { .. }))) {
            return;
        }
        let draft = PublishDraft {
            stream: stream.get_untracked(),
            event_type: event_type.get_untracked(),
            data: data.get_untracked(),
            token: token.get_untracked(),
        };
        let request = match draft.check() {
            Ok(request) => request,
            // The button is disabled then; this is Enter in a field.
            Err(field) => return fields.focus(field),
        };
        if let Some(kind) = &request.event_type {
            client.listen_for_published(kind);
        }
        answer.set(Some(PublishAnswer::Sending {
            stream: request.stream.to_string(),
        }));
        leptos::task::spawn_local(async move {
            let outcome = publisher::send(request).await;
            let _ = answer.try_set(Some(outcome));
        });
    };
    let target_hint = move || {
        let here = stream.with(|raw| raw.trim().to_owned());
        let watched = client.status.get().is_active()
            && client
                .stream_id
                .with(|id| id.as_deref() == Some(here.as_str()));
        if watched {
            "The stream client is connected to this stream and will show the event.".to_owned()
        } else {
            "The stream client is not on this stream: connect it to watch the event arrive."
                .to_owned()
        }
    };

    view! {
        <section class="panel publish-card" data-testid="publish-card" aria-labelledby="publish-title">
            <header class="panel-head">
                <h2 id="publish-title">"Publish"</h2>
            </header>
            <form class="publish-form" on:submit=on_submit novalidate>
                <div class="field">
                    <label for="publish-stream">"Publish to stream"</label>
                    <input
                        id="publish-stream"
                        data-testid="publish-stream"
                        type="text"
                        autocomplete="off"
                        spellcheck="false"
                        aria-invalid=move || stream_error.with(Option::is_some).to_string()
                        aria-describedby="publish-stream-help publish-stream-error"
                        bind:value=stream
                        node_ref=fields.stream
                    />
                    <p class="field-help" id="publish-stream-help" data-testid="publish-target">{target_hint}</p>
                    <FieldError id="publish-stream-error" error=stream_error/>
                </div>
                <div class="field">
                    <label for="publish-type">"Event type " <span class="muted">"(optional)"</span></label>
                    <input
                        id="publish-type"
                        data-testid="publish-type"
                        type="text"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="e.g. order.paid"
                        aria-invalid=move || type_error.with(Option::is_some).to_string()
                        aria-describedby="publish-type-help publish-type-error"
                        bind:value=event_type
                        node_ref=fields.event_type
                    />
                    <p class="field-help" id="publish-type-help">"Blank sends an unnamed message."</p>
                    <FieldError id="publish-type-error" error=type_error/>
                </div>
                <div class="field">
                    <label for="publish-data">"Data " <span class="muted">"(JSON)"</span></label>
                    <textarea
                        id="publish-data"
                        data-testid="publish-data"
                        rows="6"
                        spellcheck="false"
                        aria-invalid=move || data_error.with(Option::is_some).to_string()
                        aria-describedby="publish-data-error"
                        bind:value=data
                        node_ref=fields.data
                    ></textarea>
                    <FieldError id="publish-data-error" error=data_error/>
                </div>
                <TokenField token error=token_error/>
                <div class="publish-actions">
                    <button
                        type="submit"
                        class="primary"
                        data-testid="publish"
                        aria-describedby="publish-blocked"
                        disabled=move || !hydrated.get() || invalid() || sending()
                    >
                        {move || if sending() { "Publishing…" } else { "Publish" }}
                    </button>
                    <p class="field-help" id="publish-blocked" data-testid="publish-blocked" hidden=move || !invalid()>
                        "Fix the fields marked above to publish."
                    </p>
                </div>
                <PublishAnswerLine answer/>
            </form>
        </section>
    }
}

/// A field's check result, shown under it (and read with it, through its
/// `aria-describedby`) while it is wrong. Not a live region: it changes as
/// the user types.
#[component]
fn FieldError(id: &'static str, error: Memo<Option<String>>) -> impl IntoView {
    view! {
        <p class="input-error" id=id data-testid=id hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
    }
}

/// The card's fields, for putting keyboard focus on the first wrong one.
#[derive(Clone, Copy, Default)]
struct FieldRefs {
    stream: NodeRef<html::Input>,
    event_type: NodeRef<html::Input>,
    data: NodeRef<html::Textarea>,
}

impl FieldRefs {
    /// Focuses `field` (the token field has no handle here: its error is
    /// shown beside it).
    fn focus(self, field: DraftField) {
        let _ = match field {
            DraftField::Stream => self.stream.get_untracked().map(|input| input.focus()),
            DraftField::EventType => self.event_type.get_untracked().map(|input| input.focus()),
            DraftField::Data => self.data.get_untracked().map(|area| area.focus()),
            DraftField::Token => None,
        };
    }
}
