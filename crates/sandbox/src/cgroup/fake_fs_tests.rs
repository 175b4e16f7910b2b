//! Detection and sandbox cgroups against fake cgroup trees in a temp dir: plain files laid
//! out as the kernel shows them, with the `/proc` texts of the host being imitated. They
//! prove which files get which values, the v2 `cgroup.subtree_control` handling and the
//! internal-process choices; the real kernel is exercised in `tests/suite/cgroup.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use super::instance::Owner;
use super::parse::tests::{HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, V2_MOUNTINFO};
use super::*;

const SERVICE: &str = "system.slice/agent-runtime.service";
const MEMORY_OWN: &str = "process_api/6d78d289987a7282cb1fcd58375e23b7";

fn limits() -> CgroupLimits {
    CgroupLimits {
        memory_bytes: Some(64 << 20),
        pids: Some(20),
        cpu_millicores: Some(500),
    }
}

fn put(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file and directory below `dir`, with contents; the random provider name replaced
/// by `<provider>` so whole trees can be compared.
fn tree(dir: &Path, cgroups: &Cgroups) -> BTreeMap<String, String> {
    let providers: Vec<String> = cgroups
        .provider_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let mut rel = path.strip_prefix(dir).unwrap().display().to_string();
            for provider in &providers {
                rel = rel.replace(provider.as_str(), "<provider>");
            }
            if path.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else {
                out.insert(rel, read(&path));
            }
        }
    }
    out
}

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn reason(support: &ControllerSupport) -> &str {
    match support {
        ControllerSupport::NotEnforced { reason } => reason,
        enforced => panic!("expected not enforced, got {enforced:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// cgroup v2

/// A pure v2 host: the root offers every controller; the runtime's cgroup `own` (relative
/// to the mount) has memory, pids and cpu delegated and holds `own_procs`. The base
/// directory looks as the kernel makes it once `own` enables the controllers.
struct V2Host {
    root: tempfile::TempDir,
    own: String,
}

impl V2Host {
    fn new(own: &str, own_procs: &str) -> Self {
        let host = Self {
            root: tempfile::tempdir().unwrap(),
            own: own.to_owned(),
        };
        let mount = host.mount();
        put(
            &mount.join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc",
        );
        put(&mount.join("cgroup.subtree_control"), "cpu memory pids");
        if !own.is_empty() {
            let own = host.own_dir();
            put(&own.join("cgroup.type"), "domain\n");
            put(&own.join("cgroup.controllers"), "cpu memory pids\n");
            put(&own.join("cgroup.subtree_control"), "");
            put(&own.join("cgroup.procs"), own_procs);
        } else {
            put(&mount.join("cgroup.procs"), own_procs);
        }
        let base = host.own_dir().join(BASE_DIR);
        for (file, content) in [
            ("cgroup.type", "domain\n"),
            ("cgroup.procs", ""),
            ("cgroup.kill", ""),
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.oom.group", "0\n"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
            ("memory.peak", "0\n"),
            ("pids.max", "max\n"),
            ("cpu.max", "max 100000\n"),
        ] {
            put(&base.join(file), content);
        }
        host
    }

    fn mount(&self) -> PathBuf {
        self.root.path().join("sys/fs/cgroup")
    }

    fn own_dir(&self) -> PathBuf {
        self.mount().join(&self.own)
    }

    fn detect(&self, policy: InternalProcesses) -> Cgroups {
        self.detect_as(&format!("0::/{}\n", self.own), policy)
    }

    fn detect_as(&self, proc_self_cgroup: &str, policy: InternalProcesses) -> Cgroups {
        let config = CgroupConfig {
            fs_root: self.root.path().to_owned(),
            internal_processes: policy,
        };
        Cgroups::detect_from(&config, proc_self_cgroup, V2_MOUNTINFO)
    }
}

fn base_files_v2() -> Vec<(&'static str, &'static str)> {
    vec![
        ("agent-runtime/", ""),
        ("agent-runtime/cgroup.type", "domain\n"),
        ("agent-runtime/cgroup.procs", ""),
        ("agent-runtime/cgroup.kill", ""),
        ("agent-runtime/memory.max", "max\n"),
        ("agent-runtime/memory.swap.max", "max\n"),
        ("agent-runtime/memory.oom.group", "0\n"),
        (
            "agent-runtime/memory.events",
            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        ),
        ("agent-runtime/memory.peak", "0\n"),
        ("agent-runtime/pids.max", "max\n"),
        ("agent-runtime/cpu.max", "max 100000\n"),
    ]
}

#[test]
fn v2_runtime_alone_in_its_cgroup_moves_itself_and_enables_controllers_down_to_the_sandbox() {
    let me = std::process::id();
    let host = V2Host::new(SERVICE, &format!("{me}\n"));
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    let provider = host
        .own_dir()
        .join("agent-runtime")
        .join(cgroups.provider_dirs()[0].file_name().unwrap());
    let enforced = ControllerSupport::Enforced {
        version: CgroupVersion::V2,
        dir: provider.clone(),
        caveats: Vec::new(),
    };
    let own = host.own_dir();
    assert_eq!(
        cgroups.support(),
        &CgroupSupport {
            memory: enforced.clone(),
            pids: enforced.clone(),
            cpu: enforced,
            notes: vec![format!(
                "moved processes [{me}] from {} into {}/agent-runtime-self (cgroup v2 lets \
                 only a cgroup without processes give controllers to its children)",
                own.display(),
                own.display()
            )],
        }
    );

    let sandbox = cgroups.create("sess-1", &limits()).unwrap();
    let leaf = provider.join("sess-1");
    assert_eq!(sandbox.procs_files(), [leaf.join("cgroup.procs")]);
    for controller in Controller::ALL {
        assert_eq!(sandbox.dir(controller), Some(leaf.as_path()));
    }
    let mut expected = files(&[
        ("cgroup.type", "domain\n"),
        ("cgroup.controllers", "cpu memory pids\n"),
        // The kernel would empty it; the runtime's pid went to the leaf below.
        ("cgroup.procs", &format!("{me}\n")),
        ("cgroup.subtree_control", "+memory +pids +cpu"),
        ("agent-runtime-self/", ""),
        ("agent-runtime-self/cgroup.procs", &format!("{me}\n")),
        ("agent-runtime/cgroup.subtree_control", "+memory +pids +cpu"),
        ("agent-runtime/<provider>/", ""),
        (
            "agent-runtime/<provider>/cgroup.subtree_control",
            "+memory +pids +cpu",
        ),
        ("agent-runtime/<provider>/sess-1/", ""),
        ("agent-runtime/<provider>/sess-1/memory.max", "67108864"),
        ("agent-runtime/<provider>/sess-1/memory.swap.max", "0"),
        ("agent-runtime/<provider>/sess-1/memory.oom.group", "1"),
        ("agent-runtime/<provider>/sess-1/pids.max", "20"),
        ("agent-runtime/<provider>/sess-1/cpu.max", "50000 100000"),
    ]);
    expected.extend(files(&base_files_v2()));
    assert_eq!(tree(&own, &cgroups), expected);

    // The counters are read from the sandbox's own files.
    put(
        &leaf.join("memory.events"),
        "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n",
    );
    put(&leaf.join("memory.peak"), "67100000\n");
    assert_eq!(sandbox.oom_kills().unwrap(), Some(1));
    assert_eq!(sandbox.memory_peak().unwrap(), Some(67_100_000));
    // Killing uses cgroup.kill.
    sandbox.kill_all().unwrap();
    assert_eq!(read(&leaf.join("cgroup.kill")), "1");
    assert_eq!(sandbox.pids().unwrap(), Vec::<u32>::new());

    assert!(matches!(
        cgroups.create("sess-1", &limits()),
        Err(CgroupError::AlreadyExists { .. })
    ));
    assert!(matches!(
        cgroups.create("../escape", &limits()),
        Err(CgroupError::InvalidName { .. })
    ));
    assert!(matches!(
        cgroups.create(
            "sess-2",
            &CgroupLimits {
                pids: Some(0),
                ..limits()
            }
        ),
        Err(CgroupError::InvalidLimit { field: "pids", .. })
    ));
    assert!(
        !provider.join("sess-2").exists(),
        "nothing made for bad limits"
    );
}

#[test]
fn v2_root_cgroup_may_hold_processes() {
    let host = V2Host::new("", "1\n2\n3\n");
    let cgroups = host.detect(InternalProcesses::Never);
    assert!(
        cgroups.support().memory.is_enforced(),
        "{}",
        cgroups.support()
    );
    assert_eq!(cgroups.support().notes, Vec::<String>::new());
    // "cpu memory pids" was there already; nothing was moved.
    assert_eq!(
        read(&host.mount().join("cgroup.subtree_control")),
        "cpu memory pids"
    );
    assert!(!host.mount().join(SELF_LEAF).exists());
}

#[test]
fn v2_controllers_already_enabled_need_no_move() {
    let me = std::process::id();
    let host = V2Host::new(SERVICE, &format!("{me}\n"));
    // Cannot happen on a real kernel with processes in a non-root cgroup, but if the file
    // already lists them there is nothing to enable and nothing to move.
    put(
        &host.own_dir().join("cgroup.subtree_control"),
        "cpu memory pids\n",
    );
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    assert!(cgroups.support().any_enforced());
    assert_eq!(cgroups.support().notes, Vec::<String>::new());
    assert!(!host.own_dir().join(SELF_LEAF).exists());
}

#[test]
fn v2_other_processes_in_the_runtimes_cgroup_are_not_moved_by_default() {
    let me = std::process::id();
    let host = V2Host::new(SERVICE, &format!("1\n{me}\n"));
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    let support = cgroups.support();
    let why = reason(&support.memory);
    assert!(
        why.contains("holds processes other than the runtime ([1, ")
            && why.contains("Delegate=yes"),
        "{why}"
    );
    assert_eq!(reason(&support.pids), why);
    assert_eq!(reason(&support.cpu), why);
    // Nothing changed on the host.
    assert_eq!(read(&host.own_dir().join("cgroup.subtree_control")), "");
    assert!(!host.own_dir().join(SELF_LEAF).exists());
    assert!(matches!(
        cgroups.create("s", &limits()),
        Err(CgroupError::Unavailable(_))
    ));
}

#[test]
fn v2_move_all_moves_every_process() {
    let me = std::process::id();
    let host = V2Host::new(SERVICE, &format!("1\n{me}\n"));
    let cgroups = host.detect(InternalProcesses::MoveAll);
    assert!(
        cgroups.support().memory.is_enforced(),
        "{}",
        cgroups.support()
    );
    assert_eq!(
        read(&host.own_dir().join(SELF_LEAF).join("cgroup.procs")),
        format!("1\n{me}\n")
    );
    assert_eq!(
        read(&host.own_dir().join("cgroup.subtree_control")),
        "+memory +pids +cpu"
    );
}

#[test]
fn v2_never_moving_means_not_enforced() {
    let me = std::process::id();
    let host = V2Host::new(SERVICE, &format!("{me}\n"));
    let cgroups = host.detect(InternalProcesses::Never);
    let why = reason(&cgroups.support().cpu).to_owned();
    assert!(why.contains("moving them is off"), "{why}");
    assert!(!host.own_dir().join(SELF_LEAF).exists());
}

#[test]
fn v2_controllers_not_delegated_or_not_offered() {
    let host = V2Host::new(SERVICE, "");
    put(&host.own_dir().join("cgroup.controllers"), "memory\n");
    put(&host.mount().join("cgroup.controllers"), "memory pids io\n");
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    let support = cgroups.support();
    assert!(support.memory.is_enforced());
    let pids = reason(&support.pids);
    assert!(
        pids.contains("`pids` is not delegated to the runtime's cgroup"),
        "{pids}"
    );
    let cpu = reason(&support.cpu);
    assert!(
        cpu.contains("the kernel offers no `cpu` controller"),
        "{cpu}"
    );
    assert_eq!(
        read(&host.own_dir().join("cgroup.subtree_control")),
        "+memory"
    );
    // Limits of controllers not enforced are skipped.
    let sandbox = cgroups.create("only-memory", &limits()).unwrap();
    let leaf = sandbox.dir(Controller::Memory).unwrap().to_owned();
    assert_eq!(sandbox.dir(Controller::Pids), None);
    assert!(!leaf.join("pids.max").exists());
    assert!(!leaf.join("cpu.max").exists());
    assert_eq!(read(&leaf.join("memory.max")), "67108864");
}

#[test]
fn v2_runtime_already_in_its_own_leaf_uses_the_parent() {
    let host = V2Host::new(SERVICE, "");
    put(
        &host.own_dir().join("cgroup.subtree_control"),
        "cpu memory pids\n",
    );
    let cgroups = host.detect_as(
        &format!("0::/{SERVICE}/{SELF_LEAF}\n"),
        InternalProcesses::Never,
    );
    assert!(
        cgroups.support().memory.is_enforced(),
        "{}",
        cgroups.support()
    );
    assert_eq!(
        cgroups.provider_dirs()[0].parent().unwrap(),
        host.own_dir().join(BASE_DIR)
    );
}

#[test]
fn v2_threaded_cgroup_cannot_delegate() {
    let host = V2Host::new(SERVICE, "");
    put(&host.own_dir().join("cgroup.type"), "domain threaded\n");
    let cgroups = host.detect(InternalProcesses::MoveAll);
    let why = reason(&cgroups.support().memory).to_owned();
    assert!(why.contains("of type `domain threaded`"), "{why}");
}

#[test]
fn v2_older_kernel_features_become_caveats() {
    let host = V2Host::new(SERVICE, "");
    let base = host.own_dir().join(BASE_DIR);
    for file in [
        "memory.swap.max",
        "memory.oom.group",
        "cgroup.kill",
        "memory.peak",
    ] {
        std::fs::remove_file(base.join(file)).unwrap();
    }
    put(&base.join("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\n");
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    match &cgroups.support().memory {
        ControllerSupport::Enforced { caveats, .. } => assert_eq!(
            caveats,
            &[
                "swap is not limited (no memory.swap.max)",
                "an OOM kills one process, not the whole sandbox (no memory.oom.group)",
                "OOM kills cannot be counted (no oom_kill in memory.events)",
            ]
        ),
        other => panic!("{other:?}"),
    }
    assert!(cgroups.support().notes[0].contains("without cgroup.kill"));
    let sandbox = cgroups.create("old", &limits()).unwrap();
    let leaf = sandbox.dir(Controller::Memory).unwrap();
    assert!(!leaf.join("memory.swap.max").exists());
    assert!(!leaf.join("memory.oom.group").exists());
    assert_eq!(sandbox.oom_kills().unwrap(), None);
    assert_eq!(sandbox.memory_peak().unwrap(), None);
    // Without cgroup.kill, killing signals each listed process instead.
    sandbox.kill_all().unwrap();
    assert!(!leaf.join("cgroup.kill").exists());
}

#[test]
fn v2_base_without_the_controller_files_is_not_enforced() {
    let host = V2Host::new(SERVICE, "");
    std::fs::remove_file(host.own_dir().join(BASE_DIR).join("pids.max")).unwrap();
    let cgroups = host.detect(InternalProcesses::MoveSelf);
    let why = reason(&cgroups.support().pids).to_owned();
    assert!(
        why.ends_with("agent-runtime has no pids.max, so `pids` does not work there"),
        "{why}"
    );
    assert!(cgroups.support().memory.is_enforced());
}

// ---------------------------------------------------------------------------------------
// cgroup v1

/// The development host's layout: memory, pids and cpu on their own v1 hierarchies (memory
/// in a per-task cgroup), an empty cgroup2 beside them. Base directories as the kernel
/// shows them.
struct V1Host {
    root: tempfile::TempDir,
}

impl V1Host {
    fn new() -> Self {
        let host = Self {
            root: tempfile::tempdir().unwrap(),
        };
        put(
            &host.mount("unified").join("cgroup.controllers"),
            "hugetlb\n",
        );
        for (file, content) in [
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
            ("memory.max_usage_in_bytes", "0\n"),
        ] {
            put(&host.base("memory").join(file), content);
        }
        put(&host.base("pids").join("pids.max"), "max\n");
        put(&host.base("cpu").join("cpu.cfs_quota_us"), "-1\n");
        put(&host.base("cpu").join("cpu.cfs_period_us"), "100000\n");
        host
    }

    fn mount(&self, name: &str) -> PathBuf {
        self.root.path().join("sys/fs/cgroup").join(name)
    }

    fn base(&self, hierarchy: &str) -> PathBuf {
        let own = if hierarchy == "memory" {
            self.mount("memory").join(MEMORY_OWN)
        } else {
            self.mount(hierarchy)
        };
        own.join(BASE_DIR)
    }

    fn detect_with(&self, mountinfo: &str) -> Cgroups {
        let config = CgroupConfig {
            fs_root: self.root.path().to_owned(),
            internal_processes: InternalProcesses::MoveSelf,
        };
        Cgroups::detect_from(&config, HYBRID_PROC_CGROUP, mountinfo)
    }

    fn detect(&self) -> Cgroups {
        self.detect_with(HYBRID_MOUNTINFO)
    }
}

#[test]
fn v1_hybrid_host_writes_each_limit_in_its_hierarchy() {
    let host = V1Host::new();
    let cgroups = host.detect();
    let provider = cgroups.provider_dirs()[0].file_name().unwrap().to_owned();
    let dir = |hierarchy: &str| host.base(hierarchy).join(&provider);
    let enforced = |hierarchy: &str, caveats: Vec<String>| ControllerSupport::Enforced {
        version: CgroupVersion::V1,
        dir: dir(hierarchy),
        caveats,
    };
    assert_eq!(
        cgroups.support(),
        &CgroupSupport {
            memory: enforced(
                "memory",
                vec![
                    "an OOM kills one process, not the whole sandbox (v1 has no \
                      memory.oom.group); the runtime kills the rest"
                        .to_owned()
                ]
            ),
            pids: enforced("pids", Vec::new()),
            cpu: enforced("cpu", Vec::new()),
            notes: Vec::new(),
        }
    );

    let sandbox = cgroups.create("sess-1", &limits()).unwrap();
    let leaf = |hierarchy: &str| dir(hierarchy).join("sess-1");
    assert_eq!(
        sandbox.procs_files(),
        ["memory", "pids", "cpu"].map(|h| leaf(h).join("cgroup.procs"))
    );
    let written = |hierarchy: &str| {
        let mut t = tree(&leaf(hierarchy), &cgroups);
        t.retain(|_, v| !v.is_empty());
        t
    };
    assert_eq!(
        written("memory"),
        files(&[
            ("memory.limit_in_bytes", "67108864"),
            ("memory.memsw.limit_in_bytes", "67108864"),
        ])
    );
    assert_eq!(written("pids"), files(&[("pids.max", "20")]));
    assert_eq!(
        written("cpu"),
        files(&[
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "50000")
        ])
    );
    // Nothing was written above the provider directories (v1 needs no subtree_control).
    assert!(!host.base("pids").join("cgroup.subtree_control").exists());
    assert!(!host.mount("pids").join("cgroup.subtree_control").exists());
    assert!(
        !host.mount("unified").join(BASE_DIR).exists(),
        "cgroup2 serves nothing here"
    );

    put(
        &leaf("memory").join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    put(&leaf("memory").join("memory.max_usage_in_bytes"), "4096\n");
    assert_eq!(sandbox.oom_kills().unwrap(), Some(2));
    assert_eq!(sandbox.memory_peak().unwrap(), Some(4096));
    sandbox.kill_all().unwrap();
    assert!(
        !leaf("memory").join("cgroup.kill").exists(),
        "v1 has no cgroup.kill"
    );
}

#[test]
fn v1_without_swap_accounting_or_oom_kill_counter() {
    let host = V1Host::new();
    let base = host.base("memory");
    std::fs::remove_file(base.join("memory.memsw.limit_in_bytes")).unwrap();
    put(
        &base.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\n",
    );
    let cgroups = host.detect();
    match &cgroups.support().memory {
        ControllerSupport::Enforced { caveats, .. } => {
            assert_eq!(caveats.len(), 3, "{caveats:?}");
            assert!(caveats[0].starts_with("swap is not limited"));
            assert!(caveats[2].starts_with("OOM kills cannot be counted"));
        }
        other => panic!("{other:?}"),
    }
    let sandbox = cgroups.create("s", &limits()).unwrap();
    let leaf = sandbox.dir(Controller::Memory).unwrap();
    assert!(!leaf.join("memory.memsw.limit_in_bytes").exists());
    assert_eq!(sandbox.oom_kills().unwrap(), None);
}

#[test]
fn v1_hierarchy_not_mounted() {
    let host = V1Host::new();
    let mountinfo: String = HYBRID_MOUNTINFO
        .lines()
        .filter(|l| !l.contains("/sys/fs/cgroup/pids"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cgroups = host.detect_with(&mountinfo);
    assert_eq!(
        reason(&cgroups.support().pids),
        "the v1 `pids` hierarchy (hierarchy 8 in /proc/self/cgroup) is not mounted here"
    );
    assert!(cgroups.support().memory.is_enforced());
    assert_eq!(
        cgroups.create("s", &limits()).unwrap().procs_files().len(),
        2
    );
}

#[test]
fn v1_cpu_co_mounted_with_cpuset_inherits_cpus_and_mems() {
    let host = V1Host::new();
    let mountinfo = HYBRID_MOUNTINFO.replace("rw,cpu\n", "rw,cpu,cpuset\n");
    for file in ["cpuset.cpus", "cpuset.mems"] {
        put(
            &host.base("cpu").join(file),
            if file == "cpuset.cpus" {
                "0-1\n"
            } else {
                "0\n"
            },
        );
    }
    let cgroups = host.detect_with(&mountinfo);
    assert!(cgroups.support().cpu.is_enforced(), "{}", cgroups.support());
    let sandbox = cgroups.create("s", &limits()).unwrap();
    let leaf = sandbox.dir(Controller::Cpu).unwrap();
    assert_eq!(read(&leaf.join("cpuset.cpus")), "0-1");
    assert_eq!(read(&leaf.join("cpuset.mems")), "0");
    assert_eq!(read(&leaf.parent().unwrap().join("cpuset.cpus")), "0-1");
}

#[test]
fn stale_provider_dirs_of_dead_owners_are_swept_and_nothing_else() {
    let host = V1Host::new();
    let me = Owner::current().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let base = host.base("pids");
    let dead = format!("{}-{dead_pid}-{}-deadbeef", me.pid_ns, me.start_time);
    let reused = format!("{}-{}-{}-0badf00d", me.pid_ns, me.pid, me.start_time + 1);
    let live = format!("{}-{}-{}-01234567", me.pid_ns, me.pid, me.start_time);
    let foreign = format!("{}-{dead_pid}-1-01234567", me.pid_ns + 1);
    for dir in [
        format!("{dead}/sess-a"),
        format!("{dead}/sess-b"),
        format!("{reused}/sess-c"),
        format!("{live}/sess-d"),
        format!("{foreign}/sess-e"),
        "unrelated/x".to_owned(),
    ] {
        std::fs::create_dir_all(base.join(dir)).unwrap();
    }
    let cgroups = host.detect();
    let mut notes = cgroups.support().notes.clone();
    notes.sort();
    let mut expected_notes = [&dead, &reused].map(|d| {
        format!(
            "removed {}, left behind by a runtime that is gone (its sandboxes killed)",
            base.join(d).display()
        )
    });
    expected_notes.sort();
    assert_eq!(notes, expected_notes);
    let mut left: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.contains('.'))
        .collect();
    left.sort();
    let ours = cgroups.provider_dirs()[1]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut expected = vec![live, foreign, "unrelated".to_owned(), ours];
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn dropping_the_provider_removes_its_directories() {
    let host = V1Host::new();
    let cgroups = host.detect();
    let dirs = cgroups.provider_dirs();
    assert_eq!(dirs.len(), 3);
    let sandbox = cgroups.create("s", &CgroupLimits::default()).unwrap();
    assert!(dirs.iter().all(|d| d.join("s").is_dir()));
    drop(sandbox);
    drop(cgroups);
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

// ---------------------------------------------------------------------------------------
// No cgroups

#[test]
fn no_cgroup_filesystem_at_all() {
    let root = tempfile::tempdir().unwrap();
    let config = CgroupConfig {
        fs_root: root.path().to_owned(),
        internal_processes: InternalProcesses::MoveSelf,
    };
    let cgroups = Cgroups::detect_from(
        &config,
        "0::/\n",
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n",
    );
    assert!(!cgroups.support().any_enforced());
    assert_eq!(
        reason(&cgroups.support().memory),
        "no cgroup2 filesystem is mounted"
    );
    assert!(matches!(
        cgroups.create("s", &limits()),
        Err(CgroupError::Unavailable(_))
    ));
    assert_eq!(
        cgroups.support().to_string(),
        "memory: not enforced: no cgroup2 filesystem is mounted\n\
         pids: not enforced: no cgroup2 filesystem is mounted\n\
         cpu: not enforced: no cgroup2 filesystem is mounted"
    );

    let garbled = Cgroups::detect_from(&config, "nonsense\n", "");
    let why = reason(&garbled.support().pids).to_owned();
    assert!(
        why.starts_with("cannot parse /proc/self/cgroup line \"nonsense\""),
        "{why}"
    );
}
