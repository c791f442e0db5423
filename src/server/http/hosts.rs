//! Which `Host` values the server answers for, on both paths (the router's
//! outermost middleware and the direct path through the
//! [`StreamGate`](crate::server::transport::StreamGate)).
//!
//! Why: a page on any site can make a browser send requests to
//! `localhost:3000` under a name it controls (DNS rebinding: `evil.example`
//! first resolves to the attacker, then to 127.0.0.1). The browser then
//! treats the hub as same-origin with that page, so CORS does not protect
//! it; the `Host` header is the one thing that still says `evil.example`.
//! A request for a host not allowed gets `421 host_not_allowed`; an HTTP/1.1
//! request without `Host` gets `400 missing_host` (RFC 9112, 3.2).
//!
//! Hosts compare without their port, case-insensitively, ignoring a final
//! dot. An IP address cannot be rebound, so when the server listens on every
//! address (0.0.0.0 or [::]) any IP-address host is allowed by default.

use super::error::AppError;
use std::net::{IpAddr, SocketAddr};

/// The hosts the server answers for; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    /// `*`: any host.
    Any,
    /// These names (lower case, IPv6 addresses in brackets), and any IP
    /// address when `any_ip`.
    Listed {
        /// The allowed names.
        names: Vec<String>,
        /// Whether every IP-address host is allowed too.
        any_ip: bool,
    },
}

impl AllowedHosts {
    /// Reads `--allowed-hosts`; `None` gives the default for a server
    /// listening on `listen`.
    pub fn parse(spec: Option<&str>, listen: SocketAddr) -> Self {
        match spec.map(str::trim) {
            Some("*") => Self::Any,
            Some(spec) => Self::Listed {
                names: spec
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(normalise)
                    .collect(),
                any_ip: false,
            },
            None => {
                let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                let own = match listen.ip() {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
                };
                if !names.contains(&own) {
                    names.push(own);
                }
                Self::Listed {
                    names,
                    any_ip: listen.ip().is_unspecified(),
                }
            }
        }
    }

    /// The same list, also answering for any IP address: for a private
    /// listener (`--metrics-addr`) that a scraper reaches by its address.
    /// A DNS-rebinding page always sends a name, never an address, so this
    /// keeps the protection.
    pub fn with_any_ip(&self) -> Self {
        match self {
            Self::Listed { names, .. } => Self::Listed {
                names: names.clone(),
                any_ip: true,
            },
            any => any.clone(),
        }
    }

    /// Whether a request with this `Host` header (raw bytes, `None` when
    /// absent) over HTTP/1.1 (or 1.0 when `http10`) is answered.
    pub fn check(&self, host: Option<&[u8]>, http10: bool) -> Result<(), AppError> {
        let Self::Listed { names, any_ip } = self else {
            return Ok(());
        };
        let Some(host) = host else {
            // HTTP/1.0 has no Host requirement, and no browser sends it.
            return if http10 {
                Ok(())
            } else {
                Err(AppError::MissingHost)
            };
        };
        let text = String::from_utf8_lossy(host);
        let name = normalise(host_name(&text));
        let is_ip = name
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(&name)
            .parse::<IpAddr>()
            .is_ok();
        if names.contains(&name) || (*any_ip && is_ip) {
            Ok(())
        } else {
            Err(AppError::HostNotAllowed(text.into_owned()))
        }
    }
}

/// The name part of a `Host` value: without its port, IPv6 in brackets.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Lower case, without a final dot.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(addr: &str) -> SocketAddr {
        addr.parse().expect("an address")
    }

    fn allows(hosts: &AllowedHosts, host: &str) -> bool {
        hosts.check(Some(host.as_bytes()), false).is_ok()
    }

    #[test]
    fn the_default_answers_for_loopback_names_only() {
        let hosts = AllowedHosts::parse(None, listen("127.0.0.1:3000"));
        for host in [
            "localhost:3000",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1:3000",
            "[::1]:3000",
        ] {
            assert!(allows(&hosts, host), "{host}");
        }
        for host in [
            "evil.example:3000",
            "localhost.evil.example",
            "10.0.0.1",
            "",
        ] {
            assert!(!allows(&hosts, host), "{host}");
        }
    }

    #[test]
    fn listening_everywhere_allows_any_ip_but_no_other_name() {
        let hosts = AllowedHosts::parse(None, listen("0.0.0.0:3000"));
        assert!(allows(&hosts, "192.168.1.20:3000"));
        assert!(allows(&hosts, "[fe80::1]:3000"));
        assert!(!allows(&hosts, "evil.example:3000"));
        let named = AllowedHosts::parse(None, listen("192.168.1.20:80"));
        assert!(allows(&named, "192.168.1.20"));
        assert!(!allows(&named, "192.168.1.21"));
    }

    #[test]
    fn a_list_replaces_the_default_and_a_star_allows_all() {
        let hosts = AllowedHosts::parse(Some("hub.example, Other.Example"), listen("0.0.0.0:1"));
        assert!(allows(&hosts, "hub.example:443"));
        assert!(allows(&hosts, "other.example"));
        assert!(!allows(&hosts, "localhost"));
        assert!(!allows(&hosts, "10.0.0.1"));
        let any = AllowedHosts::parse(Some("*"), listen("127.0.0.1:1"));
        assert!(allows(&any, "anything.at.all"));
        assert!(any.check(None, false).is_ok());
    }

    #[test]
    fn a_missing_host_is_refused_over_http_1_1_only() {
        let hosts = AllowedHosts::parse(None, listen("127.0.0.1:3000"));
        assert!(matches!(
            hosts.check(None, false),
            Err(AppError::MissingHost)
        ));
        assert!(hosts.check(None, true).is_ok());
    }
}
