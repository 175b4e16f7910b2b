//! A session's way out of its sandbox: the egress proxy its sandbox's socket is served by, built
//! from the profile's network settings and secrets and the operator's egress settings; the model
//! API behind it, reached with a placeholder key; and the refusals it reports.
//!
//! The agent's base URL is the proxy inside the sandbox ([`agent_runtime_sandbox::Sandbox::proxy_url`])
//! and its key variable a per-sandbox placeholder, worthless anywhere else: the gateway strips
//! it and adds the operator's key on the way to the real endpoint. Profile secrets reach only
//! the hosts they name, as headers the proxy sets over TLS; a secret enters the sandbox's
//! environment only when its profile says `env: true`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_agents::ModelApi;
use agent_runtime_egress::{
    Denial, EgressConfig, EgressPolicy, EgressProxy, HostPattern, ModelGateway, Rehearsal,
    SecretRule,
};
use agent_runtime_protocol::{AgentProfile, SessionEvent};
use agent_runtime_sandbox::{EgressHandler, SandboxStream, HOME_DIR};
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::RuntimeConfig;
use crate::error::{Result, RuntimeError};
use crate::profile_sandbox::{policy_kind, secret_header};

/// Refusals buffered between a proxy and its session's actor. A flood beyond this is dropped
/// (the proxy still refuses; only the report is lost), so a hostile agent cannot grow memory.
const DENIAL_BUFFER: usize = 256;

/// The same refusal (host, port, reason) is reported at most once per this window.
const DENIAL_REPORT_WINDOW: Duration = Duration::from_secs(10);

/// Where, relative to the sandbox home, the CA bundle that trusts the proxy's interception
/// certificate authority is written (system roots plus that CA).
pub(super) const CA_BUNDLE_PATH: &str = ".config/agent-runtime/ca-bundle.pem";

/// Everything a session's sandbox needs for its network.
pub(super) struct SandboxNetwork {
    pub(super) handler: Arc<dyn EgressHandler>,
    pub(super) denials: mpsc::Receiver<Denial>,
    /// The model API key the agent is given: a placeholder, worthless outside this sandbox.
    pub(super) placeholder_key: String,
    /// Environment for every process of the sandbox: trust settings when secrets are
    /// intercepted, and the secrets a profile puts into the environment explicitly.
    pub(super) extra_env: BTreeMap<String, String>,
    /// The CA bundle to write at [`CA_BUNDLE_PATH`], when secrets are intercepted.
    pub(super) ca_bundle: Option<String>,
    /// Secret values the translator redacts from what the agent's tools print.
    pub(super) secret_values: Vec<String>,
    /// The proxy's model gateway answers by itself while this is on (a warm-up turn).
    pub(super) rehearsal: Rehearsal,
}

/// Builds the egress proxy of a sandbox for `profile`, whose agent calls `api`.
pub(super) fn sandbox_network(
    config: &RuntimeConfig,
    runtime_listeners: Vec<std::net::SocketAddr>,
    profile: &AgentProfile,
    api: ModelApi,
) -> Result<SandboxNetwork> {
    let invalid =
        |e: agent_runtime_egress::EgressError| RuntimeError::InvalidProfile(e.to_string());
    let settings = &profile.sandbox;
    let kind = policy_kind(
        settings
            .network
            .policy
            .unwrap_or(config.sandbox.network_policy),
    );
    let allow = settings
        .network
        .allow
        .as_ref()
        .unwrap_or(&config.sandbox.network_allow)
        .iter()
        .map(|pattern| HostPattern::parse(pattern))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let mut egress = EgressConfig::new(EgressPolicy { kind, allow });
    egress.exceptions = config.egress.exceptions.clone();
    egress.runtime_listeners = runtime_listeners;
    egress.host_addresses = config.egress.host_addresses.clone();
    if let Some(resolver) = &config.egress.resolver {
        egress.resolver = resolver.clone();
    }
    if let Some(roots) = &config.egress.upstream_roots {
        egress.upstream_roots = roots.clone();
    }
    let gateway = model_gateway(config, api)?;
    let rehearsal = gateway.rehearsal();
    egress.gateway = Some(gateway);
    let mut extra_env = BTreeMap::new();
    let mut secret_values = Vec::new();
    for secret in &settings.secrets {
        let value = secret.value.clone().unwrap_or_default();
        let hosts = secret
            .hosts
            .iter()
            .map(|host| HostPattern::parse(host))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let (header, header_value) = secret_header(secret);
        egress
            .secrets
            .push(SecretRule::new(&secret.name, hosts, &header, &header_value).map_err(invalid)?);
        if secret.env {
            extra_env.insert(secret.name.clone(), value.clone());
        }
        secret_values.push(value);
    }
    let (sender, denials) = mpsc::channel(DENIAL_BUFFER);
    let proxy = EgressProxy::new(egress, move |denial| {
        // Full: dropped. The refusal itself still happened.
        let _ = sender.try_send(denial);
    })
    .map_err(|e| RuntimeError::Internal(format!("building the egress proxy: {e}")))?;
    let ca_bundle = proxy.ca_certificate_pem().map(|ca| {
        let system = config
            .egress
            .system_ca_bundle
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        format!("{system}\n{ca}")
    });
    if ca_bundle.is_some() {
        let bundle = format!("{HOME_DIR}/{CA_BUNDLE_PATH}");
        for name in [
            "SSL_CERT_FILE",
            "CURL_CA_BUNDLE",
            "REQUESTS_CA_BUNDLE",
            "GIT_SSL_CAINFO",
            "NODE_EXTRA_CA_CERTS",
            "PIP_CERT",
            "CARGO_HTTP_CAINFO",
            "NPM_CONFIG_CAFILE",
        ] {
            extra_env.insert(name.to_string(), bundle.clone());
        }
    }
    Ok(SandboxNetwork {
        handler: Arc::new(ProxyHandler(proxy)),
        denials,
        placeholder_key: format!(
            "agent-runtime-placeholder-{}",
            uuid::Uuid::new_v4().simple()
        ),
        extra_env,
        ca_bundle,
        secret_values,
        rehearsal,
    })
}

/// The gateway to the endpoint of `api`: the configured base URL (or the API's public one),
/// with the operator's key, if any, added to every request.
fn model_gateway(config: &RuntimeConfig, api: ModelApi) -> Result<ModelGateway> {
    let endpoint = config.endpoint(api);
    let upstream = endpoint
        .base_url
        .clone()
        .unwrap_or_else(|| api.default_base_url().to_string());
    let gateway = match (&endpoint.api_key, api) {
        (Some(key), ModelApi::Anthropic) => ModelGateway::anthropic(&upstream, key),
        (Some(key), ModelApi::Gemini) => ModelGateway::gemini(&upstream, key),
        (Some(key), ModelApi::OpenAi) => ModelGateway::openai(&upstream, key),
        (None, _) => ModelGateway::new(&upstream),
    };
    gateway.map_err(|e| RuntimeError::Internal(format!("the {} endpoint: {e}", api.id())))
}

/// Serves a sandbox's egress connections with its proxy.
struct ProxyHandler(EgressProxy);

#[async_trait]
impl EgressHandler for ProxyHandler {
    async fn handle(&self, stream: Box<dyn SandboxStream>) {
        self.0.serve(stream).await;
    }
}

/// Turns a proxy's refusals into `network_denied` events, each (host, port, reason) at most
/// once per [`DENIAL_REPORT_WINDOW`].
#[derive(Default)]
pub(super) struct DenialReports {
    last: HashMap<(String, u16, &'static str), Instant>,
}

impl DenialReports {
    /// The event to append for `denial`, or `None` when it was reported a moment ago.
    pub(super) fn event(&mut self, denial: &Denial) -> Option<SessionEvent> {
        self.event_at(denial, Instant::now())
    }

    fn event_at(&mut self, denial: &Denial, now: Instant) -> Option<SessionEvent> {
        self.last
            .retain(|_, at| now.duration_since(*at) < DENIAL_REPORT_WINDOW);
        let key = (denial.host.clone(), denial.port, denial.reason.code());
        if self.last.contains_key(&key) {
            return None;
        }
        self.last.insert(key, now);
        Some(SessionEvent::NetworkDenied {
            host: denial.host.clone(),
            port: denial.port,
            reason: denial.reason.code().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_runtime_egress::DenyReason;

    fn denial(host: &str) -> Denial {
        Denial {
            host: host.into(),
            port: 443,
            reason: DenyReason::NotAllowlisted,
            address: None,
        }
    }

    #[test]
    fn repeats_are_reported_once_per_window() {
        let mut reports = DenialReports::default();
        let start = Instant::now();
        assert!(reports.event_at(&denial("a.example"), start).is_some());
        assert!(reports.event_at(&denial("a.example"), start).is_none());
        assert!(reports.event_at(&denial("b.example"), start).is_some());
        let later = start + DENIAL_REPORT_WINDOW;
        assert_eq!(
            reports.event_at(&denial("a.example"), later),
            Some(SessionEvent::NetworkDenied {
                host: "a.example".into(),
                port: 443,
                reason: "not_allowlisted".into()
            })
        );
    }
}
