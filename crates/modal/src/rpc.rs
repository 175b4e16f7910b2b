//! Calling Modal: channels, the metadata Modal's own client sends, and the one retry loop
//! every unary RPC goes through.
//!
//! Like Modal's Python client (`_retry_transient_errors`), each logical call carries one
//! `x-idempotency-key` over all its attempts plus `x-retry-attempt`, so the server can
//! deduplicate a retried create; transient codes are retried with exponential backoff, within
//! the attempts and total time of [`RetryPolicy`]. Each attempt is bounded by a timeout (sent as
//! `grpc-timeout` and enforced locally).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use agent_runtime_modal_proto::client::modal_client_client::ModalClientClient;
use agent_runtime_modal_proto::client::ClientType;
use agent_runtime_modal_proto::MODAL_CLIENT_VERSION;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use crate::config::{ModalConfig, RetryPolicy};
use crate::error::ModalError;

/// How long the local guard waits beyond an attempt's own timeout (sent to the server as
/// `grpc-timeout`), so the server's answer wins the race when it keeps the deadline.
const LOCAL_TIMEOUT_GRACE: Duration = Duration::from_secs(2);
/// TCP/TLS connect bound of one attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings notice a dead connection (a cut network, a dead worker) on long streams.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a failed attempt may be retried: the codes Modal's client retries
/// (`RETRYABLE_GRPC_STATUS_CODES`). Safe for every call because all carry an idempotency key.
pub fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Internal
            | Code::Unknown
    )
}

/// What to do after attempt number `attempt` (0-based) failed with `code`, `elapsed` after the
/// first began: retry after the returned pause, or give up (`None`).
pub fn retry_delay(
    policy: &RetryPolicy,
    code: Code,
    attempt: u32,
    elapsed: Duration,
) -> Option<Duration> {
    if !is_retryable(code) || attempt + 1 >= policy.attempts {
        return None;
    }
    let pause = policy.backoff(attempt);
    (elapsed + pause < policy.total).then_some(pause)
}

/// Runs `attempt` (given the attempt number) until it succeeds, fails for good, or the policy
/// is spent; `timeout` bounds each attempt.
pub async fn with_retries<T, F, Fut>(
    rpc: &'static str,
    policy: &RetryPolicy,
    timeout: Duration,
    mut attempt: F,
) -> Result<T, ModalError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let start = Instant::now();
    let mut number = 0;
    loop {
        let status =
            match tokio::time::timeout(timeout + LOCAL_TIMEOUT_GRACE, attempt(number)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded(format!("no answer within {timeout:?}")),
            };
        match retry_delay(policy, status.code(), number, start.elapsed()) {
            Some(pause) => {
                tracing::debug!(rpc, attempt = number, code = ?status.code(), message = status.message(), ?pause, "retrying a Modal call");
                tokio::time::sleep(pause).await;
                number += 1;
            }
            None if is_retryable(status.code()) => {
                return Err(ModalError::Exhausted {
                    rpc,
                    attempts: number + 1,
                    elapsed: start.elapsed(),
                    code: status.code(),
                    message: status.message().to_owned(),
                })
            }
            None => {
                return Err(ModalError::Rpc {
                    rpc,
                    code: status.code(),
                    message: status.message().to_owned(),
                })
            }
        }
    }
}

/// Whether `url`'s host is this machine, where plain `http://` is acceptable.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An endpoint for `url`: TLS with the webpki roots for `https://`, plain only for loopback.
pub fn endpoint(url: &str) -> Result<Endpoint, ModalError> {
    let invalid = |reason: &str| ModalError::Config(format!("URL {url:?}: {reason}"));
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| invalid(&e.to_string()))?;
    let endpoint = if url.starts_with("https://") {
        endpoint
            .tls_config(ClientTlsConfig::new().with_webpki_roots())
            .map_err(|e| invalid(&e.to_string()))?
    } else if is_loopback_url(url) {
        endpoint
    } else {
        return Err(invalid(
            "must be https:// (plain http only for a loopback address)",
        ));
    };
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

/// The control plane (`modal.client.ModalClient`) with this runtime's credentials.
pub struct Control {
    endpoint: Endpoint,
    /// Connected lazily on the first call (which runs inside the runtime).
    channel: OnceLock<Channel>,
    /// Sent with every call: client version and type, token pair.
    metadata: Vec<(&'static str, AsciiMetadataValue)>,
    pub policy: RetryPolicy,
    pub request_timeout: Duration,
}

impl Control {
    /// Checks the URL and the credentials' characters; connects on first use.
    pub fn new(config: &ModalConfig) -> Result<Self, ModalError> {
        let value = |name: &str, text: &str| {
            let invalid = || ModalError::Config(format!("{name} must be printable ASCII"));
            if !text.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid());
            }
            AsciiMetadataValue::try_from(text).map_err(|_| invalid())
        };
        if config.token_id.is_empty() || config.token_secret.is_empty() {
            return Err(ModalError::Config(
                "token_id and token_secret are required".into(),
            ));
        }
        let client_type = (ClientType::Client as i32).to_string();
        let metadata = vec![
            (
                "x-modal-client-version",
                value("client version", MODAL_CLIENT_VERSION)?,
            ),
            ("x-modal-client-type", value("client type", &client_type)?),
            ("x-modal-token-id", value("token_id", &config.token_id)?),
            (
                "x-modal-token-secret",
                value("token_secret", &config.token_secret)?,
            ),
        ];
        Ok(Self {
            endpoint: endpoint(&config.server_url)?,
            channel: OnceLock::new(),
            metadata,
            policy: config.retry,
            request_timeout: config.request_timeout,
        })
    }

    fn client(&self) -> ModalClientClient<Channel> {
        let channel = self
            .channel
            .get_or_init(|| self.endpoint.connect_lazy())
            .clone();
        ModalClientClient::new(channel)
    }

    /// One unary call with [`with_retries`] and the ordinary request timeout.
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        rpc: &'static str,
        req: Req,
        send: F,
    ) -> Result<Resp, ModalError>
    where
        Req: Clone,
        F: Fn(ModalClientClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        self.call_with_timeout(rpc, self.request_timeout, req, send)
            .await
    }

    /// Like [`Control::call`] with an attempt timeout of its own (long polls).
    pub async fn call_with_timeout<Req, Resp, F, Fut>(
        &self,
        rpc: &'static str,
        timeout: Duration,
        req: Req,
        send: F,
    ) -> Result<Resp, ModalError>
    where
        Req: Clone,
        F: Fn(ModalClientClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let key = idempotency_key();
        with_retries(rpc, &self.policy, timeout, |attempt| {
            let mut request = Request::new(req.clone());
            request.set_timeout(timeout);
            self.add_metadata(request.metadata_mut());
            add_attempt_metadata(request.metadata_mut(), &key, attempt);
            send(self.client(), request)
        })
        .await
        .map(tonic::Response::into_inner)
    }

    /// A request for a streaming call (no timeout: streams end on their own), with the
    /// credentials.
    pub fn stream_request<Req>(&self, req: Req) -> (ModalClientClient<Channel>, Request<Req>) {
        let mut request = Request::new(req);
        self.add_metadata(request.metadata_mut());
        add_attempt_metadata(request.metadata_mut(), &idempotency_key(), 0);
        (self.client(), request)
    }

    fn add_metadata(&self, map: &mut MetadataMap) {
        for (name, value) in &self.metadata {
            map.insert(*name, value.clone());
        }
    }
}

/// A fresh idempotency key (a UUID, like Modal's client).
pub fn idempotency_key() -> AsciiMetadataValue {
    AsciiMetadataValue::try_from(uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| AsciiMetadataValue::from_static("invalid"))
}

/// `x-idempotency-key` and `x-retry-attempt`, as Modal's client sends them on each attempt.
pub fn add_attempt_metadata(map: &mut MetadataMap, key: &AsciiMetadataValue, attempt: u32) {
    map.insert("x-idempotency-key", key.clone());
    map.insert("x-retry-attempt", AsciiMetadataValue::from(attempt));
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn transient_codes_are_retried_within_the_policy() {
        let policy = RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
            total: Duration::from_secs(1),
        };
        let zero = Duration::ZERO;
        let delays: Vec<Option<u128>> = (0..5)
            .map(|n| retry_delay(&policy, Code::Unavailable, n, zero).map(|d| d.as_millis()))
            .collect();
        assert_eq!(delays, vec![Some(100), Some(200), Some(250), None, None]);
        assert_eq!(
            retry_delay(&policy, Code::Unavailable, 0, Duration::from_millis(950)),
            None
        );
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::Unknown,
            Code::Cancelled,
        ] {
            assert!(is_retryable(code), "{code:?}");
        }
        for code in [
            Code::NotFound,
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::ResourceExhausted,
        ] {
            assert_eq!(retry_delay(&policy, code, 0, zero), None, "{code:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn with_retries_gives_up_with_the_last_status() {
        let policy = RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let result: Result<(), _> =
            with_retries("SandboxList", &policy, Duration::from_secs(1), |_| {
                calls += 1;
                async { Err(Status::unavailable("down")) }
            })
            .await;
        assert_eq!(calls, 3);
        assert_eq!(
            result.unwrap_err().to_string(),
            "Modal SandboxList failed 3 times over 300ms; last: Unavailable: down"
        );
        let mut calls = 0;
        let result = with_retries("X", &policy, Duration::from_secs(1), |n| {
            calls += 1;
            async move {
                if n == 0 {
                    Err(Status::unavailable("blip"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!((calls, result.unwrap()), (2, 1));
        let hung: Result<(), _> = with_retries("Hang", &policy, Duration::from_secs(1), |_| {
            std::future::pending()
        })
        .await;
        assert!(matches!(
            hung,
            Err(ModalError::Exhausted {
                code: Code::DeadlineExceeded,
                ..
            })
        ));
    }

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(is_loopback_url("http://127.0.0.1:5000"));
        assert!(is_loopback_url("http://localhost:80/x"));
        assert!(is_loopback_url("http://[::1]:8080"));
        assert!(!is_loopback_url("http://api.modal.com"));
        assert!(!is_loopback_url("http://10.0.0.1:80"));
        assert!(!is_loopback_url("https://127.0.0.1"));
        assert!(endpoint("http://example.com").is_err());
        assert!(endpoint("http://127.0.0.1:1").is_ok());
    }

    #[test]
    fn credentials_are_checked() {
        assert!(Control::new(&ModalConfig::default()).is_err());
        let mut config = ModalConfig::new("ak-1", "as-\u{e9}");
        assert!(Control::new(&config).is_err());
        config.token_secret = "as-1".into();
        config.server_url = "http://127.0.0.1:9".into();
        assert!(Control::new(&config).is_ok());
    }
}
