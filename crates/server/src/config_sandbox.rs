//! The sandbox part of the configuration: the default network policy and allowlist, the
//! private destinations the operator lets the egress proxy reach, the default resource limits,
//! and the host uids sandboxes run as. Merged like the rest ([`crate::config`]): flags >
//! environment > the config file's `[sandbox]` table > defaults.
//!
//! | flag | env | `[sandbox]` key | default |
//! |---|---|---|---|
//! | `--network` | `AGENT_RUNTIME_NETWORK` | `network` | `allowlist` |
//! | `--network-allow` (repeatable or comma-separated) | `AGENT_RUNTIME_NETWORK_ALLOW` | `network_allow` | none: only the model API |
//! | `--egress-allow-private` (same) | `AGENT_RUNTIME_EGRESS_ALLOW_PRIVATE` | `egress_allow_private` | none |
//! | `--sandbox-memory` | `AGENT_RUNTIME_SANDBOX_MEMORY` | `memory` | `4GiB` |
//! | `--sandbox-pids` | `AGENT_RUNTIME_SANDBOX_PIDS` | `pids` | `1024` |
//! | `--sandbox-cpus` | `AGENT_RUNTIME_SANDBOX_CPUS` | `cpus` | `2` |
//! | `--sandbox-tmp` | `AGENT_RUNTIME_SANDBOX_TMP` | `tmp` | `512MiB` |
//! | `--sandbox-workspace` | `AGENT_RUNTIME_SANDBOX_WORKSPACE` | `workspace` | `2GiB` |
//! | `--sandbox-file-size` | `AGENT_RUNTIME_SANDBOX_FILE_SIZE` | `file_size` | `512MiB` |
//! | `--turn-timeout` | `AGENT_RUNTIME_TURN_TIMEOUT` | `turn_timeout` | `1h` |
//! | `--sandbox-uids` | `AGENT_RUNTIME_SANDBOX_UIDS` | `uids` | `600000-665535` (as root) |
//!
//! A limit set to `unlimited` is not applied. Patterns and destinations are checked at startup
//! by the egress proxy's own parsers, so a typo stops the server with the reason.

use std::time::Duration;

use agent_runtime_core::Limits;
use agent_runtime_egress::{AddressException, HostPattern};
use agent_runtime_protocol::NetworkPolicy;
use clap::Args;
use serde::Deserialize;

use crate::config::{parse_duration, parse_size, pick, ConfigError, NumberOrText};

/// Flags of the sandbox part (flattened into `serve`).
#[derive(Debug, Default, Clone, Args)]
pub struct SandboxArgs {
    /// Default network policy of sandboxes: none, allowlist or open
    /// [env: AGENT_RUNTIME_NETWORK] [default: allowlist]
    #[arg(long, value_name = "POLICY")]
    pub network: Option<String>,
    /// Hosts the allowlist policy lets through: host, *.suffix, optionally :port or :*;
    /// repeatable or comma-separated [env: AGENT_RUNTIME_NETWORK_ALLOW]
    #[arg(long = "network-allow", value_name = "PATTERN", value_delimiter = ',')]
    pub network_allow: Vec<String>,
    /// Loopback, private or link-local destinations the egress proxy may reach after all, e.g.
    /// 10.0.0.5:5432 or 192.168.0.0/16:443 [env: AGENT_RUNTIME_EGRESS_ALLOW_PRIVATE]
    #[arg(
        long = "egress-allow-private",
        value_name = "DEST",
        value_delimiter = ','
    )]
    pub egress_allow_private: Vec<String>,
    /// Memory of a sandbox, e.g. 4GiB, or unlimited [env: AGENT_RUNTIME_SANDBOX_MEMORY]
    #[arg(long, value_name = "SIZE")]
    pub sandbox_memory: Option<String>,
    /// Processes and threads of a sandbox [env: AGENT_RUNTIME_SANDBOX_PIDS]
    #[arg(long, value_name = "N")]
    pub sandbox_pids: Option<String>,
    /// CPUs' worth of time a sandbox may use, e.g. 1.5 [env: AGENT_RUNTIME_SANDBOX_CPUS]
    #[arg(long, value_name = "CPUS")]
    pub sandbox_cpus: Option<String>,
    /// Size of a sandbox's /tmp [env: AGENT_RUNTIME_SANDBOX_TMP]
    #[arg(long, value_name = "SIZE")]
    pub sandbox_tmp: Option<String>,
    /// Total size of a session's workspace files [env: AGENT_RUNTIME_SANDBOX_WORKSPACE]
    #[arg(long, value_name = "SIZE")]
    pub sandbox_workspace: Option<String>,
    /// The largest file an agent may write [env: AGENT_RUNTIME_SANDBOX_FILE_SIZE]
    #[arg(long, value_name = "SIZE")]
    pub sandbox_file_size: Option<String>,
    /// Wall-clock limit of one turn, e.g. 1h [env: AGENT_RUNTIME_TURN_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub turn_timeout: Option<String>,
    /// Host uids sandboxes run as, one of its own each: FIRST-LAST
    /// [env: AGENT_RUNTIME_SANDBOX_UIDS] [default: 600000-665535]
    #[arg(long, value_name = "RANGE")]
    pub sandbox_uids: Option<String>,
}

/// The config file's `[sandbox]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxFileConfig {
    pub network: Option<String>,
    pub network_allow: Option<Vec<String>>,
    pub egress_allow_private: Option<Vec<String>>,
    pub memory: Option<NumberOrText>,
    pub pids: Option<NumberOrText>,
    pub cpus: Option<CpusValue>,
    pub tmp: Option<NumberOrText>,
    pub workspace: Option<NumberOrText>,
    pub file_size: Option<NumberOrText>,
    pub turn_timeout: Option<NumberOrText>,
    pub uids: Option<String>,
    /// Where sandboxes run, see [`crate::config_placement`].
    pub provider: Option<String>,
    pub install_id: Option<String>,
    pub reconcile_interval: Option<NumberOrText>,
}

/// CPUs as a TOML number (`2`, `1.5`) or text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CpusValue {
    Integer(u64),
    Float(f64),
    Text(String),
}

impl CpusValue {
    fn text(&self) -> String {
        match self {
            CpusValue::Integer(n) => n.to_string(),
            CpusValue::Float(f) => f.to_string(),
            CpusValue::Text(t) => t.clone(),
        }
    }
}

/// The sandbox settings, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    pub network: NetworkPolicy,
    /// Host patterns, checked with the egress proxy's parser.
    pub network_allow: Vec<String>,
    pub egress_allow_private: Vec<AddressException>,
    pub limits: Limits,
    /// `(first, count)`; `None`: the recommended range.
    pub uid_range: Option<(u32, u32)>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            network: NetworkPolicy::Allowlist,
            network_allow: Vec::new(),
            egress_allow_private: Vec::new(),
            limits: Limits::default(),
            uid_range: None,
        }
    }
}

/// Merges the sandbox flags, environment and `[sandbox]` table.
pub fn merge_sandbox(
    args: &SandboxArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: SandboxFileConfig,
) -> Result<SandboxConfig, ConfigError> {
    let mut config = SandboxConfig::default();
    if let Some(text) = pick(
        args.network.clone(),
        env("AGENT_RUNTIME_NETWORK"),
        file.network,
    ) {
        config.network = parse_policy(&text)?;
    }
    config.network_allow = pick_list(
        &args.network_allow,
        env("AGENT_RUNTIME_NETWORK_ALLOW"),
        file.network_allow,
    );
    for pattern in &config.network_allow {
        HostPattern::parse(pattern).map_err(|e| ConfigError::Invalid {
            key: "network allow".into(),
            value: pattern.clone(),
            why: e.to_string(),
        })?;
    }
    config.egress_allow_private = pick_list(
        &args.egress_allow_private,
        env("AGENT_RUNTIME_EGRESS_ALLOW_PRIVATE"),
        file.egress_allow_private,
    )
    .iter()
    .map(|text| {
        AddressException::parse(text).map_err(|e| ConfigError::Invalid {
            key: "egress allow private".into(),
            value: text.clone(),
            why: e.to_string(),
        })
    })
    .collect::<Result<_, _>>()?;
    let limits = &mut config.limits;
    let size = |key: &str, flag: &Option<String>, env_name: &str, file: Option<NumberOrText>| {
        pick(flag.clone(), env(env_name), file.map(|v| v.text()))
            .map(|text| parse_limit(key, &text, |t| parse_size(t).map(|n| n as u64), "e.g. 2GiB"))
            .transpose()
    };
    if let Some(value) = size(
        "sandbox memory",
        &args.sandbox_memory,
        "AGENT_RUNTIME_SANDBOX_MEMORY",
        file.memory,
    )? {
        limits.memory_bytes = value;
    }
    if let Some(value) = size(
        "sandbox tmp",
        &args.sandbox_tmp,
        "AGENT_RUNTIME_SANDBOX_TMP",
        file.tmp,
    )? {
        limits.tmp_bytes = value;
    }
    if let Some(value) = size(
        "sandbox workspace",
        &args.sandbox_workspace,
        "AGENT_RUNTIME_SANDBOX_WORKSPACE",
        file.workspace,
    )? {
        limits.workspace_bytes = value;
    }
    if let Some(value) = size(
        "sandbox file size",
        &args.sandbox_file_size,
        "AGENT_RUNTIME_SANDBOX_FILE_SIZE",
        file.file_size,
    )? {
        limits.file_size_bytes = value;
    }
    if let Some(text) = pick(
        args.sandbox_pids.clone(),
        env("AGENT_RUNTIME_SANDBOX_PIDS"),
        file.pids.map(|v| v.text()),
    ) {
        limits.pids = parse_limit("sandbox pids", &text, |t| t.parse().ok(), "e.g. 1024")?;
    }
    if let Some(text) = pick(
        args.sandbox_cpus.clone(),
        env("AGENT_RUNTIME_SANDBOX_CPUS"),
        file.cpus.map(|v| v.text()),
    ) {
        limits.cpu_millicores = parse_limit("sandbox cpus", &text, parse_cpus, "e.g. 2 or 0.5")?;
    }
    if let Some(text) = pick(
        args.turn_timeout.clone(),
        env("AGENT_RUNTIME_TURN_TIMEOUT"),
        file.turn_timeout.map(|v| v.text()),
    ) {
        limits.turn_timeout = parse_limit(
            "turn timeout",
            &text,
            |t| parse_duration(t).filter(|d| *d >= Duration::from_secs(1)),
            "e.g. 1h or 90s",
        )?;
    }
    if let Some(text) = pick(
        args.sandbox_uids.clone(),
        env("AGENT_RUNTIME_SANDBOX_UIDS"),
        file.uids,
    ) {
        config.uid_range = Some(parse_uid_range(&text)?);
    }
    Ok(config)
}

fn pick_list(flag: &[String], env: Option<String>, file: Option<Vec<String>>) -> Vec<String> {
    let raw: Vec<String> = if !flag.is_empty() {
        flag.to_vec()
    } else if let Some(text) = env {
        vec![text]
    } else {
        file.unwrap_or_default()
    };
    raw.iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_policy(text: &str) -> Result<NetworkPolicy, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(NetworkPolicy::None),
        "allowlist" => Ok(NetworkPolicy::Allowlist),
        "open" => Ok(NetworkPolicy::Open),
        _ => Err(ConfigError::Invalid {
            key: "network".into(),
            value: text.into(),
            why: "expected none, allowlist or open".into(),
        }),
    }
}

/// `unlimited` gives `None`; anything else must parse to a positive value.
fn parse_limit<T: PartialEq + Default>(
    key: &str,
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
    example: &str,
) -> Result<Option<T>, ConfigError> {
    if text.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match parse(text.trim()) {
        Some(value) if value != T::default() => Ok(Some(value)),
        _ => Err(ConfigError::Invalid {
            key: key.into(),
            value: text.into(),
            why: format!("expected a positive value ({example}) or unlimited"),
        }),
    }
}

fn parse_cpus(text: &str) -> Option<u64> {
    let cpus: f64 = text.parse().ok()?;
    (cpus.is_finite() && (0.01..=1024.0).contains(&cpus)).then(|| (cpus * 1000.0).round() as u64)
}

/// `FIRST-LAST`, inclusive, above 0.
fn parse_uid_range(text: &str) -> Result<(u32, u32), ConfigError> {
    let invalid = || ConfigError::Invalid {
        key: "sandbox uids".into(),
        value: text.into(),
        why: "expected FIRST-LAST, e.g. 600000-665535, above 0".into(),
    };
    let (first, last) = text.trim().split_once('-').ok_or_else(invalid)?;
    let first: u32 = first.trim().parse().map_err(|_| invalid())?;
    let last: u32 = last.trim().parse().map_err(|_| invalid())?;
    if first == 0 || last < first || last == u32::MAX {
        return Err(invalid());
    }
    Ok((first, last - first + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let config = merge_sandbox(
            &SandboxArgs::default(),
            &no_env,
            SandboxFileConfig::default(),
        )
        .unwrap();
        assert_eq!(config, SandboxConfig::default());
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let args = SandboxArgs {
            sandbox_memory: Some("1GiB".into()),
            network_allow: vec!["a.example,*.b.example:443".into()],
            ..SandboxArgs::default()
        };
        let env = |name: &str| match name {
            "AGENT_RUNTIME_SANDBOX_MEMORY" => Some("2GiB".into()),
            "AGENT_RUNTIME_NETWORK" => Some("open".into()),
            "AGENT_RUNTIME_SANDBOX_PIDS" => Some("unlimited".into()),
            _ => None,
        };
        let file: SandboxFileConfig = toml::from_str(
            "network = \"none\"\nmemory = \"3GiB\"\ncpus = 1.5\nturn_timeout = \"90s\"\n\
             uids = \"700000-700099\"\negress_allow_private = [\"127.0.0.1:5432\"]\n",
        )
        .unwrap();
        let config = merge_sandbox(&args, &env, file).unwrap();
        assert_eq!(config.network, NetworkPolicy::Open);
        assert_eq!(config.network_allow, vec!["a.example", "*.b.example:443"]);
        assert_eq!(
            config.egress_allow_private,
            vec![AddressException::parse("127.0.0.1:5432").unwrap()]
        );
        assert_eq!(config.limits.memory_bytes, Some(1 << 30));
        assert_eq!(config.limits.pids, None);
        assert_eq!(config.limits.cpu_millicores, Some(1500));
        assert_eq!(config.limits.turn_timeout, Some(Duration::from_secs(90)));
        assert_eq!(config.uid_range, Some((700_000, 100)));
    }

    #[test]
    fn bad_values_name_their_setting() {
        let bad = |args: SandboxArgs| {
            merge_sandbox(&args, &no_env, SandboxFileConfig::default())
                .unwrap_err()
                .to_string()
        };
        let error = bad(SandboxArgs {
            network: Some("closed".into()),
            ..SandboxArgs::default()
        });
        assert!(
            error.contains("network") && error.contains("none, allowlist or open"),
            "{error}"
        );
        let error = bad(SandboxArgs {
            sandbox_cpus: Some("-1".into()),
            ..SandboxArgs::default()
        });
        assert!(error.contains("sandbox cpus"), "{error}");
        let error = bad(SandboxArgs {
            sandbox_memory: Some("0".into()),
            ..SandboxArgs::default()
        });
        assert!(error.contains("sandbox memory"), "{error}");
        let error = bad(SandboxArgs {
            sandbox_uids: Some("5-1".into()),
            ..SandboxArgs::default()
        });
        assert!(error.contains("sandbox uids"), "{error}");
        let error = bad(SandboxArgs {
            network_allow: vec!["*".into()],
            ..SandboxArgs::default()
        });
        assert!(error.contains("network allow"), "{error}");
        let error = bad(SandboxArgs {
            egress_allow_private: vec!["db.internal:5432".into()],
            ..SandboxArgs::default()
        });
        assert!(error.contains("egress allow private"), "{error}");
        assert!(toml::from_str::<SandboxFileConfig>("memroy = 1").is_err());
    }
}
