//! The `SandboxProvider`/`Sandbox` contract. Bodies see only `dyn SandboxProvider`, so any
//! provider that can run here gets the same checks: the local bubblewrap provider in each
//! host-user configuration, and the Modal provider against the Modal stand-in.

use std::collections::BTreeMap;

use agent_runtime_sandbox::{
    FileStat, LaunchSpec, Root, SandboxError, SandboxProvider, SandboxRequest,
};
use pretty_assertions::assert_eq;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{host_users, parse_env, run, run_spec, timed, Harness, ModalHarness};

/// Runs `body` against every provider configuration.
async fn for_each_provider<F, Fut>(body: F)
where
    F: Fn(std::sync::Arc<dyn SandboxProvider>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for_each_local_provider(&body).await;
    let modal = ModalHarness::start().await;
    eprintln!(
        "provider {} against the Modal stand-in",
        modal.provider().name()
    );
    body(modal.provider()).await;
    modal.server.shutdown().await;
}

/// Runs `body` against the local provider only, for checks that are about this host.
async fn for_each_local_provider<F, Fut>(body: &F)
where
    F: Fn(std::sync::Arc<dyn SandboxProvider>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for user in host_users() {
        let harness = Harness::new(user).await;
        eprintln!("provider {} with {user:?}", harness.provider().name());
        body(harness.provider()).await;
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn processes_run_as_the_sandbox_user_with_exactly_the_given_env() {
    timed(for_each_provider(|provider| async move {
        let mut req = SandboxRequest::new("env-check");
        req.extra_env
            .insert("ANTHROPIC_API_KEY".into(), "sk-test".into());
        req.extra_env.insert("FROM_REQUEST".into(), "1".into());
        let sandbox = provider.create(req).await.unwrap();

        let ids = run(&*sandbox, "id -u; id -g; id -un").await.ok();
        assert_eq!(ids, "1000\n1000\nagent\n");

        let spec = LaunchSpec::new("env")
            .env("FROM_SPEC", "x y")
            .env("LANG", "C");
        let env = parse_env(&run_spec(&*sandbox, spec).await.ok());
        let mut expected: BTreeMap<String, String> = [
            ("ANTHROPIC_API_KEY", "sk-test"),
            ("FROM_REQUEST", "1"),
            ("FROM_SPEC", "x y"),
            ("HOME", sandbox.home_dir()),
            ("LANG", "C"),
            ("LOGNAME", "agent"),
            ("PATH", agent_runtime_sandbox::local::BASE_PATH),
            ("PWD", sandbox.workspace_dir()),
            ("TMPDIR", "/tmp"),
            ("USER", "agent"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        // Provider-specific additions, e.g. NODE_EXTRA_CA_CERTS where the host has a CA bundle.
        for (key, value) in &env {
            if key == "NODE_EXTRA_CA_CERTS" {
                expected.insert(key.clone(), value.clone());
            }
        }
        assert_eq!(env, expected);
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn runtime_and_agent_can_both_change_each_others_files() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider
            .create(SandboxRequest::new("owners"))
            .await
            .unwrap();
        sandbox
            .write_file(Root::Workspace, "from-runtime/nested/a.txt", b"runtime\n")
            .await
            .unwrap();
        sandbox
            .write_file(Root::Home, ".config/tool.json", b"{}")
            .await
            .unwrap();

        let script = "set -e
            cat from-runtime/nested/a.txt
            echo agent >> from-runtime/nested/a.txt
            mkdir from-runtime/nested/by-agent && echo x > from-runtime/nested/by-agent/b.txt
            echo '{\"a\":1}' > $HOME/.config/tool.json
            mkdir -m 700 private && echo p > private/f && chmod 600 private/f
            echo mine > mine.txt
            ls -ld from-runtime/nested | cut -d' ' -f3";
        assert_eq!(run(&*sandbox, script).await.ok(), "runtime\nagent\n");

        let read = |root, path: &'static str| {
            let sandbox = sandbox.clone();
            async move { sandbox.read_file(root, path).await.unwrap() }
        };
        assert_eq!(
            read(Root::Workspace, "from-runtime/nested/a.txt").await,
            Some(b"runtime\nagent\n".to_vec())
        );
        assert_eq!(
            read(Root::Workspace, "private/f").await,
            Some(b"p\n".to_vec())
        );
        assert_eq!(
            read(Root::Home, ".config/tool.json").await,
            Some(b"{\"a\":1}\n".to_vec())
        );

        // The runtime overwrites and removes what the agent made, and the agent sees it.
        sandbox
            .write_file(Root::Workspace, "mine.txt", b"overwritten")
            .await
            .unwrap();
        assert!(sandbox
            .remove_file(Root::Workspace, "private/f")
            .await
            .unwrap());
        assert!(!sandbox
            .remove_file(Root::Workspace, "private/f")
            .await
            .unwrap());
        let after = run(
            &*sandbox,
            "cat mine.txt; echo; ls private | wc -l; echo ok > private/g",
        )
        .await
        .ok();
        assert_eq!(after, "overwritten\n0\n");
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn scan_lists_regular_files_with_sha256() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider.create(SandboxRequest::new("scan")).await.unwrap();
        let script = "set -e
            printf hello > hello.txt
            mkdir -p src/deep node_modules/pkg .git
            printf 'fn main() {}\\n' > src/deep/main.rs
            printf x > node_modules/pkg/index.js
            printf ref > .git/HEAD
            : > empty
            ln -s /etc/passwd passwd-link
            ln -s src src-link
            mkfifo fifo";
        run(&*sandbox, script).await.ok();
        sandbox
            .write_file(Root::Workspace, "from-runtime.bin", &[0, 1, 2])
            .await
            .unwrap();

        let excludes = vec!["node_modules".to_owned(), ".git/".to_owned()];
        let stats = sandbox.scan(Root::Workspace, &excludes).await.unwrap();
        let stat = |path: &str, bytes: &[u8]| FileStat {
            path: path.to_owned(),
            size: bytes.len() as u64,
            sha256: sha256(bytes),
        };
        assert_eq!(
            stats,
            vec![
                stat("empty", b""),
                stat("from-runtime.bin", &[0, 1, 2]),
                stat("hello.txt", b"hello"),
                stat("src/deep/main.rs", b"fn main() {}\n"),
            ]
        );
        assert_eq!(sandbox.scan(Root::Home, &[]).await.unwrap(), vec![]);
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn file_operations_reject_bad_paths_and_symlink_escapes() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider
            .create(SandboxRequest::new("escapes"))
            .await
            .unwrap();
        let host_passwd = std::fs::read("/etc/passwd").unwrap();
        run(
            &*sandbox,
            "ln -s /etc/passwd passwd; ln -s /etc etc; ln -s ../../.. up; ln -s /root r",
        )
        .await
        .ok();

        for bad in ["../x", "/etc/passwd", "a/../../x", "", "a//b"] {
            let read = sandbox.read_file(Root::Workspace, bad).await;
            assert!(
                matches!(read, Err(SandboxError::InvalidPath { .. })),
                "read {bad:?}: {read:?}"
            );
            let write = sandbox.write_file(Root::Home, bad, b"x").await;
            assert!(
                matches!(write, Err(SandboxError::InvalidPath { .. })),
                "write {bad:?}: {write:?}"
            );
        }
        for link in [
            "passwd",
            "etc/passwd",
            "etc/new-file",
            "up/etc/passwd",
            "r/.bashrc",
        ] {
            let read = sandbox.read_file(Root::Workspace, link).await;
            assert!(
                matches!(read, Err(SandboxError::SymlinkInPath { .. })),
                "read {link}: {read:?}"
            );
            let write = sandbox.write_file(Root::Workspace, link, b"pwned\n").await;
            assert!(
                matches!(write, Err(SandboxError::SymlinkInPath { .. })),
                "write {link}: {write:?}"
            );
        }
        assert_eq!(std::fs::read("/etc/passwd").unwrap(), host_passwd);
        assert!(!std::path::Path::new("/etc/new-file").exists());
        // The links themselves can be removed; their targets stay.
        assert!(sandbox
            .remove_file(Root::Workspace, "passwd")
            .await
            .unwrap());
        assert_eq!(std::fs::read("/etc/passwd").unwrap(), host_passwd);
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn stdio_is_piped_and_exit_codes_are_reported() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider.create(SandboxRequest::new("stdio")).await.unwrap();
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
        // Waiting again returns the same.
        assert_eq!(process.handle.wait().await.unwrap(), exit);
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn kill_ends_the_process() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider.create(SandboxRequest::new("kill")).await.unwrap();
        let mut process = sandbox
            .spawn(LaunchSpec::new("sleep").args(["300"]))
            .await
            .unwrap();
        process.handle.kill().await.unwrap();
        let exit = process.handle.wait().await.unwrap();
        assert!(!exit.success(), "{exit:?}");
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn destroy_is_final_and_recreate_starts_empty() {
    timed(for_each_provider(|provider| async move {
        let req = || SandboxRequest::new("again");
        let sandbox = provider.create(req()).await.unwrap();
        let duplicate = provider.create(req()).await;
        assert!(
            matches!(duplicate, Err(SandboxError::AlreadyExists { .. })),
            "{:?}",
            duplicate.err()
        );

        sandbox
            .write_file(Root::Workspace, "old.txt", b"old")
            .await
            .unwrap();
        let mut running = sandbox
            .spawn(LaunchSpec::new("sleep").args(["300"]))
            .await
            .unwrap();
        sandbox.destroy().await.unwrap();
        assert!(!running.handle.wait().await.unwrap().success());
        sandbox.destroy().await.unwrap();
        let after = sandbox.read_file(Root::Workspace, "old.txt").await;
        assert!(
            matches!(after, Err(SandboxError::Destroyed { .. })),
            "{after:?}"
        );
        let spawn = sandbox.spawn(LaunchSpec::new("true")).await;
        assert!(
            matches!(spawn, Err(SandboxError::Destroyed { .. })),
            "{:?}",
            spawn.err()
        );

        let fresh = provider.create(req()).await.unwrap();
        assert_eq!(
            fresh.read_file(Root::Workspace, "old.txt").await.unwrap(),
            None
        );
        assert_eq!(
            run(&*fresh, "ls -A /workspace /home/agent").await.ok(),
            "/home/agent:\n\n/workspace:\n"
        );
        fresh.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn invalid_sandbox_ids_are_rejected() {
    timed(for_each_provider(|provider| async move {
        for id in ["", "../escape", "a/b", "-x", "sp ace"] {
            let result = provider.create(SandboxRequest::new(id)).await;
            assert!(
                matches!(result, Err(SandboxError::InvalidSandboxId { .. })),
                "{id:?}"
            );
        }
    }))
    .await;
}

#[tokio::test]
async fn no_network_means_loopback_only() {
    timed(for_each_provider(|provider| async move {
        let sandbox = provider
            .create(SandboxRequest::new("offline"))
            .await
            .unwrap();
        let interfaces = run(
            &*sandbox,
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        )
        .await
        .ok();
        assert_eq!(interfaces, "lo\n");
        sandbox.destroy().await.unwrap();
    }))
    .await;
}

#[tokio::test]
async fn sandboxes_are_listed_by_label_and_terminated_by_anyone() {
    timed(for_each_provider(|provider| async move {
        let labels = |pairs: &[(&str, &str)]| -> agent_runtime_sandbox::Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut req = SandboxRequest::new("labelled-a");
        req.labels = labels(&[("install", "i1"), ("session", "a")]);
        let a = provider.create(req).await.unwrap();
        let mut req = SandboxRequest::new("labelled-b");
        req.labels = labels(&[("install", "i1"), ("session", "b")]);
        let b = provider.create(req).await.unwrap();
        let mut req = SandboxRequest::new("labelled-other");
        req.labels = labels(&[("install", "i2")]);
        let other = provider.create(req).await.unwrap();
        let mut bad = SandboxRequest::new("labelled-bad");
        bad.labels = labels(&[("install", "has space")]);
        assert!(matches!(
            provider.create(bad).await.map(|_| ()),
            Err(SandboxError::InvalidConfig(_))
        ));

        let ids = |found: Vec<agent_runtime_sandbox::SandboxListing>| -> Vec<String> {
            found.into_iter().map(|l| l.sandbox_id).collect()
        };
        let install = labels(&[("install", "i1")]);
        let found = provider.list(&install).await.unwrap();
        assert_eq!(
            found
                .iter()
                .find(|l| l.sandbox_id == "labelled-a")
                .map(|l| &l.labels),
            Some(&labels(&[("install", "i1"), ("session", "a")]))
        );
        let mut found = ids(found);
        found.sort();
        assert_eq!(found, ["labelled-a", "labelled-b"]);
        assert_eq!(
            ids(provider.list(&labels(&[("session", "b")])).await.unwrap()),
            ["labelled-b"]
        );

        // Terminated through the provider (as a reconciler does), not through its handle.
        let listing = provider
            .list(&labels(&[("session", "a")]))
            .await
            .unwrap()
            .remove(0);
        provider.terminate(&listing.provider_id).await.unwrap();
        provider.terminate(&listing.provider_id).await.unwrap();
        assert_eq!(ids(provider.list(&install).await.unwrap()), ["labelled-b"]);
        assert!(
            run_spec_fails(&*a).await,
            "a terminated sandbox runs nothing"
        );
        assert_eq!(run(&*b, "echo alive").await.ok(), "alive\n");

        b.destroy().await.unwrap();
        other.destroy().await.unwrap();
        assert_eq!(
            ids(provider.list(&install).await.unwrap()),
            Vec::<String>::new()
        );
    }))
    .await;
}

async fn run_spec_fails(sandbox: &dyn agent_runtime_sandbox::Sandbox) -> bool {
    sandbox.spawn(LaunchSpec::new("true")).await.is_err()
}
