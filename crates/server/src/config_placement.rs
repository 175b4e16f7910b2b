//! Where sandboxes run: the default provider (`local` bubblewrap or `modal`), the Modal
//! settings, and the installation id that labels every sandbox so the reconciler finds the ones
//! a dead run left (`agent_runtime_core::sandboxes`). Merged like the rest ([`crate::config`]):
//! flags > environment > the config file's `[sandbox]` (`provider`, `install_id`,
//! `reconcile_interval`) and `[modal]` tables > defaults.
//!
//! | flag | env | file key | default |
//! |---|---|---|---|
//! | `--sandbox` | `AGENT_RUNTIME_SANDBOX` | `[sandbox] provider` | `local`; a profile's `sandbox.provider` overrides it |
//! | `--install-id` | `AGENT_RUNTIME_INSTALL_ID` | `[sandbox] install_id` | made once and kept in `<data-dir>/install-id`; the nodes of a cluster must share one |
//! | `--reconcile-interval` | `AGENT_RUNTIME_RECONCILE_INTERVAL` | `[sandbox] reconcile_interval` | `60s` |
//! | `--modal-token-id` | `MODAL_TOKEN_ID` | `[modal] token_id` | none (required for `modal`) |
//! | `--modal-token-secret` | `MODAL_TOKEN_SECRET` | `[modal] token_secret` | none (required for `modal`; never logged) |
//! | `--modal-server-url` | `MODAL_SERVER_URL` | `[modal] server_url` | `https://api.modal.com` |
//! | `--modal-environment` | `MODAL_ENVIRONMENT` | `[modal] environment` | the workspace's default |
//! | `--modal-app` | `AGENT_RUNTIME_MODAL_APP` | `[modal] app` | `agent-runtime` |
//! | `--modal-image` | `AGENT_RUNTIME_MODAL_IMAGE` | `[modal] image` | `node:22-slim` (the pinned agent CLIs are installed on top) |
//!
//! Modal is configured whenever a token pair is given, so profiles can use it while the default
//! stays `local`; `--sandbox modal` without one is refused at start.

use std::path::Path;
use std::time::Duration;

use agent_runtime_protocol::SandboxProviderKind;
use clap::Args;
use serde::Deserialize;

use crate::config::{parse_duration, pick, ConfigError, NumberOrText};

/// The default Modal API.
pub const DEFAULT_MODAL_SERVER_URL: &str = "https://api.modal.com";
/// The default Modal app sandboxes are created in.
pub const DEFAULT_MODAL_APP: &str = "agent-runtime";
/// The default base image of Modal sandboxes (from Docker Hub).
pub const DEFAULT_MODAL_IMAGE: &str = "node:22-slim";
/// The file in the data dir that keeps the installation id.
pub const INSTALL_ID_FILE: &str = "install-id";

/// Flags of where sandboxes run (flattened into `serve`).
#[derive(Debug, Default, Clone, Args)]
pub struct PlacementArgs {
    /// Where sandboxes run unless a profile says otherwise: local or modal
    /// [env: AGENT_RUNTIME_SANDBOX] [default: local]
    #[arg(long = "sandbox", value_name = "PROVIDER")]
    pub sandbox: Option<String>,
    /// Labels this installation's sandboxes, shared by the nodes of a cluster
    /// [env: AGENT_RUNTIME_INSTALL_ID] [default: made once, kept in <data-dir>/install-id]
    #[arg(long, value_name = "ID")]
    pub install_id: Option<String>,
    /// How often orphaned sandboxes are looked for and terminated
    /// [env: AGENT_RUNTIME_RECONCILE_INTERVAL] [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub reconcile_interval: Option<String>,
    /// Modal token id [env: MODAL_TOKEN_ID]
    #[arg(long, value_name = "ID")]
    pub modal_token_id: Option<String>,
    /// Modal token secret; never logged [env: MODAL_TOKEN_SECRET]
    #[arg(long, value_name = "SECRET")]
    pub modal_token_secret: Option<String>,
    /// Modal's API [env: MODAL_SERVER_URL] [default: https://api.modal.com]
    #[arg(long, value_name = "URL")]
    pub modal_server_url: Option<String>,
    /// Modal environment [env: MODAL_ENVIRONMENT] [default: the workspace's default]
    #[arg(long, value_name = "NAME")]
    pub modal_environment: Option<String>,
    /// Modal app the sandboxes belong to [env: AGENT_RUNTIME_MODAL_APP] [default: agent-runtime]
    #[arg(long, value_name = "NAME")]
    pub modal_app: Option<String>,
    /// Base image of Modal sandboxes, a registry reference
    /// [env: AGENT_RUNTIME_MODAL_IMAGE] [default: node:22-slim]
    #[arg(long, value_name = "IMAGE")]
    pub modal_image: Option<String>,
}

/// The config file's `[modal]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModalFileConfig {
    pub token_id: Option<String>,
    pub token_secret: Option<String>,
    pub server_url: Option<String>,
    pub environment: Option<String>,
    pub app: Option<String>,
    pub image: Option<String>,
}

/// The `[sandbox]` keys of this part.
#[derive(Debug, Default)]
pub struct PlacementFileKeys {
    pub provider: Option<String>,
    pub install_id: Option<String>,
    pub reconcile_interval: Option<NumberOrText>,
}

/// Where sandboxes run, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementConfig {
    pub default: SandboxProviderKind,
    /// `None`: made once and kept in the data dir ([`install_id`]).
    pub install_id: Option<String>,
    pub reconcile_interval: Duration,
    /// Set when a token pair is given.
    pub modal: Option<ModalSettings>,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            default: SandboxProviderKind::Local,
            install_id: None,
            reconcile_interval: agent_runtime_core::config::DEFAULT_RECONCILE_INTERVAL,
            modal: None,
        }
    }
}

/// How to reach Modal.
#[derive(Clone, PartialEq)]
pub struct ModalSettings {
    pub server_url: String,
    pub token_id: String,
    pub token_secret: String,
    pub environment: Option<String>,
    pub app: String,
    pub image: String,
}

impl std::fmt::Debug for ModalSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModalSettings")
            .field("server_url", &self.server_url)
            .field("token_id", &self.token_id)
            .field("token_secret", &"<redacted>")
            .field("environment", &self.environment)
            .field("app", &self.app)
            .field("image", &self.image)
            .finish()
    }
}

fn invalid(key: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        why: why.into(),
    }
}

/// Merges where sandboxes run.
pub fn merge_placement(
    args: &PlacementArgs,
    env: &dyn Fn(&str) -> Option<String>,
    keys: PlacementFileKeys,
    modal_file: ModalFileConfig,
) -> Result<PlacementConfig, ConfigError> {
    let default = match pick(
        args.sandbox.clone(),
        env("AGENT_RUNTIME_SANDBOX"),
        keys.provider,
    ) {
        None => SandboxProviderKind::Local,
        Some(text) => text
            .trim()
            .parse()
            .map_err(|why: String| invalid("sandbox", &text, &why))?,
    };
    let install_id = pick(
        args.install_id.clone(),
        env("AGENT_RUNTIME_INSTALL_ID"),
        keys.install_id,
    )
    .map(|id| id.trim().to_owned());
    if let Some(id) = &install_id {
        check_install_id(id)?;
    }
    let reconcile_interval = match pick(
        args.reconcile_interval.clone(),
        env("AGENT_RUNTIME_RECONCILE_INTERVAL"),
        keys.reconcile_interval.map(|t| t.text()),
    ) {
        None => agent_runtime_core::config::DEFAULT_RECONCILE_INTERVAL,
        Some(text) => match parse_duration(&text) {
            Some(d) if d >= Duration::from_secs(1) => d,
            _ => return Err(invalid("reconcile interval", &text, "expected 1s or more")),
        },
    };
    let token_id = pick(
        args.modal_token_id.clone(),
        env("MODAL_TOKEN_ID"),
        modal_file.token_id,
    );
    let token_secret = pick(
        args.modal_token_secret.clone(),
        env("MODAL_TOKEN_SECRET"),
        modal_file.token_secret,
    );
    let modal = match (token_id, token_secret) {
        (Some(token_id), Some(token_secret)) => {
            let server_url = pick(
                args.modal_server_url.clone(),
                env("MODAL_SERVER_URL"),
                modal_file.server_url,
            )
            .unwrap_or_else(|| DEFAULT_MODAL_SERVER_URL.to_owned());
            if !(server_url.starts_with("https://") || server_url.starts_with("http://")) {
                return Err(invalid(
                    "modal server URL",
                    &server_url,
                    "expected an https:// URL",
                ));
            }
            Some(ModalSettings {
                server_url: server_url.trim_end_matches('/').to_owned(),
                token_id,
                token_secret,
                environment: pick(
                    args.modal_environment.clone(),
                    env("MODAL_ENVIRONMENT"),
                    modal_file.environment,
                ),
                app: pick(
                    args.modal_app.clone(),
                    env("AGENT_RUNTIME_MODAL_APP"),
                    modal_file.app,
                )
                .unwrap_or_else(|| DEFAULT_MODAL_APP.to_owned()),
                image: pick(
                    args.modal_image.clone(),
                    env("AGENT_RUNTIME_MODAL_IMAGE"),
                    modal_file.image,
                )
                .unwrap_or_else(|| DEFAULT_MODAL_IMAGE.to_owned()),
            })
        }
        (None, None) => None,
        _ => {
            return Err(invalid(
                "modal token",
                "<redacted>",
                "give both MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (--modal-token-id, \
                 --modal-token-secret)",
            ))
        }
    };
    if default == SandboxProviderKind::Modal && modal.is_none() {
        return Err(invalid(
            "sandbox",
            "modal",
            "Modal needs a token: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (or --modal-token-id \
             and --modal-token-secret)",
        ));
    }
    Ok(PlacementConfig {
        default,
        install_id,
        reconcile_interval,
        modal,
    })
}

fn check_install_id(id: &str) -> Result<(), ConfigError> {
    let labels = [("k".to_owned(), id.to_owned())].into_iter().collect();
    agent_runtime_sandbox::validate_labels(&labels)
        .map_err(|_| invalid("install id", id, "expected 1 to 63 of A-Z a-z 0-9 . _ -"))
}

/// The installation id: the configured one, else the one kept in `data_dir`, made (a random
/// UUID) and written there the first time.
pub fn install_id(configured: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_owned());
    }
    let path = data_dir.join(INSTALL_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if check_install_id(text.trim()).is_ok() => return Ok(text.trim().to_owned()),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} does not hold an install id (1 to 63 of A-Z a-z 0-9 . _ -)",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Written beside and renamed: a crash never leaves half an id.
    let partial = data_dir.join(format!(".{INSTALL_ID_FILE}.partial"));
    std::fs::write(&partial, format!("{id}\n"))?;
    std::fs::rename(&partial, &path)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_run_locally_without_modal() {
        let placed = merge_placement(
            &PlacementArgs::default(),
            &env_of(&[]),
            PlacementFileKeys::default(),
            ModalFileConfig::default(),
        )
        .unwrap();
        assert_eq!(placed, PlacementConfig::default());
    }

    #[test]
    fn modal_comes_from_the_environment_and_flags_win() {
        let args = PlacementArgs {
            sandbox: Some("modal".into()),
            modal_app: Some("mine".into()),
            ..Default::default()
        };
        let placed = merge_placement(
            &args,
            &env_of(&[
                ("MODAL_TOKEN_ID", "ak-1"),
                ("MODAL_TOKEN_SECRET", "as-2"),
                ("MODAL_SERVER_URL", "http://127.0.0.1:9/"),
                ("AGENT_RUNTIME_MODAL_APP", "theirs"),
            ]),
            PlacementFileKeys::default(),
            ModalFileConfig::default(),
        )
        .unwrap();
        assert_eq!(placed.default, SandboxProviderKind::Modal);
        assert_eq!(
            placed.modal,
            Some(ModalSettings {
                server_url: "http://127.0.0.1:9".into(),
                token_id: "ak-1".into(),
                token_secret: "as-2".into(),
                environment: None,
                app: "mine".into(),
                image: DEFAULT_MODAL_IMAGE.into(),
            })
        );
        assert!(!format!("{:?}", placed.modal).contains("as-2"));
    }

    /// Flags, environment, and what the refusal must say.
    type Case = (
        PlacementArgs,
        &'static [(&'static str, &'static str)],
        &'static str,
    );

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let cases: Vec<Case> = vec![
            (
                PlacementArgs {
                    sandbox: Some("modal".into()),
                    ..Default::default()
                },
                &[],
                "Modal needs a token",
            ),
            (
                PlacementArgs {
                    sandbox: Some("docker".into()),
                    ..Default::default()
                },
                &[],
                "unknown sandbox provider",
            ),
            (
                PlacementArgs::default(),
                &[("MODAL_TOKEN_ID", "x")],
                "give both",
            ),
            (
                PlacementArgs {
                    install_id: Some("has space".into()),
                    ..Default::default()
                },
                &[],
                "install id",
            ),
            (
                PlacementArgs {
                    reconcile_interval: Some("0s".into()),
                    ..Default::default()
                },
                &[],
                "1s or more",
            ),
        ];
        for (args, env, why) in cases {
            let err = merge_placement(
                &args,
                &env_of(env),
                PlacementFileKeys::default(),
                ModalFileConfig::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(why), "{err} should say {why}");
        }
    }

    #[test]
    fn the_install_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = install_id(None, dir.path()).unwrap();
        assert_eq!(install_id(None, dir.path()).unwrap(), first);
        assert_eq!(install_id(Some("given"), dir.path()).unwrap(), "given");
        std::fs::write(dir.path().join(INSTALL_ID_FILE), "not valid!\n").unwrap();
        assert!(install_id(None, dir.path()).is_err());
    }
}
