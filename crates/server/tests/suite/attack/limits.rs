//! Resource probes: a fork bomb, a memory bomb, filling `/tmp`, an oversized file, the
//! workspace quota, a turn that never ends, nested user namespaces and mounts. Every bomb is
//! bounded in count and time; the limits it runs into are the profile's.

use agent_runtime_protocol::{SessionEvent, TurnEndReason};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::super::support::within;
use super::{profile, Probe, Target};

const MIB: u64 = 1024 * 1024;

/// A next turn of `session` completes (in a fresh process or sandbox, after a bomb).
async fn assert_the_session_carries_on(target: &Target, session: &str) {
    target.model.set_scenario(
        agent_runtime_testkit::Scenario::new(vec![])
            .with_fallback(agent_runtime_testkit::Response::text("still here")),
    );
    let events = target.turn(session, "are you there?").await;
    assert_eq!(outcome(&events), (TurnEndReason::Completed, None));
}

/// The `turn_completed` of a turn's events: its reason and error code.
fn outcome(events: &[SessionEvent]) -> (TurnEndReason, Option<String>) {
    match events.last() {
        Some(SessionEvent::TurnCompleted { reason, error, .. }) => {
            (*reason, error.as_ref().and_then(|e| e.code.clone()))
        }
        other => panic!("the turn did not complete: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_stay_within_the_sandboxs_limits() {
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile(
            "tight",
            json!({"limits": {"pids": 128, "tmpBytes": 8 * MIB, "fileSizeBytes": 16 * MIB}}),
        ))
        .await;
    let (out, _) = target
        .run(
            &session,
            &[
                Probe::new(
                    "fill /tmp",
                    // Claude Code captures tool output under /tmp too: report after freeing it.
                    "(head -c 200M /dev/zero > /tmp/fill) 2>/dev/null; r=$?; n=$(wc -c < /tmp/fill); \
                     rm -f /tmp/fill; echo exit=$r; echo $n",
                ),
                Probe::new(
                    "oversized file",
                    "bash -c 'head -c 64M /dev/zero > /workspace/big.bin; echo exit=$?' 2>/dev/null; \
                     wc -c < /workspace/big.bin; rm -f /workspace/big.bin",
                ),
                Probe::new(
                    "nested user namespace",
                    "unshare -Ur true 2>/dev/null && echo USERNS || echo NO-USERNS",
                ),
                Probe::new(
                    "mount",
                    "unshare -rm mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED || echo NO-MOUNT",
                ),
            ],
        )
        .await;
    // ENOSPC from the 8 MiB tmpfs (which holds Claude Code's own output files too), not the
    // host's RAM.
    let (status, size) = out["fill /tmp"].split_once('\n').expect("two lines");
    let size: u64 = size.parse().expect("a size");
    assert_eq!(status, "exit=1");
    assert!(size <= 8 * MIB && size > 7 * MIB, "{size}");
    // SIGXFSZ (25) killed the writer at 16 MiB.
    assert_eq!(out["oversized file"], format!("exit=153\n{}", 16 * MIB));
    assert_eq!(out["nested user namespace"], "NO-USERNS");
    assert_eq!(out["mount"], "NO-MOUNT");
    within(target.server.client().health())
        .await
        .expect("healthy");
}

/// A fork bomb runs into the sandbox's task limit. The agent shares that budget (Claude Code
/// aborts when it cannot start a thread), so the host is the judge: while the bomb runs, the
/// test counts every task of the sandbox's host uid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_runs_into_the_task_limit() {
    const LIMIT: usize = 192;
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile("bomb", json!({"limits": {"pids": LIMIT}})))
        .await;
    let workspace = target
        .server
        .config()
        .data_dir
        .join(format!("sandboxes/{session}/workspace"));
    // 600 sleepers of 8 s each against a limit of 192 tasks: bounded in count and in time.
    let bomb = "for i in $(seq 1 600); do sleep 8 & done 2>/dev/null; wait; echo done";
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::task::spawn_blocking(move || {
            let mut most = 0;
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(meta) = std::fs::metadata(&workspace) {
                    most = most.max(tasks_of_uid(std::os::unix::fs::MetadataExt::uid(&meta)));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            most
        })
    };
    let (out, events) = target.run(&session, &[Probe::new("fork bomb", bomb)]).await;
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let most = sampler.await.unwrap();
    assert!(most <= LIMIT, "{most} tasks ran: {out:?}");
    // The bomb did run into the limit (it would have made 600 processes).
    assert!(
        most > LIMIT / 2,
        "only {most} tasks seen: {out:?} {:?}",
        events.last()
    );
    within(target.server.client().health())
        .await
        .expect("healthy");
    // The session carries on, in a fresh process.
    assert_the_session_carries_on(&target, &session).await;
}

/// Every task (thread) on the host whose real uid is `uid`.
fn tasks_of_uid(uid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status"))
                .ok()
                .and_then(|status| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|ids| ids.split_whitespace().next()?.parse::<u32>().ok())
                })
                == Some(uid)
        })
        .map(|e| std::fs::read_dir(e.path().join("task")).map_or(0, |t| t.count()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_ends_the_turn_with_oom_and_the_server_stays_healthy() {
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile(
            "small",
            json!({"limits": {"memoryBytes": 1024 * MIB}}),
        ))
        .await;
    let (out, events) = target
        .run(
            &session,
            &[Probe::new(
                "memory bomb",
                "perl -e '$x = \"a\" x (3 * 1024**3); print \"ALLOCATED\\n\"'",
            )],
        )
        .await;
    assert!(
        !out["memory bomb"]
            .lines()
            .any(|line| line.trim() == "ALLOCATED"),
        "{out:?}"
    );
    assert_eq!(
        outcome(&events),
        (TurnEndReason::Error, Some("oom".to_string()))
    );
    within(target.server.client().health())
        .await
        .expect("healthy");
    // The session goes on in a fresh sandbox.
    assert_the_session_carries_on(&target, &session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_workspace_ends_the_turn_and_uploads_over_the_quota_are_refused() {
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile(
            "quota",
            json!({"limits": {"workspaceBytes": 8 * MIB}}),
        ))
        .await;
    // Written while the turn runs, so a periodic sync sees it.
    let probe = Probe::new(
        "fill the workspace",
        "head -c 12M /dev/zero > /workspace/fill.bin; sleep 5; echo done",
    );
    let (_, events) = target.run(&session, &[probe]).await;
    assert_eq!(
        outcome(&events),
        (TurnEndReason::Error, Some("workspace_full".to_string()))
    );
    // Nothing of the over-quota workspace was saved.
    let files = within(target.server.client().list_files(&session))
        .await
        .unwrap();
    assert!(files.iter().all(|f| f.path != "fill.bin"), "{files:?}");
    // The file API refuses what would not fit.
    let big = vec![b'x'; 9 * MIB as usize];
    let refused = within(
        target
            .server
            .client()
            .write_file(&session, "upload.bin", big),
    )
    .await;
    assert_eq!(
        super::super::support::code_of(refused),
        (507, "workspace_full".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_never_ends_is_stopped_at_its_time_limit() {
    let target = Target::start(|_| {}).await;
    let session = target
        .session_with(profile("brief", json!({"limits": {"turnTimeoutSecs": 3}})))
        .await;
    let started = std::time::Instant::now();
    let (_, events) = target
        // Bounded (600 s), and not a bare `sleep`, which Claude Code declines to run.
        .run(
            &session,
            &[Probe::new(
                "never ends",
                "timeout 600 tail -f /dev/null; echo woke",
            )],
        )
        .await;
    assert_eq!(
        outcome(&events),
        (TurnEndReason::Error, Some("time_limit".to_string()))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
