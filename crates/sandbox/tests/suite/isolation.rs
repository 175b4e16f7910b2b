//! What a local bubblewrap sandbox can see and change of the host.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use agent_runtime_sandbox::{HostUser, RoMount, Root};
use pretty_assertions::assert_eq;

use super::common::{host_users, run, timed, Harness, SECRET};

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_owned).collect()
}

fn first_component(path: &Path) -> String {
    match path.components().nth(1) {
        Some(Component::Normal(name)) => name.to_string_lossy().into_owned(),
        other => panic!("unexpected inside path {path:?}: {other:?}"),
    }
}

#[tokio::test]
async fn only_the_expected_tree_is_visible() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("tree").await;
        let layout = &harness.provider.config().host_layout;
        let inside = layout.system.iter().map(|mount| match mount {
            RoMount::Bind { inside, .. } | RoMount::Symlink { inside, .. } => inside.clone(),
        });
        let inside: Vec<_> = inside.collect();

        let mut top: BTreeSet<String> = inside.iter().map(|p| first_component(p)).collect();
        top.extend(["dev", "etc", "home", "opt", "proc", "tmp", "workspace"].map(String::from));
        assert_eq!(lines(&run(&*sandbox, "ls -A /").await.ok()), top);

        let mut etc: BTreeSet<String> = inside
            .iter()
            .filter_map(|p| p.strip_prefix("/etc").ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        etc.extend(["passwd", "group"].map(String::from));
        assert_eq!(lines(&run(&*sandbox, "ls -A /etc").await.ok()), etc);

        let listing = run(&*sandbox, "ls -A /home /opt /opt/agent-runtime /tmp")
            .await
            .ok();
        assert_eq!(
            listing,
            "/home:\nagent\n\n/opt:\nagent-runtime\nagent-tools\n\n\
             /opt/agent-runtime:\nsandbox-helper\n\n/tmp:\n"
        );
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn host_data_dir_root_and_other_sandboxes_are_invisible() {
    timed(async {
        for user in host_users() {
            let harness = Harness::new(user).await;
            let victim = harness.create("victim").await;
            victim.write_file(Root::Workspace, "victim.txt", b"victim-data").await.unwrap();
            victim.write_file(Root::Home, ".token", b"victim-data").await.unwrap();
            let attacker = harness.create("attacker").await;

            let data_dir = harness.data_dir.path();
            let cwd = std::env::current_dir().unwrap();
            let probes = [
                data_dir.to_path_buf(),
                harness.secret.clone(),
                harness.provider.config().root_dir.clone(),
                harness.host_dir("victim"),
                harness.host_dir("victim").join("workspace/victim.txt"),
                harness.host_dir("attacker"),
                "/root".into(),
                cwd,
            ];
            let quoted: Vec<String> = probes.iter().map(|p| format!("'{}'", p.display())).collect();
            let script = format!(
                "for p in {}; do if [ -e \"$p\" ]; then echo \"visible: $p\"; fi; done
                 grep -rl -e {SECRET} -e victim-data / --exclude-dir=proc --exclude-dir=dev --exclude-dir=usr \\
                     --exclude-dir=lib --exclude-dir=lib64 --exclude-dir=bin --exclude-dir=sbin 2>/dev/null
                 ls -A /workspace /home/agent",
                quoted.join(" ")
            );
            let seen = run(&*attacker, &script).await.stdout;
            assert_eq!(seen, "/home/agent:\n\n/workspace:\n", "with {user:?}");
            victim.destroy().await.unwrap();
            attacker.destroy().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn system_paths_tools_and_root_are_read_only() {
    timed(async {
        for user in host_users() {
            let harness = Harness::new(user).await;
            let sandbox = harness.create("readonly").await;
            let script = "
                for p in /x /usr/x /bin/x /lib/x /etc/x /etc/passwd /etc/hosts /home/x \
                         /opt/agent-tools/x /opt/agent-tools/bin/hello-tool; do
                    if (echo pwned >> \"$p\") 2>/dev/null; then echo \"writable: $p\"; fi
                done
                mkdir /newdir 2>/dev/null && echo 'mkdir /newdir'
                rm -f /opt/agent-tools/bin/hello-tool 2>/dev/null && echo 'removed tool'
                echo scratch > /tmp/ok && cat /tmp/ok
                hello-tool";
            let out = run(&*sandbox, script).await.ok();
            assert_eq!(out, "scratch\nhello from the tools dir\n", "with {user:?}");
            sandbox.destroy().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn namespaces_hide_host_processes_and_capabilities_are_dropped() {
    timed(async {
        for user in host_users() {
            let harness = Harness::new(user).await;
            let sandbox = harness.create("namespaces").await;
            let script = "echo $$; ls /proc | grep -c '^[0-9]'; hostname
                grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t' ' '";
            let out = run(&*sandbox, script).await.ok();
            let mut lines = out.lines();
            let pid: u32 = lines.next().unwrap().parse().unwrap();
            let visible: u32 = lines.next().unwrap().parse().unwrap();
            assert!(pid <= 3, "shell pid {pid} with {user:?}");
            // bwrap's init, the shell, ls and grep.
            assert!(visible <= 5, "{visible} processes visible with {user:?}");
            let rest: Vec<&str> = lines.collect();
            assert_eq!(
                rest,
                vec![
                    "sandbox",
                    "CapInh: 0000000000000000",
                    "CapPrm: 0000000000000000",
                    "CapEff: 0000000000000000",
                    "CapBnd: 0000000000000000",
                    "CapAmb: 0000000000000000",
                ],
                "with {user:?}"
            );
            sandbox.destroy().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn host_ownership_follows_the_host_user() {
    timed(async {
        for user in host_users() {
            let harness = Harness::new(user).await;
            let sandbox = harness.create("owners").await;
            sandbox
                .write_file(Root::Workspace, "runtime/dir/file", b"r")
                .await
                .unwrap();
            run(&*sandbox, "echo a > agent.txt && mkdir agent-dir")
                .await
                .ok();

            let euid = rustix::process::geteuid();
            let workspace = harness.host_dir("owners").join("workspace");
            let expected = match user {
                HostUser::Range { first, count } if euid.is_root() => {
                    let uid = std::fs::metadata(&workspace).unwrap().uid();
                    assert!((first..first + count).contains(&uid), "uid {uid}");
                    uid
                }
                _ => euid.as_raw(),
            };
            let owners: Vec<(String, u32)> = [
                "",
                "agent.txt",
                "agent-dir",
                "runtime",
                "runtime/dir",
                "runtime/dir/file",
            ]
            .iter()
            .map(|rel| {
                (
                    rel.to_string(),
                    std::fs::metadata(workspace.join(rel)).unwrap().uid(),
                )
            })
            .collect();
            let want: Vec<(String, u32)> = owners
                .iter()
                .map(|(rel, _)| (rel.clone(), expected))
                .collect();
            assert_eq!(owners, want, "with {user:?}");
            sandbox.destroy().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn the_provider_starts_every_process_under_the_seccomp_filter_without_user_namespaces() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("hardened").await;
        let script = "grep '^Seccomp:' /proc/self/status | tr -s '\\t' ' '
            unshare -Ur true 2>/dev/null && echo USERNS || echo NO-USERNS
            unshare -m true 2>/dev/null && echo MOUNTNS || echo NO-MOUNTNS
            grep -c . /proc/self/uid_map";
        let out = run(&*sandbox, script).await.ok();
        assert_eq!(out, "Seccomp: 2\nNO-USERNS\nNO-MOUNTNS\n1\n");
        sandbox.destroy().await.unwrap();
    })
    .await;
}
