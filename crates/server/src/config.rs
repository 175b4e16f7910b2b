//! Configuration, read in one place: command-line flags, environment variables and an optional
//! TOML file merge into one [`ServerConfig`] that is passed down.
//!
//! Precedence: flags > environment > config file > defaults. This module is the only one that
//! reads the process environment ([`process_env`]); everything else takes a [`ServerConfig`], so
//! tests build one directly and never touch the environment.
//!
//! | flag | env | file key | default |
//! |---|---|---|---|
//! | `--config` | `AGENT_RUNTIME_CONFIG` | | none |
//! | `--host` | `AGENT_RUNTIME_HOST` | `host` | `127.0.0.1` |
//! | `--port` | `AGENT_RUNTIME_PORT` | `port` | `8080` (0: any free port) |
//! | `--data-dir` | `AGENT_RUNTIME_DATA_DIR` | `data_dir` | as root `/var/lib/agent-runtime`; else `$XDG_DATA_HOME/agent-runtime` or `~/.local/share/agent-runtime` |
//! | `--store` | `AGENT_RUNTIME_STORE` | `store` | `sqlite://<data-dir>/agent-runtime.db` |
//! | `--tools-dir` | `AGENT_RUNTIME_TOOLS_DIR` | `tools_dir` | `<data-dir>/tools` |
//! | `--api-key` (repeatable, or comma-separated) | `AGENT_RUNTIME_API_KEY` (comma-separated) | `api_keys` | none: loopback only, and only loopback `Host`s are served |
//! | `--allowed-origins` (repeatable, or comma-separated) | `AGENT_RUNTIME_ALLOWED_ORIGINS` (comma-separated) | `allowed_origins` | none: only the server's own origin may change state or open a WebSocket; no CORS |
//! | `--idle-timeout` | `AGENT_RUNTIME_IDLE_TIMEOUT` | `idle_timeout` | `15m` |
//! | `--session-unload-after` | `AGENT_RUNTIME_SESSION_UNLOAD_AFTER` | `session_unload_after` | `5m` (0: never) |
//! | `--anthropic-base-url` | `ANTHROPIC_BASE_URL` | `anthropic_base_url` | the API's own |
//! | `--anthropic-api-key` | `ANTHROPIC_API_KEY` | `anthropic_api_key` | none |
//! | `--gemini-base-url` | `GOOGLE_GEMINI_BASE_URL` | `gemini_base_url` | the API's own |
//! | `--gemini-api-key` | `GEMINI_API_KEY` | `gemini_api_key` | none |
//! | `--openai-base-url` | `OPENAI_BASE_URL` | `openai_base_url` | the API's own (without `/v1`: agents add it) |
//! | `--openai-api-key` | `OPENAI_API_KEY` | `openai_api_key` | none |
//! | | | `[[agents]]` | none: more ACP agents, see `agent_runtime_agents::acp::spec` |
//! | `--demo` | `AGENT_RUNTIME_DEMO` | `demo` | off |
//! | `--demo-scenario` | `AGENT_RUNTIME_DEMO_SCENARIO` | `demo_scenario` | the built-in demo (JSON scenario, see the testkit crate) |
//! | `--skip-install` | `AGENT_RUNTIME_SKIP_INSTALL` | `skip_install` | off |
//! | `--otlp-endpoint` | `OTEL_EXPORTER_OTLP_ENDPOINT` | `otlp_endpoint` | none: no export (spans go to OTLP/HTTP `<endpoint>/v1/traces` as JSON; `OTEL_SERVICE_NAME` names the service, default `agent-runtime`) |
//! | `--warm-pool` | `AGENT_RUNTIME_WARM_POOL` | `warm_pool` | `1` warm sandbox per agent and profile in use (0: off) |
//! | `--json-body-limit` | `AGENT_RUNTIME_JSON_BODY_LIMIT` | `json_body_limit` | 1 MiB |
//! | `--file-body-limit` | `AGENT_RUNTIME_FILE_BODY_LIMIT` | `file_body_limit` | 32 MiB |
//!
//! Sandbox settings (network policy, limits, host uids) are listed in [`crate::config_sandbox`],
//! the settings of a node of several in [`crate::config_cluster`], where sandboxes run (local or
//! Modal) in [`crate::config_placement`].
//!
//! Durations are seconds (`900`) or units (`15m`, `1h30m`, `90s`, `500ms`); sizes are bytes or
//! `KiB`/`MiB` suffixed. `RUST_LOG` sets the log filter (default `info`).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use agent_runtime_agents::AcpAgentSpec;
use agent_runtime_sandbox::HelperProgram;

use crate::app::BodyLimits;
use crate::config_cluster::{merge_cluster, ClusterArgs, ClusterFileConfig, ClusterSettings};
use crate::config_placement::{
    merge_placement, ModalFileConfig, PlacementArgs, PlacementConfig, PlacementFileKeys,
};
use crate::config_sandbox::merge_sandbox;
pub use crate::config_sandbox::{SandboxArgs, SandboxConfig, SandboxFileConfig};
use crate::edge::Origin;

/// Default idle timeout of a sandbox.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Warm sandboxes kept per agent and profile (`agent_runtime_core`'s pool).
pub const DEFAULT_WARM_POOL: usize = 1;

/// Most warm sandboxes per agent and profile a configuration may ask for.
pub const MAX_WARM_POOL: usize = 16;
/// How long a quiet session stays in memory by default.
pub use agent_runtime_core::DEFAULT_SESSION_UNLOAD_AFTER;
/// Default port.
pub const DEFAULT_PORT: u16 = 8080;
/// Default bind address.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default data dir of a server running as root.
pub const ROOT_DATA_DIR: &str = "/var/lib/agent-runtime";
/// How long shutdown waits for open connections before cutting them.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything the server needs, decided once.
#[derive(Clone)]
pub struct ServerConfig {
    pub host: String,
    /// 0 picks a free port; the bound address is logged as `listening on http://…`.
    pub port: u16,
    pub data_dir: PathBuf,
    /// `memory`, `sqlite://PATH`, or (later) `postgres://…`.
    pub store_url: String,
    /// Where the agent CLIs are installed.
    pub tools_dir: PathBuf,
    /// Accepted API keys; empty means no auth, and then only a loopback bind is allowed and only
    /// loopback `Host`s are served.
    pub api_keys: Vec<String>,
    /// Exact web origins (`http://localhost:5173`) besides the server's own that may change state,
    /// open WebSockets and read responses through CORS (see [`crate::edge`]).
    pub allowed_origins: Vec<Origin>,
    pub idle_timeout: Duration,
    /// A quiet session without subscribers leaves memory after this long; `None`: never.
    pub session_unload_after: Option<Duration>,
    pub anthropic_base_url: Option<String>,
    pub anthropic_api_key: Option<String>,
    pub gemini_base_url: Option<String>,
    pub gemini_api_key: Option<String>,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    /// ACP agents besides the built-in ones (the config file's `[[agents]]`).
    pub agents: Vec<AcpAgentSpec>,
    /// Answer with the built-in scripted demo model (started on loopback) instead of a real one.
    pub demo: bool,
    /// A scenario file (testkit JSON) the demo model answers from instead of the built-in one.
    pub demo_scenario: Option<PathBuf>,
    /// Do not install the agent CLIs at startup (the first turn installs them if needed).
    pub skip_install: bool,
    /// Warm sandboxes kept per agent and profile in use; 0 turns the pool off.
    pub warm_pool: usize,
    /// Where tracing spans are exported over OTLP/HTTP (`None`: nowhere), and the service name
    /// they carry.
    pub otlp_endpoint: Option<String>,
    pub otlp_service_name: String,
    /// Let a missing bubblewrap be installed with the system package manager.
    pub install_bwrap: bool,
    /// The `PATH` searched for bubblewrap (`None`: only its standard location).
    pub path_env: Option<OsString>,
    pub limits: BodyLimits,
    /// How long shutdown waits for open connections.
    pub shutdown_grace: Duration,
    /// Network policy, limits and host uids of sandboxes.
    pub sandbox: SandboxConfig,
    /// The sandbox helper; `None`: this binary, as `agent-runtime sandbox-helper`.
    pub sandbox_helper: Option<HelperProgram>,
    /// This server is one node of several (`None`: the only one).
    pub cluster: Option<ClusterSettings>,
    /// Where sandboxes run (local, Modal) and how their leftovers are found.
    pub placement: PlacementConfig,
}

impl ServerConfig {
    /// Defaults for a data dir: SQLite store and tools inside it, loopback, port 8080, no keys.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        ServerConfig {
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            store_url: default_store_url(&data_dir),
            tools_dir: data_dir.join("tools"),
            data_dir,
            api_keys: Vec::new(),
            allowed_origins: Vec::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            session_unload_after: Some(DEFAULT_SESSION_UNLOAD_AFTER),
            anthropic_base_url: None,
            anthropic_api_key: None,
            gemini_base_url: None,
            gemini_api_key: None,
            openai_base_url: None,
            openai_api_key: None,
            agents: Vec::new(),
            demo: false,
            demo_scenario: None,
            skip_install: false,
            warm_pool: DEFAULT_WARM_POOL,
            otlp_endpoint: None,
            otlp_service_name: "agent-runtime".into(),
            install_bwrap: false,
            path_env: None,
            limits: BodyLimits::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            sandbox: SandboxConfig::default(),
            sandbox_helper: None,
            cluster: None,
            placement: PlacementConfig::default(),
        }
    }

    /// Refuses settings that cannot be served safely: with no API key, only a loopback address
    /// may be bound (anyone who can reach the port could otherwise run agents).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_keys.iter().all(|k| k.is_empty()) && !is_loopback_host(&self.host) {
            return Err(ConfigError::NonLoopbackWithoutKey {
                host: self.host.clone(),
            });
        }
        if self.limits.json == 0 || self.limits.file == 0 {
            return Err(ConfigError::invalid("body limit", "0", "must be positive"));
        }
        Ok(())
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("store_url", &redact_url(&self.store_url))
            .field("tools_dir", &self.tools_dir)
            .field("api_keys", &format!("<{} redacted>", self.api_keys.len()))
            .field(
                "allowed_origins",
                &self
                    .allowed_origins
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("session_unload_after", &self.session_unload_after)
            .field("anthropic_base_url", &self.anthropic_base_url)
            .field(
                "anthropic_api_key",
                &self.anthropic_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("gemini_base_url", &self.gemini_base_url)
            .field(
                "gemini_api_key",
                &self.gemini_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("openai_base_url", &self.openai_base_url)
            .field(
                "openai_api_key",
                &self.openai_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "agents",
                &self
                    .agents
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("demo", &self.demo)
            .field("demo_scenario", &self.demo_scenario)
            .field("skip_install", &self.skip_install)
            .field("warm_pool", &self.warm_pool)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_service_name", &self.otlp_service_name)
            .field("install_bwrap", &self.install_bwrap)
            .field("limits", &self.limits)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("sandbox", &self.sandbox)
            .field("sandbox_helper", &self.sandbox_helper)
            .field("cluster", &self.cluster)
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {key} {value:?}: {why}")]
    Invalid {
        key: String,
        value: String,
        why: String,
    },
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {}: {message}", path.display())]
    ParseFile { path: PathBuf, message: String },
    #[error(
        "refusing to listen on {host:?} without an API key: set --api-key (AGENT_RUNTIME_API_KEY) \
         or bind a loopback address such as 127.0.0.1"
    )]
    NonLoopbackWithoutKey { host: String },
}

impl ConfigError {
    fn invalid(key: &str, value: &str, why: &str) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            value: value.into(),
            why: why.into(),
        }
    }
}

/// `agent-runtime`: run AI coding agents in sandboxes, over REST, WebSocket and SSE.
#[derive(Debug, Parser)]
#[command(name = "agent-runtime", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Install the pinned agent CLIs into the tools dir, then exit.
    Install(ServeArgs),
}

/// Flags of `serve` (and `install`, which uses the directories only). Each has an environment
/// variable and a config-file key; see the module docs.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// TOML config file [env: AGENT_RUNTIME_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to bind [env: AGENT_RUNTIME_HOST] [default: 127.0.0.1]
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind, 0 for any free one [env: AGENT_RUNTIME_PORT] [default: 8080]
    #[arg(long)]
    pub port: Option<u16>,
    /// Where sessions, sandboxes and tools live [env: AGENT_RUNTIME_DATA_DIR]
    /// [default: /var/lib/agent-runtime as root, else ~/.local/share/agent-runtime]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Store URL: sqlite://PATH, memory [env: AGENT_RUNTIME_STORE]
    /// [default: sqlite://DATA_DIR/agent-runtime.db]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Where agent CLIs are installed [env: AGENT_RUNTIME_TOOLS_DIR] [default: DATA_DIR/tools]
    #[arg(long, value_name = "DIR")]
    pub tools_dir: Option<PathBuf>,
    /// API key clients must present; repeatable or comma-separated [env: AGENT_RUNTIME_API_KEY]
    #[arg(long = "api-key", value_name = "KEY", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Web origins besides the server's own that may call the API from a browser, e.g.
    /// http://localhost:5173; repeatable or comma-separated [env: AGENT_RUNTIME_ALLOWED_ORIGINS]
    #[arg(long = "allowed-origins", value_name = "ORIGIN", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Stop an idle sandbox after this long, e.g. 900 or 15m [env: AGENT_RUNTIME_IDLE_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Unload a session from memory once it has been quiet (no turn, no sandbox, nothing
    /// waiting) and without subscribers this long, e.g. 300 or 5m; 0: never
    /// [env: AGENT_RUNTIME_SESSION_UNLOAD_AFTER]
    #[arg(long, value_name = "DURATION")]
    pub session_unload_after: Option<String>,
    /// Anthropic-compatible API endpoint for the agents [env: ANTHROPIC_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub anthropic_base_url: Option<String>,
    /// Anthropic API key for the agents; never logged [env: ANTHROPIC_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub anthropic_api_key: Option<String>,
    /// Gemini API endpoint for the agents [env: GOOGLE_GEMINI_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub gemini_base_url: Option<String>,
    /// Gemini API key for the agents; never logged [env: GEMINI_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub gemini_api_key: Option<String>,
    /// OpenAI-compatible API endpoint for the agents, without /v1 [env: OPENAI_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub openai_base_url: Option<String>,
    /// OpenAI API key for the agents; never logged [env: OPENAI_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub openai_api_key: Option<String>,
    /// Answer with the built-in scripted demo model [env: AGENT_RUNTIME_DEMO]
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub demo: Option<bool>,
    /// Scenario file for the demo model, e.g. a slower one [env: AGENT_RUNTIME_DEMO_SCENARIO]
    #[arg(long, value_name = "FILE")]
    pub demo_scenario: Option<PathBuf>,
    /// Do not install agent CLIs at startup [env: AGENT_RUNTIME_SKIP_INSTALL]
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub skip_install: Option<bool>,
    /// Warm sandboxes (agent started, waiting) kept per agent and profile in use; 0 turns the
    /// pool off [env: AGENT_RUNTIME_WARM_POOL] [default: 1]
    #[arg(long, value_name = "N")]
    pub warm_pool: Option<String>,
    /// Export tracing spans over OTLP/HTTP (JSON) to this collector, e.g. http://localhost:4318
    /// [env: OTEL_EXPORTER_OTLP_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Largest JSON body, e.g. 1MiB [env: AGENT_RUNTIME_JSON_BODY_LIMIT]
    #[arg(long, value_name = "SIZE")]
    pub json_body_limit: Option<String>,
    /// Largest file upload, e.g. 32MiB [env: AGENT_RUNTIME_FILE_BODY_LIMIT]
    #[arg(long, value_name = "SIZE")]
    pub file_body_limit: Option<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub placement: PlacementArgs,
}

/// The config file: the same settings as the flags, snake_case keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
    pub tools_dir: Option<PathBuf>,
    pub api_keys: Option<OneOrMany>,
    pub allowed_origins: Option<OneOrMany>,
    pub idle_timeout: Option<NumberOrText>,
    pub session_unload_after: Option<NumberOrText>,
    pub anthropic_base_url: Option<String>,
    pub anthropic_api_key: Option<String>,
    pub gemini_base_url: Option<String>,
    pub gemini_api_key: Option<String>,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    /// More ACP agents, `[[agents]]` tables.
    pub agents: Option<Vec<AcpAgentSpec>>,
    pub demo: Option<bool>,
    pub demo_scenario: Option<PathBuf>,
    pub skip_install: Option<bool>,
    pub warm_pool: Option<NumberOrText>,
    pub otlp_endpoint: Option<String>,
    pub json_body_limit: Option<NumberOrText>,
    pub file_body_limit: Option<NumberOrText>,
    /// The `[sandbox]` table, see [`crate::config_sandbox`].
    pub sandbox: Option<SandboxFileConfig>,
    /// The `[cluster]` table, see [`crate::config_cluster`].
    pub cluster: Option<ClusterFileConfig>,
    /// The `[modal]` table, see [`crate::config_placement`].
    pub modal: Option<ModalFileConfig>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A number (seconds, bytes) or a text with units.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(u64),
    Text(String),
}

impl NumberOrText {
    pub(crate) fn text(&self) -> String {
        match self {
            NumberOrText::Number(n) => n.to_string(),
            NumberOrText::Text(t) => t.clone(),
        }
    }
}

/// Reads one variable of the process environment. The only environment access of the server.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The `PATH` of this process, searched for bubblewrap.
pub fn process_path() -> Option<OsString> {
    std::env::var_os("PATH")
}

/// The log filter: `RUST_LOG`, default `info`.
pub fn log_filter(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("RUST_LOG").unwrap_or_else(|| "info".into())
}

/// Merges flags, environment (through `env`) and the config file into a [`ServerConfig`].
pub fn resolve(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigError> {
    let file_path = args
        .config
        .clone()
        .or_else(|| env("AGENT_RUNTIME_CONFIG").map(PathBuf::from));
    let file = match &file_path {
        Some(path) => read_file_config(path)?,
        None => FileConfig::default(),
    };
    let as_root = matches!(
        agent_runtime_sandbox::HostUser::recommended(),
        agent_runtime_sandbox::HostUser::Range { .. }
    );
    merge(args, env, file, as_root)
}

/// Reads and parses a TOML config file.
pub fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The precedence rules, over already-read inputs. `as_root`: this process runs as root (then
/// sandboxes run as an unprivileged host user, who must be able to enter the data dir, so the
/// default data dir is `/var/lib/agent-runtime` rather than one under root's home).
pub fn merge(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: FileConfig,
    as_root: bool,
) -> Result<ServerConfig, ConfigError> {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| env("AGENT_RUNTIME_DATA_DIR").map(PathBuf::from))
        .or(file.data_dir)
        .unwrap_or_else(|| default_data_dir(env, as_root));
    let data_dir = absolute(&data_dir);
    let mut config = ServerConfig::new(&data_dir);

    if let Some(host) = pick(args.host.clone(), env("AGENT_RUNTIME_HOST"), file.host) {
        config.host = host;
    }
    let port = match (args.port, env("AGENT_RUNTIME_PORT")) {
        (Some(port), _) => Some(port),
        (None, Some(text)) => Some(
            text.trim()
                .parse()
                .map_err(|_| ConfigError::invalid("port", &text, "expected 0 to 65535"))?,
        ),
        (None, None) => file.port,
    };
    if let Some(port) = port {
        config.port = port;
    }
    if let Some(store) = pick(args.store.clone(), env("AGENT_RUNTIME_STORE"), file.store) {
        config.store_url = store;
    }
    if let Some(tools) = pick(
        args.tools_dir.clone(),
        env("AGENT_RUNTIME_TOOLS_DIR").map(PathBuf::from),
        file.tools_dir,
    ) {
        config.tools_dir = absolute(&tools);
    }
    config.api_keys = pick_list(&args.api_keys, env("AGENT_RUNTIME_API_KEY"), file.api_keys);
    config.allowed_origins = pick_list(
        &args.allowed_origins,
        env("AGENT_RUNTIME_ALLOWED_ORIGINS"),
        file.allowed_origins,
    )
    .iter()
    .map(|text| {
        Origin::parse(text)
            .map_err(|why| ConfigError::invalid("allowed origin", text, &why.to_string()))
    })
    .collect::<Result<_, _>>()?;
    if let Some(text) = pick(
        args.idle_timeout.clone(),
        env("AGENT_RUNTIME_IDLE_TIMEOUT"),
        file.idle_timeout.map(|t| t.text()),
    ) {
        config.idle_timeout = parse_duration(&text).ok_or_else(|| {
            ConfigError::invalid("idle timeout", &text, "expected e.g. 900 or 15m")
        })?;
    }
    if let Some(text) = pick(
        args.session_unload_after.clone(),
        env("AGENT_RUNTIME_SESSION_UNLOAD_AFTER"),
        file.session_unload_after.map(|t| t.text()),
    ) {
        let after = parse_duration(&text).ok_or_else(|| {
            ConfigError::invalid(
                "session unload time",
                &text,
                "expected e.g. 300 or 5m, or 0",
            )
        })?;
        config.session_unload_after = (!after.is_zero()).then_some(after);
    }
    config.anthropic_base_url = pick(
        args.anthropic_base_url.clone(),
        env("ANTHROPIC_BASE_URL"),
        file.anthropic_base_url,
    );
    config.anthropic_api_key = pick(
        args.anthropic_api_key.clone(),
        env("ANTHROPIC_API_KEY"),
        file.anthropic_api_key,
    );
    config.gemini_base_url = pick(
        args.gemini_base_url.clone(),
        env("GOOGLE_GEMINI_BASE_URL"),
        file.gemini_base_url,
    );
    config.gemini_api_key = pick(
        args.gemini_api_key.clone(),
        env("GEMINI_API_KEY"),
        file.gemini_api_key,
    );
    config.openai_base_url = pick(
        args.openai_base_url.clone(),
        env("OPENAI_BASE_URL"),
        file.openai_base_url,
    )
    .map(|url| strip_v1(&url));
    config.openai_api_key = pick(
        args.openai_api_key.clone(),
        env("OPENAI_API_KEY"),
        file.openai_api_key,
    );
    config.agents = file.agents.unwrap_or_default();
    agent_runtime_agents::AgentRegistry::with_custom(config.agents.clone())
        .map_err(|why| ConfigError::invalid("agents", "[[agents]]", &why))?;
    config.demo = pick_bool(args.demo, env("AGENT_RUNTIME_DEMO"), file.demo, "demo")?;
    config.demo_scenario = pick(
        args.demo_scenario.clone(),
        env("AGENT_RUNTIME_DEMO_SCENARIO").map(PathBuf::from),
        file.demo_scenario,
    )
    .map(|path| absolute(&path));
    config.skip_install = pick_bool(
        args.skip_install,
        env("AGENT_RUNTIME_SKIP_INSTALL"),
        file.skip_install,
        "skip install",
    )?;
    config.otlp_endpoint = pick(
        args.otlp_endpoint.clone(),
        env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        file.otlp_endpoint,
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "OTLP endpoint",
                endpoint,
                "expected an http:// or https:// URL",
            ));
        }
    }
    if let Some(name) = env("OTEL_SERVICE_NAME").filter(|n| !n.trim().is_empty()) {
        config.otlp_service_name = name;
    }
    if let Some(text) = pick(
        args.warm_pool.clone(),
        env("AGENT_RUNTIME_WARM_POOL"),
        file.warm_pool.map(|t| t.text()),
    ) {
        config.warm_pool = text
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= MAX_WARM_POOL)
            .ok_or_else(|| {
                ConfigError::invalid(
                    "warm pool size",
                    &text,
                    &format!("expected 0 to {MAX_WARM_POOL}"),
                )
            })?;
    }
    if let Some(text) = pick(
        args.json_body_limit.clone(),
        env("AGENT_RUNTIME_JSON_BODY_LIMIT"),
        file.json_body_limit.map(|t| t.text()),
    ) {
        config.limits.json = parse_size(&text)
            .ok_or_else(|| ConfigError::invalid("JSON body limit", &text, "expected e.g. 1MiB"))?;
    }
    if let Some(text) = pick(
        args.file_body_limit.clone(),
        env("AGENT_RUNTIME_FILE_BODY_LIMIT"),
        file.file_body_limit.map(|t| t.text()),
    ) {
        config.limits.file = parse_size(&text)
            .ok_or_else(|| ConfigError::invalid("file body limit", &text, "expected e.g. 32MiB"))?;
    }
    let mut sandbox_file = file.sandbox.unwrap_or_default();
    let placement_keys = PlacementFileKeys {
        provider: sandbox_file.provider.take(),
        install_id: sandbox_file.install_id.take(),
        reconcile_interval: sandbox_file.reconcile_interval.take(),
    };
    config.sandbox = merge_sandbox(&args.sandbox, env, sandbox_file)?;
    config.placement = merge_placement(
        &args.placement,
        env,
        placement_keys,
        file.modal.unwrap_or_default(),
    )?;
    config.cluster = merge_cluster(
        &args.cluster,
        env,
        file.cluster.unwrap_or_default(),
        &config.store_url,
    )?;
    // The binary may install bubblewrap when it is missing (root on Debian-like hosts only).
    config.install_bwrap = true;
    Ok(config)
}

/// An OpenAI base URL as agents are given it: without the `/v1` that `OPENAI_BASE_URL`
/// conventionally ends in (each agent adds the path it calls).
fn strip_v1(url: &str) -> String {
    let url = url.trim_end_matches('/');
    url.strip_suffix("/v1").unwrap_or(url).to_string()
}

/// The first of flag, environment and file that is set.
pub(crate) fn pick<T>(flag: Option<T>, env: Option<T>, file: Option<T>) -> Option<T> {
    flag.or(env).or(file)
}

fn pick_bool(
    flag: Option<bool>,
    env: Option<String>,
    file: Option<bool>,
    key: &str,
) -> Result<bool, ConfigError> {
    if let Some(value) = flag {
        return Ok(value);
    }
    if let Some(text) = env {
        return parse_bool(&text)
            .ok_or_else(|| ConfigError::invalid(key, &text, "expected true or false"));
    }
    Ok(file.unwrap_or(false))
}

/// A list setting: the flag's values, else the environment's, else the file's; each value may
/// hold several, comma-separated.
fn pick_list(flag: &[String], env: Option<String>, file: Option<OneOrMany>) -> Vec<String> {
    if !flag.is_empty() {
        split_list(flag.iter().map(String::as_str))
    } else if let Some(text) = env {
        split_list(std::iter::once(text.as_str()))
    } else {
        match file {
            Some(OneOrMany::One(text)) => split_list(std::iter::once(text.as_str())),
            Some(OneOrMany::Many(texts)) => split_list(texts.iter().map(String::as_str)),
            None => Vec::new(),
        }
    }
}

fn split_list<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

fn default_data_dir(env: &dyn Fn(&str) -> Option<String>, as_root: bool) -> PathBuf {
    if as_root {
        return PathBuf::from(ROOT_DATA_DIR);
    }
    if let Some(xdg) = env("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("agent-runtime");
    }
    match env("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/agent-runtime"),
        None => PathBuf::from("data"),
    }
}

fn default_store_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("agent-runtime.db").display())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Whether binding `host` keeps the server unreachable from other machines.
pub fn is_loopback_host(host: &str) -> bool {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    match trimmed.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => trimmed.eq_ignore_ascii_case("localhost"),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `900` (seconds), `15m`, `1h30m`, `90s`, `500ms`, `2d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" | "sec" | "secs" => Duration::from_secs(number),
            "m" | "min" | "mins" => Duration::from_secs(number.checked_mul(60)?),
            "h" | "hr" | "hours" => Duration::from_secs(number.checked_mul(3600)?),
            "d" | "days" => Duration::from_secs(number.checked_mul(86_400)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// `1048576`, `512KiB`, `1MiB`, `1MB`, `2GiB` (KB/MB/GB are read as binary units too).
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: usize = text[..split].parse().ok()?;
    let multiplier: usize = match text[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// A URL with its password (`user:password@`) hidden.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
