//! [`StoreLocation`]: what `--store` (and `sse-hub store … PATH`) names.

use std::path::PathBuf;

/// Where events live, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `memory`: nothing outlives the process.
    Memory,
    /// A directory holding the embedded store's file (created if missing).
    Disk(PathBuf),
}

/// What `--store` cannot name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The value is empty.
    #[error("--store must name a directory or `memory`")]
    Empty,
    /// A URL of a store this build does not have yet.
    #[error("--store {0}: this build has no store for that scheme (use a directory or `memory`)")]
    Scheme(String),
}

impl StoreLocation {
    /// Reads a `--store` value: `memory`, or a directory path (relative to
    /// the working directory). A value with a URL scheme (`redis://…`) is
    /// refused rather than taken for a directory of that name.
    pub fn parse(raw: &str) -> Result<Self, LocationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(LocationError::Empty);
        }
        if raw == "memory" {
            return Ok(Self::Memory);
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
        assert!(matches!(
            StoreLocation::parse("redis://127.0.0.1:6379"),
            Err(LocationError::Scheme(_))
        ));
    }
}
