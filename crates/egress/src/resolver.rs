//! How the proxy turns a host name into addresses. It resolves names itself, checks every
//! address, and connects only to an address it checked, so a name cannot be re-resolved to
//! something else between the check and the connect (DNS rebinding).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use async_trait::async_trait;

/// Resolves a host name to its addresses. Held as `Arc<dyn Resolver>`.
#[async_trait]
pub trait Resolver: Send + Sync + 'static {
    /// All addresses of `name` (lower case, no trailing dot). An empty list is a failure too.
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>>;
}

/// The host's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((name, 0)).await?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok(ips)
    }
}

/// A fixed map from names to addresses. A name it does not know fails to resolve: it never
/// falls back to DNS, so tests that use it send no query anywhere.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty map: every name fails to resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name` (case-insensitive, trailing dot ignored) resolving to `addrs`.
    pub fn with(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.names.insert(name, addrs.into_iter().collect());
        self
    }
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        self.names.get(name).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name} is not in the static resolver"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[tokio::test]
    async fn static_names_resolve_and_unknown_names_fail() {
        let resolver = StaticResolver::new().with("Model.Test.", ["127.0.0.1".parse().unwrap()]);
        assert_eq!(
            resolver.resolve("model.test").await.unwrap(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        let err = resolver.resolve("other.test").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn the_system_resolver_resolves_localhost() {
        // `localhost` comes from /etc/hosts: no packet leaves the machine.
        let ips = SystemResolver.resolve("localhost").await.unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        assert!(!ips.is_empty());
    }
}
