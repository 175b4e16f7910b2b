//! The `cgroup` module against this host's real kernel, whatever it offers (cgroup v1 on the
//! development host, v2 elsewhere). A launcher stand-in (`sh` writing its pid into every
//! `procs_files()` entry, then `exec`) puts real processes into real sandbox cgroups.
//!
//! The tests fail, never skip, when the controller they need is not enforced: the message
//! is the support report. Everything is bounded: fork and allocation counts, and every wait.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use agent_runtime_sandbox::cgroup::{
    CgroupConfig, CgroupLimits, CgroupVersion, Cgroups, Controller, ControllerSupport,
    InternalProcesses, SandboxCgroup,
};
use pretty_assertions::assert_eq;

/// Upper bound for any child to finish or any state to be reached.
const WAIT: Duration = Duration::from_secs(30);

/// The cgroups of this test process. `MoveAll`: on a v2 host the test binary shares its
/// cgroup with cargo and the shell; moving them into `agent-runtime-self` is harmless there
/// and is the only way to enforce v2 limits under a test harness. (On v1 nothing moves.)
fn detect() -> Cgroups {
    Cgroups::detect(&CgroupConfig {
        internal_processes: InternalProcesses::MoveAll,
        ..CgroupConfig::default()
    })
}

/// Fails the test, with the whole report, unless `controller` is enforced.
fn require(cgroups: &Cgroups, controller: Controller) -> CgroupVersion {
    match cgroups.support().get(controller) {
        ControllerSupport::Enforced { version, .. } => *version,
        ControllerSupport::NotEnforced { .. } => panic!(
            "this test needs the {controller} controller; cgroup support on this host:\n{}",
            cgroups.support()
        ),
    }
}

/// The launcher's job, done by `sh`: join every cgroup of the sandbox, then become
/// `program`. Fails with 97 when a write fails.
fn launch(sandbox: &SandboxCgroup, program: &str, args: &[&str]) -> Child {
    let procs: Vec<String> = sandbox
        .procs_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Command::new("sh")
        .arg("-c")
        .arg(r#"for f in $PROCS; do echo $$ > "$f" || exit 97; done; exec "$@""#)
        .arg("launcher")
        .arg(program)
        .args(args)
        .env("PROCS", procs.join(" "))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child {} did not finish within {WAIT:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn output(child: &mut Child) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    check()
}

/// Whether `pid` is gone (or a zombie: dead, waiting for a parent to reap it).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .next()
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

fn assert_removed(dirs: &[PathBuf]) {
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn a_pids_limit_of_20_stops_the_21st_task() {
    let cgroups = detect();
    require(&cgroups, Controller::Pids);
    let limits = CgroupLimits {
        pids: Some(20),
        ..CgroupLimits::default()
    };
    let sandbox = cgroups.create("fork-loop", &limits).unwrap();
    // 100 forks at most; the children sleep until the cgroup is killed (with the output
    // pipes closed, so that reading perl's output ends when perl does).
    let fork_loop = r#"my ($ok, $failed) = (0, 0);
        for (1 .. 100) {
            my $pid = fork();
            if (!defined $pid) { $failed++; next }
            if ($pid == 0) { close STDOUT; close STDERR; sleep 120; exit 0 }
            $ok++;
        }
        print "$ok $failed\n";"#;
    let mut child = launch(&sandbox, "perl", &["-e", fork_loop]);
    let status = wait(&mut child);
    let (out, err) = output(&mut child);
    assert!(status.success(), "{status:?} {err}");
    // perl itself was task 1 of 20.
    assert_eq!(out.trim(), "19 81");
    let sleepers = sandbox.pids().unwrap();
    assert_eq!(sleepers.len(), 19, "{sleepers:?}");
    let pids_dir = sandbox.dir(Controller::Pids).unwrap();
    assert_eq!(read(&pids_dir.join("pids.current")), "19");
    assert_eq!(read(&pids_dir.join("pids.max")), "20");

    let dirs = cgroups.provider_dirs();
    let leaves: Vec<PathBuf> = dirs.iter().map(|d| d.join("fork-loop")).collect();
    sandbox.remove().unwrap();
    assert!(eventually(|| sleepers.iter().all(|pid| is_dead(*pid))));
    assert_removed(&leaves);
    drop(cgroups);
    assert_removed(&dirs);
}

#[test]
fn a_memory_hog_over_64_mib_is_oom_killed_and_counted() {
    let cgroups = detect();
    require(&cgroups, Controller::Memory);
    let limit = 64 << 20;
    let limits = CgroupLimits {
        memory_bytes: Some(limit),
        ..CgroupLimits::default()
    };
    let sandbox = cgroups.create("memory-hog", &limits).unwrap();
    assert_eq!(sandbox.oom_kills().unwrap(), Some(0));
    // One 300 MiB string; bounded, and far above the limit.
    let mut child = launch(
        &sandbox,
        "perl",
        &[
            "-e",
            r#"my $x = "a" x (300 * 1024 * 1024); print length($x), "\n";"#,
        ],
    );
    let status = wait(&mut child);
    let (out, err) = output(&mut child);
    assert_eq!(
        status.signal(),
        Some(9),
        "{status:?} out={out:?} err={err:?}"
    );
    assert_eq!(out, "", "the hog must not have finished");
    let kills = sandbox.oom_kills().unwrap().unwrap();
    assert!(kills >= 1, "oom_kill counter is {kills}");
    if let Some(peak) = sandbox.memory_peak().unwrap() {
        assert!(peak <= limit, "peak {peak} above the limit {limit}");
        assert!(
            peak > limit / 2,
            "peak {peak}: the hog never came near the limit"
        );
    }
    // This process (the "server") is fine, and the sandbox can be cleaned up.
    sandbox.remove().unwrap();
}

#[test]
fn the_cpu_quota_is_written() {
    let cgroups = detect();
    let version = require(&cgroups, Controller::Cpu);
    let limits = CgroupLimits {
        cpu_millicores: Some(250),
        ..CgroupLimits::default()
    };
    let sandbox = cgroups.create("cpu-quota", &limits).unwrap();
    let dir = sandbox.dir(Controller::Cpu).unwrap();
    match version {
        CgroupVersion::V2 => assert_eq!(read(&dir.join("cpu.max")), "25000 100000"),
        CgroupVersion::V1 => {
            assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "25000");
            assert_eq!(read(&dir.join("cpu.cfs_period_us")), "100000");
        }
    }
    sandbox.remove().unwrap();
}

#[test]
fn the_launcher_joins_every_hierarchy_and_its_children_stay_inside() {
    let cgroups = detect();
    require(&cgroups, Controller::Pids);
    let limits = CgroupLimits {
        memory_bytes: Some(256 << 20),
        pids: Some(64),
        cpu_millicores: Some(1000),
    };
    let sandbox = cgroups.create("joined", &limits).unwrap();
    let mut child = launch(&sandbox, "sh", &["-c", "sleep 120 & exec sleep 120"]);
    assert!(eventually(|| sandbox.pids().unwrap().len() == 2));
    // /proc/<pid>/cgroup of the grandchild names the sandbox in every hierarchy in use.
    let grandchild = *sandbox
        .pids()
        .unwrap()
        .iter()
        .find(|pid| **pid != child.id())
        .unwrap();
    let own = std::fs::read_to_string(format!("/proc/{grandchild}/cgroup")).unwrap();
    for controller in Controller::ALL {
        let Some(dir) = sandbox.dir(controller) else {
            continue;
        };
        let suffix = format!(
            "/{}/joined",
            dir.parent().unwrap().file_name().unwrap().to_string_lossy()
        );
        let joined = own.lines().any(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, names, path) = (
                fields.next(),
                fields.next().unwrap(),
                fields.next().unwrap(),
            );
            // A v1 line names its controllers; the v2 line (no names) serves them all.
            let here = names.is_empty() || names.split(',').any(|n| n == controller.name());
            here && path.ends_with(&suffix)
        });
        assert!(joined, "{controller}: {suffix} not in\n{own}");
    }
    sandbox.remove().unwrap();
    assert_eq!(wait(&mut child).signal(), Some(9));
}

#[test]
fn kill_all_and_remove_leave_nothing_behind() {
    let cgroups = detect();
    require(&cgroups, Controller::Pids);
    let sandbox = cgroups
        .create("leftovers", &CgroupLimits::default())
        .unwrap();
    // The launcher's shell leaves two orphans (re-parented away from it) and a child.
    let mut child = launch(
        &sandbox,
        "sh",
        &["-c", "(sleep 120 &) ; (sleep 120 &) ; exec sleep 120"],
    );
    assert!(eventually(|| sandbox.pids().unwrap().len() == 3));
    let pids = sandbox.pids().unwrap();
    sandbox.kill_all().unwrap();
    assert_eq!(sandbox.pids().unwrap(), Vec::<u32>::new());
    assert!(eventually(|| pids.iter().all(|pid| is_dead(*pid))));
    assert_eq!(wait(&mut child).signal(), Some(9));

    let dirs = cgroups.provider_dirs();
    let leaves: Vec<PathBuf> = dirs.iter().map(|d| d.join("leftovers")).collect();
    sandbox.remove().unwrap();
    assert_removed(&leaves);
    // A sandbox cgroup dropped without `remove` is killed and removed all the same.
    let forgotten = cgroups
        .create("forgotten", &CgroupLimits::default())
        .unwrap();
    let mut child = launch(&forgotten, "sleep", &["120"]);
    assert!(eventually(|| forgotten.pids().unwrap().len() == 1));
    drop(forgotten);
    assert_eq!(wait(&mut child).signal(), Some(9));
    assert_removed(&dirs.iter().map(|d| d.join("forgotten")).collect::<Vec<_>>());
    drop(cgroups);
    assert_removed(&dirs);
}

#[test]
fn many_providers_in_parallel_never_collide() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                let cgroups = detect();
                require(&cgroups, Controller::Pids);
                let limits = CgroupLimits {
                    pids: Some(8),
                    ..CgroupLimits::default()
                };
                // The same sandbox name in every provider.
                let sandbox = cgroups.create("same-name", &limits).unwrap();
                let mut child = launch(&sandbox, "sh", &["-c", "exit 7"]);
                assert_eq!(wait(&mut child).code(), Some(7));
                sandbox.remove().unwrap();
                let dirs = cgroups.provider_dirs();
                drop(cgroups);
                assert_removed(&dirs);
                dirs
            })
        })
        .collect();
    let mut all: Vec<PathBuf> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "two providers shared a directory");
}

#[test]
fn cgroups_of_a_crashed_runtime_are_swept_with_their_processes() {
    let cgroups = detect();
    require(&cgroups, Controller::Pids);
    // A stand-in for another runtime: alive (so that no detection running in parallel
    // sweeps its directory) until its sandbox has a process, then it "crashes".
    let mut runtime = Command::new("sleep").arg("120").spawn().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", runtime.id())).unwrap();
    let start_time = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    let pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let pid_ns = pid_ns.to_string_lossy();
    let pid_ns = &pid_ns["pid:[".len()..pid_ns.len() - 1];
    let stale_name = format!("{pid_ns}-{}-{start_time}-5ca1ab1e", runtime.id());
    let stale: Vec<PathBuf> = cgroups
        .provider_dirs()
        .iter()
        .map(|d| d.parent().unwrap().join(&stale_name))
        .collect();
    let mut procs = Vec::new();
    for dir in &stale {
        std::fs::create_dir_all(dir.join("orphan")).unwrap();
        procs.push(dir.join("orphan/cgroup.procs").display().to_string());
    }
    let mut orphan = Command::new("sh")
        .arg("-c")
        .arg(r#"for f in $PROCS; do echo $$ > "$f" || exit 97; done; exec sleep 120"#)
        .env("PROCS", procs.join(" "))
        .spawn()
        .unwrap();
    let joined = format!("{}\n", orphan.id());
    assert!(eventually(
        || std::fs::read_to_string(&procs[0]).unwrap() == joined
    ));
    // A live owner's directory survives a detection.
    let _other = detect();
    assert!(stale.iter().all(|d| d.is_dir()));
    runtime.kill().unwrap();
    runtime.wait().unwrap();

    // The next runtime to start sweeps it (or a detection running in parallel did it
    // first); the live provider (`cgroups`) is untouched.
    let _next = detect();
    assert_eq!(wait(&mut orphan).signal(), Some(9));
    assert_removed(&stale);
    assert!(cgroups.provider_dirs().iter().all(|d| d.is_dir()));
}
