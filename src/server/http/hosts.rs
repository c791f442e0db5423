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
//! request without `Host` gets `400 missing_host`, and one with more than
//! one `Host` header or one that is no `host[:port]` gets `400
//! invalid_host` (RFC 9112, 3.2: which of two hosts would count is what a
//! proxy in front and this server could disagree on). With `*` nothing is
//! checked.
//!
//! Hosts compare without their port, case-insensitively, ignoring a final
//! dot. An IP address cannot be rebound, so when the server listens on every
//! address (0.0.0.0 or [::]) any IP-address host is allowed by default.

use super::error::AppError;
use std::net::{IpAddr, SocketAddr};

/// The `Host` a request carries, as the check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostField<'a> {
    /// No `Host` header.
    Absent,
    /// One, raw.
    One(&'a [u8]),
    /// More than one.
    Repeated,
}

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

    /// Whether a request with this `Host` over HTTP/1.1 (or 1.0 when
    /// `http10`) is answered.
    pub fn check(&self, host: HostField<'_>, http10: bool) -> Result<(), AppError> {
        let Self::Listed { names, any_ip } = self else {
            return Ok(());
        };
        let host = match host {
            HostField::One(host) => host,
            // HTTP/1.0 has no Host requirement, and no browser sends it.
            HostField::Absent if http10 => return Ok(()),
            HostField::Absent => return Err(AppError::MissingHost),
            HostField::Repeated => {
                return Err(AppError::InvalidHost(
                    "the request has more than one Host header".to_owned(),
                ))
            }
        };
        let text = String::from_utf8_lossy(host);
        let Some(name) = host_without_port(host) else {
            return Err(AppError::InvalidHost(format!(
                "the Host header {text:?} is not a host name or address with an optional port"
            )));
        };
        let name = normalise(&String::from_utf8_lossy(name));
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

/// The host of `value` (IPv6 in brackets), without its port, when `value`
/// is `host [":" port]` (RFC 9110 7.2 with RFC 3986's `host`): a name of
/// RFC 3986's reg-name characters, or an IPv6 address in brackets; the
/// port, if any, digits. `None` for anything else.
fn host_without_port(value: &[u8]) -> Option<&[u8]> {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b']')?;
            std::str::from_utf8(&rest[..end])
                .ok()?
                .parse::<std::net::Ipv6Addr>()
                .ok()?;
            (&value[..end + 2], &rest[end + 1..])
        }
        None => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        },
    };
    let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b);
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    let well_formed = !host.is_empty()
        && (host.starts_with(b"[") || host.iter().all(|&b| reg_name(b)))
        && port_ok;
    well_formed.then_some(host)
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
        hosts.check(HostField::One(host.as_bytes()), false).is_ok()
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
        assert!(any.check(HostField::Absent, false).is_ok());
        assert!(any.check(HostField::Repeated, false).is_ok());
        assert!(any.check(HostField::One(b"not a host"), false).is_ok());
    }

    #[test]
    fn a_missing_host_is_refused_over_http_1_1_only() {
        let hosts = AllowedHosts::parse(None, listen("127.0.0.1:3000"));
        assert!(matches!(
            hosts.check(HostField::Absent, false),
            Err(AppError::MissingHost)
        ));
        assert!(hosts.check(HostField::Absent, true).is_ok());
    }

    #[test]
    fn two_hosts_or_one_that_is_no_host_is_invalid() {
        let hosts = AllowedHosts::parse(None, listen("0.0.0.0:3000"));
        let invalid = |field| matches!(hosts.check(field, false), Err(AppError::InvalidHost(_)));
        assert!(invalid(HostField::Repeated));
        for bad in [
            "",
            ":3000",
            "localhost:abc",
            "localhost:3000:1",
            "local host",
            "user@localhost",
            "localhost/path",
            "[::1",
            "[not-ip]:3000",
            "[::1]x",
            "localhost\t",
            "h\u{e9}.example",
        ] {
            assert!(invalid(HostField::One(bad.as_bytes())), "{bad:?}");
        }
        for good in [
            "localhost",
            "localhost:",
            "localhost:3000",
            "[::1]:80",
            "127.0.0.1",
            "10.1.2.3:8080",
        ] {
            assert!(
                hosts.check(HostField::One(good.as_bytes()), false).is_ok(),
                "{good:?}"
            );
        }
    }
}
