//! Starting a sandbox for an agent and profile, and the agent process in it: the steps a
//! session's actor takes at its first turn after an idle stop, and the warm pool takes ahead of
//! any session (`crate::pool`). Nothing here knows a session: what belongs to one (its files,
//! transcripts, agent session id) is added by the caller.

use std::sync::Arc;

use agent_runtime_agents::{AgentKind, LaunchContext, TranslatorContext};
use agent_runtime_egress::{Denial, Rehearsal};
use agent_runtime_protocol::{AgentProfile, PermissionMode, SandboxProviderKind};
use agent_runtime_sandbox::{Root, Sandbox, SandboxRequest};
use tokio::sync::mpsc;

use super::network::{sandbox_network, CA_BUNDLE_PATH};
use super::process::AgentProcess;
use crate::error::{Result, RuntimeError};
use crate::limits::Limits;
use crate::manager::Deps;
use crate::sandboxes::{create_held, sandbox_labels};

/// The model API as the agent in a sandbox sees it: the egress proxy inside, and a placeholder
/// key; plus the secret values its tool output is redacted of.
pub(crate) struct ModelAccess {
    pub(crate) base_url: String,
    pub(crate) placeholder_key: String,
    pub(crate) redact: Vec<String>,
}

/// A running sandbox with its network, holding nothing of any session yet.
pub(crate) struct StartedSandbox {
    pub(crate) sandbox: Arc<dyn Sandbox>,
    pub(crate) access: ModelAccess,
    /// Refusals of the sandbox's egress proxy.
    pub(crate) denials: mpsc::Receiver<Denial>,
    /// The limits it was started with.
    pub(crate) limits: Limits,
    /// Where it runs.
    pub(crate) provider: SandboxProviderKind,
    /// While on, its proxy answers model requests itself and forwards none (a warm pool's
    /// warm-up turn).
    pub(crate) rehearsal: Rehearsal,
}

/// The server's limits with `profile`'s overrides.
pub(crate) fn limits_of(deps: &Deps, profile: &AgentProfile) -> Limits {
    deps.config
        .sandbox
        .limits
        .with_profile(&profile.sandbox.limits)
}

/// Creates a sandbox for `agent` under `profile`'s limits and network, with the CA bundle its
/// proxy needs in place. Fails closed: a provider that gives no egress proxy is refused.
pub(crate) async fn start_sandbox(
    deps: &Deps,
    agent: &AgentKind,
    profile: &AgentProfile,
    sandbox_id: String,
    purpose: &str,
) -> Result<StartedSandbox> {
    let kind = deps.sandboxes.resolve(profile.sandbox.provider);
    let provider = deps.sandboxes.get(kind)?;
    let limits = limits_of(deps, profile);
    let network = sandbox_network(
        &deps.config,
        deps.runtime_listeners(),
        profile,
        agent.model_api(),
    )?;
    let mut request = SandboxRequest::new(sandbox_id);
    request.limits = limits.sandbox();
    request.extra_env = network.extra_env;
    request.egress = Some(network.handler);
    request.labels = sandbox_labels(&deps.identity, purpose);
    let sandbox = create_held(&deps.held, kind, &provider, request).await?;
    // Without the proxy inside, the agent could reach the model API only with the real key in
    // its environment, and that never happens.
    let Some(base_url) = sandbox.proxy_url() else {
        let _ = sandbox.destroy().await;
        return Err(RuntimeError::Internal(format!(
            "the {} provider gave the sandbox no egress proxy",
            provider.name()
        )));
    };
    if let Some(bundle) = &network.ca_bundle {
        if let Err(e) = sandbox
            .write_file(Root::Home, CA_BUNDLE_PATH, bundle.as_bytes())
            .await
        {
            let _ = sandbox.destroy().await;
            return Err(e.into());
        }
    }
    let mut redact = network.secret_values;
    redact.extend(deps.config.endpoint(agent.model_api()).api_key);
    Ok(StartedSandbox {
        sandbox,
        access: ModelAccess {
            base_url,
            placeholder_key: network.placeholder_key,
            redact,
        },
        denials: network.denials,
        limits,
        provider: kind,
        rehearsal: network.rehearsal,
    })
}

/// Writes `profile`'s files for `agent` into the sandbox, except workspace files `skip` names
/// (workspace files of a profile seed a new session only; afterwards the workspace is the
/// user's).
pub(crate) async fn write_profile_files(
    agent: &AgentKind,
    profile: &AgentProfile,
    sandbox: &dyn Sandbox,
    skip: impl Fn(&str) -> bool,
) -> Result<()> {
    let writes = agent
        .profile_files(profile)
        .map_err(|e| RuntimeError::InvalidProfile(e.to_string()))?;
    for write in writes {
        if write.root == Root::Workspace && skip(&write.path) {
            continue;
        }
        sandbox
            .write_file(write.root, &write.path, &write.bytes)
            .await?;
    }
    Ok(())
}

/// What an agent process is started with, beyond its sandbox.
pub(crate) struct AgentStart<'a> {
    pub(crate) profile: &'a AgentProfile,
    pub(crate) permission_mode: PermissionMode,
    pub(crate) agent_session_id: String,
    /// A transcript of `agent_session_id` is in the sandbox and must be resumed.
    pub(crate) resume: bool,
    /// The session's cost so far, which the translator's cost figures continue from.
    pub(crate) prior_cost_usd: f64,
    /// Names the process in logs: the session id, or the pool entry.
    pub(crate) label: &'a str,
}

/// Starts `agent` in `sandbox`, reaching the model through `access`, and writes the lines its
/// protocol opens with. `stdin` is a per-turn agent's whole input (its message), written and
/// closed in the background.
pub(crate) async fn spawn_agent(
    deps: &Deps,
    agent: &AgentKind,
    sandbox: &dyn Sandbox,
    access: &ModelAccess,
    start: AgentStart<'_>,
    stdin: Option<String>,
) -> Result<AgentProcess> {
    let installed = deps.installer.ensure(agent).await?;
    let ctx = LaunchContext {
        program: format!("{}/{}", sandbox.tools_dir(), installed.relative_bin),
        workspace_dir: sandbox.workspace_dir().to_string(),
        home_dir: sandbox.home_dir().to_string(),
        agent_session_id: start.agent_session_id,
        resume: start.resume,
        base_url: Some(access.base_url.clone()),
        api_key: Some(access.placeholder_key.clone()),
        profile: start.profile,
        permission_mode: start.permission_mode,
    };
    let spec = agent.launch_spec(&ctx);
    // The spec holds no message or prompt (those go over stdin and into files), and its Debug
    // redacts secrets in the environment.
    tracing::info!(
        label = start.label,
        agent = agent.id(),
        resume = start.resume,
        "starting agent: {spec:?}"
    );
    let spawned = sandbox.spawn(spec).await?;
    let mut translator = agent.new_translator(TranslatorContext {
        prior_cost_usd: start.prior_cost_usd,
        redact: access.redact.clone(),
        acp: AgentKind::acp_session(&ctx),
    });
    let start_lines = translator.start_lines();
    let mut process = AgentProcess::start(spawned, translator, start.label);
    if let Some(stdin) = stdin {
        process.write_stdin_and_close(stdin.into_bytes());
    }
    for line in start_lines {
        if let Err(e) = process.write_line(&line).await {
            process.kill().await;
            return Err(RuntimeError::Internal(format!(
                "writing to the agent failed: {e}"
            )));
        }
    }
    Ok(process)
}
