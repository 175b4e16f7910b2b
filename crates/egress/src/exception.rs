//! Operator address exceptions: the only way a loopback, private, link-local, metadata or
//! this-host destination is ever reached. Written `address[/prefix][:port|:*]`, IPv6 in
//! brackets when a port follows (`127.0.0.1:4567`, `10.0.0.0/8:443`, `[fd00::/8]:*`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::address::Cidr;
use crate::error::EgressError;
use crate::host::{canonical_ip, split_host_port, PortRule};

/// One operator exception: a network and the ports it opens. No port means 80 and 443, as in
/// a host pattern; `:*` opens every port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressException {
    net: Cidr,
    ports: PortRule,
}

impl AddressException {
    /// Parses an exception; the error says why it is invalid.
    pub fn parse(text: &str) -> Result<AddressException, EgressError> {
        let invalid = |why: String| EgressError::InvalidAddressException {
            text: text.to_owned(),
            why,
        };
        if text.chars().any(char::is_whitespace) {
            return Err(invalid("an exception cannot contain whitespace".into()));
        }
        let (net_text, port_text) = split_host_port(text).map_err(invalid)?;
        let bracketed = net_text.starts_with('[');
        let net_text = match net_text.strip_prefix('[') {
            Some(inner) => inner.strip_suffix(']').unwrap_or(inner),
            None => net_text,
        };
        let addr_text = net_text.split('/').next().unwrap_or(net_text);
        if addr_text.parse::<IpAddr>().is_err() {
            return Err(invalid(format!(
                "{addr_text:?} is not an IP address; exceptions name addresses or networks \
                 (`10.0.0.0/8`), never host names"
            )));
        }
        let net = Cidr::parse(net_text).map_err(invalid)?;
        if bracketed && !net.is_v6() {
            return Err(invalid(
                "only IPv6 addresses are written in brackets".into(),
            ));
        }
        let ports = match port_text {
            None => PortRule::Web,
            Some(port) => PortRule::parse(port).map_err(invalid)?,
        };
        Ok(AddressException { net, ports })
    }

    /// Whether this exception opens `ip:port`. An IPv4-mapped IPv6 address is the IPv4 address.
    pub fn covers(&self, ip: IpAddr, port: u16) -> bool {
        self.ports.admits(port) && self.net.contains(canonical_ip(ip))
    }
}

impl fmt::Display for AddressException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = self.ports.suffix();
        if self.net.is_v6() && !suffix.is_empty() {
            write!(f, "[{}]{suffix}", self.net)
        } else {
            write!(f, "{}{suffix}", self.net)
        }
    }
}

impl FromStr for AddressException {
    type Err = EgressError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AddressException::parse(text)
    }
}

impl Serialize for AddressException {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AddressException {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AddressException::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn exception(text: &str) -> AddressException {
        AddressException::parse(text).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn exceptions_parse_and_cover() {
        let model = exception("127.0.0.1:4567");
        assert!(model.covers(ip("127.0.0.1"), 4567));
        assert!(model.covers(ip("::ffff:127.0.0.1"), 4567));
        assert!(!model.covers(ip("127.0.0.1"), 4568));
        assert!(!model.covers(ip("127.0.0.2"), 4567));

        let net = exception("10.0.0.0/8");
        assert!(net.covers(ip("10.9.9.9"), 443) && net.covers(ip("10.9.9.9"), 80));
        assert!(!net.covers(ip("10.9.9.9"), 22));

        assert!(exception("10.0.0.0/8:443").covers(ip("10.1.1.1"), 443));
        assert!(exception("[::1]:8080").covers(ip("::1"), 8080));
        let ula = exception("[fd00::/8]:*");
        assert!(ula.covers(ip("fd12::1"), 1) && !ula.covers(ip("fc00::1"), 1));
        assert!(exception("::1").covers(ip("::1"), 443));
    }

    #[test]
    fn exceptions_display_as_written() {
        for text in [
            "127.0.0.1:4567",
            "10.0.0.0/8",
            "10.0.0.0/8:443",
            "[::1]:8080",
            "[fd00::/8]:*",
            "::1",
        ] {
            assert_eq!(exception(text).to_string(), text);
        }
        assert_eq!(
            serde_json::to_string(&exception("[fd00::/8]:*")).unwrap(),
            "\"[fd00::/8]:*\""
        );
    }

    #[test]
    fn invalid_exceptions_say_why() {
        let why = |text: &str| match AddressException::parse(text) {
            Err(EgressError::InvalidAddressException { why, .. }) => why,
            other => panic!("{text:?}: expected an invalid exception, got {other:?}"),
        };
        assert_eq!(
            why("localhost:4567"),
            "\"localhost\" is not an IP address; exceptions name addresses or networks (`10.0.0.0/8`), never host names"
        );
        assert_eq!(
            why("10.0.0.1/8"),
            "10.0.0.1/8 has host bits set; the network is 10.0.0.0/8"
        );
        assert_eq!(
            why("[127.0.0.1]:80"),
            "only IPv6 addresses are written in brackets"
        );
        assert_eq!(why("127.0.0.1:0"), "port 0 is not a destination");
        assert_eq!(why("127.0.0.1:x"), "\"x\" is not a port (1-65535)");
    }
}
