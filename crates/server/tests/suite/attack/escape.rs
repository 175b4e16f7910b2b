//! Escape probes: the host's paths, another session's files and the runtime's data dir;
//! symlinks and hardlinks planted in the workspace, followed by the file API; the user's message
//! on a process's arguments.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::super::support::{code_of, within};
use super::{profile, Probe, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_paths_another_session_and_the_data_dir_are_out_of_reach() {
    let target = Target::start(|_| {}).await;
    let victim = target.session_with(profile("victim", json!({}))).await;
    within(target.server.client().write_file(
        &victim,
        "secret.txt",
        b"the victim's secret".to_vec(),
    ))
    .await
    .unwrap();
    // The victim's sandbox is up (its workspace is on the host) while the attacker probes.
    target.model.set_scenario(
        agent_runtime_testkit::Scenario::new(vec![])
            .with_fallback(agent_runtime_testkit::Response::text("ok")),
    );
    target.turn(&victim, "hello").await;
    let data = target.server.config().data_dir.display().to_string();
    let victim_workspace = format!("{data}/sandboxes/{victim}/workspace");
    assert!(std::path::Path::new(&victim_workspace)
        .join("secret.txt")
        .exists());

    let attacker = target.session_with(profile("attacker", json!({}))).await;
    let try_read = |path: &str| format!("cat {path} 2>/dev/null | head -c 64 || true; echo end");
    let (out, _) = target
        .run(
            &attacker,
            &[
                Probe::new("victim's file", try_read(&format!("{victim_workspace}/secret.txt"))),
                Probe::new("data dir", format!("ls -A {data} 2>&1 | head -3")),
                Probe::new("root's home", "ls -A /root 2>&1 | head -3"),
                Probe::new("host's passwd", "grep -c '^root:' /etc/passwd; wc -l < /etc/passwd"),
                // Assembled at run time: the attacker's own transcript holds this command.
                Probe::new(
                    "find the secret anywhere",
                    "s=victim; s=\"the $s's secret\"; \
                     grep -rlsF \"$s\" /home /workspace /tmp /opt /run /etc | head -3; echo searched",
                ),
            ],
        )
        .await;
    assert_eq!(out["victim's file"], "end");
    assert!(
        out["data dir"].contains("No such file or directory"),
        "{out:?}"
    );
    assert!(
        out["root's home"].contains("No such file or directory"),
        "{out:?}"
    );
    // The sandbox's own passwd: root, agent, nobody; not the host's accounts.
    assert_eq!(out["host's passwd"], "1\n3");
    assert_eq!(out["find the secret anywhere"], "searched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_planted_in_the_workspace_do_not_lead_the_file_api_out() {
    let target = Target::start(|_| {}).await;
    let session = target.session_with(profile("linker", json!({}))).await;
    let data = target.server.config().data_dir.clone();
    let (out, _) = target
        .run(
            &session,
            &[
                Probe::new(
                    "plant symlinks",
                    "cd /workspace && ln -s /etc/passwd passwd-link && ln -s / root-link \
                     && ln -s ../../../.. up && mkdir -p d && ln -s /etc d/etc && echo planted",
                ),
                Probe::new(
                    "hardlink a file from outside",
                    "ln /etc/passwd /workspace/hard 2>/dev/null && echo LINKED || echo REFUSED; \
                     ln /opt/agent-runtime/sandbox-helper /workspace/hard2 2>/dev/null && echo LINKED || echo REFUSED",
                ),
            ],
        )
        .await;
    assert_eq!(out["plant symlinks"], "planted");
    assert_eq!(out["hardlink a file from outside"], "REFUSED\nREFUSED");

    let client = target.server.client();
    // Reading through a planted link: never the target's content.
    for path in [
        "passwd-link",
        "root-link/etc/passwd",
        "up/etc/hostname",
        "d/etc/passwd",
    ] {
        let read = within(client.read_file(&session, path)).await;
        let (status, code) = code_of(read);
        assert!(
            matches!(status, 400 | 404),
            "reading {path}: {status} {code}"
        );
    }
    // Writing through a planted link: refused, and nothing lands outside.
    for path in [
        "root-link/tmp/escaped.txt",
        "up/escaped.txt",
        "d/etc/escaped.txt",
    ] {
        let written = within(client.write_file(&session, path, b"escaped".to_vec())).await;
        let (status, code) = code_of(written);
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_path"),
            "writing {path}"
        );
    }
    assert!(!std::path::Path::new("/tmp/escaped.txt").exists());
    assert!(!data.join("escaped.txt").exists());
    assert!(!data.join("sandboxes/escaped.txt").exists());
    // The links themselves are not workspace files.
    let files = within(client.list_files(&session)).await.unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("link") && *p != "up" && *p != "hard"),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_message_is_on_no_process_arguments() {
    let target = Target::start(|_| {}).await;
    let session = target.session_with(profile("argv", json!({}))).await;
    // The message carries a marker; the probe looks for it on every command line it can see.
    // The marker is assembled at run time, so the probe's own arguments do not contain it.
    let (out, _) = target
        .run(
            &session,
            &[Probe::new(
                "message on argv",
                "m=MARK; m=$m-ER-7f3a; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c \"$m\"",
            )],
        )
        .await;
    // `run` sends a trigger with no marker; the marker turn follows.
    assert_eq!(out["message on argv"], "0");
    let marker = "MARK-ER-7f3a";
    let host_has_marker = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
                .unwrap_or(false)
        })
    };
    target.model.set_scenario(
        agent_runtime_testkit::Scenario::new(vec![]).with_fallback(
            agent_runtime_testkit::Response::text("word ".repeat(100))
                .with_chunks(100)
                .with_chunk_delay_ms(20),
        ),
    );
    let message = format!("{marker} {}", "long message ".repeat(1_000));
    let turn = target.turn(&session, &message);
    let (events, seen) = tokio::join!(turn, async {
        // While the agent streams its answer, look at every host process's arguments.
        let mut seen = false;
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            seen |= host_has_marker();
        }
        seen
    });
    assert!(
        !seen,
        "the message appeared on a host process's command line"
    );
    assert!(matches!(
        events.last(),
        Some(agent_runtime_protocol::SessionEvent::TurnCompleted { .. })
    ));
}
