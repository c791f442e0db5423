//! Which pages may read the API and the streams from another origin
//! (`--cors-origins`), as one policy for both transport paths: the CORS layer
//! on the axum routes, and the headers the direct path writes.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer, ExposeHeaders};

/// What the CORS layer adds to every response (`Vary`), written by the
/// direct path too.
const CORS_VARY: &str = "origin, access-control-request-method, access-control-request-headers";

/// The response headers a page elsewhere may read, as the CORS layer
/// writes them.
const CORS_EXPOSE: &str = "idempotent-replayed,retry-after";

/// Which origins may read the API from another page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    /// Any `http://localhost:<port>` or `http://127.0.0.1:<port>`.
    Localhost,
    /// Every origin (`*`).
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

/// An entry of `--cors-origins` that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--cors-origins entry {0:?} is not an origin like http://example.com:8080")]
pub struct BadOrigin(pub String);

impl CorsPolicy {
    /// Parses `--cors-origins`: empty or absent is [`CorsPolicy::Localhost`],
    /// `*` is [`CorsPolicy::Any`], else a comma-separated list of origins.
    pub fn parse(raw: Option<&str>) -> Result<Self, BadOrigin> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::Localhost);
        };
        if raw == "*" {
            return Ok(Self::Any);
        }
        let origins = raw
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                if is_origin(origin) {
                    Ok(origin.to_owned())
                } else {
                    Err(BadOrigin(origin.to_owned()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::List(origins))
    }

    /// Whether a page from `origin` (the `Origin` header) may read responses.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            Self::Localhost => is_localhost_origin(origin),
            Self::Any => true,
            Self::List(list) => list.iter().any(|allowed| allowed.as_bytes() == origin),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`,
    /// as the CORS layer sends it.
    pub(crate) fn allowed_origin(&self, origin: Option<&[u8]>) -> Option<HeaderValue> {
        match self {
            Self::Any => Some(HeaderValue::from_static("*")),
            _ => origin
                .filter(|origin| self.allows(origin))
                .and_then(|origin| HeaderValue::from_bytes(origin).ok()),
        }
    }

    /// The CORS headers of a response to a request from `origin`, for
    /// responses the CORS layer does not see (the direct path's).
    pub(crate) fn headers(&self, origin: Option<&[u8]>) -> Vec<(HeaderName, HeaderValue)> {
        // What the CORS layer writes on a response that is not a preflight,
        // in its order.
        let mut headers = vec![(header::VARY, HeaderValue::from_static(CORS_VARY))];
        if let Some(allowed) = self.allowed_origin(origin) {
            headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed));
        }
        if self.allows_credentials() {
            headers.push((
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        headers.push((
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSE),
        ));
        headers
    }

    /// Whether an allowed page may send its cookies (the token cookie of a
    /// private stream): for named origins only, never for `*`.
    fn allows_credentials(&self) -> bool {
        !matches!(self, Self::Any)
    }

    /// The CORS layer for the API and stream routes.
    pub(crate) fn layer(&self) -> CorsLayer {
        let origins = match self {
            Self::Any => AllowOrigin::any(),
            policy => {
                let policy = policy.clone();
                AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                    policy.allows(origin.as_bytes())
                })
            }
        };
        CorsLayer::new()
            .allow_origin(origins)
            .allow_credentials(self.allows_credentials())
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                HeaderName::from_static("last-event-id"),
                header::CACHE_CONTROL,
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers(ExposeHeaders::list(
                CORS_EXPOSE.split(',').map(HeaderName::from_static),
            ))
    }
}

/// `scheme://host[:port]` with nothing after it, as browsers send in `Origin`.
fn is_origin(candidate: &str) -> bool {
    let Some((scheme, rest)) = candidate.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' '])
        && rest.is_ascii()
}

/// `true` for the origins the default policy admits: a page served from this
/// machine over plain HTTP on any port.
pub(crate) fn is_localhost_origin(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    ["http://localhost", "http://127.0.0.1"].iter().any(|host| {
        origin.strip_prefix(host).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_list_and_wildcard_parse() {
        assert_eq!(CorsPolicy::parse(Some("*")), Ok(CorsPolicy::Any));
        assert_eq!(
            CorsPolicy::parse(Some("https://a.example, http://b.example:81")),
            Ok(CorsPolicy::List(vec![
                "https://a.example".into(),
                "http://b.example:81".into()
            ]))
        );
    }

    #[test]
    fn localhost_origins_are_recognised_exactly() {
        assert!(is_localhost_origin(b"http://localhost:3000"));
        assert!(is_localhost_origin(b"http://127.0.0.1:8080"));
        assert!(is_localhost_origin(b"http://localhost"));
        assert!(!is_localhost_origin(b"http://localhost.evil.example"));
        assert!(!is_localhost_origin(b"http://localhost:80x"));
        assert!(!is_localhost_origin(b"https://evil.example"));
    }

    #[test]
    fn cors_matches_the_policy() {
        let local = Some(&b"http://localhost:3000"[..]);
        let evil = Some(&b"http://evil.example"[..]);
        let value =
            |origin: Option<&[u8]>| origin.map(|o| HeaderValue::from_bytes(o).expect("ascii"));
        assert_eq!(CorsPolicy::Localhost.allowed_origin(local), value(local));
        assert_eq!(CorsPolicy::Localhost.allowed_origin(evil), None);
        assert_eq!(CorsPolicy::Localhost.allowed_origin(None), None);
        assert_eq!(
            CorsPolicy::Any.allowed_origin(evil),
            Some(HeaderValue::from_static("*"))
        );
        let list = CorsPolicy::List(vec!["http://evil.example".into()]);
        assert_eq!(list.allowed_origin(evil), value(evil));
        assert_eq!(list.allowed_origin(local), None);
    }
}
