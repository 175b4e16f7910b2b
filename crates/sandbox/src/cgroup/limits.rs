//! `CgroupLimits`, their validation, and the pure mapping from limits to the control files
//! that carry them in cgroup v1 and v2.

use serde::{Deserialize, Serialize};

use super::error::CgroupError;
use super::hierarchy::Features;
use super::support::{CgroupVersion, Controller};

/// The CFS period written with every CPU quota: 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;
/// Smallest memory limit accepted: below this not even a shell starts.
pub const MIN_MEMORY_BYTES: u64 = 4 * 1024 * 1024;
/// Smallest CPU share accepted: the kernel wants a quota of at least 1 ms per period.
pub const MIN_CPU_MILLICORES: u64 = 10;
/// Largest CPU share accepted (1000 CPUs); keeps `millicores * 100` far from overflow.
pub const MAX_CPU_MILLICORES: u64 = 1_000_000;
/// Largest pid limit accepted: the kernel's own maximum `pid_max`.
pub const MAX_PIDS: u64 = 4_194_304;

/// Limits for one sandbox; `None` leaves that resource unlimited (bounded only by the
/// runtime's own cgroup). The server resolves its defaults and the profile's overrides into
/// this before creating the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// Memory (RAM; swap is not allowed on top where the kernel can limit it), in bytes.
    pub memory_bytes: Option<u64>,
    /// Tasks (processes and threads) alive at once.
    pub pids: Option<u64>,
    /// CPU time per wall-clock time, in thousandths of one CPU (1500 = one and a half CPUs).
    pub cpu_millicores: Option<u64>,
}

impl CgroupLimits {
    /// Checks every set limit against the bounds above; the error names the field.
    pub fn validate(&self) -> Result<(), CgroupError> {
        let invalid = |field, reason: String| Err(CgroupError::InvalidLimit { field, reason });
        if let Some(bytes) = self.memory_bytes {
            if bytes < MIN_MEMORY_BYTES {
                return invalid(
                    "memory_bytes",
                    format!("{bytes} is below the minimum of {MIN_MEMORY_BYTES} bytes"),
                );
            }
        }
        if let Some(pids) = self.pids {
            if !(1..=MAX_PIDS).contains(&pids) {
                return invalid("pids", format!("{pids} is not within 1..={MAX_PIDS}"));
            }
        }
        if let Some(millicores) = self.cpu_millicores {
            if !(MIN_CPU_MILLICORES..=MAX_CPU_MILLICORES).contains(&millicores) {
                return invalid(
                    "cpu_millicores",
                    format!(
                        "{millicores} is not within {MIN_CPU_MILLICORES}..={MAX_CPU_MILLICORES}"
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The `(file, value)` writes that put `limits` for `controller` into a fresh sandbox cgroup,
/// in the order they must happen. Files the kernel lacks (per `features`) are left out.
pub(crate) fn limit_writes(
    version: CgroupVersion,
    controller: Controller,
    features: &Features,
    limits: &CgroupLimits,
) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    match (version, controller) {
        (CgroupVersion::V2, Controller::Memory) => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(("memory.max", bytes.to_string()));
                if features.swap_limit {
                    writes.push(("memory.swap.max", "0".to_owned()));
                }
            }
            // An OOM kill takes the whole sandbox, not one process of it: a half-killed
            // agent is worse than a dead one, and the turn ends `oom` either way.
            if features.oom_group {
                writes.push(("memory.oom.group", "1".to_owned()));
            }
        }
        (CgroupVersion::V1, Controller::Memory) => {
            if let Some(bytes) = limits.memory_bytes {
                // memsw (memory + swap) may never be below the memory limit: memory first.
                writes.push(("memory.limit_in_bytes", bytes.to_string()));
                if features.swap_limit {
                    writes.push(("memory.memsw.limit_in_bytes", bytes.to_string()));
                }
            }
        }
        (_, Controller::Pids) => {
            if let Some(pids) = limits.pids {
                writes.push(("pids.max", pids.to_string()));
            }
        }
        (CgroupVersion::V2, Controller::Cpu) => {
            if let Some(millicores) = limits.cpu_millicores {
                let quota = cpu_quota_us(millicores);
                writes.push(("cpu.max", format!("{quota} {CPU_PERIOD_US}")));
            }
        }
        (CgroupVersion::V1, Controller::Cpu) => {
            if let Some(millicores) = limits.cpu_millicores {
                writes.push(("cpu.cfs_period_us", CPU_PERIOD_US.to_string()));
                writes.push(("cpu.cfs_quota_us", cpu_quota_us(millicores).to_string()));
            }
        }
    }
    writes
}

/// Microseconds of CPU per [`CPU_PERIOD_US`] for `millicores` thousandths of a CPU.
fn cpu_quota_us(millicores: u64) -> u64 {
    millicores * CPU_PERIOD_US / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const ALL_FEATURES: Features = Features {
        cgroup_kill: true,
        swap_limit: true,
        oom_group: true,
        oom_kill_count: true,
        memory_peak: true,
    };

    fn limits() -> CgroupLimits {
        CgroupLimits {
            memory_bytes: Some(64 << 20),
            pids: Some(20),
            cpu_millicores: Some(1500),
        }
    }

    fn writes(version: CgroupVersion, features: &Features, limits: &CgroupLimits) -> Vec<String> {
        Controller::ALL
            .iter()
            .flat_map(|c| limit_writes(version, *c, features, limits))
            .map(|(file, value)| format!("{file}={value}"))
            .collect()
    }

    #[test]
    fn v2_files_and_values() {
        assert_eq!(
            writes(CgroupVersion::V2, &ALL_FEATURES, &limits()),
            [
                "memory.max=67108864",
                "memory.swap.max=0",
                "memory.oom.group=1",
                "pids.max=20",
                "cpu.max=150000 100000",
            ]
        );
    }

    #[test]
    fn v1_files_and_values_memory_before_memsw() {
        assert_eq!(
            writes(CgroupVersion::V1, &ALL_FEATURES, &limits()),
            [
                "memory.limit_in_bytes=67108864",
                "memory.memsw.limit_in_bytes=67108864",
                "pids.max=20",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=150000",
            ]
        );
    }

    #[test]
    fn missing_kernel_files_and_unset_limits_are_left_out() {
        let bare = Features::default();
        assert_eq!(
            writes(CgroupVersion::V2, &bare, &limits()),
            [
                "memory.max=67108864",
                "pids.max=20",
                "cpu.max=150000 100000"
            ]
        );
        assert_eq!(
            writes(CgroupVersion::V1, &bare, &limits()),
            [
                "memory.limit_in_bytes=67108864",
                "pids.max=20",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=150000"
            ]
        );
        // Without limits only the OOM grouping remains (it matters for an OOM from above).
        assert_eq!(
            writes(CgroupVersion::V2, &ALL_FEATURES, &CgroupLimits::default()),
            ["memory.oom.group=1"]
        );
        assert!(writes(CgroupVersion::V1, &ALL_FEATURES, &CgroupLimits::default()).is_empty());
    }

    #[test]
    fn validation_names_the_field() {
        assert!(limits().validate().is_ok());
        assert!(CgroupLimits::default().validate().is_ok());
        let cases = [
            (
                CgroupLimits {
                    memory_bytes: Some(1024),
                    ..limits()
                },
                "memory_bytes",
            ),
            (
                CgroupLimits {
                    pids: Some(0),
                    ..limits()
                },
                "pids",
            ),
            (
                CgroupLimits {
                    cpu_millicores: Some(5),
                    ..limits()
                },
                "cpu_millicores",
            ),
            (
                CgroupLimits {
                    cpu_millicores: Some(MAX_CPU_MILLICORES + 1),
                    ..limits()
                },
                "cpu_millicores",
            ),
        ];
        for (limits, expected) in cases {
            match limits.validate() {
                Err(CgroupError::InvalidLimit { field, .. }) => assert_eq!(field, expected),
                other => panic!("{limits:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn smallest_cpu_share_is_the_kernels_minimum_quota() {
        assert_eq!(cpu_quota_us(MIN_CPU_MILLICORES), 1000);
        assert_eq!(cpu_quota_us(250), 25_000);
    }
}
