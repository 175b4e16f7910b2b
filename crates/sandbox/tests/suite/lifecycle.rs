//! Killing, destroying and re-creating local sandboxes, and resource limits.

use std::time::Duration;

use agent_runtime_sandbox::{HostUser, LaunchSpec, NetworkPolicy, ResourceLimits, Root};
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
        let sandbox = harness.create("kill-tree", NetworkPolicy::None).await;
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
        let sandbox = harness.create("kill-early", NetworkPolicy::None).await;
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
        let sandbox = harness.create("drop-handle", NetworkPolicy::None).await;
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
        let sandbox = harness.create("destroy", NetworkPolicy::None).await;
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
        let sandbox = harness.create("crashed", NetworkPolicy::None).await;
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

        let again = harness.create("crashed", NetworkPolicy::None).await;
        assert_eq!(again.scan(Root::Workspace, &[]).await.unwrap(), vec![]);
        assert_eq!(run(&*again, "ls -A").await.ok(), "");
        again.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn resource_limits_apply_inside() {
    timed(async {
        let limits = ResourceLimits {
            nofile: Some(256),
            nproc: None,
            core: Some(0),
        };
        let harness = Harness::with_config(HostUser::recommended(), |c| c.limits = limits).await;
        assert!(
            harness.provider.config().host_layout.prlimit.is_some(),
            "this host has prlimit"
        );
        let sandbox = harness.create("limits", NetworkPolicy::None).await;
        let out = run(&*sandbox, "ulimit -n; ulimit -Hn; ulimit -c")
            .await
            .ok();
        assert_eq!(out, "256\n256\n0\n");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn nproc_limit_stops_a_fork_bomb_for_an_unprivileged_host_user() {
    timed(async {
        if HostUser::recommended() == HostUser::Runtime {
            eprintln!(
                "not root: the sandbox runs as the runtime's user, whose process count is unknown"
            );
            return;
        }
        // RLIMIT_NPROC counts every process of the host uid, so this test has a host uid of its
        // own: other tests' sandboxes cannot use up its budget.
        let user = HostUser::Unprivileged {
            uid: 1999,
            gid: 1999,
        };
        let limits = ResourceLimits {
            nofile: None,
            nproc: Some(32),
            core: Some(0),
        };
        let harness = Harness::with_config(user, |c| c.limits = limits).await;
        let sandbox = harness.create("forkbomb", NetworkPolicy::None).await;
        // When the shell exits, bwrap's init ends the pid namespace, so no sleeper outlives it.
        let script = "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done";
        let ran = run(&*sandbox, script).await;
        assert!(ran.stderr.contains("fork"), "{ran:?}");
        sandbox.destroy().await.unwrap();
    })
    .await;
}
