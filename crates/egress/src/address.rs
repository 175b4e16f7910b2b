//! What kind of destination an IP address is: [`classify`] says whether an address is public or
//! loopback, private, link-local, a cloud metadata service, unspecified, multicast or reserved,
//! and names the range and why. IPv6 addresses that carry an IPv4 address (mapped, compatible,
//! NAT64, 6to4) are judged by the IPv4 address they carry. [`Cidr`] is the network type shared
//! with operator exceptions.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of destination an address is. Everything but `Public` is refused unless an operator
/// exception names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// A globally routable unicast address.
    Public,
    /// This host's loopback (127.0.0.0/8, ::1).
    Loopback,
    /// A private network (RFC 1918, CGNAT, IPv6 unique-local, ...).
    Private,
    /// Link-local (169.254.0.0/16, fe80::/10).
    LinkLocal,
    /// A cloud provider's instance metadata or platform service.
    Metadata,
    /// The unspecified address (0.0.0.0, ::), which reaches this host.
    Unspecified,
    /// Multicast.
    Multicast,
    /// Reserved, documentation, benchmarking or not allocated: never a real destination.
    Reserved,
}

/// The verdict of [`classify`]: the class, the range that decided it and why it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// The class of the address.
    pub class: AddressClass,
    /// The range that decided it, as CIDR text (for an embedded IPv4, the IPv4 range).
    pub range: &'static str,
    /// What the range is, in a few words.
    pub why: &'static str,
    /// For an IPv6 address that embeds an IPv4 one: how it embeds it and the IPv4 address.
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

/// How an IPv6 address carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`, the IPv4 address itself on a dual-stack socket.
    Mapped,
    /// `::a.b.c.d`, deprecated (RFC 4291).
    Compatible,
    /// `64:ff9b::a.b.c.d`, translated by a NAT64 gateway (RFC 6052).
    Nat64,
    /// `2002:aabb:ccdd::/48`, tunnelled by 6to4 (RFC 3056).
    SixToFour,
}

/// An IP network: an address and a prefix length, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, `v6` or `v6/n`; a bare address is a single host. The error
    /// says why.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{addr_text:?} is not an IP address"))?;
        let max = max_prefix(addr);
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && p.chars().all(|c| c.is_ascii_digit()) => n,
                _ => return Err(format!("{p:?} is not a prefix length (0-{max})")),
            },
        };
        let cidr = Cidr { addr, prefix };
        if cidr.network() != addr {
            return Err(format!(
                "{addr}/{prefix} has host bits set; the network is {}/{prefix}",
                cidr.network()
            ));
        }
        Ok(cidr)
    }

    /// Whether `ip` lies in this network. An IPv4 network never contains an IPv6 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }

    /// Whether this network is a single address.
    pub fn is_single(&self) -> bool {
        self.prefix == max_prefix(self.addr)
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(ip) => {
                let mask = mask(32, self.prefix) as u32;
                IpAddr::V4(Ipv4Addr::from(u32::from(ip) & mask))
            }
            IpAddr::V6(ip) => IpAddr::V6(Ipv6Addr::from(u128::from(ip) & mask(128, self.prefix))),
        }
    }

    pub(crate) fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// A mask of `prefix` leading ones in a `bits`-wide integer.
fn mask(bits: u32, prefix: u8) -> u128 {
    let prefix = u32::from(prefix);
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - prefix)) >> (128 - bits)
    }
}

fn prefix_eq(a: u128, b: u128, bits: u32, prefix: u8) -> bool {
    let m = mask(bits, prefix);
    a & m == b & m
}

/// One row of a classification table.
struct Range<T> {
    net: T,
    prefix: u8,
    class: AddressClass,
    range: &'static str,
    why: &'static str,
}

const fn v4(
    net: [u8; 4],
    prefix: u8,
    class: AddressClass,
    range: &'static str,
    why: &'static str,
) -> Range<u32> {
    Range {
        net: u32::from_be_bytes(net),
        prefix,
        class,
        range,
        why,
    }
}

const fn v6(
    net: u128,
    prefix: u8,
    class: AddressClass,
    range: &'static str,
    why: &'static str,
) -> Range<u128> {
    Range {
        net,
        prefix,
        class,
        range,
        why,
    }
}

use AddressClass::*;

/// IPv4 ranges, most specific first: the first row that contains an address decides.
const V4_RANGES: &[Range<u32>] = &[
    v4([169, 254, 169, 254], 32, Metadata, "169.254.169.254/32", "the instance metadata service of AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle and others (serves cloud credentials)"),
    v4([169, 254, 170, 2], 32, Metadata, "169.254.170.2/32", "the AWS ECS task metadata and credentials endpoint"),
    v4([100, 100, 100, 200], 32, Metadata, "100.100.100.200/32", "the Alibaba Cloud instance metadata service"),
    v4([168, 63, 129, 16], 32, Metadata, "168.63.129.16/32", "the Azure WireServer platform endpoint"),
    v4([0, 0, 0, 0], 32, Unspecified, "0.0.0.0/32", "the unspecified address; connecting to it reaches this host"),
    v4([0, 0, 0, 0], 8, Reserved, "0.0.0.0/8", "\"this network\" (RFC 791), not a destination"),
    v4([127, 0, 0, 0], 8, Loopback, "127.0.0.0/8", "loopback: this host"),
    v4([10, 0, 0, 0], 8, Private, "10.0.0.0/8", "a private network (RFC 1918)"),
    v4([172, 16, 0, 0], 12, Private, "172.16.0.0/12", "a private network (RFC 1918)"),
    v4([192, 168, 0, 0], 16, Private, "192.168.0.0/16", "a private network (RFC 1918)"),
    v4([100, 64, 0, 0], 10, Private, "100.64.0.0/10", "carrier-grade NAT shared space (RFC 6598)"),
    v4([169, 254, 0, 0], 16, LinkLocal, "169.254.0.0/16", "link-local (RFC 3927)"),
    v4([192, 0, 0, 0], 24, Reserved, "192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    v4([192, 0, 2, 0], 24, Reserved, "192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
    v4([198, 51, 100, 0], 24, Reserved, "198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
    v4([203, 0, 113, 0], 24, Reserved, "203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
    v4([198, 18, 0, 0], 15, Reserved, "198.18.0.0/15", "benchmarking (RFC 2544), also used for fake-IP DNS by some proxies"),
    v4([192, 88, 99, 0], 24, Reserved, "192.88.99.0/24", "the deprecated 6to4 relay anycast (RFC 7526)"),
    v4([224, 0, 0, 0], 4, Multicast, "224.0.0.0/4", "multicast"),
    v4([255, 255, 255, 255], 32, Reserved, "255.255.255.255/32", "limited broadcast"),
    v4([240, 0, 0, 0], 4, Reserved, "240.0.0.0/4", "reserved for future use (RFC 1112)"),
];

/// IPv6 ranges, most specific first. The embedded-IPv4 forms are handled before this table.
const V6_RANGES: &[Range<u128>] = &[
    v6(
        0,
        128,
        Unspecified,
        "::/128",
        "the unspecified address; connecting to it reaches this host",
    ),
    v6(1, 128, Loopback, "::1/128", "loopback: this host"),
    v6(
        0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
        128,
        Metadata,
        "fd00:ec2::254/128",
        "the AWS instance metadata service over IPv6 (serves cloud credentials)",
    ),
    v6(
        0x0064_ff9b_0001 << 80,
        48,
        Private,
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    v6(
        0x2001_0000 << 96,
        32,
        Reserved,
        "2001::/32",
        "Teredo tunnelling, whose IPv4 address is obscured (RFC 4380)",
    ),
    v6(
        0x2001_0db8 << 96,
        32,
        Reserved,
        "2001:db8::/32",
        "documentation (RFC 3849)",
    ),
    v6(
        0x2001_0002 << 96,
        48,
        Reserved,
        "2001:2::/48",
        "benchmarking (RFC 5180)",
    ),
    v6(
        0x2001 << 112,
        23,
        Reserved,
        "2001::/23",
        "IETF protocol assignments (RFC 2928)",
    ),
    v6(
        0x3fff << 112,
        20,
        Reserved,
        "3fff::/20",
        "documentation (RFC 9637)",
    ),
    v6(
        0x0100 << 112,
        64,
        Reserved,
        "100::/64",
        "discard-only (RFC 6666)",
    ),
    v6(
        0x5f00 << 112,
        16,
        Reserved,
        "5f00::/16",
        "SRv6 segment identifiers (RFC 9602)",
    ),
    v6(
        0xfc00 << 112,
        7,
        Private,
        "fc00::/7",
        "a unique-local private network (RFC 4193)",
    ),
    v6(
        0xfe80 << 112,
        10,
        LinkLocal,
        "fe80::/10",
        "link-local (RFC 4291)",
    ),
    v6(
        0xfec0 << 112,
        10,
        Private,
        "fec0::/10",
        "deprecated site-local (RFC 3879)",
    ),
    v6(0xff00 << 112, 8, Multicast, "ff00::/8", "multicast"),
    v6(0x2000 << 112, 3, Public, "2000::/3", "global unicast"),
    v6(
        0,
        0,
        Reserved,
        "::/0",
        "outside global unicast (2000::/3): not allocated",
    ),
];

/// Says what kind of destination `ip` is, which range decided it and why.
pub fn classify(ip: IpAddr) -> Classification {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Classification {
    let bits = u32::from(ip);
    for row in V4_RANGES {
        if prefix_eq(row.net.into(), bits.into(), 32, row.prefix) {
            return Classification {
                class: row.class,
                range: row.range,
                why: row.why,
                embedded: None,
            };
        }
    }
    Classification {
        class: Public,
        range: "0.0.0.0/0",
        why: "public IPv4",
        embedded: None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Classification {
    let bits = u128::from(ip);
    if let Some((how, v4)) = embedded_ipv4(ip) {
        let mut verdict = classify_v4(v4);
        // A deprecated compatible address is never routed as the IPv4 one: refuse it unless
        // what it embeds is already refused for a more telling reason.
        if how == Embedding::Compatible && verdict.class == Public {
            verdict = Classification {
                class: Reserved,
                range: "::/96",
                why: "a deprecated IPv4-compatible address (RFC 4291)",
                embedded: None,
            };
        }
        verdict.embedded = Some((how, v4));
        return verdict;
    }
    for row in V6_RANGES {
        if prefix_eq(row.net, bits, 128, row.prefix) {
            return Classification {
                class: row.class,
                range: row.range,
                why: row.why,
                embedded: None,
            };
        }
    }
    // Unreachable: the last row, ::/0, contains everything.
    Classification {
        class: Reserved,
        range: "::/0",
        why: "not allocated",
        embedded: None,
    }
}

/// The IPv4 address an IPv6 address carries, and how, if it carries one.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some((Embedding::Mapped, v4));
    }
    // ::/96 except :: and ::1, which are the IPv6 unspecified and loopback addresses.
    if bits >> 32 == 0 && bits > 1 {
        return Some((Embedding::Compatible, low));
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some((Embedding::Nat64, low));
    }
    if bits >> 112 == 0x2002 {
        return Some((Embedding::SixToFour, Ipv4Addr::from((bits >> 80) as u32)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn class(text: &str) -> AddressClass {
        classify(text.parse().unwrap()).class
    }

    #[test]
    fn ipv4_ranges_are_classified() {
        let cases = [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("100.128.0.1", Public),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("168.63.129.16", Metadata),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Reserved),
            ("240.0.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("198.51.100.1", Reserved),
            ("203.0.113.1", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("198.20.0.1", Public),
            ("192.0.0.8", Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn ipv6_ranges_are_classified() {
        let cases = [
            ("2606:4700:4700::1111", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fd00:ec2::254", Metadata),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("3fff::1", Reserved),
            ("2001::1", Reserved),
            ("2001:1ff::1", Reserved),
            ("2001:200::1", Public),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Private),
            ("4000::1", Reserved),
            ("::2:0:0:1", Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn metadata_says_which_service_and_why() {
        let verdict = classify("169.254.169.254".parse().unwrap());
        assert_eq!(verdict.range, "169.254.169.254/32");
        assert!(verdict.why.contains("metadata") && verdict.why.contains("credentials"));
        let azure = classify("168.63.129.16".parse().unwrap());
        assert!(azure.why.contains("Azure"), "{}", azure.why);
    }

    #[test]
    fn embedded_ipv4_is_judged_by_the_ipv4_address() {
        let cases = [
            ("::ffff:127.0.0.1", Loopback, Embedding::Mapped),
            ("::ffff:169.254.169.254", Metadata, Embedding::Mapped),
            ("::ffff:8.8.8.8", Public, Embedding::Mapped),
            ("::127.0.0.1", Loopback, Embedding::Compatible),
            ("::8.8.8.8", Reserved, Embedding::Compatible),
            ("64:ff9b::10.0.0.1", Private, Embedding::Nat64),
            ("64:ff9b::a9fe:a9fe", Metadata, Embedding::Nat64),
            ("64:ff9b::8.8.8.8", Public, Embedding::Nat64),
            ("2002:7f00:0001::1", Loopback, Embedding::SixToFour),
            ("2002:c0a8:0101::", Private, Embedding::SixToFour),
            ("2002:0808:0808::1", Public, Embedding::SixToFour),
        ];
        for (ip, expected, how) in cases {
            let verdict = classify(ip.parse().unwrap());
            assert_eq!(verdict.class, expected, "{ip}");
            assert_eq!(verdict.embedded.map(|(h, _)| h), Some(how), "{ip}");
        }
        let nat64 = classify("64:ff9b::a9fe:a9fe".parse().unwrap());
        assert_eq!(
            nat64.embedded,
            Some((Embedding::Nat64, Ipv4Addr::new(169, 254, 169, 254)))
        );
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(net.to_string(), "10.0.0.0/8");
        let host = Cidr::parse("127.0.0.1").unwrap();
        assert!(host.is_single() && host.contains("127.0.0.1".parse().unwrap()));
        assert_eq!(host.to_string(), "127.0.0.1");
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fdff::1".parse().unwrap()));
        assert!(!v6.contains("fe00::1".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn invalid_cidrs_say_why() {
        assert_eq!(
            Cidr::parse("10.0.0.1/8"),
            Err("10.0.0.1/8 has host bits set; the network is 10.0.0.0/8".to_string())
        );
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err("\"33\" is not a prefix length (0-32)".to_string())
        );
        assert_eq!(
            Cidr::parse("nope/8"),
            Err("\"nope\" is not an IP address".to_string())
        );
    }
}
