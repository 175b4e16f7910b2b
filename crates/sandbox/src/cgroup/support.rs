//! What detection found: which controllers are enforced, by which cgroup version, and why not.
//! The server logs [`CgroupSupport`] at start and shows it in `/healthz`.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The controllers this module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    /// Memory limit, swap limit and OOM kills.
    Memory,
    /// Number of tasks (processes and threads).
    Pids,
    /// CPU bandwidth (quota per period).
    Cpu,
}

impl Controller {
    /// Every controller, in the order reports list them.
    pub const ALL: [Self; 3] = [Self::Memory, Self::Pids, Self::Cpu];

    /// The kernel's name for it (`memory`, `pids`, `cpu`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Pids => "pids",
            Self::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// cgroup v1 (one hierarchy per controller set) or v2 (the unified hierarchy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "cgroup v1",
            Self::V2 => "cgroup v2",
        })
    }
}

/// Whether one controller is enforced on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ControllerSupport {
    /// Limits of this controller are written into every sandbox's cgroup.
    Enforced {
        version: CgroupVersion,
        /// This provider's directory; each sandbox's cgroup is a child of it.
        dir: PathBuf,
        /// What works less than fully (swap not limited, OOM kills not counted, ...).
        caveats: Vec<String>,
    },
    /// Not enforced by a cgroup; the reason says why and what would fix it.
    NotEnforced { reason: String },
}

impl ControllerSupport {
    /// Whether the controller is enforced.
    pub fn is_enforced(&self) -> bool {
        matches!(self, Self::Enforced { .. })
    }

    pub(crate) fn not_enforced(reason: impl Into<String>) -> Self {
        Self::NotEnforced {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ControllerSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enforced {
                version,
                dir,
                caveats,
            } => {
                write!(f, "enforced by {version} under {}", dir.display())?;
                if !caveats.is_empty() {
                    write!(f, " ({})", caveats.join("; "))?;
                }
                Ok(())
            }
            Self::NotEnforced { reason } => write!(f, "not enforced: {reason}"),
        }
    }
}

/// The detection report: one answer per controller, plus what detection did on the way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CgroupSupport {
    pub memory: ControllerSupport,
    pub pids: ControllerSupport,
    pub cpu: ControllerSupport,
    /// Actions and findings worth a log line: processes moved to satisfy cgroup v2's
    /// no-internal-processes rule, stale cgroups of crashed runtimes removed, ...
    pub notes: Vec<String>,
}

impl CgroupSupport {
    /// The answer for `controller`.
    pub fn get(&self, controller: Controller) -> &ControllerSupport {
        match controller {
            Controller::Memory => &self.memory,
            Controller::Pids => &self.pids,
            Controller::Cpu => &self.cpu,
        }
    }

    /// Whether at least one controller is enforced.
    pub fn any_enforced(&self) -> bool {
        Controller::ALL.iter().any(|c| self.get(*c).is_enforced())
    }

    pub(crate) fn set(&mut self, controller: Controller, support: ControllerSupport) {
        match controller {
            Controller::Memory => self.memory = support,
            Controller::Pids => self.pids = support,
            Controller::Cpu => self.cpu = support,
        }
    }

    /// Every controller not enforced, for the same `reason`.
    pub(crate) fn none(reason: &str) -> Self {
        Self {
            memory: ControllerSupport::not_enforced(reason),
            pids: ControllerSupport::not_enforced(reason),
            cpu: ControllerSupport::not_enforced(reason),
            notes: Vec::new(),
        }
    }
}

/// One line per controller, then the notes: `memory: enforced by cgroup v1 under ...`.
impl fmt::Display for CgroupSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, controller) in Controller::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{controller}: {}", self.get(*controller))?;
        }
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}
