use std::collections::HashMap;

use super::*;
use pretty_assertions::assert_eq;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn parse_args(args: &[&str]) -> ServeArgs {
    let cli = Cli::try_parse_from(["agent-runtime", "serve"].iter().chain(args)).expect("args");
    match cli.command {
        Command::Serve(args) => args,
        Command::Install(_) => unreachable!(),
    }
}

#[test]
fn defaults_derive_from_the_data_dir() {
    let config = merge(
        &ServeArgs::default(),
        &env_of(&[("HOME", "/home/u")]),
        FileConfig::default(),
        false,
    )
    .expect("config");
    assert_eq!(
        config.data_dir,
        PathBuf::from("/home/u/.local/share/agent-runtime")
    );
    assert_eq!(
        config.store_url,
        "sqlite:///home/u/.local/share/agent-runtime/agent-runtime.db"
    );
    assert_eq!(
        config.tools_dir,
        PathBuf::from("/home/u/.local/share/agent-runtime/tools")
    );
    assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 8080));
    assert_eq!(config.idle_timeout, Duration::from_secs(900));
    assert_eq!(config.session_unload_after, Some(Duration::from_secs(300)));
    assert!(config.api_keys.is_empty());
    assert!(!config.demo);
    assert_eq!(config.limits, BodyLimits::default());

    let as_root = merge(
        &ServeArgs::default(),
        &env_of(&[]),
        FileConfig::default(),
        true,
    )
    .expect("config");
    assert_eq!(as_root.data_dir, PathBuf::from(ROOT_DATA_DIR));
}

#[test]
fn flags_beat_env_beat_file() {
    let file: FileConfig = toml::from_str(
        r#"
        host = "10.0.0.1"
        port = 1000
        data_dir = "/from/file"
        api_keys = ["file-key"]
        idle_timeout = 60
        session_unload_after = "10m"
        demo = true
        json_body_limit = "2MiB"
        "#,
    )
    .expect("toml");
    let env = env_of(&[
        ("AGENT_RUNTIME_PORT", "2000"),
        ("AGENT_RUNTIME_DATA_DIR", "/from/env"),
        ("AGENT_RUNTIME_API_KEY", "env-a, env-b"),
        ("AGENT_RUNTIME_DEMO", "false"),
        ("AGENT_RUNTIME_SESSION_UNLOAD_AFTER", "90s"),
        ("ANTHROPIC_API_KEY", "sk-env"),
    ]);
    let args = parse_args(&[
        "--port",
        "3000",
        "--api-key",
        "flag-a,flag-b",
        "--api-key",
        "flag-c",
    ]);
    let config = merge(&args, &env, file, false).expect("config");
    assert_eq!(config.host, "10.0.0.1");
    assert_eq!(config.port, 3000);
    assert_eq!(config.data_dir, PathBuf::from("/from/env"));
    assert_eq!(config.api_keys, vec!["flag-a", "flag-b", "flag-c"]);
    assert_eq!(config.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.session_unload_after, Some(Duration::from_secs(90)));
    assert!(!config.demo);
    assert_eq!(config.anthropic_api_key.as_deref(), Some("sk-env"));
    assert_eq!(config.limits.json, 2 * 1024 * 1024);
    assert_eq!(config.gemini_api_key, None);
    assert_eq!(config.gemini_base_url, None);

    let config = merge(&ServeArgs::default(), &env, FileConfig::default(), false).expect("config");
    assert_eq!(config.port, 2000);
    assert_eq!(config.api_keys, vec!["env-a", "env-b"]);
}

#[test]
fn bool_flags_take_an_optional_value() {
    assert_eq!(parse_args(&["--demo"]).demo, Some(true));
    assert_eq!(parse_args(&["--demo=false"]).demo, Some(false));
    assert_eq!(parse_args(&[]).demo, None);
}

#[test]
fn refuses_bad_values() {
    let env = env_of(&[("AGENT_RUNTIME_PORT", "http")]);
    assert!(matches!(
        merge(&ServeArgs::default(), &env, FileConfig::default(), false),
        Err(ConfigError::Invalid { .. })
    ));
    let env = env_of(&[("AGENT_RUNTIME_IDLE_TIMEOUT", "soon")]);
    assert!(merge(&ServeArgs::default(), &env, FileConfig::default(), false).is_err());
    let unknown_key = toml::from_str::<FileConfig>("prot = 1");
    assert!(unknown_key.is_err());
}

#[test]
fn no_key_means_loopback_only() {
    let mut config = ServerConfig::new("/tmp/x");
    for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
        config.host = host.into();
        assert!(config.validate().is_ok(), "{host}");
    }
    for host in ["0.0.0.0", "::", "192.168.1.2", "example.com"] {
        config.host = host.into();
        assert!(
            matches!(
                config.validate(),
                Err(ConfigError::NonLoopbackWithoutKey { .. })
            ),
            "{host}"
        );
    }
    config.api_keys = vec!["k".into()];
    assert!(config.validate().is_ok());
}

#[test]
fn parses_durations_and_sizes() {
    for (text, secs) in [
        ("900", 900),
        ("15m", 900),
        ("1h30m", 5400),
        ("90s", 90),
        ("2d", 172_800),
    ] {
        assert_eq!(
            parse_duration(text),
            Some(Duration::from_secs(secs)),
            "{text}"
        );
    }
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    for bad in ["", "m", "15x", "-1"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(parse_size("1MiB"), Some(1024 * 1024));
    assert_eq!(parse_size("512 KiB"), Some(512 * 1024));
    assert_eq!(parse_size("100"), Some(100));
    assert_eq!(parse_size("1PB"), None);
}

#[test]
fn debug_output_redacts_secrets() {
    let mut config = ServerConfig::new("/d");
    config.api_keys = vec!["super-secret".into()];
    config.anthropic_api_key = Some("sk-ant-secret".into());
    config.gemini_api_key = Some("gemini-secret".into());
    config.store_url = "postgres://app:hunter2@db/agent".into();
    let debug = format!("{config:?}");
    for secret in ["super-secret", "sk-ant-secret", "gemini-secret", "hunter2"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("postgres://app:<redacted>@db/agent"));
}

#[test]
fn gemini_endpoint_comes_from_flags_env_or_file() {
    let file: FileConfig = toml::from_str(
        r#"
        gemini_base_url = "http://file"
        gemini_api_key = "file-key"
        "#,
    )
    .expect("toml");
    let env = env_of(&[
        ("GOOGLE_GEMINI_BASE_URL", "http://env"),
        ("GEMINI_API_KEY", "env-key"),
    ]);
    let args = parse_args(&["--gemini-base-url", "http://flag"]);
    let config = merge(&args, &env, file, false).expect("config");
    assert_eq!(config.gemini_base_url.as_deref(), Some("http://flag"));
    assert_eq!(config.gemini_api_key.as_deref(), Some("env-key"));
    let config = merge(
        &ServeArgs::default(),
        &env_of(&[]),
        toml::from_str("gemini_api_key = \"file-key\"").expect("toml"),
        false,
    )
    .expect("config");
    assert_eq!(config.gemini_api_key.as_deref(), Some("file-key"));
}

#[test]
fn openai_endpoint_comes_from_flags_env_or_file_without_its_v1() {
    let env = env_of(&[
        ("OPENAI_BASE_URL", "https://gateway.example/v1/"),
        ("OPENAI_API_KEY", "env-key"),
    ]);
    let config = merge(&ServeArgs::default(), &env, FileConfig::default(), false).expect("config");
    assert_eq!(
        config.openai_base_url.as_deref(),
        Some("https://gateway.example")
    );
    assert_eq!(config.openai_api_key.as_deref(), Some("env-key"));
    let args = parse_args(&["--openai-base-url", "http://flag:9"]);
    let config = merge(&args, &env, FileConfig::default(), false).expect("config");
    assert_eq!(config.openai_base_url.as_deref(), Some("http://flag:9"));
    assert!(!format!("{config:?}").contains("env-key"));
}

#[test]
fn acp_agents_come_from_the_file_and_bad_ones_stop_the_start() {
    let file: FileConfig = toml::from_str(
        r#"
        [[agents]]
        id = "acme"
        package = "@acme/agent"
        version = "1.0.0"
        bin = ["node_modules/.bin/acme"]
        model_api = "openai"
        "#,
    )
    .expect("toml");
    let config = merge(&ServeArgs::default(), &env_of(&[]), file, false).expect("config");
    assert_eq!(config.agents.len(), 1);
    for bad in [
        // An id the built-in agents have.
        "[[agents]]\nid = \"codex\"\npackage = \"p\"\nversion = \"1.0.0\"\nbin = [\"b\"]\nmodel_api = \"openai\"",
        // A version range instead of a pin.
        "[[agents]]\nid = \"a\"\npackage = \"p\"\nversion = \"^1\"\nbin = [\"b\"]\nmodel_api = \"openai\"",
    ] {
        let file: FileConfig = toml::from_str(bad).expect("toml");
        let error = merge(&ServeArgs::default(), &env_of(&[]), file, false).unwrap_err();
        assert!(error.to_string().contains("agents"), "{error}");
    }
    // An unknown key or model API is a parse error of the file.
    assert!(toml::from_str::<FileConfig>(
        "[[agents]]\nid = \"a\"\npackage = \"p\"\nversion = \"1\"\nbin = [\"b\"]\nmodel_api = \"x\""
    )
    .is_err());
}

#[test]
fn allowed_origins_come_from_flags_env_or_file_and_are_validated() {
    let origins = |config: &ServerConfig| -> Vec<String> {
        config
            .allowed_origins
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let file = || -> FileConfig {
        toml::from_str(r#"allowed_origins = ["https://app.example", "http://localhost:5173"]"#)
            .expect("toml")
    };
    let env = env_of(&[(
        "AGENT_RUNTIME_ALLOWED_ORIGINS",
        "http://localhost:3000, HTTP://LOCALHOST:80",
    )]);
    let args = parse_args(&[
        "--allowed-origins",
        "http://localhost:5173,https://a.example:443",
        "--allowed-origins",
        "http://[::1]:5173",
    ]);
    let config = merge(&args, &env, file(), false).expect("config");
    assert_eq!(
        origins(&config),
        vec![
            "http://localhost:5173",
            "https://a.example",
            "http://[::1]:5173"
        ]
    );
    let config = merge(&ServeArgs::default(), &env, file(), false).expect("config");
    assert_eq!(
        origins(&config),
        vec!["http://localhost:3000", "http://localhost"]
    );
    let config = merge(&ServeArgs::default(), &env_of(&[]), file(), false).expect("config");
    assert_eq!(
        origins(&config),
        vec!["https://app.example", "http://localhost:5173"]
    );
    let config = merge(
        &ServeArgs::default(),
        &env_of(&[]),
        FileConfig::default(),
        false,
    )
    .expect("config");
    assert!(config.allowed_origins.is_empty());

    for bad in [
        "*",
        "null",
        "localhost:5173",
        "http://localhost:5173/",
        "http://a/b",
    ] {
        let env = env_of(&[("AGENT_RUNTIME_ALLOWED_ORIGINS", bad)]);
        match merge(&ServeArgs::default(), &env, FileConfig::default(), false) {
            Err(ConfigError::Invalid { key, value, .. }) => {
                assert_eq!((key.as_str(), value.as_str()), ("allowed origin", bad));
            }
            other => panic!("{bad}: expected a config error, got {other:?}"),
        }
    }
}

#[test]
fn the_warm_pool_size_is_a_small_number_and_flags_win() {
    let default = merge(
        &ServeArgs::default(),
        &env_of(&[]),
        FileConfig::default(),
        false,
    )
    .expect("config");
    assert_eq!(default.warm_pool, DEFAULT_WARM_POOL);
    let file: FileConfig = toml::from_str("warm_pool = 3").expect("file");
    let env = env_of(&[("AGENT_RUNTIME_WARM_POOL", "2")]);
    let from_env = merge(&ServeArgs::default(), &env, file, false).expect("config");
    assert_eq!(from_env.warm_pool, 2);
    let flag = merge(
        &parse_args(&["--warm-pool", "0"]),
        &env,
        FileConfig::default(),
        false,
    )
    .expect("config");
    assert_eq!(flag.warm_pool, 0);
    for bad in ["-1", "many", "17"] {
        let env = env_of(&[("AGENT_RUNTIME_WARM_POOL", bad)]);
        match merge(&ServeArgs::default(), &env, FileConfig::default(), false) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "warm pool size"),
            other => panic!("{bad}: expected invalid, got {other:?}"),
        }
    }
}

#[test]
fn zero_never_unloads_sessions() {
    let args = parse_args(&["--session-unload-after", "0"]);
    let config = merge(&args, &env_of(&[]), FileConfig::default(), false).expect("config");
    assert_eq!(config.session_unload_after, None);
    let args = parse_args(&["--session-unload-after", "soon"]);
    assert!(merge(&args, &env_of(&[]), FileConfig::default(), false).is_err());
}
