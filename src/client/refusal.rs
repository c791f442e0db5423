//! Why a stream was refused: `EventSource` hides the answer, so the page
//! asks once more with `fetch` and shows the server's JSON error. Browser
//! only.

use super::StreamClient;
use crate::model::{read_json, ErrorBody};
use leptos::prelude::*;

/// How long the question "why was the stream refused?" may take.
const REFUSAL_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Asks `url` once and puts the server's reason (sentence, code and status)
/// in the client's error, if the connection is still `generation`. The
/// request carries the same cookies as the stream did, so a private
/// stream's refusal is explained for the token that was sent.
pub(crate) fn explain_refusal(client: StreamClient, generation: u64, url: String) {
    leptos::task::spawn_local(async move {
        let controller = web_sys::AbortController::new().ok();
        let signal = controller.as_ref().map(web_sys::AbortController::signal);
        // A server that accepts but never answers must not leave the
        // question (and a connection) open for ever.
        if let Some(controller) = controller.clone() {
            set_timeout(move || controller.abort(), REFUSAL_LOOKUP_TIMEOUT);
        }
        let request = gloo_net::http::Request::get(&url).abort_signal(signal.as_ref());
        let reason = match request.send().await {
            Ok(response) if response.ok() => {
                // The stream is fine now; do not keep this second copy open.
                if let Some(controller) = &controller {
                    controller.abort();
                }
                "the stream closed unexpectedly; connect again".to_owned()
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                match read_json::<ErrorBody>(&body) {
                    Ok(ErrorBody { error, code }) => format!("{error} ({code}, HTTP {status})"),
                    Err(_) => format!("the server answered HTTP {status}"),
                }
            }
            Err(error) => format!("the server cannot be reached ({error})"),
        };
        if client.is_current(generation) {
            let _ = client.error.try_set(Some(reason));
        }
    });
}
