use super::*;
use pretty_assertions::assert_eq;

fn merged_usr_policy() -> BwrapPolicy {
    BwrapPolicy {
        bwrap: "/usr/bin/bwrap".into(),
        workspace: "/data/sandboxes/s1/workspace".into(),
        home: "/data/sandboxes/s1/home".into(),
        tools: "/data/tools".into(),
        uid: 1000,
        gid: 1000,
        hostname: "sandbox".into(),
        system: vec![
            RoMount::same_path("/usr"),
            RoMount::Symlink {
                target: "usr/bin".into(),
                inside: "/bin".into(),
            },
            RoMount::Symlink {
                target: "usr/lib".into(),
                inside: "/lib".into(),
            },
            RoMount::same_path("/etc/resolv.conf"),
            RoMount::same_path("/etc/ssl"),
        ],
        identity: Some(IdentityFiles {
            passwd: "/data/sandboxes/s1/etc/passwd".into(),
            group: "/data/sandboxes/s1/etc/group".into(),
        }),
        extra: vec![],
        helper: Some("/usr/bin/agent-runtime".into()),
        sockets: vec![SocketBind {
            host: "/data/sandboxes/s1/run/egress.sock".into(),
            inside: "/run/agent-runtime/egress.sock".into(),
        }],
        disable_userns: true,
        seccomp_fd: Some(3),
        tmp_size: Some(64 << 20),
    }
}

fn inner() -> LaunchSpec {
    LaunchSpec::new("claude")
        .args(["-p", "--output-format", "stream-json"])
        .env("HOME", "/home/agent")
        .env("ANTHROPIC_API_KEY", "sk-secret")
        .cwd("/workspace/project")
}

#[test]
fn hardened_merged_usr_argv() {
    let spec = bwrap_launch_spec(&merged_usr_policy(), &inner());
    #[rustfmt::skip]
    let expected: Vec<&str> = vec![
        "--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--unshare-net", "--seccomp", "3",
        "--hostname", "sandbox", "--cap-drop", "ALL",
        "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib",
        "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf",
        "--ro-bind", "/etc/ssl", "/etc/ssl",
        "--ro-bind", "/data/sandboxes/s1/etc/passwd", "/etc/passwd",
        "--ro-bind", "/data/sandboxes/s1/etc/group", "/etc/group",
        "--proc", "/proc", "--dev", "/dev", "--size", "67108864", "--tmpfs", "/tmp",
        "--ro-bind", "/data/tools", "/opt/agent-tools",
        "--ro-bind", "/usr/bin/agent-runtime", "/opt/agent-runtime/sandbox-helper",
        "--bind", "/data/sandboxes/s1/run/egress.sock", "/run/agent-runtime/egress.sock",
        "--bind", "/data/sandboxes/s1/home", "/home/agent",
        "--bind", "/data/sandboxes/s1/workspace", "/workspace",
        "--remount-ro", "/",
        "--chdir", "/workspace/project",
        "--", "claude", "-p", "--output-format", "stream-json",
    ];
    assert_eq!(
        spec,
        LaunchSpec {
            program: "/usr/bin/bwrap".into(),
            args: expected.into_iter().map(String::from).collect(),
            env: inner().env,
            cwd: "/".into(),
        }
    );
}

#[test]
fn minimal_split_usr_argv() {
    let mut policy = merged_usr_policy();
    policy.helper = None;
    policy.sockets = vec![];
    policy.disable_userns = false;
    policy.seccomp_fd = None;
    policy.tmp_size = None;
    policy.uid = 2000;
    policy.gid = 3000;
    policy.hostname = "box".into();
    policy.system = vec![
        RoMount::same_path("/usr"),
        RoMount::same_path("/bin"),
        RoMount::same_path("/lib64"),
    ];
    policy.identity = None;
    policy.extra = vec![RoMount::Bind {
        host: "/nix/store".into(),
        inside: "/nix/store".into(),
    }];
    let inner = LaunchSpec::new("sh").args(["-c", "echo hi"]);

    let spec = bwrap_launch_spec(&policy, &inner);
    #[rustfmt::skip]
    let expected: Vec<&str> = vec![
        "--unshare-user", "--uid", "2000", "--gid", "3000",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--unshare-net",
        "--hostname", "box", "--cap-drop", "ALL",
        "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--ro-bind", "/bin", "/bin",
        "--ro-bind", "/lib64", "/lib64",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--ro-bind", "/nix/store", "/nix/store",
        "--ro-bind", "/data/tools", "/opt/agent-tools",
        "--bind", "/data/sandboxes/s1/home", "/home/agent",
        "--bind", "/data/sandboxes/s1/workspace", "/workspace",
        "--remount-ro", "/",
        "--chdir", "/workspace",
        "--", "sh", "-c", "echo hi",
    ];
    assert_eq!(
        spec,
        LaunchSpec {
            program: "/usr/bin/bwrap".into(),
            args: expected.into_iter().map(String::from).collect(),
            env: Default::default(),
            cwd: "/".into(),
        }
    );
}

#[test]
fn secrets_stay_out_of_the_argv() {
    let spec = bwrap_launch_spec(&merged_usr_policy(), &inner());
    assert!(spec.args.iter().all(|a| !a.contains("sk-secret")));
    assert_eq!(
        spec.env.get("ANTHROPIC_API_KEY").map(String::as_str),
        Some("sk-secret")
    );
}

#[test]
fn discover_handles_merged_and_split_usr_and_dangling_etc_links() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in ["usr/bin", "usr/lib", "lib64", "etc/ssl", "run"] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    symlink("usr/bin", r.join("bin")).unwrap();
    symlink("usr/lib", r.join("lib")).unwrap();
    std::fs::write(r.join("run/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
    symlink("../run/resolv.conf", r.join("etc/resolv.conf")).unwrap();
    symlink("/nonexistent/zone", r.join("etc/localtime")).unwrap();
    std::fs::write(r.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::write(r.join("etc/ssl/cert.pem"), "").unwrap();

    let layout = HostLayout::discover_under(r);
    assert_eq!(
        layout,
        HostLayout {
            system: vec![
                RoMount::Bind {
                    host: r.join("usr"),
                    inside: "/usr".into()
                },
                RoMount::Symlink {
                    target: "usr/bin".into(),
                    inside: "/bin".into()
                },
                RoMount::Symlink {
                    target: "usr/lib".into(),
                    inside: "/lib".into()
                },
                RoMount::Bind {
                    host: r.join("lib64"),
                    inside: "/lib64".into()
                },
                RoMount::Bind {
                    host: r.join("etc/resolv.conf"),
                    inside: "/etc/resolv.conf".into()
                },
                RoMount::Bind {
                    host: r.join("etc/hosts"),
                    inside: "/etc/hosts".into()
                },
                RoMount::Bind {
                    host: r.join("etc/ssl"),
                    inside: "/etc/ssl".into()
                },
            ],
            ca_bundle: Some("/etc/ssl/cert.pem".into()),
        }
    );
}
