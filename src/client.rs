//! Browser-side hooks.
