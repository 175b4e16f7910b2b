//! Resource limits of a session's sandbox: the server's defaults, a profile's overrides, their
//! validation, and the split between what the sandbox provider enforces and what the runtime
//! enforces itself (the workspace quota, on sync, and the wall clock of a turn).

use std::time::Duration;

use agent_runtime_protocol::LimitSettings;
use agent_runtime_sandbox::SandboxLimits;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Every limit of a sandbox, resolved; `None` leaves one unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// Thousandths of a CPU.
    pub cpu_millicores: Option<u64>,
    pub tmp_bytes: Option<u64>,
    /// Total size of the workspace's files, checked whenever the runtime syncs them.
    pub workspace_bytes: Option<u64>,
    pub file_size_bytes: Option<u64>,
    pub open_files: Option<u64>,
    /// Wall-clock time of one turn.
    pub turn_timeout: Option<Duration>,
}

impl Default for Limits {
    /// The server's defaults: room for an agent building a real project, not for a runaway.
    fn default() -> Self {
        Limits {
            memory_bytes: Some(4 * GIB),
            pids: Some(1024),
            cpu_millicores: Some(2000),
            tmp_bytes: Some(512 * MIB),
            workspace_bytes: Some(2 * GIB),
            file_size_bytes: Some(512 * MIB),
            open_files: Some(16384),
            turn_timeout: Some(Duration::from_secs(60 * 60)),
        }
    }
}

impl Limits {
    /// These limits with a profile's overrides; the profile was validated when it was stored.
    pub fn with_profile(&self, profile: &LimitSettings) -> Limits {
        Limits {
            memory_bytes: profile.memory_bytes.or(self.memory_bytes),
            pids: profile.pids.or(self.pids),
            cpu_millicores: profile.cpus.map(cpus_to_millicores).or(self.cpu_millicores),
            tmp_bytes: profile.tmp_bytes.or(self.tmp_bytes),
            workspace_bytes: profile.workspace_bytes.or(self.workspace_bytes),
            file_size_bytes: profile.file_size_bytes.or(self.file_size_bytes),
            open_files: self.open_files,
            turn_timeout: profile
                .turn_timeout_secs
                .map(Duration::from_secs)
                .or(self.turn_timeout),
        }
    }

    /// The part the sandbox provider enforces.
    pub fn sandbox(&self) -> SandboxLimits {
        SandboxLimits {
            memory_bytes: self.memory_bytes,
            pids: self.pids,
            cpu_millicores: self.cpu_millicores,
            tmp_bytes: self.tmp_bytes,
            file_size_bytes: self.file_size_bytes,
            open_files: self.open_files,
        }
    }
}

fn cpus_to_millicores(cpus: f64) -> u64 {
    // Validated finite and within 0.01..=1024 before it is stored.
    (cpus * 1000.0).round().clamp(10.0, 1_024_000.0) as u64
}

/// Checks a profile's limits; the error names the field (`sandbox.limits.<field>`) and says why.
pub fn validate_limit_settings(limits: &LimitSettings) -> Result<(), String> {
    let field = |name: &str| format!("sandbox.limits.{name}");
    let range = |name: &str, value: Option<u64>, min: u64, max: u64, unit: &str| match value {
        Some(v) if v < min || v > max => Err(format!(
            "{}: {v} is outside {min}..={max} {unit}",
            field(name)
        )),
        _ => Ok(()),
    };
    range(
        "memoryBytes",
        limits.memory_bytes,
        64 * MIB,
        1024 * GIB,
        "bytes",
    )?;
    range("pids", limits.pids, 16, 1 << 22, "tasks")?;
    range("tmpBytes", limits.tmp_bytes, MIB, 1024 * GIB, "bytes")?;
    range(
        "workspaceBytes",
        limits.workspace_bytes,
        MIB,
        16 * 1024 * GIB,
        "bytes",
    )?;
    range(
        "fileSizeBytes",
        limits.file_size_bytes,
        KIB,
        16 * 1024 * GIB,
        "bytes",
    )?;
    range(
        "turnTimeoutSecs",
        limits.turn_timeout_secs,
        1,
        7 * 24 * 3600,
        "seconds",
    )?;
    if let Some(cpus) = limits.cpus {
        if !cpus.is_finite() || !(0.01..=1024.0).contains(&cpus) {
            return Err(format!(
                "{}: {cpus} is outside 0.01..=1024 CPUs",
                field("cpus")
            ));
        }
    }
    Ok(())
}

/// A size for people: `512 MiB`, `4 GiB`, `100 bytes`.
pub fn human_bytes(bytes: u64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_profile_overrides_only_what_it_sets() {
        let profile = LimitSettings {
            memory_bytes: Some(GIB),
            cpus: Some(0.5),
            turn_timeout_secs: Some(30),
            ..LimitSettings::default()
        };
        let limits = Limits::default().with_profile(&profile);
        assert_eq!(
            limits,
            Limits {
                memory_bytes: Some(GIB),
                cpu_millicores: Some(500),
                turn_timeout: Some(Duration::from_secs(30)),
                ..Limits::default()
            }
        );
    }

    #[test]
    fn invalid_limits_name_their_field() {
        let check = |settings: LimitSettings| validate_limit_settings(&settings).unwrap_err();
        assert_eq!(
            check(LimitSettings {
                memory_bytes: Some(1024),
                ..LimitSettings::default()
            }),
            "sandbox.limits.memoryBytes: 1024 is outside 67108864..=1099511627776 bytes"
        );
        assert!(check(LimitSettings {
            cpus: Some(f64::NAN),
            ..LimitSettings::default()
        })
        .starts_with("sandbox.limits.cpus:"));
        assert!(check(LimitSettings {
            pids: Some(0),
            ..LimitSettings::default()
        })
        .starts_with("sandbox.limits.pids:"));
        assert_eq!(validate_limit_settings(&LimitSettings::default()), Ok(()));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(4 * GIB), "4 GiB");
        assert_eq!(human_bytes(512 * MIB), "512 MiB");
        assert_eq!(human_bytes(1500), "1500 bytes");
    }
}
