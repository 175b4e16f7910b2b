//! `EgressError`, the one error enum of this crate.

use std::io;

/// Everything that can go wrong while parsing egress configuration or building a proxy.
///
/// Refusing a request is not an error: that is a [`crate::Denial`], answered to the client and
/// reported through the proxy's `on_denied` callback.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// An allowlist entry (or a secret rule's host) that is not a valid host pattern.
    #[error("invalid host pattern {pattern:?}: {why}")]
    InvalidHostPattern { pattern: String, why: String },

    /// An operator address exception that is not `address[/prefix][:port|:*]`.
    #[error("invalid address exception {text:?}: {why}")]
    InvalidAddressException { text: String, why: String },

    /// A model gateway upstream that is not an absolute `http://` or `https://` base URL.
    #[error("invalid model gateway upstream {url:?}: {why}")]
    InvalidGatewayUpstream { url: String, why: String },

    /// A header name or value that HTTP cannot carry.
    #[error("invalid header {name:?}: {why}")]
    InvalidHeader { name: String, why: String },

    /// A secret rule that cannot be enforced as written.
    #[error("invalid secret rule {rule:?}: {why}")]
    InvalidSecretRule { rule: String, why: String },

    /// Generating the proxy's certificate authority or a leaf certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),

    /// Building a TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),

    /// Reading this host's interface addresses failed.
    #[error("reading {path} failed: {source}")]
    Interfaces {
        path: &'static str,
        #[source]
        source: io::Error,
    },
}
