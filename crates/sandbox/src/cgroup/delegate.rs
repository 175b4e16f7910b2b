//! cgroup v2 delegation: enabling controllers in `cgroup.subtree_control` from the runtime's
//! own cgroup down to the provider's directory, under the "no internal processes" rule.
//!
//! In cgroup v2 a controller reaches a cgroup only if its parent lists it in
//! `cgroup.subtree_control`, and a non-root cgroup may do that only while it holds no
//! process. The runtime's own cgroup usually holds the runtime itself; what happens then is
//! [`InternalProcesses`]' choice. Below it, `agent-runtime/` and the provider directories
//! never hold processes, and sandbox cgroups are leaves.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fsops::{self, EBUSY, ESRCH};
use super::hierarchy::SELF_LEAF;
use super::parse::controller_list;
use super::support::Controller;

/// How often moving processes and enabling controllers is tried when new processes keep
/// appearing in the runtime's cgroup (children forked while they were being moved).
const MOVE_ATTEMPTS: usize = 3;

/// What to do when the runtime's own cgroup (cgroup v2, not the root) holds processes, which
/// keeps it from enabling controllers for the sandbox cgroups below it. Moving means: into
/// `<own>/agent-runtime-self`, a leaf beside `<own>/agent-runtime`; limits set on `<own>`
/// still apply to everything, it only changes the paths in `/proc/<pid>/cgroup`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InternalProcesses {
    /// Move when the runtime's process is the only one there (a systemd service with
    /// `Delegate=yes`, a container whose entrypoint is the runtime); otherwise enforce nothing
    /// on v2 and say why. Moving one's own process is always safe.
    #[default]
    MoveSelf,
    /// Move every process of the cgroup (a container with an init such as tini, a CI job).
    /// Only for cgroups that belong to the runtime's deployment as a whole.
    MoveAll,
    /// Never move; v2 controllers are not enforced while the cgroup holds processes.
    Never,
}

/// Which controllers a step enabled, and why the others failed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Enabled {
    pub ok: Vec<Controller>,
    pub failed: Vec<(Controller, String)>,
}

impl Enabled {
    fn all_failed(wanted: &[Controller], reason: &str) -> Self {
        Self {
            ok: Vec::new(),
            failed: wanted.iter().map(|c| (*c, reason.to_owned())).collect(),
        }
    }
}

/// Enables `wanted` for the children of the runtime's own cgroup `own`, moving processes out
/// of it first as `policy` allows. Notes what it moved.
pub(crate) fn enable_at_own(
    own: &Path,
    wanted: &[Controller],
    policy: InternalProcesses,
    notes: &mut Vec<String>,
) -> Enabled {
    let current = enabled_for_children(own).unwrap_or_default();
    let missing: Vec<Controller> = wanted
        .iter()
        .copied()
        .filter(|c| !current.iter().any(|name| name == c.name()))
        .collect();
    // The real root cgroup (it alone has no `cgroup.type`) is exempt from the rule.
    let is_root = !own.join("cgroup.type").exists();
    if missing.is_empty() || is_root {
        return enable_in(own, wanted);
    }
    match fsops::read(&own.join("cgroup.type")) {
        Ok(kind) if kind.trim() == "domain" => {}
        Ok(kind) => {
            let reason = format!(
                "the runtime's cgroup {} is of type `{}`; only a `domain` cgroup can give \
                 memory, pids and cpu to its children",
                own.display(),
                kind.trim()
            );
            return Enabled::all_failed(wanted, &reason);
        }
        Err(e) => {
            let reason = format!("cannot read {}/cgroup.type: {e}", own.display());
            return Enabled::all_failed(wanted, &reason);
        }
    }
    for attempt in 1..=MOVE_ATTEMPTS {
        if let Err(reason) = move_internal_processes(own, policy, notes) {
            return Enabled::all_failed(wanted, &reason);
        }
        match write_enable(own, &missing) {
            Err(e) if e.raw_os_error() == Some(EBUSY) && attempt < MOVE_ATTEMPTS => continue,
            // Success, or a failure that `enable_in` explains per controller.
            _ => break,
        }
    }
    enable_in(own, wanted)
}

/// Enables `wanted` in `dir/cgroup.subtree_control` (one write; on failure one write per
/// controller, to tell which failed and why) and checks by reading it back.
pub(crate) fn enable_in(dir: &Path, wanted: &[Controller]) -> Enabled {
    let current = match enabled_for_children(dir) {
        Ok(current) => current,
        Err(e) => {
            let reason = format!("cannot read {}/cgroup.subtree_control: {e}", dir.display());
            return Enabled::all_failed(wanted, &reason);
        }
    };
    let missing: Vec<Controller> = wanted
        .iter()
        .copied()
        .filter(|c| !current.iter().any(|name| name == c.name()))
        .collect();
    let mut result = Enabled::default();
    if !missing.is_empty() && write_enable(dir, &missing).is_err() {
        for controller in &missing {
            if let Err(e) = write_enable(dir, &[*controller]) {
                result
                    .failed
                    .push((*controller, explain_enable_error(dir, *controller, &e)));
            }
        }
    }
    let now = enabled_for_children(dir).unwrap_or_default();
    for controller in wanted {
        if result.failed.iter().any(|(c, _)| c == controller) {
            continue;
        }
        if now.iter().any(|name| name == controller.name()) {
            result.ok.push(*controller);
        } else {
            let reason = format!(
                "`{controller}` does not show in {}/cgroup.subtree_control after enabling it",
                dir.display()
            );
            result.failed.push((*controller, reason));
        }
    }
    result
}

/// Controllers listed in `dir/cgroup.subtree_control`; none when the file is missing.
fn enabled_for_children(dir: &Path) -> io::Result<Vec<String>> {
    match fsops::read(&dir.join("cgroup.subtree_control")) {
        Ok(text) => Ok(controller_list(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn write_enable(dir: &Path, controllers: &[Controller]) -> io::Result<()> {
    let value: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    fsops::write(&dir.join("cgroup.subtree_control"), &value.join(" "))
}

fn explain_enable_error(dir: &Path, controller: Controller, e: &io::Error) -> String {
    if e.raw_os_error() == Some(EBUSY) {
        format!(
            "{} holds processes, and cgroup v2 lets only a cgroup without processes enable \
             `{controller}` for its children",
            dir.display()
        )
    } else {
        format!(
            "enabling `{controller}` in {}/cgroup.subtree_control failed: {e}",
            dir.display()
        )
    }
}

/// Empties `own` of processes into `own/agent-runtime-self`, if `policy` allows.
fn move_internal_processes(
    own: &Path,
    policy: InternalProcesses,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let pids = fsops::pids_in(own)
        .map_err(|e| format!("cannot list the processes of {}: {e}", own.display()))?;
    if pids.is_empty() {
        return Ok(());
    }
    let me = std::process::id();
    let rule = "cgroup v2 lets only a cgroup without processes give controllers to its children";
    match policy {
        InternalProcesses::Never => {
            return Err(format!(
                "the runtime's cgroup {} holds processes {pids:?}; {rule}, and moving them is \
                 off (internal processes: never)",
                own.display()
            ))
        }
        InternalProcesses::MoveSelf if pids != [me] => {
            return Err(format!(
                "the runtime's cgroup {} holds processes other than the runtime ({pids:?}); \
                 {rule}. Start the runtime in a cgroup of its own (systemd: a service with \
                 Delegate=yes), or allow moving them all (internal processes: move_all)",
                own.display()
            ))
        }
        InternalProcesses::MoveSelf | InternalProcesses::MoveAll => {}
    }
    let leaf = own.join(SELF_LEAF);
    fsops::make_dir(&leaf).map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
    let procs = leaf.join("cgroup.procs");
    for pid in &pids {
        if let Err(e) = fsops::move_pid(&procs, *pid) {
            // ESRCH: it exited meanwhile.
            if e.raw_os_error() != Some(ESRCH) {
                return Err(format!(
                    "cannot move process {pid} into {}: {e}",
                    leaf.display()
                ));
            }
        }
    }
    notes.push(format!(
        "moved processes {pids:?} from {} into {} ({rule})",
        own.display(),
        leaf.display()
    ));
    Ok(())
}
