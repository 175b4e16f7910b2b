//! [`ModalConfig`]: everything the provider needs, as plain data. The server assembles it in
//! one place (file, env, flags); this crate never reads the environment.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Modal's public API endpoint.
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";
/// The Modal app every sandbox of this runtime belongs to (created when missing).
pub const DEFAULT_APP_NAME: &str = "agent-runtime";
/// The registry image sandboxes start from: Debian with Node.js, which the agent CLIs and the
/// egress relay need.
pub const DEFAULT_BASE_IMAGE: &str = "node:22-slim";
/// Modal's longest sandbox lifetime.
pub const DEFAULT_SANDBOX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// How [`crate::ModalProvider`] reaches Modal and what its sandboxes look like.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModalConfig {
    /// The control plane, [`DEFAULT_SERVER_URL`]. `http://` only for a loopback stand-in.
    pub server_url: String,
    /// Modal token id (`ak-...`).
    pub token_id: String,
    /// Modal token secret (`as-...`); never logged, redacted in `Debug`.
    pub token_secret: String,
    /// Modal environment; `None` is the workspace's default one.
    pub environment: Option<String>,
    /// The app sandboxes are created in, [`DEFAULT_APP_NAME`].
    pub app_name: String,
    pub image: ModalImage,
    /// How long a sandbox may live before Modal ends it, [`DEFAULT_SANDBOX_TIMEOUT`].
    #[serde(with = "secs")]
    pub sandbox_timeout: Duration,
    /// CPU of every sandbox in thousandths of a core, unless its request sets
    /// `limits.cpu_millicores`; `None` leaves Modal's default.
    pub cpu_millicores: Option<u64>,
    /// Memory of every sandbox in MiB, unless its request sets `limits.memory_bytes`; `None`
    /// leaves Modal's default.
    pub memory_mib: Option<u64>,
    /// Upper bound of one ordinary RPC attempt (long polls add their own hold time).
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// How long `create` waits for Modal to schedule a sandbox and for its image to build.
    #[serde(with = "secs")]
    pub start_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ModalConfig {
    fn default() -> Self {
        Self {
            server_url: DEFAULT_SERVER_URL.to_owned(),
            token_id: String::new(),
            token_secret: String::new(),
            environment: None,
            app_name: DEFAULT_APP_NAME.to_owned(),
            image: ModalImage::default(),
            sandbox_timeout: DEFAULT_SANDBOX_TIMEOUT,
            cpu_millicores: None,
            memory_mib: None,
            request_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(20 * 60),
            retry: RetryPolicy::default(),
        }
    }
}

impl ModalConfig {
    /// Defaults with this token pair.
    pub fn new(token_id: impl Into<String>, token_secret: impl Into<String>) -> Self {
        Self {
            token_id: token_id.into(),
            token_secret: token_secret.into(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for ModalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = if self.token_secret.is_empty() {
            ""
        } else {
            agent_runtime_sandbox::REDACTED
        };
        f.debug_struct("ModalConfig")
            .field("server_url", &self.server_url)
            .field("token_id", &self.token_id)
            .field("token_secret", &secret)
            .field("environment", &self.environment)
            .field("app_name", &self.app_name)
            .field("image", &self.image)
            .field("sandbox_timeout", &self.sandbox_timeout)
            .field("cpu_millicores", &self.cpu_millicores)
            .field("memory_mib", &self.memory_mib)
            .field("request_timeout", &self.request_timeout)
            .field("start_timeout", &self.start_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The image sandboxes run: a registry image plus Dockerfile `RUN` commands, built by Modal
/// once (like `modal.Image.from_registry(base).run_commands(*commands)`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModalImage {
    /// A registry reference, [`DEFAULT_BASE_IMAGE`]. It must have `sh`, GNU coreutils and
    /// findutils, `setsid` (util-linux) and, for egress, `node`.
    pub base: String,
    /// Shell commands, each one `RUN` line, e.g. the npm installs of the pinned agent CLIs into
    /// `/opt/agent-tools`. Supplied by the runtime.
    pub commands: Vec<String>,
}

impl Default for ModalImage {
    fn default() -> Self {
        Self {
            base: DEFAULT_BASE_IMAGE.to_owned(),
            commands: Vec::new(),
        }
    }
}

/// Retries of transient failures (unavailable, deadline exceeded, broken connections):
/// exponential backoff from `initial_backoff`, doubling up to `max_backoff`, at most `attempts`
/// tries and never past `total` since the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    pub attempts: u32,
    #[serde(with = "millis")]
    pub initial_backoff: Duration,
    #[serde(with = "millis")]
    pub max_backoff: Duration,
    #[serde(with = "millis")]
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// Like Modal's own client: 100 ms doubling to 5 s; eight tries within a minute.
    fn default() -> Self {
        Self {
            attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            total: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (0 = the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn defaults_and_redaction() {
        let config = ModalConfig::new("ak-1", "as-very-secret");
        assert_eq!(config.server_url, "https://api.modal.com");
        assert_eq!(config.app_name, "agent-runtime");
        assert_eq!(config.image.base, "node:22-slim");
        assert_eq!(config.sandbox_timeout, Duration::from_secs(86_400));
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("token_secret: \"***\""), "{shown}");
        assert!(shown.contains("ak-1"), "{shown}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u128> = (0..8).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn serde_fills_defaults() {
        let config: ModalConfig =
            serde_json::from_str(r#"{"token_id":"ak","token_secret":"as"}"#).unwrap();
        assert_eq!(config, ModalConfig::new("ak", "as"));
        let back: ModalConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }
}
