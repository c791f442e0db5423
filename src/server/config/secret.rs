//! Where the token secret comes from (`--jwt-secret`, `SSE_HUB_JWT_SECRET`
//! or `--jwt-secret-file`), shared by the server and `sse-hub token`, so
//! that both read it the same way.

use super::ConfigError;
use crate::server::http::tokens::TokenKeys;
use std::path::PathBuf;

/// The secret's flags; at most one may be given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecretArgs {
    /// Secret that signs and checks tokens (HS256). Default: a random one
    /// made at start, with a token for it printed after the `listening on`
    /// line. Prefer --jwt-secret-file or the environment: a flag shows in
    /// the process list.
    #[arg(long, env = "SSE_HUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// File holding the token secret (a trailing newline is ignored).
    #[arg(long, env = "SSE_HUB_JWT_SECRET_FILE", conflicts_with = "jwt_secret")]
    pub jwt_secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The keys of the configured secret; `None` when none is configured.
    pub fn keys(&self) -> Result<Option<TokenKeys>, ConfigError> {
        let secret = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(secret), _) => secret.as_bytes().to_vec(),
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|error| ConfigError::SecretFile {
                    path: path.display().to_string(),
                    reason: error.to_string(),
                })?;
                while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    bytes.pop();
                }
                bytes
            }
            (None, None) => return Ok(None),
        };
        if secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        TokenKeys::from_secret(&secret)
            .map(Some)
            .map_err(|error| ConfigError::BadSecret(error.to_string()))
    }
}
