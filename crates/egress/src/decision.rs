//! Why a request is refused, and the address half of the decision: [`DenyReason`] (a closed set
//! with stable snake_case codes), [`Denial`] (what `on_denied` receives) and [`AddressGuard`],
//! which judges every resolved address against the operator's exceptions, the runtime's own
//! listeners and this host's addresses. Pure: no I/O.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::address::{classify, AddressClass};
use crate::exception::AddressException;
use crate::host::canonical_ip;

/// Why the proxy refused a request. The codes (`code()`, and the serde form) are stable: they
/// travel in `network_denied` events and in the `x-agent-runtime-egress-denied` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The policy is `none`.
    PolicyNone,
    /// The policy is `allowlist` and no entry matches the host and port.
    NotAllowlisted,
    /// A loopback address (127.0.0.0/8, ::1).
    Loopback,
    /// A private network address (RFC 1918, CGNAT, unique-local).
    Private,
    /// A link-local address (169.254.0.0/16, fe80::/10).
    LinkLocal,
    /// A cloud metadata service.
    Metadata,
    /// One of the runtime's own listening addresses. No exception opens it.
    RuntimeAddress,
    /// One of this host's interface addresses.
    HostAddress,
    /// The unspecified address (0.0.0.0, ::), which reaches this host.
    Unspecified,
    /// A multicast address.
    Multicast,
    /// A reserved, documentation, benchmarking or unallocated address.
    Reserved,
    /// The host name did not resolve (or resolved to nothing).
    ResolveFailed,
    /// The request could not be understood as a proxy request.
    BadRequest,
    /// A request for the model gateway, and this proxy has none.
    NoGateway,
}

impl DenyReason {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::PolicyNone => "policy_none",
            DenyReason::NotAllowlisted => "not_allowlisted",
            DenyReason::Loopback => "loopback",
            DenyReason::Private => "private",
            DenyReason::LinkLocal => "link_local",
            DenyReason::Metadata => "metadata",
            DenyReason::RuntimeAddress => "runtime_address",
            DenyReason::HostAddress => "host_address",
            DenyReason::Unspecified => "unspecified",
            DenyReason::Multicast => "multicast",
            DenyReason::Reserved => "reserved",
            DenyReason::ResolveFailed => "resolve_failed",
            DenyReason::BadRequest => "bad_request",
            DenyReason::NoGateway => "no_gateway",
        }
    }

    /// A few words a person reads in the refusal body.
    pub fn describe(self) -> &'static str {
        match self {
            DenyReason::PolicyNone => "the network policy is none",
            DenyReason::NotAllowlisted => "no allowlist entry matches this host and port",
            DenyReason::Loopback => "a loopback address",
            DenyReason::Private => "a private network address",
            DenyReason::LinkLocal => "a link-local address",
            DenyReason::Metadata => "a cloud metadata service",
            DenyReason::RuntimeAddress => "the agent runtime's own address",
            DenyReason::HostAddress => "an address of the runtime's host",
            DenyReason::Unspecified => "the unspecified address",
            DenyReason::Multicast => "a multicast address",
            DenyReason::Reserved => "a reserved or non-routable address",
            DenyReason::ResolveFailed => "the host name did not resolve",
            DenyReason::BadRequest => "not a valid proxy request",
            DenyReason::NoGateway => "no model gateway is configured",
        }
    }

    /// The HTTP status the proxy answers with.
    pub fn status(self) -> u16 {
        match self {
            DenyReason::BadRequest => 400,
            DenyReason::NoGateway => 404,
            DenyReason::ResolveFailed => 502,
            _ => 403,
        }
    }

    fn from_class(class: AddressClass) -> Option<DenyReason> {
        match class {
            AddressClass::Public => None,
            AddressClass::Loopback => Some(DenyReason::Loopback),
            AddressClass::Private => Some(DenyReason::Private),
            AddressClass::LinkLocal => Some(DenyReason::LinkLocal),
            AddressClass::Metadata => Some(DenyReason::Metadata),
            AddressClass::Unspecified => Some(DenyReason::Unspecified),
            AddressClass::Multicast => Some(DenyReason::Multicast),
            AddressClass::Reserved => Some(DenyReason::Reserved),
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One refused request, as `on_denied` receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The host as the client named it (normalised when it parsed); empty when unknown.
    pub host: String,
    /// The port the client asked for; 0 when unknown.
    pub port: u16,
    pub reason: DenyReason,
    /// The resolved address that was refused, for address reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
}

/// The address half of every decision: which resolved addresses may be connected to.
///
/// Checked in this order for each address: one of the runtime's own listeners is refused
/// (`runtime_address`, no exception opens it); an operator exception that covers the address
/// and port allows it; anything not public is refused by its class; one of this host's
/// interface addresses is refused (`host_address`); the rest is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressGuard {
    /// Operator exceptions.
    pub exceptions: Vec<AddressException>,
    /// The runtime's own listening sockets. A listener on 0.0.0.0 or :: is reachable on every
    /// loopback and host address, so its port is refused on all of them.
    pub runtime_listeners: Vec<SocketAddr>,
    /// This host's interface addresses (see [`crate::local_interface_addresses`]).
    pub host_addresses: Vec<IpAddr>,
}

impl AddressGuard {
    /// Judges one address.
    pub fn check(&self, ip: IpAddr, port: u16) -> Result<(), DenyReason> {
        let ip = canonical_ip(ip);
        if self.is_runtime_listener(ip, port) {
            return Err(DenyReason::RuntimeAddress);
        }
        if self.exceptions.iter().any(|e| e.covers(ip, port)) {
            return Ok(());
        }
        if let Some(reason) = DenyReason::from_class(classify(ip).class) {
            return Err(reason);
        }
        if self.is_host_address(ip) {
            return Err(DenyReason::HostAddress);
        }
        Ok(())
    }

    /// Judges every address a name resolved to: one refused address refuses them all, so a
    /// name cannot mix a public address with a private one. Returns the first refusal.
    pub fn check_all(&self, ips: &[IpAddr], port: u16) -> Result<(), (DenyReason, IpAddr)> {
        for &ip in ips {
            self.check(ip, port).map_err(|reason| (reason, ip))?;
        }
        Ok(())
    }

    fn is_host_address(&self, ip: IpAddr) -> bool {
        self.host_addresses
            .iter()
            .any(|&own| canonical_ip(own) == ip)
    }

    fn is_runtime_listener(&self, ip: IpAddr, port: u16) -> bool {
        self.runtime_listeners.iter().any(|listener| {
            let own = canonical_ip(listener.ip());
            listener.port() == port
                && (own == ip
                    || (own.is_unspecified()
                        && (ip.is_loopback() || ip.is_unspecified() || self.is_host_address(ip))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn guard(exceptions: &[&str]) -> AddressGuard {
        AddressGuard {
            exceptions: exceptions
                .iter()
                .map(|e| AddressException::parse(e).unwrap())
                .collect(),
            runtime_listeners: Vec::new(),
            host_addresses: Vec::new(),
        }
    }

    #[test]
    fn non_public_addresses_are_refused_by_class() {
        let g = guard(&[]);
        assert_eq!(g.check(ip("1.1.1.1"), 443), Ok(()));
        assert_eq!(g.check(ip("127.0.0.1"), 4567), Err(DenyReason::Loopback));
        assert_eq!(
            g.check(ip("::ffff:127.0.0.1"), 4567),
            Err(DenyReason::Loopback)
        );
        assert_eq!(g.check(ip("10.0.0.1"), 443), Err(DenyReason::Private));
        assert_eq!(
            g.check(ip("169.254.169.254"), 80),
            Err(DenyReason::Metadata)
        );
        assert_eq!(g.check(ip("fe80::1"), 443), Err(DenyReason::LinkLocal));
        assert_eq!(g.check(ip("0.0.0.0"), 80), Err(DenyReason::Unspecified));
        assert_eq!(g.check(ip("224.0.0.1"), 80), Err(DenyReason::Multicast));
        assert_eq!(g.check(ip("192.0.2.1"), 80), Err(DenyReason::Reserved));
    }

    #[test]
    fn exceptions_open_exactly_what_they_name() {
        let g = guard(&["127.0.0.1:4567", "169.254.169.254:80"]);
        assert_eq!(g.check(ip("127.0.0.1"), 4567), Ok(()));
        assert_eq!(g.check(ip("::ffff:127.0.0.1"), 4567), Ok(()));
        assert_eq!(g.check(ip("127.0.0.1"), 4568), Err(DenyReason::Loopback));
        assert_eq!(g.check(ip("169.254.169.254"), 80), Ok(()));
    }

    #[test]
    fn runtime_listeners_are_refused_even_when_an_exception_covers_them() {
        let mut g = guard(&["127.0.0.0/8:*", "0.0.0.0/0:*"]);
        g.runtime_listeners = vec!["127.0.0.1:8080".parse().unwrap()];
        assert_eq!(
            g.check(ip("127.0.0.1"), 8080),
            Err(DenyReason::RuntimeAddress)
        );
        assert_eq!(g.check(ip("127.0.0.1"), 8081), Ok(()));

        // A wildcard listener is reachable on loopback and on every host address.
        g.runtime_listeners = vec!["0.0.0.0:9000".parse().unwrap()];
        g.host_addresses = vec![ip("203.0.113.7")];
        assert_eq!(
            g.check(ip("127.0.0.5"), 9000),
            Err(DenyReason::RuntimeAddress)
        );
        assert_eq!(g.check(ip("::1"), 9000), Err(DenyReason::RuntimeAddress));
        assert_eq!(
            g.check(ip("0.0.0.0"), 9000),
            Err(DenyReason::RuntimeAddress)
        );
        assert_eq!(
            g.check(ip("203.0.113.7"), 9000),
            Err(DenyReason::RuntimeAddress)
        );
        assert_eq!(g.check(ip("8.8.8.8"), 9000), Ok(()));
    }

    #[test]
    fn host_addresses_are_refused_unless_excepted() {
        let mut g = guard(&[]);
        g.host_addresses = vec![ip("8.8.4.4"), ip("2606:4700::1")];
        assert_eq!(g.check(ip("8.8.4.4"), 443), Err(DenyReason::HostAddress));
        assert_eq!(
            g.check(ip("::ffff:8.8.4.4"), 443),
            Err(DenyReason::HostAddress)
        );
        assert_eq!(
            g.check(ip("2606:4700::1"), 443),
            Err(DenyReason::HostAddress)
        );
        assert_eq!(g.check(ip("8.8.8.8"), 443), Ok(()));
        g.exceptions = vec![AddressException::parse("8.8.4.4:443").unwrap()];
        assert_eq!(g.check(ip("8.8.4.4"), 443), Ok(()));
    }

    #[test]
    fn one_refused_address_refuses_the_name() {
        let g = guard(&[]);
        assert_eq!(
            g.check_all(&[ip("1.1.1.1"), ip("10.0.0.9")], 443),
            Err((DenyReason::Private, ip("10.0.0.9")))
        );
        assert_eq!(g.check_all(&[ip("1.1.1.1"), ip("1.0.0.1")], 443), Ok(()));
    }

    #[test]
    fn reasons_have_stable_codes() {
        let all = [
            DenyReason::PolicyNone,
            DenyReason::NotAllowlisted,
            DenyReason::Loopback,
            DenyReason::Private,
            DenyReason::LinkLocal,
            DenyReason::Metadata,
            DenyReason::RuntimeAddress,
            DenyReason::HostAddress,
            DenyReason::Unspecified,
            DenyReason::Multicast,
            DenyReason::Reserved,
            DenyReason::ResolveFailed,
            DenyReason::BadRequest,
            DenyReason::NoGateway,
        ];
        for reason in all {
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{}\"", reason.code())
            );
        }
        let denial = Denial {
            host: "metadata.google.internal".into(),
            port: 80,
            reason: DenyReason::Metadata,
            address: Some(ip("169.254.169.254")),
        };
        assert_eq!(
            serde_json::to_value(&denial).unwrap(),
            serde_json::json!({"host": "metadata.google.internal", "port": 80, "reason": "metadata", "address": "169.254.169.254"})
        );
    }
}
