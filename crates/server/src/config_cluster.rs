//! The cluster part of the configuration: running this server as one node of several over one
//! PostgreSQL database (`docs/scaling.md`). Merged like the rest ([`crate::config`]): flags >
//! environment > the config file's `[cluster]` table > defaults. Setting a node id turns it on.
//!
//! | flag | env | `[cluster]` key | default |
//! |---|---|---|---|
//! | `--node-id` | `AGENT_RUNTIME_NODE_ID` | `node_id` | none: the only node |
//! | `--advertise-url` | `AGENT_RUNTIME_ADVERTISE_URL` | `advertise_url` | `http://HOST:PORT` when both are concrete |
//! | `--cluster-secret` | `AGENT_RUNTIME_CLUSTER_SECRET` | `secret` | none (required with a node id, at least 16 characters) |
//! | `--lease-ttl` | `AGENT_RUNTIME_LEASE_TTL` | `lease_ttl` | `10s` |
//!
//! Several nodes need a store they share: a node id with a `sqlite://` or `memory` store is
//! refused at start.

use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::config::{parse_duration, pick, ConfigError, NumberOrText};

/// Shortest shared secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Shortest lease TTL accepted: the heartbeat runs every third of it.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

/// Flags of the cluster part (flattened into `serve`).
#[derive(Debug, Default, Clone, Args)]
pub struct ClusterArgs {
    /// Run as one node of several sharing the PostgreSQL store, under this id (unique among
    /// live nodes) [env: AGENT_RUNTIME_NODE_ID]
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// The URL other nodes reach this one at, e.g. http://10.0.0.7:8080
    /// [env: AGENT_RUNTIME_ADVERTISE_URL] [default: http://HOST:PORT]
    #[arg(long, value_name = "URL")]
    pub advertise_url: Option<String>,
    /// The secret every node shares to forward commands to each other; never logged
    /// [env: AGENT_RUNTIME_CLUSTER_SECRET]
    #[arg(long, value_name = "SECRET")]
    pub cluster_secret: Option<String>,
    /// How long a node's sessions stay its own without a heartbeat, e.g. 10s
    /// [env: AGENT_RUNTIME_LEASE_TTL] [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub lease_ttl: Option<String>,
}

/// The config file's `[cluster]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFileConfig {
    pub node_id: Option<String>,
    pub advertise_url: Option<String>,
    pub secret: Option<String>,
    pub lease_ttl: Option<NumberOrText>,
}

/// A node's settings, decided once.
#[derive(Clone)]
pub struct ClusterSettings {
    pub node_id: String,
    /// `None`: derived from the bound host and port when the server starts.
    pub advertise_url: Option<String>,
    pub secret: String,
    pub lease_ttl: Duration,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("node_id", &self.node_id)
            .field("advertise_url", &self.advertise_url)
            .field("secret", &"<redacted>")
            .field("lease_ttl", &self.lease_ttl)
            .finish()
    }
}

impl ClusterSettings {
    /// The URL other nodes use: the configured one, else `http://host:port` when the server is
    /// bound to a concrete address and port.
    pub fn advertise_url_for(&self, host: &str, port: u16) -> Result<String, ConfigError> {
        if let Some(url) = &self.advertise_url {
            return Ok(url.clone());
        }
        let unspecified = host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        if port == 0 || unspecified {
            return Err(ConfigError::Invalid {
                key: "advertise URL".into(),
                value: format!("{host}:{port}"),
                why: "other nodes cannot reach an unspecified address or port 0: set \
                      --advertise-url (AGENT_RUNTIME_ADVERTISE_URL)"
                    .into(),
            });
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(format!("http://{host}:{port}"))
    }
}

fn invalid(key: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        why: why.into(),
    }
}

/// Merges the cluster settings; `None` when no node id is set. `store_url` must name a store
/// several nodes can share.
pub fn merge_cluster(
    args: &ClusterArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: ClusterFileConfig,
    store_url: &str,
) -> Result<Option<ClusterSettings>, ConfigError> {
    let Some(node_id) = pick(
        args.node_id.clone(),
        env("AGENT_RUNTIME_NODE_ID"),
        file.node_id,
    ) else {
        return Ok(None);
    };
    let node_id = node_id.trim().to_string();
    let safe = node_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if node_id.is_empty() || node_id.len() > 128 || !safe {
        return Err(invalid(
            "node id",
            &node_id,
            "expected 1 to 128 of A-Z a-z 0-9 - _ .",
        ));
    }
    if !(store_url.starts_with("postgres://") || store_url.starts_with("postgresql://")) {
        let backend = store_url.split("://").next().unwrap_or(store_url);
        return Err(invalid(
            "node id",
            &node_id,
            &format!(
                "several nodes need a store they share: PostgreSQL (--store postgres://...); \
                 the {backend} store serves one node only"
            ),
        ));
    }
    let advertise_url = pick(
        args.advertise_url.clone(),
        env("AGENT_RUNTIME_ADVERTISE_URL"),
        file.advertise_url,
    )
    .map(|url| url.trim_end_matches('/').to_string());
    if let Some(url) = &advertise_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "advertise URL",
                url,
                "expected an http:// or https:// URL",
            ));
        }
    }
    let secret = pick(
        args.cluster_secret.clone(),
        env("AGENT_RUNTIME_CLUSTER_SECRET"),
        file.secret,
    )
    .unwrap_or_default();
    if secret.len() < MIN_SECRET_LEN {
        return Err(invalid(
            "cluster secret",
            "<redacted>",
            &format!(
                "several nodes need a shared secret of at least {MIN_SECRET_LEN} characters \
                 (--cluster-secret, AGENT_RUNTIME_CLUSTER_SECRET)"
            ),
        ));
    }
    let lease_ttl = match pick(
        args.lease_ttl.clone(),
        env("AGENT_RUNTIME_LEASE_TTL"),
        file.lease_ttl.map(|t| t.text()),
    ) {
        None => agent_runtime_core::DEFAULT_LEASE_TTL,
        Some(text) => parse_duration(&text)
            .filter(|ttl| *ttl >= MIN_LEASE_TTL)
            .ok_or_else(|| invalid("lease TTL", &text, "expected at least 1s, e.g. 10s"))?,
    };
    Ok(Some(ClusterSettings {
        node_id,
        advertise_url,
        secret,
        lease_ttl,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const PG: &str = "postgres://db/agent";

    #[test]
    fn off_without_a_node_id() {
        let merged = merge_cluster(
            &ClusterArgs::default(),
            &env_of(&[]),
            Default::default(),
            PG,
        );
        assert!(merged.expect("merge").is_none());
    }

    #[test]
    fn a_node_needs_postgres_and_a_secret() {
        let args = ClusterArgs {
            node_id: Some("n1".into()),
            cluster_secret: Some("0123456789abcdef".into()),
            ..Default::default()
        };
        for store in ["sqlite:///tmp/x.db", "memory"] {
            let err = merge_cluster(&args, &env_of(&[]), Default::default(), store)
                .expect_err("one-node store");
            assert!(err.to_string().contains("PostgreSQL"), "{err}");
        }
        let short = ClusterArgs {
            cluster_secret: Some("short".into()),
            ..args.clone()
        };
        let err = merge_cluster(&short, &env_of(&[]), Default::default(), PG).expect_err("short");
        assert!(err.to_string().contains("at least 16"), "{err}");
        assert!(
            !err.to_string().contains("short\""),
            "the secret is not echoed: {err}"
        );
        let settings = merge_cluster(&args, &env_of(&[]), Default::default(), PG)
            .expect("merge")
            .expect("on");
        assert_eq!(settings.lease_ttl, agent_runtime_core::DEFAULT_LEASE_TTL);
        assert!(!format!("{settings:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let file = ClusterFileConfig {
            node_id: Some("from-file".into()),
            secret: Some("file-secret-0123456789".into()),
            lease_ttl: Some(NumberOrText::Text("30s".into())),
            advertise_url: Some("http://file:1/".into()),
        };
        let env = env_of(&[
            ("AGENT_RUNTIME_NODE_ID", "from-env"),
            ("AGENT_RUNTIME_LEASE_TTL", "3s"),
        ]);
        let args = ClusterArgs {
            advertise_url: Some("http://flag:2/".into()),
            ..Default::default()
        };
        let s = merge_cluster(&args, &env, file, PG)
            .expect("merge")
            .expect("on");
        assert_eq!(s.node_id, "from-env");
        assert_eq!(s.lease_ttl, Duration::from_secs(3));
        assert_eq!(s.advertise_url.as_deref(), Some("http://flag:2"));
        assert_eq!(s.secret, "file-secret-0123456789");
    }

    #[test]
    fn bad_values_are_refused() {
        let base = ClusterArgs {
            node_id: Some("n1".into()),
            cluster_secret: Some("0123456789abcdef".into()),
            ..Default::default()
        };
        let cases = [
            ClusterArgs {
                node_id: Some("bad id".into()),
                ..base.clone()
            },
            ClusterArgs {
                lease_ttl: Some("200ms".into()),
                ..base.clone()
            },
            ClusterArgs {
                lease_ttl: Some("soon".into()),
                ..base.clone()
            },
            ClusterArgs {
                advertise_url: Some("ftp://x".into()),
                ..base
            },
        ];
        for case in cases {
            assert!(
                merge_cluster(&case, &env_of(&[]), Default::default(), PG).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn the_advertised_url_defaults_to_a_concrete_bind() {
        let settings = ClusterSettings {
            node_id: "n".into(),
            advertise_url: None,
            secret: String::new(),
            lease_ttl: Duration::from_secs(10),
        };
        assert_eq!(
            settings.advertise_url_for("127.0.0.1", 8081).expect("url"),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            settings.advertise_url_for("::1", 8081).expect("url"),
            "http://[::1]:8081"
        );
        assert!(settings.advertise_url_for("0.0.0.0", 8081).is_err());
        assert!(settings.advertise_url_for("127.0.0.1", 0).is_err());
    }
}
