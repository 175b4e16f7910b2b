//! Request authorities (`Host` header values, the authority of an absolute-form URI): splitting
//! into host and port, and deciding whether one names this machine's loopback interface.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An authority split into a lowercase host (IPv6 literals keep their brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub host: String,
    pub port: Option<u16>,
}

impl Authority {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`. Userinfo, paths, empty hosts and
    /// anything but digits after the last `:` are refused.
    pub fn parse(text: &str) -> Option<Authority> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            inside.parse::<Ipv6Addr>().ok()?;
            (format!("[{}]", inside.to_ascii_lowercase()), after)
        } else {
            let end = text.find(':').unwrap_or(text.len());
            (text[..end].to_ascii_lowercase(), &text[end..])
        };
        let port = match port {
            "" => None,
            _ => Some(parse_port(port.strip_prefix(':')?)?),
        };
        if !is_host_name_or_ipv4(&host) && !host.starts_with('[') {
            return None;
        }
        Some(Authority { host, port })
    }

    /// Whether the host is `localhost`, a name under `.localhost`, an address in 127.0.0.0/8, or
    /// `[::1]`. Browsers resolve `localhost` names to loopback themselves, never through DNS, so
    /// none of these can be an attacker's name rebound to 127.0.0.1.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return ip.is_loopback();
        }
        host == "localhost"
            || host
                .strip_suffix(".localhost")
                .is_some_and(|sub| !sub.is_empty() && sub.split('.').all(|label| !label.is_empty()))
    }
}

/// A port: 1 to 65535, digits only.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|port| *port != 0)
}

/// A DNS name or dotted IPv4 address: letters, digits, `-`, `_` and `.`, not empty.
pub(crate) fn is_host_name_or_ipv4(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn splits_host_and_port() {
        assert_eq!(
            Authority::parse("LocalHost:8080"),
            Some(Authority {
                host: "localhost".into(),
                port: Some(8080)
            })
        );
        assert_eq!(
            Authority::parse("[::1]"),
            Some(Authority {
                host: "[::1]".into(),
                port: None
            })
        );
        for bad in [
            "", ":80", "a:", "a:b", "a:0", "a:65536", "a:80:81", "u@a", "a/b", "[::1", "[nope]:1",
            "[::1]x", "a b",
        ] {
            assert_eq!(Authority::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_means_localhost_names_127_slash_8_and_v6_one() {
        for good in [
            "localhost",
            "localhost:8080",
            "app.localhost",
            "a.b.localhost:1",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.255.1.2:80",
            "[::1]",
            "[::1]:8080",
            "[0:0:0:0:0:0:0:1]:8080",
        ] {
            let authority = Authority::parse(good).expect(good);
            assert!(authority.is_loopback(), "{good}");
        }
        for foreign in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "attackerlocalhost",
            ".localhost",
            "a..localhost",
            "127.1",
            "2130706433",
            "128.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "[::]",
            "[::ffff:127.0.0.1]",
            "[fe80::1]",
        ] {
            let loopback = Authority::parse(foreign).is_some_and(|a| a.is_loopback());
            assert!(!loopback, "{foreign}");
        }
    }
}
