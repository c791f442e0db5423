//! Signed tokens (JWT, HS256) for publishers and private streams: what a
//! token grants, how one is checked, and how one is made (for the token the
//! server prints at start and for `sse-hub token`).
//!
//! Contract: the algorithm is the server's, never the token's: a token
//! whose header names anything but HS256 (`none`, HS512, RS256…) is refused
//! before its signature is looked at. `exp` is required and checked with no
//! leeway (a token ends at its `exp`); `nbf`, when present, too (it starts
//! at its `nbf`); both may be fractional (RFC 7519's NumericDate is any
//! JSON number of seconds) and are compared with the clock to the
//! nanosecond here, not by jsonwebtoken, which rounds them to whole
//! seconds. `aud` is not read. The grant is the `sse_hub` claim,
//! `{"publish": [patterns], "subscribe": [patterns]}`, each pattern in the
//! syntax of [`StreamPatterns`]; an absent list grants nothing.

use crate::model::{PatternError, StreamPatterns};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a verified token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The `sub` claim, for the logs.
    pub subject: Option<String>,
    /// Streams it may publish to.
    pub publish: StreamPatterns,
    /// Private streams it may read.
    pub subscribe: StreamPatterns,
    /// When it stops being valid (`exp`).
    pub expires_at: SystemTime,
}

/// What a grant is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Publishing to the stream.
    Publish,
    /// Reading the stream.
    Subscribe,
}

/// Why a token was refused; the message says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` has not come yet.
    #[error("the token is not valid yet (its \"nbf\" is in the future)")]
    NotYetValid,
    /// The signature does not match this server's secret.
    #[error("the token's signature does not match")]
    BadSignature,
    /// The header names another algorithm than HS256.
    #[error("the token is not signed with HS256, the only algorithm this server accepts")]
    WrongAlgorithm,
    /// Not a JWT, or its claims are not what they should be.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// The secret cannot key HS256 (an empty one, say).
    #[error("the token secret cannot be used: {0}")]
    BadSecret(String),
    /// A pattern in the grant does not parse.
    #[error("the token grants an invalid stream pattern: {0}")]
    BadGrant(#[from] PatternError),
}

/// The claims as they travel.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Whole seconds when this server mints; any number when it reads
    /// (absent is refused, not defaulted).
    exp: Option<serde_json::Number>,
    /// Never minted here; any number when it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default)]
    sse_hub: GrantClaim,
}

/// The `sse_hub` claim.
#[derive(Debug, Default, Serialize, Deserialize)]
struct GrantClaim {
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
}

/// One secret, ready to check and make tokens with.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.write_str("TokenKeys(HS256)")
    }
}

impl TokenKeys {
    /// Keys for `secret`.
    pub fn from_secret(secret: &[u8]) -> Result<Self, TokenError> {
        let unusable =
            |error: jsonwebtoken::errors::Error| TokenError::BadSecret(error.to_string());
        let mut validation = Validation::new(Algorithm::HS256);
        // The times are checked in `verify`, exactly; an audience is not
        // this server's business (a token may name its issuer's).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims::<&str>(&[]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(unusable)?,
            decoding: DecodingKey::from_secret(secret).map_err(unusable)?,
            validation,
        })
    }

    /// Keys for a random secret, for a server started without one.
    pub fn random() -> Result<Self, TokenError> {
        use rand::Rng;
        let secret: [u8; 32] = rand::rng().random();
        Self::from_secret(&secret)
    }

    /// Checks `token` and returns what it grants.
    pub fn verify(&self, token: &str) -> Result<Grant, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::WrongAlgorithm
                }
                _ => TokenError::Malformed(error.to_string()),
            })?;
        let claims = data.claims;
        let exp = claims
            .exp
            .ok_or_else(|| TokenError::Malformed("it has no \"exp\" claim".into()))?;
        let expires_at = instant("exp", &exp)?;
        let now = SystemTime::now();
        // It ends at `exp`, so that a stream it opened can end then.
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = &claims.nbf {
            if instant("nbf", nbf)? > now {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(Grant {
            subject: claims.sub,
            publish: StreamPatterns::from_entries(
                claims.sse_hub.publish.iter().map(String::as_str),
            )?,
            subscribe: StreamPatterns::from_entries(
                claims.sse_hub.subscribe.iter().map(String::as_str),
            )?,
            expires_at,
        })
    }

    /// Makes a token granting `publish` and `subscribe` (pattern lists in
    /// the `--generate` syntax) for `ttl`, naming `subject`.
    pub fn mint(
        &self,
        publish: &[&str],
        subscribe: &[&str],
        ttl: Duration,
        subject: Option<&str>,
    ) -> Result<String, TokenError> {
        for patterns in [publish, subscribe] {
            StreamPatterns::from_entries(patterns.iter().copied())?;
        }
        let exp = SystemTime::now()
            .checked_add(ttl)
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
            .map(|since| since.as_secs())
            .ok_or_else(|| TokenError::Malformed("its lifetime is out of range".into()))?;
        let claims = Claims {
            exp: Some(exp.into()),
            nbf: None,
            sub: subject.map(str::to_owned),
            sse_hub: GrantClaim {
                publish: publish.iter().map(|p| (*p).to_owned()).collect(),
                subscribe: subscribe.iter().map(|p| (*p).to_owned()).collect(),
            },
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| TokenError::Malformed(error.to_string()))
    }
}

/// The NumericDate `date` of claim `name` as a time: malformed when it is
/// negative or beyond any time this clock can hold.
fn instant(name: &str, date: &serde_json::Number) -> Result<SystemTime, TokenError> {
    let since_epoch = match date.as_u64() {
        Some(whole) => Some(Duration::from_secs(whole)),
        None => date
            .as_f64()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok()),
    };
    since_epoch
        .and_then(|since| UNIX_EPOCH.checked_add(since))
        .ok_or_else(|| TokenError::Malformed(format!("its {name:?} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StreamId;

    const HOUR: Duration = Duration::from_secs(3600);

    fn id(raw: &str) -> StreamId {
        StreamId::parse(raw).expect("id")
    }

    #[test]
    fn a_minted_token_grants_what_it_says() {
        let keys = TokenKeys::from_secret(b"a secret of some length").expect("keys");
        let token = keys
            .mint(&["orders-*"], &["private-1"], HOUR, Some("billing"))
            .expect("minted");
        let grant = keys.verify(&token).expect("valid");
        assert_eq!(grant.subject.as_deref(), Some("billing"));
        assert!(grant.publish.matches(&id("orders-7")));
        assert!(!grant.publish.matches(&id("private-1")));
        assert!(grant.subscribe.matches(&id("private-1")));
        assert!(grant.expires_at > SystemTime::now());
    }

    #[test]
    fn another_secret_or_a_tampered_payload_is_a_bad_signature() {
        let keys = TokenKeys::from_secret(b"one").expect("keys");
        let token = keys.mint(&["a"], &[], HOUR, None).expect("minted");
        let other = TokenKeys::from_secret(b"two").expect("keys");
        assert_eq!(other.verify(&token), Err(TokenError::BadSignature));
        // Swap the payload for one granting everything, keep the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = keys.mint(&["*"], &["*"], HOUR, None).expect("minted");
        let forged_payload = forged.split('.').nth(1).expect("payload").to_owned();
        parts[1] = &forged_payload;
        assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::BadSignature));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        let claims = Claims {
            exp: Some(
                (SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs()
                    - 1)
                .into(),
            ),
            nbf: None,
            sub: None,
            sse_hub: GrantClaim::default(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .expect("encoded");
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn the_algorithm_is_the_servers_never_the_tokens() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        let claims = Claims {
            exp: Some((u64::MAX / 2).into()),
            nbf: None,
            sub: None,
            sse_hub: GrantClaim {
                publish: vec!["*".into()],
                subscribe: vec![],
            },
        };
        let hs512 = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims, &keys.encoding)
            .expect("encoded");
        assert_eq!(keys.verify(&hs512), Err(TokenError::WrongAlgorithm));
        // {"alg":"none","typ":"JWT"} . {"exp":9999999999,"sse_hub":{"publish":["*"]}} . (no signature)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJleHAiOjk5OTk5OTk5OTksInNzZV9odWIiOnsicHVibGlzaCI6WyIqIl19fQ.";
        assert!(matches!(
            keys.verify(none),
            Err(TokenError::WrongAlgorithm | TokenError::Malformed(_))
        ));
        // {"alg":"RS256","typ":"JWT"} with the HS256 token's payload and signature.
        let hs256 = keys.mint(&["*"], &[], HOUR, None).expect("minted");
        let rest: Vec<&str> = hs256.split('.').skip(1).collect();
        let rs256 = format!("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{}", rest.join("."));
        assert_eq!(keys.verify(&rs256), Err(TokenError::WrongAlgorithm));
    }

    #[test]
    fn an_exp_beyond_any_time_is_malformed_not_a_crash() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        for exp in [1u64 << 63, u64::MAX] {
            let claims = Claims {
                exp: Some(exp.into()),
                nbf: None,
                sub: None,
                sse_hub: GrantClaim::default(),
            };
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
                    .expect("encoded");
            assert!(
                matches!(keys.verify(&token), Err(TokenError::Malformed(_))),
                "exp {exp}"
            );
        }
    }

    /// A token of `keys` with these claims (JSON), as another issuer makes it.
    fn token_with(keys: &TokenKeys, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .expect("encoded")
    }

    fn now_secs() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    }

    #[test]
    fn a_fractional_exp_is_a_numeric_date_like_any_other() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        let exp = now_secs() + 3600.5;
        let grant = keys
            .verify(&token_with(
                &keys,
                serde_json::json!({"exp": exp, "sse_hub": {"publish": ["a"]}}),
            ))
            .expect("valid");
        let left = grant
            .expires_at
            .duration_since(SystemTime::now())
            .expect("in the future");
        assert!(
            left > Duration::from_secs(3590) && left <= Duration::from_secs(3601),
            "{left:?}"
        );
        // Half a second ago is past, though jsonwebtoken rounds it to now.
        let past = token_with(&keys, serde_json::json!({"exp": now_secs() - 0.5}));
        assert_eq!(keys.verify(&past), Err(TokenError::Expired));
        // Negative: malformed, never a crash.
        let negative = token_with(&keys, serde_json::json!({"exp": -5.5}));
        assert!(matches!(
            keys.verify(&negative),
            Err(TokenError::Expired | TokenError::Malformed(_))
        ));
    }

    #[test]
    fn a_token_before_its_nbf_is_not_valid_yet_and_says_so() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        let early = token_with(
            &keys,
            serde_json::json!({"exp": now_secs() + 7200.0, "nbf": now_secs() + 3600.0}),
        );
        let refused = keys.verify(&early);
        assert_eq!(refused, Err(TokenError::NotYetValid));
        assert_eq!(
            TokenError::NotYetValid.to_string(),
            "the token is not valid yet (its \"nbf\" is in the future)"
        );
        // To the sub-second: valid a fraction of a second after a
        // fractional nbf, not yet valid a fraction before it (jsonwebtoken,
        // rounding to whole seconds, got both wrong half the time).
        for _ in 0..20 {
            let started = token_with(
                &keys,
                serde_json::json!({"exp": now_secs() + 7200.0, "nbf": now_secs() - 0.05}),
            );
            assert!(keys.verify(&started).is_ok());
            let soon = token_with(
                &keys,
                serde_json::json!({"exp": now_secs() + 7200.0, "nbf": now_secs() + 0.4}),
            );
            assert_eq!(keys.verify(&soon), Err(TokenError::NotYetValid));
            std::thread::sleep(Duration::from_millis(37));
        }
    }

    #[test]
    fn random_keys_verify_their_own_tokens_only() {
        let (a, b) = (
            TokenKeys::random().expect("keys"),
            TokenKeys::random().expect("keys"),
        );
        let token = a.mint(&["*"], &["*"], HOUR, None).expect("minted");
        assert!(a.verify(&token).is_ok());
        assert_eq!(b.verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn garbage_and_missing_claims_are_malformed() {
        let keys = TokenKeys::from_secret(b"s").expect("keys");
        for bad in ["", "abc", "a.b.c", "...."] {
            assert!(
                matches!(keys.verify(bad), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            keys.mint(&["a*b"], &[], HOUR, None),
            Err(TokenError::BadGrant(_))
        ));
    }
}
