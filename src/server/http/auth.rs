//! Who may publish to a stream and who may read a private one: finding the
//! token a request carries and checking what it grants, with one answer for
//! both stream paths and the publish API.
//!
//! Contract:
//! - A token is looked for in `Authorization: Bearer <jwt>` first, then in
//!   the cookie `sse_hub_token` (what a browser's `EventSource` can send),
//!   then in the query parameter `access_token` (the last resort: URLs end
//!   up in proxies' logs; this server never logs a stream request's query).
//!   The first place that has one is the only one looked at.
//! - The cookie counts only on a request with no `Origin` or an `Origin` the
//!   CORS policy allows, so a page elsewhere cannot ride on a browser's
//!   cookie.
//! - No token: `401 missing_token` (with `WWW-Authenticate: Bearer`). A
//!   token that does not verify: `401 invalid_token`, saying why. A valid
//!   token without the grant: `403 forbidden`, naming the stream.
//! - Publishing always needs a `publish` grant; subscribing needs a
//!   `subscribe` grant only for streams matching `--private-streams`, and
//!   such a stream ends when the token expires.

use super::cors::CorsPolicy;
use super::error::AppError;
use super::tokens::{Access, Grant, TokenKeys};
use crate::model::{StreamId, StreamPatterns, TOKEN_COOKIE};
use std::time::SystemTime;

/// The query parameter a client that can set neither header nor cookie
/// uses.
pub const TOKEN_PARAM: &str = "access_token";

/// The server's token policy: its keys and which streams are private.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The keys tokens are checked with.
    pub keys: TokenKeys,
    /// Streams only a token's `subscribe` grant opens (`--private-streams`).
    pub private: StreamPatterns,
}

/// What a request carries that may hold a token, as raw header values and
/// the raw query: both stream paths and the publish API fill it in the same
/// way (the first of repeated headers counts).
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a [u8]>,
    /// The `Cookie` header.
    pub cookie: Option<&'a [u8]>,
    /// The `Origin` header.
    pub origin: Option<&'a [u8]>,
    /// The query string, undecoded.
    pub query: Option<&'a str>,
}

impl Auth {
    /// Whether reading `id` needs a token.
    pub fn is_private(&self, id: &StreamId) -> bool {
        self.private.matches(id)
    }

    /// Checks that `credentials` grant `access` to `id`, returning the
    /// grant. For [`Access::Subscribe`] to a stream that is not private no
    /// token is needed and `Ok(None)` is returned.
    pub fn authorize(
        &self,
        id: &StreamId,
        access: Access,
        credentials: Credentials<'_>,
        cors: &CorsPolicy,
    ) -> Result<Option<Grant>, AppError> {
        if access == Access::Subscribe && !self.is_private(id) {
            return Ok(None);
        }
        let token = find_token(credentials, cors)?.ok_or(AppError::MissingToken)?;
        let grant = self.keys.verify(token).map_err(AppError::InvalidToken)?;
        let patterns = match access {
            Access::Publish => &grant.publish,
            Access::Subscribe => &grant.subscribe,
        };
        if !patterns.matches(id) {
            return Err(AppError::Forbidden {
                stream: id.to_string(),
                access,
            });
        }
        if let Some(subject) = &grant.subject {
            tracing::debug!(stream = %id, ?access, subject, "token accepted");
        }
        Ok(Some(grant))
    }
}

/// The token `credentials` carry, from the first place that has one (see
/// the module doc); an `Authorization` header that is not a Bearer token
/// is an error rather than a reason to look further.
fn find_token<'a>(
    credentials: Credentials<'a>,
    cors: &CorsPolicy,
) -> Result<Option<&'a str>, AppError> {
    if let Some(value) = credentials.authorization {
        let bearer = std::str::from_utf8(value)
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty());
        return bearer.map(Some).ok_or(AppError::NotBearer);
    }
    let cookie_counts = credentials.origin.is_none_or(|origin| cors.allows(origin));
    if let Some(token) = credentials
        .cookie
        .filter(|_| cookie_counts)
        .and_then(cookie_token)
    {
        return Ok(Some(token));
    }
    Ok(credentials.query.and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == TOKEN_PARAM && !value.is_empty()).then_some(value)
        })
    }))
}

/// The value of the [`TOKEN_COOKIE`] cookie in a `Cookie` header.
fn cookie_token(header: &[u8]) -> Option<&str> {
    // Cookie by cookie, so that another cookie's odd bytes do not hide it.
    header.split(|&byte| byte == b';').find_map(|pair| {
        let (name, value) = std::str::from_utf8(pair).ok()?.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim() == TOKEN_COOKIE && !value.is_empty()).then_some(value)
    })
}

/// How long a grant has left, for ending a private stream when it expires.
pub fn remaining(grant: &Grant) -> std::time::Duration {
    grant
        .expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http::tokens::TokenError;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn auth() -> Auth {
        Auth {
            keys: TokenKeys::from_secret(b"test secret").expect("keys"),
            private: StreamPatterns::parse("private-*").expect("patterns"),
        }
    }

    fn id(raw: &str) -> StreamId {
        StreamId::parse(raw).expect("id")
    }

    fn code(result: Result<Option<Grant>, AppError>) -> &'static str {
        match result {
            Ok(Some(_)) => "granted",
            Ok(None) => "open",
            Err(error) => error.code(),
        }
    }

    #[test]
    fn public_streams_need_no_token_and_private_ones_do() {
        let auth = auth();
        let none = Credentials::default();
        let cors = CorsPolicy::Localhost;
        assert_eq!(
            code(auth.authorize(&id("room"), Access::Subscribe, none, &cors)),
            "open"
        );
        assert_eq!(
            code(auth.authorize(&id("private-1"), Access::Subscribe, none, &cors)),
            "missing_token"
        );
        assert_eq!(
            code(auth.authorize(&id("room"), Access::Publish, none, &cors)),
            "missing_token"
        );
    }

    #[test]
    fn a_token_is_found_in_header_cookie_or_query_in_that_order() {
        let auth = auth();
        let cors = CorsPolicy::Localhost;
        let token = auth
            .keys
            .mint(&["room"], &["private-*"], HOUR, None)
            .expect("minted");
        let bearer = format!("Bearer {token}");
        let cookie = format!("theme=dark; {TOKEN_COOKIE}={token}");
        let query = format!("lastEventId=3&{TOKEN_PARAM}={token}");
        for credentials in [
            Credentials {
                authorization: Some(bearer.as_bytes()),
                ..Credentials::default()
            },
            Credentials {
                cookie: Some(cookie.as_bytes()),
                ..Credentials::default()
            },
            Credentials {
                query: Some(&query),
                ..Credentials::default()
            },
        ] {
            assert_eq!(
                code(auth.authorize(&id("private-1"), Access::Subscribe, credentials, &cors)),
                "granted"
            );
            assert_eq!(
                code(auth.authorize(&id("room"), Access::Publish, credentials, &cors)),
                "granted"
            );
            assert_eq!(
                code(auth.authorize(&id("other"), Access::Publish, credentials, &cors)),
                "forbidden"
            );
        }
        // A header that is there but not Bearer does not fall back to the query.
        let basic = Credentials {
            authorization: Some(b"Basic dXNlcjpwYXNz"),
            query: Some(&query),
            ..Credentials::default()
        };
        assert_eq!(
            code(auth.authorize(&id("room"), Access::Publish, basic, &cors)),
            "invalid_token"
        );
    }

    #[test]
    fn a_cookie_from_a_page_elsewhere_does_not_count() {
        let auth = auth();
        let token = auth.keys.mint(&[], &["*"], HOUR, None).expect("minted");
        let cookie = format!("{TOKEN_COOKIE}={token}");
        let from = |origin: &'static [u8]| Credentials {
            cookie: Some(cookie.as_bytes()),
            origin: Some(origin),
            ..Credentials::default()
        };
        let cors = CorsPolicy::Localhost;
        let private = id("private-1");
        assert_eq!(
            code(auth.authorize(
                &private,
                Access::Subscribe,
                from(b"http://localhost:3000"),
                &cors
            )),
            "granted"
        );
        assert_eq!(
            code(auth.authorize(
                &private,
                Access::Subscribe,
                from(b"https://evil.example"),
                &cors
            )),
            "missing_token"
        );
    }

    #[test]
    fn a_bad_token_says_why() {
        let auth = auth();
        let other = TokenKeys::from_secret(b"another secret").expect("keys");
        let forged = other.mint(&["*"], &["*"], HOUR, None).expect("minted");
        let bearer = format!("Bearer {forged}");
        let credentials = Credentials {
            authorization: Some(bearer.as_bytes()),
            ..Credentials::default()
        };
        let refused = auth.authorize(
            &id("room"),
            Access::Publish,
            credentials,
            &CorsPolicy::Localhost,
        );
        assert!(matches!(
            refused,
            Err(AppError::InvalidToken(TokenError::BadSignature))
        ));
    }
}
