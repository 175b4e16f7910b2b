//! Failures: the sandbox dying under a process, injected RPC errors, cut connections.

use std::time::{Duration, Instant};

use agent_runtime_sandbox::{LaunchSpec, SandboxError, SandboxProvider, SandboxRequest};
use pretty_assertions::assert_eq;
use tokio::io::AsyncReadExt;

use super::common::{run, timed, Harness};

#[tokio::test]
async fn a_sandbox_dying_under_a_process_gives_an_error_not_a_hang() {
    timed(async {
        let harness = Harness::start().await;
        let sandbox = harness
            .provider
            .create(SandboxRequest::new("dies"))
            .await
            .unwrap();
        let mut process = sandbox
            .spawn(LaunchSpec::new("sh").args(["-c", "echo started; sleep 300"]))
            .await
            .unwrap();
        let mut line = [0u8; 8];
        process.stdout.read_exact(&mut line).await.unwrap();
        harness
            .server
            .kill_sandbox(&harness.modal_id("dies"))
            .await
            .unwrap();
        let started = Instant::now();
        let exit = tokio::time::timeout(Duration::from_secs(30), process.handle.wait())
            .await
            .expect("wait must not hang after the sandbox died");
        eprintln!("noticed the death after {:?}: {exit:?}", started.elapsed());
        match exit {
            Ok(info) => assert!(!info.success(), "{info:?}"),
            Err(e) => assert!(e.to_string().contains("ended"), "{e}"),
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            process.stdout.read_to_end(&mut rest),
        )
        .await
        .expect("stdout must end after the sandbox died");
        let spawn = sandbox.spawn(LaunchSpec::new("true")).await;
        assert!(spawn.is_err());
        sandbox.destroy().await.unwrap();
        harness.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn transient_failures_are_retried_and_persistent_ones_named() {
    timed(async {
        let harness = Harness::start().await;
        // A few failures of every kind of call: create goes through anyway.
        harness.server.fail_next_calls(3, tonic::Code::Unavailable);
        let sandbox = harness
            .provider
            .create(SandboxRequest::new("flaky"))
            .await
            .unwrap();
        harness
            .server
            .fail_next_calls_to("TaskExecStart", 2, tonic::Code::Unavailable);
        harness
            .server
            .fail_next_calls_to("TaskExecStdioRead", 2, tonic::Code::Unavailable);
        assert_eq!(run(&*sandbox, "echo ok").await.ok(), "ok\n");

        // Output survives cut connections without loss or duplicates.
        let mut process = sandbox
            .spawn(LaunchSpec::new("sh").args([
                "-c",
                "i=1; while [ $i -le 30 ]; do echo $i; sleep 0.05; i=$((i+1)); done",
            ]))
            .await
            .unwrap();
        let reader = tokio::spawn(async move {
            let mut out = String::new();
            process.stdout.read_to_string(&mut out).await.unwrap();
            (out, process.handle.wait().await.unwrap())
        });
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            harness.server.drop_connections();
        }
        let (out, exit) = reader.await.unwrap();
        let expected: String = (1..=30).map(|i| format!("{i}\n")).collect();
        assert_eq!((out, exit.code), (expected, Some(0)));

        // A failure that does not go away: a clear error, in bounded time.
        harness
            .server
            .fail_next_calls_to("SandboxList", 1000, tonic::Code::Unavailable);
        let started = Instant::now();
        let listed = harness
            .provider
            .list(&Default::default())
            .await
            .unwrap_err();
        let message = listed.to_string();
        assert!(matches!(listed, SandboxError::Io { .. }), "{listed:?}");
        assert!(
            message.contains("SandboxList") && message.contains("Unavailable"),
            "{message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        // Not retried: a non-transient code.
        harness
            .server
            .fail_next_calls_to("SandboxTerminate", 1, tonic::Code::PermissionDenied);
        let denied = harness.provider.terminate("sb-x").await.unwrap_err();
        assert!(denied.to_string().contains("PermissionDenied"), "{denied}");
        sandbox.destroy().await.unwrap();
        harness.server.shutdown().await;
    })
    .await;
}
