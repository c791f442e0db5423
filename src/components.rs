//! Reusable UI components.
