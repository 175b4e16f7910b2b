//! A profile's sandbox settings at the API's edge: validated when the profile is stored (every
//! error names its field, e.g. `sandbox.network.allow[2]`), and secret values kept write-only
//! (never returned; omitted on a `PUT`, the stored value is kept).

use agent_runtime_egress::{HostPattern, PolicyKind, SecretRule};
use agent_runtime_protocol::{AgentProfile, NetworkPolicy, ProfileSecret, SandboxSettings};

use crate::limits::validate_limit_settings;

/// The header a secret is set as when its profile names none.
pub const DEFAULT_SECRET_HEADER: &str = "Authorization";
/// The header value when a secret's profile names no format.
pub const DEFAULT_SECRET_FORMAT: &str = "Bearer {value}";

/// Checks everything a sandbox of this profile would need: limits, allowlist patterns, secrets.
pub fn validate_sandbox_settings(settings: &SandboxSettings) -> Result<(), String> {
    validate_limit_settings(&settings.limits)?;
    if let Some(allow) = &settings.network.allow {
        for (i, pattern) in allow.iter().enumerate() {
            HostPattern::parse(pattern)
                .map_err(|e| format!("sandbox.network.allow[{i}]: {pattern:?}: {e}"))?;
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, secret) in settings.secrets.iter().enumerate() {
        let field = |name: &str| format!("sandbox.secrets[{i}].{name}");
        if !is_env_name(&secret.name) {
            return Err(format!(
                "{}: {:?} must match [A-Za-z_][A-Za-z0-9_]*",
                field("name"),
                secret.name
            ));
        }
        if !names.insert(secret.name.as_str()) {
            return Err(format!(
                "{}: {:?} is named twice",
                field("name"),
                secret.name
            ));
        }
        if secret.hosts.is_empty() {
            return Err(format!("{}: name at least one host", field("hosts")));
        }
        let mut hosts = Vec::new();
        for (j, host) in secret.hosts.iter().enumerate() {
            let pattern = HostPattern::parse(host)
                .map_err(|e| format!("{}[{j}]: {host:?}: {e}", field("hosts")))?;
            if pattern.dns_name().is_none() {
                return Err(format!(
                    "{}[{j}]: {host:?}: name hosts by DNS name; the proxy never intercepts an \
                     IP address",
                    field("hosts")
                ));
            }
            hosts.push(pattern);
        }
        let header = secret.header.as_deref().unwrap_or(DEFAULT_SECRET_HEADER);
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(format!(
                "{}: {header:?} is not a header name",
                field("header")
            ));
        }
        let format = secret.format.as_deref().unwrap_or(DEFAULT_SECRET_FORMAT);
        if !format.contains("{value}") {
            return Err(format!("{}: must contain {{value}}", field("format")));
        }
        if let Some(value) = &secret.value {
            let rendered = format.replace("{value}", value);
            if value.is_empty() || http::HeaderValue::from_str(&rendered).is_err() {
                return Err(format!(
                    "{}: must be non-empty and fit in a header",
                    field("value")
                ));
            }
        }
        // Whatever else the proxy would refuse when the sandbox starts is refused now.
        let (header, value) = secret_header(secret);
        let value = if secret.value.is_some() {
            value
        } else {
            "x".to_string()
        };
        SecretRule::new(&secret.name, hosts, &header, &value)
            .map_err(|e| format!("{}: {e}", field("hosts")))?;
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fills in the value of every secret `profile` sends without one from `stored` (the profile it
/// replaces); a secret that is new must come with its value.
pub fn keep_stored_secrets(
    profile: &mut AgentProfile,
    stored: Option<&AgentProfile>,
) -> Result<(), String> {
    for (i, secret) in profile.sandbox.secrets.iter_mut().enumerate() {
        if secret.value.is_some() {
            continue;
        }
        let kept = stored
            .and_then(|old| old.sandbox.secrets.iter().find(|s| s.name == secret.name))
            .and_then(|old| old.value.clone());
        match kept {
            Some(value) => secret.value = Some(value),
            None => {
                return Err(format!(
                    "sandbox.secrets[{i}].value: {:?} is new, so it needs a value",
                    secret.name
                ))
            }
        }
    }
    Ok(())
}

/// The profile as the API shows it: secret values removed.
pub fn redact_secrets(mut profile: AgentProfile) -> AgentProfile {
    for secret in &mut profile.sandbox.secrets {
        secret.value = None;
    }
    profile
}

/// The egress policy kind of a protocol network policy.
pub fn policy_kind(policy: NetworkPolicy) -> PolicyKind {
    match policy {
        NetworkPolicy::None => PolicyKind::None,
        NetworkPolicy::Allowlist => PolicyKind::Allowlist,
        NetworkPolicy::Open => PolicyKind::Open,
    }
}

/// The header name and value a secret is sent as.
pub fn secret_header(secret: &ProfileSecret) -> (String, String) {
    let header = secret
        .header
        .clone()
        .unwrap_or_else(|| DEFAULT_SECRET_HEADER.to_string());
    let format = secret.format.as_deref().unwrap_or(DEFAULT_SECRET_FORMAT);
    let value = format.replace("{value}", secret.value.as_deref().unwrap_or_default());
    (header, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_runtime_protocol::{LimitSettings, NetworkSettings};
    use pretty_assertions::assert_eq;

    fn secret(name: &str, value: Option<&str>) -> ProfileSecret {
        ProfileSecret {
            name: name.into(),
            value: value.map(Into::into),
            hosts: vec!["api.github.com".into()],
            ..ProfileSecret::default()
        }
    }

    fn settings(edit: impl FnOnce(&mut SandboxSettings)) -> Result<(), String> {
        let mut settings = SandboxSettings::default();
        edit(&mut settings);
        validate_sandbox_settings(&settings)
    }

    #[test]
    fn every_error_names_its_field() {
        let error = settings(|s| {
            s.network = NetworkSettings {
                policy: None,
                allow: Some(vec!["ok.example".into(), "bad host".into()]),
            }
        })
        .unwrap_err();
        assert!(
            error.starts_with("sandbox.network.allow[1]: \"bad host\""),
            "{error}"
        );
        let error = settings(|s| s.secrets = vec![secret("1BAD", Some("x"))]).unwrap_err();
        assert!(error.starts_with("sandbox.secrets[0].name"), "{error}");
        let error = settings(|s| {
            s.secrets = vec![secret("A", Some("x")), secret("A", Some("y"))];
        })
        .unwrap_err();
        assert!(error.starts_with("sandbox.secrets[1].name"), "{error}");
        let error = settings(|s| {
            let mut bad = secret("A", Some("x"));
            bad.format = Some("token".into());
            s.secrets = vec![bad];
        })
        .unwrap_err();
        assert!(error.starts_with("sandbox.secrets[0].format"), "{error}");
        let error = settings(|s| {
            let mut bad = secret("A", Some("x"));
            bad.hosts = vec![];
            s.secrets = vec![bad];
        })
        .unwrap_err();
        assert!(error.starts_with("sandbox.secrets[0].hosts"), "{error}");
        let error = settings(|s| {
            s.limits = LimitSettings {
                pids: Some(1),
                ..LimitSettings::default()
            }
        })
        .unwrap_err();
        assert!(error.starts_with("sandbox.limits.pids"), "{error}");
        assert_eq!(
            settings(|s| s.secrets = vec![secret("GH_TOKEN", None)]),
            Ok(())
        );
    }

    #[test]
    fn secret_values_are_write_only() {
        let mut stored = AgentProfile::default();
        stored.sandbox.secrets = vec![secret("A", Some("old")), secret("B", Some("b"))];
        let mut update = AgentProfile::default();
        update.sandbox.secrets = vec![secret("A", None), secret("B", Some("new"))];
        keep_stored_secrets(&mut update, Some(&stored)).unwrap();
        let values: Vec<Option<&str>> = update
            .sandbox
            .secrets
            .iter()
            .map(|s| s.value.as_deref())
            .collect();
        assert_eq!(values, vec![Some("old"), Some("new")]);
        let shown = redact_secrets(update);
        assert!(shown.sandbox.secrets.iter().all(|s| s.value.is_none()));

        let mut fresh = AgentProfile::default();
        fresh.sandbox.secrets = vec![secret("C", None)];
        let error = keep_stored_secrets(&mut fresh, Some(&stored)).unwrap_err();
        assert!(error.starts_with("sandbox.secrets[0].value"), "{error}");
    }

    #[test]
    fn headers_default_to_a_bearer_authorization() {
        assert_eq!(
            secret_header(&secret("A", Some("s3cret"))),
            ("Authorization".to_string(), "Bearer s3cret".to_string())
        );
    }
}
