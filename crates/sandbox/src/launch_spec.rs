//! `LaunchSpec`: how to start one process, as plain data.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::redact::redact_env_value;

/// How to start one process: program, arguments, the **complete** environment and the working
/// directory, all as the process itself will see them.
///
/// `env` is the whole environment, not additions: whoever spawns a spec clears the inherited
/// environment first, so nothing of the runtime's own environment leaks into an agent.
///
/// Environment values may hold secrets (API keys). `Debug` and `Display` redact the values of
/// keys that look secret ([`crate::is_secret_env_key`]) and, under any key, the parts of values
/// that look like secrets ([`crate::redact_secrets`]: token shapes, URL passwords, random
/// strings), so a spec can be logged. Serializing it does not redact. Arguments are never
/// redacted and are world-readable on the host (`/proc/PID/cmdline`): secrets, user messages and
/// prompts go through `env`, files or stdin, never `args`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// Program name or path; a bare name is looked up in `env["PATH"]`.
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Working directory; empty means "the default of whoever runs the spec".
    pub cwd: String,
}

impl LaunchSpec {
    /// A spec with no arguments, an empty environment and the default working directory.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            ..Self::default()
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = cwd.into();
        self
    }

    /// The environment as it may be logged: secret values and secret-looking parts of values
    /// replaced by [`crate::REDACTED`] (see [`redact_env_value`]).
    pub fn redacted_env(&self) -> BTreeMap<&str, Cow<'_, str>> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), redact_env_value(k, v)))
            .collect()
    }
}

impl fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.redacted_env())
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// A shell-like one-liner, `cd CWD && env K=V ... PROGRAM ARGS...`, secrets redacted.
impl fmt::Display for LaunchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.cwd.is_empty() {
            write!(f, "cd {} && ", shell_quote(&self.cwd))?;
        }
        if !self.env.is_empty() {
            f.write_str("env")?;
            for (k, v) in self.redacted_env() {
                write!(f, " {}={}", k, shell_quote(&v))?;
            }
            f.write_str(" ")?;
        }
        f.write_str(&shell_quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", shell_quote(arg))?;
        }
        Ok(())
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn spec() -> LaunchSpec {
        LaunchSpec::new("claude")
            .args(["-p", "hello world", "it's"])
            .env("HOME", "/home/agent")
            .env("ANTHROPIC_API_KEY", "sk-ant-123")
            .env("GITHUB_TOKEN", "ghp_abc")
            .env("db_password", "hunter2")
            .cwd("/workspace")
    }

    #[test]
    fn debug_redacts_secret_values() {
        let shown = format!("{:?}", spec());
        assert_eq!(
            shown,
            r#"LaunchSpec { program: "claude", args: ["-p", "hello world", "it's"], env: {"ANTHROPIC_API_KEY": "***", "GITHUB_TOKEN": "***", "HOME": "/home/agent", "db_password": "***"}, cwd: "/workspace" }"#
        );
    }

    #[test]
    fn display_is_a_redacted_shell_line() {
        assert_eq!(
            spec().to_string(),
            r#"cd /workspace && env ANTHROPIC_API_KEY='***' GITHUB_TOKEN='***' HOME=/home/agent db_password='***' claude -p 'hello world' 'it'\''s'"#
        );
    }

    #[test]
    fn secrets_under_innocent_names_are_redacted_by_their_shape() {
        let spec = LaunchSpec::new("agent")
            .env("UPSTREAM", "https://bot:hunter2@git.example.com/repo.git")
            .env("HELPER_CONFIG", "ghp_0123456789abcdefghijABCDEFGHIJ012345")
            .env("MODEL", "claude-sonnet-4-5-20250929")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        assert_eq!(
            format!("{spec:?}"),
            r#"LaunchSpec { program: "agent", args: [], env: {"HELPER_CONFIG": "***", "MODEL": "claude-sonnet-4-5-20250929", "PATH": "/usr/local/bin:/usr/bin:/bin", "UPSTREAM": "https://bot:***@git.example.com/repo.git"}, cwd: "" }"#
        );
        assert_eq!(
            spec.to_string(),
            "env HELPER_CONFIG='***' MODEL=claude-sonnet-4-5-20250929 PATH=/usr/local/bin:/usr/bin:/bin UPSTREAM='https://bot:***@git.example.com/repo.git' agent"
        );
    }

    #[test]
    fn serde_keeps_values() {
        let json = serde_json::to_value(spec()).unwrap();
        assert_eq!(json["env"]["ANTHROPIC_API_KEY"], "sk-ant-123");
        let back: LaunchSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec());
    }
}
