//! Codex (`@openai/codex`), driven over ACP by Zed's adapter (`@zed-industries/codex-acp`).
//!
//! Configuration is filled in from the captures in `fixtures/codex-acp/`.

use std::collections::BTreeMap;

use agent_runtime_protocol::{AgentProfile, PermissionMode};

use crate::acp::{AcpAgentSpec, Flavor};
use crate::files::ProfileFileWrite;
use crate::kind::ModelApi;
use crate::launch::LaunchContext;

/// The ACP adapter's npm package.
pub const NPM_PACKAGE: &str = "@zed-industries/codex-acp";

/// The adapter's pinned version.
pub const VERSION: &str = "0.16.0";

/// The spec of the built-in `codex` agent.
pub fn spec() -> AcpAgentSpec {
    AcpAgentSpec {
        id: "codex".into(),
        name: Some("Codex".into()),
        package: NPM_PACKAGE.into(),
        version: VERSION.into(),
        extra_packages: Vec::new(),
        bin: vec!["node_modules/.bin/codex-acp".into()],
        args: Vec::new(),
        model_api: ModelApi::OpenAi,
        env: BTreeMap::new(),
        default_model: None,
        transcript: vec![".codex/sessions/**/rollout-*.jsonl".into()],
        flavor: Flavor::Codex,
    }
}

/// The permission modes Codex supports through its adapter.
pub const PERMISSION_MODES: &[PermissionMode] = &[PermissionMode::Bypass];

pub(crate) fn launch(
    ctx: &LaunchContext<'_>,
    _model: Option<&str>,
    env: &mut BTreeMap<String, String>,
    _args: &mut Vec<String>,
) {
    let home = ctx.home_dir.trim_end_matches('/');
    env.insert("CODEX_HOME".into(), format!("{home}/.codex"));
    if let Some(base) = &ctx.base_url {
        env.insert(
            "OPENAI_BASE_URL".into(),
            format!("{}/v1", base.trim_end_matches('/')),
        );
    }
    if let Some(key) = &ctx.api_key {
        env.insert("OPENAI_API_KEY".into(), key.clone());
    }
}

pub(crate) fn profile_files(_profile: &AgentProfile) -> Vec<ProfileFileWrite> {
    Vec::new()
}
