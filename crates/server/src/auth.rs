//! API-key authentication.
//!
//! With keys configured, REST requests carry `Authorization: Bearer <key>`; the WebSocket accepts
//! the key as `?token=<key>` on the upgrade URL, as that header, or in an `auth` frame sent first
//! (see [`crate::ws`]). With no key configured every request is let through, which is why the
//! server then binds loopback only (see [`crate::config`]) and answers only loopback `Host`s (see
//! [`crate::edge`]).
//!
//! Keys are compared as SHA-256 digests in constant time, so neither the content nor the length
//! of a configured key leaks through response timing.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::app::{AppState, EVENTS_ROUTE};
use crate::error::ApiError;

/// The configured API keys, kept only as digests.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.digests.len())
    }
}

impl ApiKeys {
    /// Keys from configuration; empty strings are ignored.
    pub fn new<S: AsRef<str>>(keys: &[S]) -> Self {
        ApiKeys {
            digests: keys
                .iter()
                .map(AsRef::as_ref)
                .filter(|k| !k.is_empty())
                .map(digest)
                .collect(),
        }
    }

    /// No key is configured: every request is allowed.
    pub fn is_open(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `token` is one of the keys. Every key is compared, without early exit.
    pub fn accepts(&self, token: &str) -> bool {
        let candidate = digest(token);
        let mut matched = 0u8;
        for key in &self.digests {
            let diff = key
                .iter()
                .zip(candidate.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            matched |= std::hint::black_box(u8::from(diff == 0));
        }
        matched == 1
    }

    /// Whether a request with these headers (and optional query token) may pass.
    pub fn allows(&self, headers: &HeaderMap, query_token: Option<&str>) -> bool {
        if self.is_open() {
            return true;
        }
        bearer_token(headers)
            .or(query_token)
            .is_some_and(|token| self.accepts(token))
    }
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The `token` query parameter, if any (only honoured where browsers cannot send headers:
/// the WebSocket upgrade and the SSE stream).
pub fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then(|| percent_decode(value))
    })
}

/// Minimal `application/x-www-form-urlencoded` value decoding.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Middleware for REST routes: 401 `unauthorized` unless the request carries a valid key.
/// The SSE stream also accepts `?token=` since `EventSource` cannot set headers.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let keys = &state.keys;
    if keys.is_open() {
        return Ok(next.run(request).await);
    }
    // A command another node forwarded: that node authenticated its client.
    if state
        .cluster
        .as_ref()
        .is_some_and(|edge| edge.is_hop(request.headers()))
    {
        return Ok(next.run(request).await);
    }
    let allow_query = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| path.as_str() == EVENTS_ROUTE);
    let token = allow_query
        .then(|| query_token(request.uri().query()))
        .flatten();
    if keys.allows(request.headers(), token.as_deref()) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accepts_only_configured_keys() {
        let keys = ApiKeys::new(&["alpha", "", "beta"]);
        assert!(keys.accepts("alpha"));
        assert!(keys.accepts("beta"));
        assert!(!keys.accepts(""));
        assert!(!keys.accepts("alph"));
        assert!(!keys.accepts("alphaa"));
        assert!(ApiKeys::new::<&str>(&[]).is_open());
        assert!(ApiKeys::new(&[""]).is_open());
    }

    #[test]
    fn reads_bearer_tokens_and_query_tokens() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  k1 "),
        );
        assert_eq!(bearer_token(&headers), Some("k1"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic k1"));
        assert_eq!(bearer_token(&headers), None);
        assert_eq!(query_token(Some("a=1&token=x%2By+z")), Some("x+y z".into()));
        assert_eq!(query_token(Some("tokens=1")), None);
        assert_eq!(query_token(Some("token=%zz%4")), Some("%zz%4".into()));
        assert_eq!(query_token(None), None);
    }
}
