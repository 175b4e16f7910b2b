//! `LaunchSpec`: how to start one process, as plain data.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What redacted environment values are shown as.
pub const REDACTED: &str = "***";

/// How to start one process: program, arguments, the **complete** environment and the working
/// directory, all as the process itself will see them.
///
/// `env` is the whole environment, not additions: whoever spawns a spec clears the inherited
/// environment first, so nothing of the runtime's own environment leaks into an agent.
///
/// Environment values may hold secrets (API keys). `Debug` and `Display` redact the values of
/// keys that look secret (see [`is_secret_env_key`]), so a spec can be logged. Serializing it
/// does not redact. Arguments are never redacted: pass secrets through `env`, not `args`.
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

    /// The environment with secret-looking values replaced by [`REDACTED`].
    pub fn redacted_env(&self) -> BTreeMap<&str, &str> {
        self.env
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_env_key(k) {
                    REDACTED
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect()
    }
}

/// Whether an environment variable's value must never be logged: its name contains `KEY`,
/// `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD` or `CREDENTIAL` (case-insensitive). Over-redacting
/// (`KEYBOARD_LAYOUT`) is harmless; under-redacting is not.
pub fn is_secret_env_key(key: &str) -> bool {
    const MARKERS: [&str; 6] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];
    let upper = key.to_ascii_uppercase();
    MARKERS.iter().any(|m| upper.contains(m))
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
                write!(f, " {}={}", k, shell_quote(v))?;
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
    fn secret_keys_are_recognised() {
        let secret: Vec<bool> = [
            "OPENAI_API_KEY",
            "token",
            "AWS_SECRET_ACCESS_KEY",
            "PATH",
            "HOME",
        ]
        .iter()
        .map(|k| is_secret_env_key(k))
        .collect();
        assert_eq!(secret, vec![true, true, true, false, false]);
    }

    #[test]
    fn serde_keeps_values() {
        let json = serde_json::to_value(spec()).unwrap();
        assert_eq!(json["env"]["ANTHROPIC_API_KEY"], "sk-ant-123");
        let back: LaunchSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec());
    }
}
