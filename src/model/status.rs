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

/// A connection that dropped and that the browser is retrying by itself
/// (an `EventSource` retries for as long as the page is open): since when,
/// and how many tries have failed since. Shown beside the `reconnecting`
/// badge, so that a server gone for good is told apart from a blip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The browser's local time of the drop, `HH:MM:SS`.
    pub since: String,
    /// Reconnection attempts that failed since the drop.
    pub failed_tries: u32,
}

impl Outage {
    /// An outage that started at `since` (local `HH:MM:SS`).
    pub fn starting(since: String) -> Self {
        Self {
            since,
            failed_tries: 0,
        }
    }

    /// Counts one more error report from the `EventSource`: after the
    /// drop itself, each one is a reconnection attempt that failed.
    pub fn another_error(&mut self) {
        self.failed_tries = self.failed_tries.saturating_add(1);
    }

    /// How the retrying stands: "no try has failed yet", "1 try has
    /// failed so far", "3 tries have failed so far".
    pub fn tries(&self) -> String {
        match self.failed_tries {
            0 => "no try has failed yet".to_owned(),
            1 => "1 try has failed so far".to_owned(),
            n => format!("{n} tries have failed so far"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionStatus::*;
    use super::Outage;

    #[test]
    fn an_outage_counts_the_failed_tries_after_the_drop() {
        let mut outage = Outage::starting("12:03:04".into());
        assert_eq!(outage.tries(), "no try has failed yet");
        outage.another_error();
        assert_eq!(outage.tries(), "1 try has failed so far");
        outage.another_error();
        outage.another_error();
        assert_eq!(outage.tries(), "3 tries have failed so far");
        assert_eq!(outage.since, "12:03:04");
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
