//! Detection: where each controller lives (a v1 hierarchy or the unified v2 one), and the
//! setup that proves it usable, by creating this provider's directories under the runtime's
//! own cgroup and finding the controller's files there.

use std::path::{Path, PathBuf};

use super::delegate::{enable_at_own, enable_in, Enabled, InternalProcesses};
use super::fsops;
use super::hierarchy::{inherit_cpuset, key_file, Features, Hierarchy, BASE_DIR, SELF_LEAF};
use super::instance::{sweep_stale, Owner};
use super::parse::ProcCgroupLine;
use super::parse::{controller_list, parse_cgroup_mounts, parse_proc_cgroup, CgroupMount};
use super::support::{CgroupSupport, CgroupVersion, Controller, ControllerSupport};

/// How often the base and provider directories are created when another runtime removes an
/// empty base directory at the same moment.
const CREATE_ATTEMPTS: usize = 3;

/// Everything detection needs besides the two `/proc` texts.
pub(crate) struct DetectInput<'a> {
    pub fs_root: &'a Path,
    pub internal_processes: InternalProcesses,
    pub owner: Owner,
    pub instance_name: &'a str,
}

/// Finds, sets up and reports every controller.
pub(crate) fn detect(
    input: &DetectInput<'_>,
    proc_self_cgroup: &str,
    mountinfo: &str,
) -> (Vec<Hierarchy>, CgroupSupport) {
    let parsed = parse_proc_cgroup(proc_self_cgroup)
        .and_then(|lines| Ok((lines, parse_cgroup_mounts(mountinfo)?)));
    let (lines, mounts) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return (Vec::new(), CgroupSupport::none(&e.to_string())),
    };
    let mut support = CgroupSupport::none("not examined");
    let mut v2: Option<(PathBuf, Vec<Controller>)> = None;
    let mut v1: Vec<(CgroupMount, PathBuf, Vec<Controller>)> = Vec::new();
    for controller in Controller::ALL {
        match place(controller, &lines, &mounts, input.fs_root) {
            Err(reason) => support.set(controller, ControllerSupport::not_enforced(reason)),
            Ok(Placement::V2 { own }) => v2.get_or_insert((own, Vec::new())).1.push(controller),
            Ok(Placement::V1 { mount, own }) => {
                match v1
                    .iter_mut()
                    .find(|(m, _, _)| m.mount_point == mount.mount_point)
                {
                    Some((_, _, controllers)) => controllers.push(controller),
                    None => v1.push((mount, own, vec![controller])),
                }
            }
        }
    }
    let mut hierarchies = Vec::new();
    if let Some((own, controllers)) = v2 {
        hierarchies.extend(set_up_v2(input, &own, &controllers, &mut support));
    }
    for (mount, own, controllers) in v1 {
        let cpuset = mount.has_controller("cpuset");
        hierarchies.extend(set_up_v1(input, &own, &controllers, cpuset, &mut support));
    }
    (hierarchies, support)
}

/// Where one controller can be enforced.
enum Placement {
    V1 { mount: CgroupMount, own: PathBuf },
    V2 { own: PathBuf },
}

/// A controller bound to a v1 hierarchy is there (it cannot be in v2 at the same time);
/// otherwise it is in v2 if the runtime's v2 cgroup lists it in `cgroup.controllers`.
fn place(
    controller: Controller,
    lines: &[ProcCgroupLine],
    mounts: &[CgroupMount],
    fs_root: &Path,
) -> Result<Placement, String> {
    let name = controller.name();
    if let Some(line) = lines
        .iter()
        .find(|l| !l.is_unified() && l.has_controller(name))
    {
        let candidates: Vec<&CgroupMount> =
            mounts.iter().filter(|m| m.has_controller(name)).collect();
        let mut why_not = format!(
            "the v1 `{name}` hierarchy (hierarchy {} in /proc/self/cgroup) is not mounted here",
            line.hierarchy_id
        );
        for mount in candidates {
            match mount.dir_of(&line.path) {
                Ok(_) if mount.read_only => {
                    why_not = format!(
                        "the v1 `{name}` hierarchy is mounted read-only at {}",
                        mount.mount_point.display()
                    );
                }
                Ok(dir) => {
                    return Ok(Placement::V1 {
                        mount: mount.clone(),
                        own: under_root(fs_root, &dir),
                    })
                }
                Err(reason) => why_not = reason,
            }
        }
        return Err(why_not);
    }
    let Some(line) = lines.iter().find(|l| l.is_unified()) else {
        return Err(format!(
            "no hierarchy has `{name}`: /proc/self/cgroup names neither a v1 `{name}` \
             hierarchy nor the unified (v2) one"
        ));
    };
    let mut why_not = "no cgroup2 filesystem is mounted".to_owned();
    for mount in mounts.iter().filter(|m| m.version == CgroupVersion::V2) {
        let dir = match mount.dir_of(&line.path) {
            Ok(dir) => dir,
            Err(reason) => {
                why_not = reason;
                continue;
            }
        };
        if mount.read_only {
            why_not = format!(
                "cgroup2 is mounted read-only at {}",
                mount.mount_point.display()
            );
            continue;
        }
        let own = without_self_leaf(under_root(fs_root, &dir));
        if lists(&own.join("cgroup.controllers"), name) {
            return Ok(Placement::V2 { own });
        }
        let mount_root = under_root(fs_root, &mount.mount_point);
        return Err(if lists(&mount_root.join("cgroup.controllers"), name) {
            format!(
                "`{name}` is not delegated to the runtime's cgroup {}: it is missing from its \
                 cgroup.controllers (enable it in the parent's cgroup.subtree_control; \
                 systemd: Delegate=yes)",
                own.display()
            )
        } else {
            format!(
                "the kernel offers no `{name}` controller: neither a v1 hierarchy nor \
                 {}/cgroup.controllers has it",
                mount_root.display()
            )
        });
    }
    Err(why_not)
}

/// `<fs_root>/<path>` for an absolute host path.
fn under_root(fs_root: &Path, path: &Path) -> PathBuf {
    fs_root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Once the runtime has moved itself into `<own>/agent-runtime-self`, `/proc/self/cgroup`
/// names that leaf; its parent is still the runtime's cgroup.
fn without_self_leaf(own: PathBuf) -> PathBuf {
    match own.parent() {
        Some(parent) if own.file_name().is_some_and(|n| n == SELF_LEAF) => parent.to_owned(),
        _ => own,
    }
}

fn lists(controllers_file: &Path, name: &str) -> bool {
    fsops::read(controllers_file)
        .map(|text| controller_list(&text).iter().any(|c| c == name))
        .unwrap_or(false)
}

/// v2: enable the controllers from the runtime's cgroup down, then create the directories.
fn set_up_v2(
    input: &DetectInput<'_>,
    own: &Path,
    wanted: &[Controller],
    support: &mut CgroupSupport,
) -> Option<Hierarchy> {
    let enabled = enable_at_own(own, wanted, input.internal_processes, &mut support.notes);
    let mut ok = record_failures(enabled, support);
    let base = own.join(BASE_DIR);
    let instance = base.join(input.instance_name);
    if ok.is_empty() {
        return None;
    }
    let mut made = Made::BaseVanished;
    for attempt in 1..=CREATE_ATTEMPTS {
        if let Err(e) = fsops::make_dir(&base) {
            made = Made::Failed(format!("cannot create {}: {e}", base.display()));
            break;
        }
        ok = record_failures(enable_in(&base, &ok), support);
        ok = require_key_files(CgroupVersion::V2, &base, ok, support);
        if ok.is_empty() {
            return None;
        }
        if attempt == 1 {
            let features = Features::probe(CgroupVersion::V2, &base);
            sweep(input, &base, features.cgroup_kill, support);
        }
        made = make_instance(&instance);
        if made != Made::BaseVanished {
            break;
        }
    }
    if let Err(reason) = made.into_result(&instance) {
        fail_all(&ok, &reason, support);
        return None;
    }
    ok = record_failures(enable_in(&instance, &ok), support);
    if ok.is_empty() {
        let _ = std::fs::remove_dir(&instance);
        return None;
    }
    let features = Features::probe(CgroupVersion::V2, &base);
    if !features.cgroup_kill {
        support.notes.push(
            "cgroup v2 without cgroup.kill (Linux < 5.14): sandboxes are killed by signalling \
             each of their processes"
                .to_owned(),
        );
    }
    Some(finish(
        CgroupVersion::V2,
        ok,
        base,
        instance,
        features,
        false,
        support,
    ))
}

/// v1: create the directories in the hierarchy; nothing needs enabling.
fn set_up_v1(
    input: &DetectInput<'_>,
    own: &Path,
    wanted: &[Controller],
    cpuset: bool,
    support: &mut CgroupSupport,
) -> Option<Hierarchy> {
    let base = own.join(BASE_DIR);
    let instance = base.join(input.instance_name);
    let mut ok = wanted.to_vec();
    let mut made = Made::BaseVanished;
    for attempt in 1..=CREATE_ATTEMPTS {
        let created = fsops::make_dir(&base).and_then(|new| match new && cpuset {
            true => inherit_cpuset(&base),
            false => Ok(()),
        });
        if let Err(e) = created {
            made = Made::Failed(format!("cannot create {}: {e}", base.display()));
            break;
        }
        ok = require_key_files(CgroupVersion::V1, &base, ok, support);
        if ok.is_empty() {
            return None;
        }
        if attempt == 1 {
            sweep(input, &base, false, support);
        }
        made = make_instance(&instance);
        if made != Made::BaseVanished {
            break;
        }
    }
    if let Err(reason) = made.into_result(&instance) {
        fail_all(&ok, &reason, support);
        return None;
    }
    if cpuset {
        if let Err(e) = inherit_cpuset(&instance) {
            let _ = std::fs::remove_dir(&instance);
            let reason = format!("cannot set up cpuset in {}: {e}", instance.display());
            fail_all(&ok, &reason, support);
            return None;
        }
    }
    let features = Features::probe(CgroupVersion::V1, &base);
    Some(finish(
        CgroupVersion::V1,
        ok,
        base,
        instance,
        features,
        cpuset,
        support,
    ))
}

/// How creating the provider directory went.
#[derive(Debug, PartialEq, Eq)]
enum Made {
    Done,
    /// The base directory vanished (another runtime removed it while it was empty): make it
    /// again and retry.
    BaseVanished,
    Failed(String),
}

impl Made {
    fn into_result(self, instance: &Path) -> Result<(), String> {
        match self {
            Self::Done => Ok(()),
            Self::BaseVanished => Err(format!(
                "cannot create {}: its parent keeps vanishing",
                instance.display()
            )),
            Self::Failed(reason) => Err(reason),
        }
    }
}

fn make_instance(instance: &Path) -> Made {
    match fsops::make_dir(instance) {
        Ok(_) => Made::Done,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Made::BaseVanished,
        Err(e) => Made::Failed(format!("cannot create {}: {e}", instance.display())),
    }
}

fn sweep(input: &DetectInput<'_>, base: &Path, cgroup_kill: bool, support: &mut CgroupSupport) {
    for dir in sweep_stale(base, input.owner.pid_ns, cgroup_kill) {
        support.notes.push(format!(
            "removed {dir}, left behind by a runtime that is gone (its sandboxes killed)"
        ));
    }
}

/// Keeps the controllers whose key file is in `base`; reports the others.
fn require_key_files(
    version: CgroupVersion,
    base: &Path,
    controllers: Vec<Controller>,
    support: &mut CgroupSupport,
) -> Vec<Controller> {
    let (ok, missing): (Vec<Controller>, Vec<Controller>) = controllers
        .into_iter()
        .partition(|c| base.join(key_file(version, *c)).exists());
    for controller in missing {
        let reason = format!(
            "{} has no {}, so `{controller}` does not work there",
            base.display(),
            key_file(version, controller)
        );
        support.set(controller, ControllerSupport::not_enforced(reason));
    }
    ok
}

fn record_failures(enabled: Enabled, support: &mut CgroupSupport) -> Vec<Controller> {
    for (controller, reason) in enabled.failed {
        support.set(controller, ControllerSupport::not_enforced(reason));
    }
    enabled.ok
}

fn fail_all(controllers: &[Controller], reason: &str, support: &mut CgroupSupport) {
    for controller in controllers {
        support.set(*controller, ControllerSupport::not_enforced(reason));
    }
}

fn finish(
    version: CgroupVersion,
    controllers: Vec<Controller>,
    base: PathBuf,
    instance: PathBuf,
    features: Features,
    cpuset: bool,
    support: &mut CgroupSupport,
) -> Hierarchy {
    for controller in &controllers {
        let caveats = match controller {
            Controller::Memory => features.memory_caveats(version),
            Controller::Pids | Controller::Cpu => Vec::new(),
        };
        support.set(
            *controller,
            ControllerSupport::Enforced {
                version,
                dir: instance.clone(),
                caveats,
            },
        );
    }
    Hierarchy {
        version,
        controllers,
        base,
        instance,
        features,
        cpuset,
    }
}
