//! The proxy's own certificate authority, generated in memory for one proxy (one sandbox) and
//! never written anywhere: it signs a leaf certificate for each host whose traffic the proxy
//! terminates to inject a secret. Its name constraints permit only the names the secret rules
//! cover, so even inside the sandbox it vouches for nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use time::OffsetDateTime;

use crate::error::EgressError;

/// Leaf configurations kept per proxy. A wildcard rule could otherwise make the agent fill
/// memory with one certificate per invented subdomain; past this the cache starts over.
const MAX_CACHED_LEAVES: usize = 256;
/// Certificates are valid from a day ago (clock skew inside the sandbox) ...
const VALID_BEFORE_NOW: time::Duration = time::Duration::days(1);
/// ... to a year from now, longer than any sandbox lives.
const VALID_AFTER_NOW: time::Duration = time::Duration::days(365);

pub(crate) struct CertificateAuthority {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    /// One key for every leaf: generating a key per host buys nothing here.
    leaf_key: KeyPair,
    ca_pem: String,
    provider: Arc<CryptoProvider>,
    serial: AtomicU64,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl CertificateAuthority {
    /// A new CA whose name constraints permit `names` and their subdomains.
    pub(crate) fn generate(names: &[String]) -> Result<Self, EgressError> {
        let (not_before, not_after) = validity();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "agent-runtime");
        dn.push(DnType::CommonName, "agent-runtime egress proxy CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: names.iter().cloned().map(GeneralSubtree::DnsName).collect(),
            excluded_subtrees: Vec::new(),
        });
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from(1));
        let ca_key = KeyPair::generate()?;
        let ca = params.self_signed(&ca_key)?;
        let ca_pem = ca.pem();
        Ok(CertificateAuthority {
            ca,
            ca_key,
            leaf_key: KeyPair::generate()?,
            ca_pem,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            serial: AtomicU64::new(2),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM, for the sandbox's trust store.
    pub(crate) fn pem(&self) -> &str {
        &self.ca_pem
    }

    /// A TLS server configuration presenting a certificate for `name`, signed by this CA and
    /// offering HTTP/1.1 only.
    pub(crate) fn server_config(&self, name: &str) -> Result<Arc<ServerConfig>, EgressError> {
        if let Some(config) = self.lock_leaves().get(name) {
            return Ok(config.clone());
        }
        let config = Arc::new(self.issue(name)?);
        let mut leaves = self.lock_leaves();
        if leaves.len() >= MAX_CACHED_LEAVES {
            leaves.clear();
        }
        leaves.insert(name.to_owned(), config.clone());
        Ok(config)
    }

    fn issue(&self, name: &str) -> Result<ServerConfig, EgressError> {
        let (not_before, not_after) = validity();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::DnsName(name.try_into()?)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from(
            self.serial.fetch_add(1, Ordering::Relaxed),
        ));
        let leaf = params.signed_by(&self.leaf_key, &self.ca, &self.ca_key)?;
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), self.ca.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    fn lock_leaves(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        // The map holds no invariant a panic could break half-way.
        self.leaves.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn validity() -> (OffsetDateTime, OffsetDateTime) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    (now - VALID_BEFORE_NOW, now + VALID_AFTER_NOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, RootCertStore};

    /// Runs a TLS handshake between a client trusting `ca` only and `server`, for `name`.
    async fn handshake(
        ca: &CertificateAuthority,
        server: Arc<ServerConfig>,
        name: &str,
    ) -> std::io::Result<()> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
            .unwrap();
        let client = ClientConfig::builder_with_provider(ca.provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let accept = tokio_rustls::TlsAcceptor::from(server).accept(server_io);
        let connect = tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(ServerName::try_from(name.to_owned()).unwrap(), client_io);
        let (_, client) = tokio::join!(accept, connect);
        client.map(|_| ())
    }

    #[tokio::test]
    async fn leaves_for_permitted_names_verify() {
        let ca = CertificateAuthority::generate(&["secret.test".into()]).unwrap();
        for name in ["secret.test", "api.secret.test"] {
            let server = ca.server_config(name).unwrap();
            handshake(&ca, server, name).await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_name_constraints_keep_the_ca_from_vouching_for_other_names() {
        let ca = CertificateAuthority::generate(&["secret.test".into()]).unwrap();
        // The proxy never issues such a leaf; if it did, clients would still reject it.
        let server = ca.server_config("bank.test").unwrap();
        let err = handshake(&ca, server, "bank.test").await.unwrap_err();
        assert!(
            err.to_string().contains("NameConstraint")
                || err.to_string().contains("name constraint"),
            "{err}"
        );
    }

    #[test]
    fn leaves_are_cached_per_name() {
        let ca = CertificateAuthority::generate(&["secret.test".into()]).unwrap();
        assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let first = ca.server_config("api.secret.test").unwrap();
        let again = ca.server_config("api.secret.test").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = ca.server_config("secret.test").unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
    }
}
