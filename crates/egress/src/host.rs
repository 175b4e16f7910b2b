//! Destination hosts and port rules: how a host named by a client or a profile is parsed and
//! normalised (lower case, trailing dot dropped, IPv4-mapped IPv6 folded to IPv4), and the
//! `host:port` / `[v6]:port` split shared by requests, host patterns and address exceptions.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Longest DNS name, in characters, without the trailing dot (RFC 1035).
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label (RFC 1035).
const MAX_LABEL_LEN: usize = 63;

/// A destination host: a DNS name or an IP address, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name in lower case, without a trailing dot.
    Name(String),
    /// An IP address; IPv4-mapped IPv6 addresses are stored as the IPv4 address they map.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as written in a request or a pattern: a DNS name, a dotted-quad IPv4
    /// address, or an IPv6 address with or without brackets. The error says why.
    pub fn parse(text: &str) -> Result<Host, String> {
        if text.is_empty() {
            return Err("the host is empty".into());
        }
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or("a bracketed IPv6 address lacks its closing `]`")?;
            let ip: Ipv6Addr = inner
                .parse()
                .map_err(|_| format!("{inner:?} is not an IPv6 address"))?;
            return Ok(Host::Ip(canonical_ip(IpAddr::V6(ip))));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Host::Ip(canonical_ip(ip)));
        }
        parse_name(text).map(Host::Name)
    }

    /// The DNS name, if this host is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(name) => Some(name),
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// Folds an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to the IPv4 address it maps: a socket
/// connected to one reaches the other, so they are the same destination.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        IpAddr::V4(_) => ip,
    }
}

/// Validates and normalises a DNS name: ASCII letters, digits, `-` and `_` in dot-separated
/// labels of 1 to 63 characters, at most 253 in all; lower-cased; one trailing dot tolerated.
fn parse_name(text: &str) -> Result<String, String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    if name.is_empty() {
        return Err("the host is empty".into());
    }
    if !name.is_ascii() {
        return Err("non-ASCII host names must be written in their punycode (`xn--`) form".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("a host name is at most {MAX_NAME_LEN} characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("a host name has an empty label (`..`, or a leading dot)".into());
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(format!(
                "a host name label is at most {MAX_LABEL_LEN} characters"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{bad:?} is not allowed in a host name (letters, digits, `-`, `_` and dots)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a host name label cannot start or end with `-`".into());
        }
    }
    // No top-level domain is all digits, and a resolver would read such a name as an IPv4
    // address in some legacy form (`127.1`, `2130706433`, `0177.0.0.1`).
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("a numeric host must be a dotted-quad IPv4 address".into());
    }
    Ok(name)
}

/// Which ports a pattern or an exception admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRule {
    /// No port written: 80 and 443, the ports of the web.
    Web,
    /// `:N`: that port only.
    One(u16),
    /// `:*`: any port.
    Any,
}

impl PortRule {
    /// Whether `port` is admitted.
    pub fn admits(self, port: u16) -> bool {
        match self {
            PortRule::Web => port == 80 || port == 443,
            PortRule::One(one) => port == one,
            PortRule::Any => true,
        }
    }

    /// Parses the text after the `:` of a pattern: a port number or `*`.
    pub(crate) fn parse(text: &str) -> Result<PortRule, String> {
        if text == "*" {
            return Ok(PortRule::Any);
        }
        parse_port(text).map(PortRule::One)
    }

    /// The suffix this rule is written with: empty, `:N` or `:*`.
    pub(crate) fn suffix(self) -> String {
        match self {
            PortRule::Web => String::new(),
            PortRule::One(port) => format!(":{port}"),
            PortRule::Any => ":*".into(),
        }
    }
}

/// Parses a TCP port, 1 to 65535.
pub(crate) fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a destination".into()),
        Ok(port) if text.chars().all(|c| c.is_ascii_digit()) => Ok(port),
        _ => Err(format!("{text:?} is not a port (1-65535)")),
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address (which cannot carry
/// a port) into the host part and the optional port text. Brackets stay on the host part.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let close = text
            .find(']')
            .ok_or("a bracketed IPv6 address lacks its closing `]`")?;
        let (host, rest) = text.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected {rest:?} after `]`")),
            },
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (host, port) = text.split_at(text.find(':').unwrap_or(text.len()));
            Ok((host, Some(&port[1..])))
        }
        // Several colons: a bare IPv6 address, which must be bracketed to carry a port.
        _ => Ok((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn names_are_lower_cased_and_lose_a_trailing_dot() {
        assert_eq!(
            Host::parse("API.Example.COM.").unwrap(),
            Host::Name("api.example.com".into())
        );
        assert_eq!(
            Host::parse("under_score-1.test").unwrap().to_string(),
            "under_score-1.test"
        );
    }

    #[test]
    fn ip_literals_parse_with_and_without_brackets() {
        assert_eq!(
            Host::parse("10.1.2.3").unwrap(),
            Host::Ip("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            Host::parse("[::1]").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(Host::parse("::1").unwrap().to_string(), "[::1]");
        // An IPv4-mapped address is the IPv4 address it maps.
        assert_eq!(
            Host::parse("[::ffff:127.0.0.1]").unwrap(),
            Host::Ip("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn invalid_hosts_say_why() {
        let cases = [
            ("", "the host is empty"),
            (".", "the host is empty"),
            (
                "a..b",
                "a host name has an empty label (`..`, or a leading dot)",
            ),
            (
                "exa mple.com",
                "' ' is not allowed in a host name (letters, digits, `-`, `_` and dots)",
            ),
            (
                "bücher.de",
                "non-ASCII host names must be written in their punycode (`xn--`) form",
            ),
            ("-a.com", "a host name label cannot start or end with `-`"),
            ("127.1", "a numeric host must be a dotted-quad IPv4 address"),
            (
                "2130706433",
                "a numeric host must be a dotted-quad IPv4 address",
            ),
            ("[::1", "a bracketed IPv6 address lacks its closing `]`"),
            ("[1.2.3.4]", "\"1.2.3.4\" is not an IPv6 address"),
        ];
        for (text, why) in cases {
            assert_eq!(Host::parse(text), Err(why.to_string()), "{text:?}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert_eq!(
            Host::parse(&long),
            Err("a host name label is at most 63 characters".to_string())
        );
    }

    #[test]
    fn host_and_port_split() {
        assert_eq!(split_host_port("a.test").unwrap(), ("a.test", None));
        assert_eq!(
            split_host_port("a.test:443").unwrap(),
            ("a.test", Some("443"))
        );
        assert_eq!(
            split_host_port("[::1]:8080").unwrap(),
            ("[::1]", Some("8080"))
        );
        assert_eq!(split_host_port("[::1]").unwrap(), ("[::1]", None));
        assert_eq!(split_host_port("fd00::/8").unwrap(), ("fd00::/8", None));
        assert!(split_host_port("[::1]x").is_err());
    }

    #[test]
    fn ports_parse_strictly() {
        assert_eq!(parse_port("443"), Ok(443));
        assert!(parse_port("0").is_err());
        assert!(parse_port("65536").is_err());
        assert!(parse_port("+80").is_err());
        assert!(parse_port("").is_err());
        assert_eq!(PortRule::parse("*"), Ok(PortRule::Any));
        assert!(
            PortRule::Web.admits(80) && PortRule::Web.admits(443) && !PortRule::Web.admits(8080)
        );
    }
}
