//! Create, processes, files, kill, list/terminate, destroy against the stand-in.

use std::time::Instant;

use agent_runtime_sandbox::{
    FileStat, Labels, LaunchSpec, Root, SandboxError, SandboxProvider, SandboxRequest,
};
use pretty_assertions::assert_eq;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{run, timed, Harness};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_sandbox_runs_processes_and_moves_files() {
    timed(async {
        let harness = Harness::start().await;
        let provider = harness.provider.clone();
        let mut req = SandboxRequest::new("life");
        req.extra_env.insert("FROM_REQUEST".into(), "1".into());
        req.labels = labels(&[("install", "i1")]);
        let started = Instant::now();
        let sandbox = provider.create(req).await.unwrap();
        eprintln!("create took {:?}", started.elapsed());

        // What Modal was asked for.
        let record = harness.server.sandbox(&harness.modal_id("life")).unwrap();
        let definition = record.request.definition.clone().unwrap();
        assert_eq!(definition.entrypoint_args, ["sleep", "infinity"]);
        assert!(definition.block_network);
        assert_eq!(definition.workdir.as_deref(), Some("/workspace"));
        assert_eq!(record.tags.get("install").map(String::as_str), Some("i1"));
        assert_eq!(record.secret_env.get("FROM_REQUEST").map(String::as_str), Some("1"));
        assert_eq!(record.secret_env.get("HOME").map(String::as_str), Some("/home/agent"));

        // stdin, stdout, stderr, exit code, and waiting twice.
        let mut process = sandbox
            .spawn(LaunchSpec::new("sh").args(["-c", "tr a-z A-Z; echo oops >&2; exit 3"]))
            .await
            .unwrap();
        process.stdin.write_all(b"hello sandbox\n").await.unwrap();
        process.stdin.shutdown().await.unwrap();
        drop(process.stdin);
        let (mut out, mut err) = (String::new(), String::new());
        process.stdout.read_to_string(&mut out).await.unwrap();
        process.stderr.read_to_string(&mut err).await.unwrap();
        let exit = process.handle.wait().await.unwrap();
        assert_eq!(
            (out.as_str(), err.as_str(), exit.code, exit.signal),
            ("HELLO SANDBOX\n", "oops\n", Some(3), None)
        );
        assert_eq!(process.handle.wait().await.unwrap(), exit);

        let started = Instant::now();
        let env = run(&*sandbox, "echo $FROM_REQUEST $HOME $FROM_SPEC; pwd").await.ok();
        eprintln!("exec round trip took {:?}", started.elapsed());
        assert_eq!(env, "1 /home/agent\n/workspace\n");

        // Files.
        sandbox
            .write_file(Root::Workspace, "dir/a.txt", b"runtime\n")
            .await
            .unwrap();
        assert_eq!(run(&*sandbox, "cat dir/a.txt").await.ok(), "runtime\n");
        run(&*sandbox, "echo agent >> dir/a.txt; ln -s /etc/passwd link").await.ok();
        assert_eq!(
            sandbox.read_file(Root::Workspace, "dir/a.txt").await.unwrap(),
            Some(b"runtime\nagent\n".to_vec())
        );
        assert_eq!(sandbox.read_file(Root::Home, "nothing").await.unwrap(), None);
        let link = sandbox.read_file(Root::Workspace, "link").await;
        assert!(matches!(link, Err(SandboxError::SymlinkInPath { .. })), "{link:?}");
        let bad = sandbox.read_file(Root::Workspace, "../etc/passwd").await;
        assert!(matches!(bad, Err(SandboxError::InvalidPath { .. })), "{bad:?}");
        let stats = sandbox.scan(Root::Workspace, &[]).await.unwrap();
        let content = b"runtime\nagent\n";
        assert_eq!(
            stats,
            vec![FileStat {
                path: "dir/a.txt".into(),
                size: content.len() as u64,
                sha256: hex::encode(Sha256::digest(content)),
            }]
        );
        assert!(sandbox.remove_file(Root::Workspace, "dir/a.txt").await.unwrap());
        assert!(!sandbox.remove_file(Root::Workspace, "dir/a.txt").await.unwrap());
        assert!(sandbox.remove_file(Root::Workspace, "link").await.unwrap());

        // Killing a process kills its whole group.
        let mut sleeper = sandbox
            .spawn(LaunchSpec::new("sh").args(["-c", "sleep 301 & sleep 302"]))
            .await
            .unwrap();
        let count = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 30[12]' || true";
        for _ in 0..50 {
            if run(&*sandbox, count).await.ok() == "2\n" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        sleeper.handle.kill().await.unwrap();
        assert!(!sleeper.handle.wait().await.unwrap().success());
        assert_eq!(run(&*sandbox, count).await.ok(), "0\n");

        // Destroy is final; the id can be created again.
        let mut running = sandbox.spawn(LaunchSpec::new("sleep").args(["300"])).await.unwrap();
        sandbox.destroy().await.unwrap();
        assert!(!running.handle.wait().await.unwrap().success());
        sandbox.destroy().await.unwrap();
        let after = sandbox.read_file(Root::Workspace, "x").await;
        assert!(matches!(after, Err(SandboxError::Destroyed { .. })), "{after:?}");
        let again = provider.create(SandboxRequest::new("life")).await.unwrap();
        assert_eq!(run(&*again, "ls -A /workspace").await.ok(), "");
        again.destroy().await.unwrap();
        harness.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn sandboxes_are_listed_by_label_and_terminated_through_the_provider() {
    timed(async {
        let harness = Harness::start().await;
        let provider = harness.provider.clone();
        let mut handles = Vec::new();
        // More than one page of the stand-in's SandboxList.
        let count = agent_runtime_modal_standin::LIST_PAGE_SIZE + 2;
        for i in 0..count {
            let mut req = SandboxRequest::new(format!("l{i}"));
            req.labels = labels(&[("install", if i == 0 { "i2" } else { "i1" })]);
            handles.push(provider.create(req).await.unwrap());
        }
        let mut found: Vec<String> = provider
            .list(&labels(&[("install", "i1")]))
            .await
            .unwrap()
            .into_iter()
            .map(|l| {
                assert_eq!(l.labels, labels(&[("install", "i1")]));
                assert!(l.provider_id.starts_with("sb-"), "{l:?}");
                l.sandbox_id
            })
            .collect();
        found.sort();
        let mut expected: Vec<String> = (1..count).map(|i| format!("l{i}")).collect();
        expected.sort();
        assert_eq!(found, expected);

        let other = provider.list(&labels(&[("install", "i2")])).await.unwrap();
        assert_eq!(other.len(), 1);
        provider.terminate(&other[0].provider_id).await.unwrap();
        provider.terminate(&other[0].provider_id).await.unwrap();
        provider.terminate("sb-unknown").await.unwrap();
        assert_eq!(
            provider.list(&labels(&[("install", "i2")])).await.unwrap(),
            vec![]
        );
        assert!(handles[0].spawn(LaunchSpec::new("true")).await.is_err());
        for sandbox in &handles[1..] {
            sandbox.destroy().await.unwrap();
        }
        assert_eq!(provider.list(&Labels::new()).await.unwrap(), vec![]);
        harness.server.shutdown().await;
    })
    .await;
}
