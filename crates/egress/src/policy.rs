//! A profile's network policy, decided by host name and port before any address is looked at:
//! [`PolicyKind`] (`none`, `allowlist`, `open`), [`HostPattern`] (`host`, `*.suffix`, each with
//! an optional `:port` or `:*`) and [`EgressPolicy`], which holds both.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::decision::DenyReason;
use crate::error::EgressError;
use crate::host::{split_host_port, Host, PortRule};

/// Which destinations a sandbox may reach, before address rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Nothing: every request is refused.
    None,
    /// Only hosts an allowlist entry matches.
    #[default]
    Allowlist,
    /// Any public host.
    Open,
}

/// A profile's policy: its kind and, for `allowlist`, the patterns it allows. Whatever the
/// policy says, loopback, private, link-local, metadata and this host's addresses stay refused
/// unless an operator exception names them (see [`crate::AddressGuard`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EgressPolicy {
    pub kind: PolicyKind,
    /// Used by `allowlist` only.
    #[serde(default)]
    pub allow: Vec<HostPattern>,
}

impl EgressPolicy {
    /// A policy that refuses everything.
    pub fn none() -> Self {
        EgressPolicy {
            kind: PolicyKind::None,
            allow: Vec::new(),
        }
    }

    /// A policy that allows any public host.
    pub fn open() -> Self {
        EgressPolicy {
            kind: PolicyKind::Open,
            allow: Vec::new(),
        }
    }

    /// An allowlist of the given patterns.
    pub fn allowlist(allow: Vec<HostPattern>) -> Self {
        EgressPolicy {
            kind: PolicyKind::Allowlist,
            allow,
        }
    }

    /// Decides by name and port alone whether `host:port` may be reached.
    pub fn check(&self, host: &Host, port: u16) -> Result<(), DenyReason> {
        match self.kind {
            PolicyKind::None => Err(DenyReason::PolicyNone),
            PolicyKind::Open => Ok(()),
            PolicyKind::Allowlist if self.allow.iter().any(|p| p.matches(host, port)) => Ok(()),
            PolicyKind::Allowlist => Err(DenyReason::NotAllowlisted),
        }
    }
}

/// One allowlist entry: `host`, `*.suffix`, an IPv4 address or a bracketed IPv6 address, each
/// optionally followed by `:port` or `:*`. No port means 80 and 443. Matching is by name,
/// case-insensitive, a trailing dot ignored. `*.example.com` matches every name under
/// `example.com` at any depth, but not `example.com` itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPattern {
    host: HostMatch,
    ports: PortRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostMatch {
    Exact(Host),
    /// The suffix without its `*.`, lower case.
    Subdomains(String),
}

impl HostPattern {
    /// Parses a pattern; the error says why it is invalid.
    pub fn parse(text: &str) -> Result<HostPattern, EgressError> {
        let invalid = |why: String| EgressError::InvalidHostPattern {
            pattern: text.to_owned(),
            why,
        };
        if text.chars().any(char::is_whitespace) {
            return Err(invalid("a pattern cannot contain whitespace".into()));
        }
        if text.contains("://") {
            return Err(invalid(
                "a pattern is a host, not a URL (drop the scheme)".into(),
            ));
        }
        let (host_text, port_text) = split_host_port(text).map_err(invalid)?;
        let ports = match port_text {
            None => PortRule::Web,
            Some(port) => PortRule::parse(port).map_err(invalid)?,
        };
        let host = if host_text == "*" {
            return Err(invalid(
                "a bare `*` matches every host; use the `open` policy instead".into(),
            ));
        } else if host_text.matches('*').count() > 1 {
            return Err(invalid(
                "`*` is only allowed as a whole leading label (`*.example.com`)".into(),
            ));
        } else if let Some(suffix) = host_text.strip_prefix("*.") {
            match Host::parse(suffix).map_err(invalid)? {
                Host::Name(name) => HostMatch::Subdomains(name),
                Host::Ip(_) => {
                    return Err(invalid("`*.` applies to host names, not addresses".into()))
                }
            }
        } else if host_text.contains('*') {
            return Err(invalid(
                "`*` is only allowed as a whole leading label (`*.example.com`)".into(),
            ));
        } else {
            HostMatch::Exact(Host::parse(host_text).map_err(invalid)?)
        };
        Ok(HostPattern { host, ports })
    }

    /// Whether the pattern matches `host:port`.
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        self.ports.admits(port) && self.matches_host(host)
    }

    /// Whether the pattern matches `host`, whatever the port.
    pub fn matches_host(&self, host: &Host) -> bool {
        match (&self.host, host) {
            (HostMatch::Exact(exact), host) => exact == host,
            (HostMatch::Subdomains(suffix), Host::Name(name)) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            (HostMatch::Subdomains(_), Host::Ip(_)) => false,
        }
    }

    /// The DNS name this pattern is about: the exact name, or the suffix of `*.suffix`; `None`
    /// for an address.
    pub fn dns_name(&self) -> Option<&str> {
        match &self.host {
            HostMatch::Exact(host) => host.name(),
            HostMatch::Subdomains(suffix) => Some(suffix),
        }
    }

    /// Which ports the pattern admits.
    pub fn ports(&self) -> PortRule {
        self.ports
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostMatch::Exact(host) => write!(f, "{host}")?,
            HostMatch::Subdomains(suffix) => write!(f, "*.{suffix}")?,
        }
        f.write_str(&self.ports.suffix())
    }
}

impl FromStr for HostPattern {
    type Err = EgressError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        HostPattern::parse(text)
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HostPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn pattern(text: &str) -> HostPattern {
        HostPattern::parse(text).unwrap()
    }

    fn host(text: &str) -> Host {
        Host::parse(text).unwrap()
    }

    fn why(text: &str) -> String {
        match HostPattern::parse(text) {
            Err(EgressError::InvalidHostPattern { why, .. }) => why,
            other => panic!("{text:?}: expected an invalid pattern, got {other:?}"),
        }
    }

    #[test]
    fn exact_patterns_match_by_name_case_insensitively_on_web_ports() {
        let p = pattern("Registry.NPMJS.org.");
        assert_eq!(p.to_string(), "registry.npmjs.org");
        assert!(p.matches(&host("registry.npmjs.org"), 443));
        assert!(p.matches(&host("REGISTRY.npmjs.org."), 80));
        assert!(!p.matches(&host("registry.npmjs.org"), 8080));
        assert!(!p.matches(&host("evil.registry.npmjs.org"), 443));
        assert!(!p.matches(&host("registry.npmjs.org.evil.test"), 443));
    }

    #[test]
    fn wildcard_patterns_match_subdomains_at_any_depth_but_not_the_apex() {
        let p = pattern("*.githubusercontent.com");
        assert!(p.matches(&host("raw.githubusercontent.com"), 443));
        assert!(p.matches(&host("a.b.githubusercontent.com"), 443));
        assert!(!p.matches(&host("githubusercontent.com"), 443));
        assert!(!p.matches(&host("evilgithubusercontent.com"), 443));
        assert!(!p.matches(&host("raw.githubusercontent.com.evil.test"), 443));
        assert_eq!(p.dns_name(), Some("githubusercontent.com"));
    }

    #[test]
    fn port_rules() {
        assert!(pattern("a.test:8443").matches(&host("a.test"), 8443));
        assert!(!pattern("a.test:8443").matches(&host("a.test"), 443));
        assert!(pattern("a.test:*").matches(&host("a.test"), 22));
        assert!(pattern("*.a.test:*").matches(&host("x.a.test"), 9));
        assert_eq!(pattern("*.a.test:*").to_string(), "*.a.test:*");
        assert_eq!(pattern("a.test:8443").to_string(), "a.test:8443");
    }

    #[test]
    fn address_patterns_match_the_same_address() {
        assert!(pattern("10.0.0.5:5432").matches(&host("10.0.0.5"), 5432));
        assert!(pattern("[::1]:8080").matches(&host("[::1]"), 8080));
        assert!(pattern("[::ffff:10.0.0.5]").matches(&host("10.0.0.5"), 443));
        assert!(pattern("::1").matches(&host("::1"), 443));
        assert_eq!(pattern("[::1]:8080").to_string(), "[::1]:8080");
        assert_eq!(pattern("[::1]:8080").dns_name(), None);
    }

    #[test]
    fn invalid_patterns_say_why() {
        assert_eq!(
            why("*"),
            "a bare `*` matches every host; use the `open` policy instead"
        );
        assert_eq!(
            why("*:443"),
            "a bare `*` matches every host; use the `open` policy instead"
        );
        assert_eq!(
            why("a*.test"),
            "`*` is only allowed as a whole leading label (`*.example.com`)"
        );
        assert_eq!(
            why("*.*.test"),
            "`*` is only allowed as a whole leading label (`*.example.com`)"
        );
        assert_eq!(
            why("*.10.0.0.1"),
            "`*.` applies to host names, not addresses"
        );
        assert_eq!(why("*.[::1]"), "`*.` applies to host names, not addresses");
        assert_eq!(why("a.test:0"), "port 0 is not a destination");
        assert_eq!(why("a.test:http"), "\"http\" is not a port (1-65535)");
        assert_eq!(why("a test"), "a pattern cannot contain whitespace");
        assert_eq!(why(""), "the host is empty");
        assert_eq!(
            why("https://a.test"),
            "a pattern is a host, not a URL (drop the scheme)"
        );
    }

    #[test]
    fn policy_kinds_decide() {
        let name = host("a.test");
        assert_eq!(
            EgressPolicy::none().check(&name, 443),
            Err(DenyReason::PolicyNone)
        );
        assert_eq!(EgressPolicy::open().check(&name, 443), Ok(()));
        let list = EgressPolicy::allowlist(vec![pattern("a.test")]);
        assert_eq!(list.check(&name, 443), Ok(()));
        assert_eq!(
            list.check(&host("b.test"), 443),
            Err(DenyReason::NotAllowlisted)
        );
        assert_eq!(
            EgressPolicy::allowlist(Vec::new()).check(&name, 443),
            Err(DenyReason::NotAllowlisted)
        );
    }

    #[test]
    fn policies_round_trip_through_json() {
        let json = r#"{"kind":"allowlist","allow":["*.npmjs.org","pypi.org:*","[::1]:8080"]}"#;
        let policy: EgressPolicy = serde_json::from_str(json).unwrap();
        assert_eq!(policy.kind, PolicyKind::Allowlist);
        assert_eq!(serde_json::to_string(&policy).unwrap(), json);
        assert_eq!(
            serde_json::to_string(&PolicyKind::None).unwrap(),
            "\"none\""
        );
        let bad = serde_json::from_str::<EgressPolicy>(r#"{"kind":"allowlist","allow":["*"]}"#);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("use the `open` policy"));
    }
}
