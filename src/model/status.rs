//! The state of a browser's connection to one stream.

/// What the status badge shows; its text is [`ConnectionStatus::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionStatus {
    /// No connection open (the first view, and after Disconnect).
    #[default]
    Disconnected,
    /// Opening the first connection to a stream.
    Connecting,
    /// Open and receiving.
    Connected,
    /// The connection dropped and the browser is retrying by itself.
    Reconnecting,
    /// The server refused the stream or the browser gave up.
    Error,
}

impl ConnectionStatus {
    /// The badge text, one lowercase word.
    pub fn label(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Error => "error",
        }
    }

    /// A shape that tells the states apart without colour.
    pub fn icon(self) -> &'static str {
        match self {
            Self::Disconnected => "○",
            Self::Connecting => "◌",
            Self::Connected => "●",
            Self::Reconnecting => "↻",
            Self::Error => "✕",
        }
    }

    /// Whether a connection is open or being opened.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Connected | Self::Reconnecting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionStatus::*;

    #[test]
    fn every_status_has_a_distinct_label_and_icon() {
        let all = [Disconnected, Connecting, Connected, Reconnecting, Error];
        let labels: std::collections::HashSet<_> = all.iter().map(|s| s.label()).collect();
        let icons: std::collections::HashSet<_> = all.iter().map(|s| s.icon()).collect();
        assert_eq!((labels.len(), icons.len()), (5, 5));
        assert!(!Disconnected.is_active() && !Error.is_active() && Reconnecting.is_active());
    }
}
