//! Killing, destroying and re-creating local sandboxes, and resource limits.

use std::time::Duration;

use agent_runtime_sandbox::{
    HostUser, LaunchSpec, LimitHit, Root, SandboxLimits, SandboxProvider, SandboxRequest,
};
use pretty_assertions::assert_eq;

use super::common::{eventually, host_pids_with, run, timed, Harness};

const GONE_WITHIN: Duration = Duration::from_secs(10);

/// A process tree inside the sandbox: a shell with two `sleep`s whose argument is `marker`,
/// so the test can find them among the host's processes.
fn sleepers(marker: &str) -> LaunchSpec {
    LaunchSpec::new("sh").args(["-c", &format!("sleep {marker} & sleep {marker} & wait")])
}

async fn wait_until_running(marker: &str) {
    let started = eventually(GONE_WITHIN, || host_pids_with(marker).len() >= 2).await;
    assert!(started, "the sleepers never started");
}

async fn assert_all_gone(marker: &str) {
    let gone = eventually(GONE_WITHIN, || host_pids_with(marker).is_empty()).await;
    assert!(gone, "processes left behind: {:?}", host_pids_with(marker));
}

#[tokio::test]
async fn kill_takes_the_whole_process_tree_down() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("kill-tree").await;
        let marker = "3601.0101";
        let mut process = sandbox.spawn(sleepers(marker)).await.unwrap();
        wait_until_running(marker).await;
        process.handle.kill().await.unwrap();
        let exit = process.handle.wait().await.unwrap();
        assert!(exit.code == Some(137) || exit.signal == Some(9), "{exit:?}");
        assert_all_gone(marker).await;
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn kill_right_after_spawn_leaves_nothing_behind() {
    timed(async {
        // A bwrap killed before its sandbox init has armed --die-with-parent must not leave the
        // sandbox running; repeat to hit that window at various points.
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("kill-early").await;
        let marker = "3601.05";
        for round in 0..40u64 {
            let marker = format!("{marker}{round:02}");
            let mut process = sandbox.spawn(sleepers(&marker)).await.unwrap();
            // Kill 0 to 10 ms after the start, while bwrap sets the sandbox up: the window in
            // which its init does not yet die with it. A blocking sleep, for sub-ms precision.
            std::thread::sleep(Duration::from_micros(250 * round));
            process.handle.kill().await.unwrap();
            assert!(!process.handle.wait().await.unwrap().success());
        }
        assert_all_gone(marker).await;
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn dropping_the_handle_kills_the_process() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("drop-handle").await;
        let marker = "3601.0202";
        let process = sandbox.spawn(sleepers(marker)).await.unwrap();
        wait_until_running(marker).await;
        drop(process);
        assert_all_gone(marker).await;
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn destroy_kills_everything_and_deletes_host_state() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("destroy").await;
        let marker = "3601.0303";
        let _process = sandbox.spawn(sleepers(marker)).await.unwrap();
        wait_until_running(marker).await;
        sandbox.destroy().await.unwrap();
        assert_all_gone(marker).await;
        assert!(!harness.host_dir("destroy").exists());
    })
    .await;
}

#[tokio::test]
async fn a_dropped_sandbox_is_wiped_when_created_again() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("crashed").await;
        let marker = "3601.0404";
        let _process = sandbox.spawn(sleepers(marker)).await.unwrap();
        wait_until_running(marker).await;
        sandbox
            .write_file(Root::Workspace, "left-over.txt", b"x")
            .await
            .unwrap();
        run(&*sandbox, "mkdir -p locked/inner && chmod 000 locked")
            .await
            .ok();
        drop(sandbox);
        assert_all_gone(marker).await;
        assert!(harness
            .host_dir("crashed")
            .join("workspace/left-over.txt")
            .exists());

        let again = harness.create("crashed").await;
        assert_eq!(again.scan(Root::Workspace, &[]).await.unwrap(), vec![]);
        assert_eq!(run(&*again, "ls -A").await.ok(), "");
        again.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn rlimits_apply_inside() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let mut req = SandboxRequest::new("limits");
        req.limits = SandboxLimits {
            open_files: Some(256),
            file_size_bytes: Some(1 << 20),
            ..SandboxLimits::default()
        };
        let sandbox = harness.create_with(req).await;
        let out = run(&*sandbox, "ulimit -n; ulimit -Hn; ulimit -c; ulimit -f")
            .await
            .ok();
        // dash's `ulimit -f` counts 512-byte blocks.
        assert_eq!(out, "256\n256\n0\n2048\n");
        // Writing past the limit fails (SIGXFSZ kills the writer) and leaves at most 1 MiB.
        let ran = run(
            &*sandbox,
            "head -c 3000000 /dev/zero > big; echo status=$?; wc -c < big",
        )
        .await;
        assert!(ran.stdout.contains("1048576"), "{ran:?}");
        assert!(!ran.stdout.contains("status=0"), "{ran:?}");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_pids_limit_stops_a_fork_bomb() {
    timed(async {
        if HostUser::recommended() == HostUser::Runtime {
            eprintln!(
                "not root: the sandbox runs as the runtime's user, whose process count is unknown"
            );
            return;
        }
        let harness = Harness::new(HostUser::recommended()).await;
        let mut req = SandboxRequest::new("forkbomb");
        req.limits.pids = Some(32);
        let sandbox = harness.create_with(req).await;
        // Bounded: at most 100 sleepers; when the shell exits, bwrap's init ends the pid
        // namespace, so no sleeper outlives it.
        let script = "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done";
        let ran = run(&*sandbox, script).await;
        assert!(ran.stderr.contains("fork"), "{ran:?}");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_memory_hog_is_killed_by_the_sandbox_cgroup_and_reported_once() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let memory = harness
            .provider
            .enforcement()
            .into_iter()
            .find(|e| e.name == "memory")
            .unwrap();
        assert!(
            memory.is_enforced(),
            "this host must limit memory by cgroup: {memory:?}"
        );
        let mut req = SandboxRequest::new("hog");
        req.limits.memory_bytes = Some(64 << 20);
        let sandbox = harness.create_with(req).await;
        // 300 MiB touched in a 64 MiB sandbox: bounded, and killed long before.
        let ran = run(
            &*sandbox,
            "perl -e '$x = \"a\" x (300 * 1024 * 1024); print \"ALLOCATED\\n\"'; echo exit=$?",
        )
        .await;
        assert_eq!(ran.stdout, "exit=137\n", "{ran:?}");
        let hit = tokio::time::timeout(Duration::from_secs(5), sandbox.limit_hit())
            .await
            .expect("the OOM kill is reported");
        assert!(
            matches!(hit, LimitHit::OutOfMemory { kills } if kills >= 1),
            "{hit:?}"
        );
        // Reported once: nothing more until another kill.
        assert!(
            tokio::time::timeout(Duration::from_millis(600), sandbox.limit_hit())
                .await
                .is_err()
        );
        // The sandbox still works.
        assert_eq!(run(&*sandbox, "echo alive").await.ok(), "alive\n");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn every_process_is_born_in_the_sandboxs_cgroup_with_its_limits() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let mut req = SandboxRequest::new("cgrouped");
        req.limits = SandboxLimits {
            memory_bytes: Some(256 << 20),
            pids: Some(77),
            cpu_millicores: Some(500),
            ..SandboxLimits::default()
        };
        let sandbox = harness.create_with(req).await;
        let mut process = sandbox
            .spawn(LaunchSpec::new("sh").args(["-c", "echo started; exec sleep 30"]))
            .await
            .unwrap();
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(
            &mut tokio::io::BufReader::new(&mut process.stdout),
            &mut line,
        )
        .await
        .unwrap();
        // From the host: the process's cgroups, and the limits written there.
        let pid = process.handle.id().unwrap();
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let path_of = |controller: &str| -> Option<String> {
            cgroups.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.to_string())
            })
        };
        let read = |controller: &str, file: &str| -> String {
            let path =
                path_of(controller).unwrap_or_else(|| panic!("no {controller} in {cgroups}"));
            assert!(path.ends_with("/cgrouped"), "{controller}: {path}");
            std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{path}/{file}"))
                .unwrap()
                .trim()
                .to_string()
        };
        if path_of("memory").is_some() {
            // cgroup v1: a hierarchy per controller.
            assert_eq!(
                read("memory", "memory.limit_in_bytes"),
                (256u64 << 20).to_string()
            );
            assert_eq!(read("pids", "pids.max"), "77");
            assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
            assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        } else {
            // cgroup v2: one unified directory.
            let path = cgroups
                .lines()
                .find_map(|line| line.strip_prefix("0::"))
                .expect("a cgroup");
            assert!(path.ends_with("/cgrouped"), "{path}");
            let read = |file: &str| {
                std::fs::read_to_string(format!("/sys/fs/cgroup{path}/{file}"))
                    .unwrap()
                    .trim()
                    .to_string()
            };
            assert_eq!(read("memory.max"), (256u64 << 20).to_string());
            assert_eq!(read("pids.max"), "77");
            assert_eq!(read("cpu.max"), "50000 100000");
        }
        sandbox.destroy().await.unwrap();
    })
    .await;
}

/// A helper binary the sandbox users cannot reach (a checkout in a private home) is copied where
/// they can, and sandboxes start.
#[tokio::test]
async fn an_unreachable_helper_is_copied_where_sandbox_users_reach_it() {
    timed(async {
        let HostUser::Range { .. } = HostUser::recommended() else {
            eprintln!(
                "not root: the sandbox runs as the runtime's own user, who reaches the helper"
            );
            return;
        };
        let private = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            private.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let helper = private.path().join("agent-runtime-sandbox-helper");
        std::fs::copy(super::common::helper().path, &helper).unwrap();
        let harness = Harness::with_config(HostUser::recommended(), |config| {
            config.helper = agent_runtime_sandbox::HelperProgram::standalone(&helper);
        })
        .await;
        let used = &harness.provider.config().helper.path;
        assert!(
            used.starts_with(harness.provider.config().root_dir.join(".helper")),
            "{used:?}"
        );
        let mut req = SandboxRequest::new("copied-helper");
        req.egress = None;
        let sandbox = harness.create_with(req).await;
        assert_eq!(run(&*sandbox, "echo ok").await.ok(), "ok\n");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

/// A runtime killed with its sandboxes alive leaves their directories (and cgroups); a new
/// provider on the same root lists them by label and terminates them.
#[tokio::test]
async fn leftovers_of_a_dead_provider_are_listed_and_terminated() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let mut req = SandboxRequest::new("leftover");
        req.labels.insert("install".into(), "i1".into());
        let sandbox = harness.create_with(req).await;
        assert_eq!(
            run(&*sandbox, "echo hi > file; cat file").await.ok(),
            "hi\n"
        );
        // What a kill -9 leaves: nothing destroyed; a second provider on the same root.
        std::mem::forget(sandbox);
        let config = harness.provider.config().clone();
        let second = agent_runtime_sandbox::LocalBwrapProvider::new(config).unwrap();
        let found = second.list(&harness_labels()).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sandbox_id, "leftover");
        second.terminate(&found[0].provider_id).await.unwrap();
        assert!(!harness.host_dir("leftover").exists());
        assert!(second.list(&harness_labels()).await.unwrap().is_empty());
    })
    .await;
}

fn harness_labels() -> agent_runtime_sandbox::Labels {
    [("install".to_string(), "i1".to_string())]
        .into_iter()
        .collect()
}
