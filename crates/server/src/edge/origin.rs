//! Web origins (`scheme://host[:port]`): parsing the `Origin` header and `--allowed-origins`,
//! and deciding whether an origin is the server's own.

use std::fmt;
use std::net::Ipv6Addr;

use super::authority::{is_host_name_or_ipv4, parse_port, Authority};

/// A serialized web origin, normalised the way browsers send it: lowercase scheme and host, no
/// port when it is the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    /// `None`: the scheme's default port.
    port: Option<u16>,
}

/// Why a text is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected scheme://host[:port] with nothing after it, e.g. http://localhost:5173")]
pub struct InvalidOrigin;

impl Origin {
    /// Parses a serialized origin. Paths (even a lone `/`), queries, userinfo, `*` and the opaque
    /// origin `null` are refused.
    pub fn parse(text: &str) -> Result<Origin, InvalidOrigin> {
        let (scheme, rest) = text.split_once("://").ok_or(InvalidOrigin)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(InvalidOrigin);
        }
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = if let Some(inside) = rest.strip_prefix('[') {
            let (v6, after) = inside.split_once(']').ok_or(InvalidOrigin)?;
            v6.parse::<Ipv6Addr>().map_err(|_| InvalidOrigin)?;
            (format!("[{}]", v6.to_ascii_lowercase()), after)
        } else {
            let end = rest.find(':').unwrap_or(rest.len());
            let host = &rest[..end];
            if !is_host_name_or_ipv4(host) {
                return Err(InvalidOrigin);
            }
            (host.to_ascii_lowercase(), &rest[end..])
        };
        let port = match port {
            "" => None,
            _ => {
                let digits = port.strip_prefix(':').ok_or(InvalidOrigin)?;
                Some(parse_port(digits).ok_or(InvalidOrigin)?)
            }
        };
        let port = port.filter(|port| Some(*port) != default_port(&scheme));
        Ok(Origin { scheme, host, port })
    }

    /// Whether this origin is the one a browser would send for a page loaded from `authority`
    /// (the request's `Host`). The scheme may be `http` or `https`: behind a TLS-terminating
    /// proxy the server cannot see which one the browser used, and nothing else can answer on
    /// the same host and port with the other scheme.
    pub fn is_same_as(&self, authority: &Authority) -> bool {
        let Some(default) = default_port(&self.scheme) else {
            return false;
        };
        self.host == authority.host
            && self.port.unwrap_or(default) == authority.port.unwrap_or(default)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn origin(text: &str) -> Origin {
        Origin::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn authority(text: &str) -> Authority {
        Authority::parse(text).expect("authority")
    }

    #[test]
    fn parses_and_normalises_like_a_browser_serializes() {
        for (text, normal) in [
            ("http://localhost:5173", "http://localhost:5173"),
            ("HTTP://App.Example", "http://app.example"),
            ("http://app.example:80", "http://app.example"),
            ("https://app.example:443", "https://app.example"),
            ("https://app.example:80", "https://app.example:80"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("chrome-extension://abcdef", "chrome-extension://abcdef"),
        ] {
            assert_eq!(origin(text).to_string(), normal, "{text}");
        }
        for bad in [
            "",
            "null",
            "*",
            "localhost:5173",
            "http://",
            "http://localhost:5173/",
            "http://localhost/app",
            "http://localhost?x",
            "http://user@localhost",
            "http://localhost:",
            "http://localhost:0",
            "http://localhost:99999",
            "http://[::1",
            "1http://x",
            "http://a b",
        ] {
            assert_eq!(Origin::parse(bad), Err(InvalidOrigin), "{bad}");
        }
    }

    #[test]
    fn same_origin_compares_host_and_effective_port() {
        assert!(origin("http://127.0.0.1:8080").is_same_as(&authority("127.0.0.1:8080")));
        assert!(origin("http://localhost").is_same_as(&authority("LOCALHOST:80")));
        assert!(origin("https://app.example").is_same_as(&authority("app.example")));
        assert!(origin("http://[::1]:8080").is_same_as(&authority("[::1]:8080")));
        assert!(!origin("http://127.0.0.1:8081").is_same_as(&authority("127.0.0.1:8080")));
        assert!(!origin("http://localhost:8080").is_same_as(&authority("127.0.0.1:8080")));
        assert!(!origin("http://attacker.example:8080").is_same_as(&authority("localhost:8080")));
        assert!(!origin("https://app.example").is_same_as(&authority("app.example:80")));
        assert!(!origin("chrome-extension://app.example").is_same_as(&authority("app.example")));
    }
}
