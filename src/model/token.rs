//! The token the page holds for publishing and for private streams: what
//! may be sent as a cookie and an `Authorization` header, and how the
//! cookie is written.
//!
//! The page cannot check a token (it has no secret); the server does. What
//! the page checks is that the text is safe to send: a `;` or a line break
//! in a cookie or a header would add attributes or headers of its own.

use super::wire::describe_char;

/// The cookie the server reads a browser's token from (an `EventSource`
/// cannot send headers).
pub const TOKEN_COOKIE: &str = "sse_hub_token";

/// The `sessionStorage` key the page keeps the token under: kept for the
/// tab's life, gone when it closes, never in a URL.
pub const TOKEN_STORAGE_KEY: &str = "sse-hub.token";

/// A token that is safe to put in a cookie and a header: only the
/// characters RFC 6265 allows in a cookie value (a JWT's base64url parts
/// and dots always are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Reads the token field: `None` when blank, an error naming the first
    /// character no token has. Surrounding spaces and a pasted `Bearer `
    /// or `token:` prefix (the server's start-up line) are ignored.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let mut token = raw.trim_start();
        // As an Authorization header's value, or as the server prints it
        // at start (`token: …`).
        for label in ["bearer ", "token:"] {
            if let Some(prefix) = token.get(..label.len()) {
                if prefix.eq_ignore_ascii_case(label) {
                    token = token[label.len()..].trim_start();
                }
            }
        }
        let token = token.trim();
        if token.is_empty() {
            return Ok(None);
        }
        match token.chars().find(|c| !is_cookie_octet(*c)) {
            Some(bad) => Err(format!(
                "The token contains {}, which tokens never have: paste it exactly as it was given.",
                describe_char(bad)
            )),
            None => Ok(Some(Self(token.to_owned()))),
        }
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

/// What to assign to `document.cookie` so that streams opened from now on
/// send `token`, or, with `None`, no token at all.
pub fn token_cookie(token: Option<&BearerToken>) -> String {
    match token {
        Some(token) => format!(
            "{TOKEN_COOKIE}={}; path=/sse/; SameSite=Strict",
            token.as_str()
        ),
        None => format!("{TOKEN_COOKIE}=; path=/sse/; SameSite=Strict; max-age=0"),
    }
}

/// RFC 6265's `cookie-octet`: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(c: char) -> bool {
    matches!(c, '!' | '#'..='+' | '-'..=':' | '<'..='[' | ']'..='~')
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl-_x";

    #[test]
    fn a_jwt_is_accepted_as_it_is() {
        let token = BearerToken::parse(JWT).expect("valid").expect("present");
        assert_eq!(token.as_str(), JWT);
        assert_eq!(token.authorization(), format!("Bearer {JWT}"));
    }

    #[test]
    fn blank_is_no_token_and_spaces_or_a_bearer_prefix_are_ignored() {
        assert_eq!(BearerToken::parse(""), Ok(None));
        assert_eq!(BearerToken::parse("   "), Ok(None));
        assert_eq!(BearerToken::parse("Bearer "), Ok(None));
        for pasted in [
            format!("  {JWT} "),
            format!("Bearer {JWT}"),
            format!("bearer  {JWT}"),
            format!("token: {JWT}"),
            format!("Token:{JWT}\n"),
        ] {
            let token = BearerToken::parse(&pasted)
                .expect("valid")
                .expect("present");
            assert_eq!(token.as_str(), JWT, "{pasted:?}");
        }
    }

    #[test]
    fn characters_that_would_break_a_cookie_or_a_header_are_refused() {
        for bad in [
            "a;path=/x",
            "a b",
            "a\r\nX-Evil: 1",
            "a,b",
            "a\"b",
            "a\\b",
            "é",
        ] {
            let error = BearerToken::parse(bad).expect_err(bad);
            assert!(error.starts_with("The token contains"), "{error}");
            assert!(!error.contains(['\r', '\n']), "{error:?}");
        }
    }

    #[test]
    fn the_cookie_is_set_for_the_whole_site_and_cleared_by_expiring_it() {
        let token = BearerToken::parse(JWT).expect("valid");
        assert_eq!(
            token_cookie(token.as_ref()),
            format!("sse_hub_token={JWT}; path=/sse/; SameSite=Strict")
        );
        assert_eq!(
            token_cookie(None),
            "sse_hub_token=; path=/sse/; SameSite=Strict; max-age=0"
        );
    }
}
