//! What the transports ask the HTTP layer before they stream: may this
//! request open this stream, and with which extra headers; or which error
//! answers it. One decision for both paths (the direct path here and the
//! connections axum serves), made by the layer above.

use crate::server::hub::Subscription;
use crate::server::transport::open_sockets::Refusal;
use crate::server::transport::request_head::StreamRequest;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// A stream the HTTP layer admitted.
pub struct OpenedStream {
    /// The client's place in the stream.
    pub subscription: Subscription,
    /// Headers to add to the stream response's head (CORS).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// When the stream must end, if it must (the expiry of the token that
    /// opened a private stream): it then ends cleanly, as at shutdown, and
    /// the client reconnects and resumes with a fresh token.
    pub ends_after: Option<Duration>,
}

/// The HTTP layer's decisions for requests the transports answer themselves.
///
/// Used as a type parameter, not a trait object: the future of
/// [`open`](Self::open) then lives inside the connection's own task instead
/// of a heap allocation per connection.
pub trait StreamGate: Send + Sync + 'static {
    /// Decides a stream request the direct path recognised: the opened
    /// stream, or the complete error response to write.
    fn open(
        &self,
        request: StreamRequest,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<OpenedStream, Response>> + Send;

    /// The answer to a connection the gateway refused.
    fn refuse(&self, refusal: Refusal) -> Response;
}
