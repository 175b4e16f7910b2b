//! What confines a session's sandbox on this host: the provider's own report, plus what the
//! runtime enforces itself, each with the default the server applies. The server logs it at
//! start and `/healthz` shows it.

use agent_runtime_protocol::{NetworkPolicy, Protection};
use agent_runtime_sandbox::Enforcement;

use crate::config::RuntimeConfig;
use crate::limits::human_bytes;

/// The whole report, in a stable order: the provider's entries, then the runtime's.
pub(crate) fn protections(config: &RuntimeConfig, provider: Vec<Enforcement>) -> Vec<Protection> {
    let limits = &config.sandbox.limits;
    let quantity = |name: &str| -> Option<String> {
        match name {
            "memory" => limits.memory_bytes.map(human_bytes),
            "pids" => limits.pids.map(|n| n.to_string()),
            "cpu" => limits
                .cpu_millicores
                .map(|m| format!("{} CPUs", m as f64 / 1000.0)),
            "tmp_size" => limits.tmp_bytes.map(human_bytes),
            "file_size" => limits.file_size_bytes.map(human_bytes),
            "open_files" => limits.open_files.map(|n| n.to_string()),
            "network" => Some(policy_name(config.sandbox.network_policy).to_string()),
            _ => None,
        }
    };
    let mut report: Vec<Protection> = provider
        .into_iter()
        .map(|e| Protection {
            enforced: e.is_enforced(),
            default: quantity(&e.name),
            name: e.name,
            by: e.by,
            note: e.note,
        })
        .collect();
    report.push(Protection {
        name: "model_credentials".into(),
        enforced: true,
        by: vec![
            "the egress proxy's model gateway: the agent holds a per-sandbox placeholder, the \
             proxy adds the key"
                .into(),
        ],
        default: None,
        note: Some(
            "profile secrets likewise: headers the proxy sets for the hosts they name".into(),
        ),
    });
    report.push(Protection {
        name: "workspace_size".into(),
        enforced: limits.workspace_bytes.is_some(),
        by: vec![
            "the runtime, whenever it syncs the workspace (turn ends `workspace_full`)".into(),
        ],
        default: limits.workspace_bytes.map(human_bytes),
        note: Some("checked on sync, so the disk can briefly hold more".into()),
    });
    report.push(Protection {
        name: "turn_time".into(),
        enforced: limits.turn_timeout.is_some(),
        by: vec!["the runtime's turn timer (turn ends `time_limit`)".into()],
        default: limits.turn_timeout.map(|t| format!("{} s", t.as_secs())),
        note: None,
    });
    report
}

fn policy_name(policy: NetworkPolicy) -> &'static str {
    match policy {
        NetworkPolicy::None => "none",
        NetworkPolicy::Allowlist => "allowlist",
        NetworkPolicy::Open => "open",
    }
}
