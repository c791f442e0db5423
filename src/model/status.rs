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

/// How the retrying of a dropped connection stands, after `failed`
/// reconnection attempts: "no try has failed yet", "1 try has failed so
/// far", "3 tries have failed so far". (An `EventSource` retries for as
/// long as the page is open; the count tells a server gone for good from a
/// blip.)
pub fn describe_failed_tries(failed: u64) -> String {
    match failed {
        0 => "no try has failed yet".to_owned(),
        1 => "1 try has failed so far".to_owned(),
        n => format!("{n} tries have failed so far"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_failed_tries;
    use super::ConnectionStatus::*;

    #[test]
    fn failed_tries_are_counted_in_words() {
        assert_eq!(describe_failed_tries(0), "no try has failed yet");
        assert_eq!(describe_failed_tries(1), "1 try has failed so far");
        assert_eq!(describe_failed_tries(3), "3 tries have failed so far");
    }

    #[test]
    fn every_status_has_a_distinct_label_and_icon() {
        let all = [Disconnected, Connecting, Connected, Reconnecting, Error];
        let labels: std::collections::HashSet<_> = all.iter().map(|s| s.label()).collect();
        let icons: std::collections::HashSet<_> = all.iter().map(|s| s.icon()).collect();
        assert_eq!((labels.len(), icons.len()), (5, 5));
        assert!(!Disconnected.is_active() && !Error.is_active() && Reconnecting.is_active());
    }
}
