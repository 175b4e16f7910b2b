//! This host's own interface addresses, read from `/proc/net` (the network namespace of the
//! calling process): IPv4 from the kernel's local routing table (`fib_trie`), IPv6 from
//! `if_inet6`. The runtime passes them to [`crate::AddressGuard::host_addresses`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::EgressError;

const FIB_TRIE: &str = "/proc/net/fib_trie";
const IF_INET6: &str = "/proc/net/if_inet6";

/// Every address assigned to an interface of this host, IPv4 then IPv6, without duplicates.
/// A host without IPv6 (no `if_inet6`) simply has no IPv6 addresses.
pub fn local_interface_addresses() -> Result<Vec<IpAddr>, EgressError> {
    let fib = std::fs::read_to_string(FIB_TRIE).map_err(|source| EgressError::Interfaces {
        path: FIB_TRIE,
        source,
    })?;
    let inet6 = match std::fs::read_to_string(IF_INET6) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(EgressError::Interfaces {
                path: IF_INET6,
                source,
            })
        }
    };
    let mut ips: Vec<IpAddr> = parse_fib_trie(&fib).into_iter().map(IpAddr::V4).collect();
    ips.extend(parse_if_inet6(&inet6).into_iter().map(IpAddr::V6));
    Ok(ips)
}

/// The local IPv4 addresses in `/proc/net/fib_trie`: each `|-- a.b.c.d` leaf followed by a
/// `/32 host LOCAL` route. The file lists the trie of every table; duplicates are dropped.
pub fn parse_fib_trie(text: &str) -> Vec<Ipv4Addr> {
    let mut ips = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            leaf = addr.parse().ok();
        } else if line.starts_with('/') {
            let mut words = line.split_whitespace();
            let is_local_host = words.next() == Some("/32")
                && words.next() == Some("host")
                && words.next() == Some("LOCAL");
            if let (true, Some(ip)) = (is_local_host, leaf) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        } else {
            leaf = None;
        }
    }
    ips
}

/// The IPv6 addresses in `/proc/net/if_inet6`, whose first field is the address as 32 hex
/// digits.
pub fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    let mut ips = Vec::new();
    for line in text.lines() {
        let Some(hex) = line.split_whitespace().next() else {
            continue;
        };
        if hex.len() != 32 {
            continue;
        }
        if let Ok(bits) = u128::from_str_radix(hex, 16) {
            let ip = Ipv6Addr::from(bits);
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    ips
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// Captured from a host with `lo` and one `eth0` address.
    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
           |-- 192.0.2.2
              /32 host LOCAL
";

    const INET6: &str = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0
fd000000000000000000000000000002 04 40 00 82     eth0
00000000000000000000000000000001 01 80 10 80       lo
";

    #[test]
    fn fib_trie_yields_the_local_host_routes() {
        assert_eq!(
            parse_fib_trie(FIB),
            vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 2)]
        );
    }

    #[test]
    fn if_inet6_yields_every_address() {
        assert_eq!(
            parse_if_inet6(INET6),
            vec![
                "fe80::fc:ff:fe00:1".parse::<Ipv6Addr>().unwrap(),
                "fd00::2".parse().unwrap(),
                Ipv6Addr::LOCALHOST,
            ]
        );
    }

    #[test]
    fn this_hosts_addresses_are_local() {
        let ips = local_interface_addresses().unwrap();
        assert!(ips.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{ips:?}");
        // Binding succeeds only on an address this host owns, so every address listed is
        // really local. Link-local IPv6 needs a scope id to bind, so it is skipped.
        for ip in &ips {
            if let IpAddr::V6(v6) = ip {
                if v6.segments()[0] & 0xffc0 == 0xfe80 {
                    continue;
                }
            }
            std::net::UdpSocket::bind((*ip, 0))
                .unwrap_or_else(|err| panic!("{ip} is listed but cannot be bound: {err}"));
        }
    }
}
