//! [`StoreLocation`]: what `--store` (and `sse-hub store … PATH`) names.

use std::path::PathBuf;

/// Where events live, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `memory`: nothing outlives the process.
    Memory,
    /// A directory holding the embedded store's file (created if missing).
    Disk(PathBuf),
    /// `redis://HOST:PORT[/DB]` or `redis+cluster://HOST:PORT[,HOST:PORT…]`:
    /// the store several instances share.
    Redis(String),
}

/// What `--store` cannot name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The value is empty.
    #[error("--store must name a directory or `memory`")]
    Empty,
    /// A URL of a store this build does not have.
    #[error(
        "--store {0}: this build has no store for that scheme (use a directory, `memory` or redis://HOST:PORT[/DB])"
    )]
    Scheme(String),
    /// `rediss://`: TLS to Redis needs a crypto provider that builds C code.
    #[error("--store {0}: TLS to Redis (rediss://) is not supported by this build; use redis:// on a private network or a TLS tunnel")]
    Tls(String),
}

impl StoreLocation {
    /// Reads a `--store` value: `memory`, `redis://…`, or a directory path
    /// (relative to the working directory). A value with another URL scheme
    /// is refused rather than taken for a directory of that name.
    pub fn parse(raw: &str) -> Result<Self, LocationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(LocationError::Empty);
        }
        if raw == "memory" {
            return Ok(Self::Memory);
        }
        if raw.starts_with("redis://") || raw.starts_with("redis+cluster://") {
            return Ok(Self::Redis(raw.to_owned()));
        }
        if raw.starts_with("rediss://") {
            return Err(LocationError::Tls(raw.to_owned()));
        }
        if raw.contains("://") {
            return Err(LocationError::Scheme(raw.to_owned()));
        }
        Ok(Self::Disk(PathBuf::from(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_a_directory_or_a_clear_refusal() {
        assert_eq!(StoreLocation::parse("memory"), Ok(StoreLocation::Memory));
        assert_eq!(
            StoreLocation::parse("data"),
            Ok(StoreLocation::Disk(PathBuf::from("data")))
        );
        assert_eq!(
            StoreLocation::parse("/var/lib/sse-hub"),
            Ok(StoreLocation::Disk(PathBuf::from("/var/lib/sse-hub")))
        );
        assert_eq!(StoreLocation::parse(" "), Err(LocationError::Empty));
        assert_eq!(
            StoreLocation::parse("redis://127.0.0.1:6379/2"),
            Ok(StoreLocation::Redis("redis://127.0.0.1:6379/2".to_owned()))
        );
        assert!(matches!(
            StoreLocation::parse("rediss://127.0.0.1:6380"),
            Err(LocationError::Tls(_))
        ));
        assert!(matches!(
            StoreLocation::parse("postgres://db/hub"),
            Err(LocationError::Scheme(_))
        ));
    }
}
