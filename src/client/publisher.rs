//! The Publish card's request: `POST /api/streams/{id}/events` with the
//! token as `Authorization`, and the server's answer read into a
//! `PublishAnswer`. Browser only; on the server it answers that it cannot
//! (it is only ever called from the card's submit handler).

pub(crate) use imp::send;

#[cfg(feature = "hydrate")]
mod imp {
    use crate::model::{PublishAnswer, PublishRequest};
    use leptos::prelude::set_timeout;

    /// How long a publish may take before the page gives up on it.
    const PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Sends `request` with `fetch` and reads the answer.
    pub(crate) async fn send(request: PublishRequest) -> PublishAnswer {
        let controller = web_sys::AbortController::new().ok();
        let signal = controller.as_ref().map(web_sys::AbortController::signal);
        if let Some(controller) = controller {
            set_timeout(move || controller.abort(), PUBLISH_TIMEOUT);
        }
        let mut builder = gloo_net::http::Request::post(&request.path())
            .header("Content-Type", "application/json")
            .abort_signal(signal.as_ref());
        if let Some(token) = &request.token {
            builder = builder.header("Authorization", &token.authorization());
        }
        let failed = |reason: String| PublishAnswer::Failed { reason };
        let outgoing = match builder.body(request.body) {
            Ok(outgoing) => outgoing,
            Err(error) => return failed(format!("the request could not be made ({error})")),
        };
        match outgoing.send().await {
            Ok(response) => match response.text().await {
                Ok(body) => PublishAnswer::from_response(response.status(), &body),
                Err(error) => failed(format!("the answer could not be read ({error})")),
            },
            Err(error) => failed(format!("the server cannot be reached ({error})")),
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    //! The server publishes through the hub, not through this page.

    use crate::model::{PublishAnswer, PublishRequest};

    /// Never called on the server.
    pub(crate) async fn send(_: PublishRequest) -> PublishAnswer {
        PublishAnswer::Failed {
            reason: "events can only be published from the browser".into(),
        }
    }
}
