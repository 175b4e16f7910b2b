//! The seccomp filter under real bubblewrap (`--seccomp 3`), run the way the provider runs
//! bwrap (as the recommended host user, `--unshare-all`, the host's system layout).
//!
//! Each denied syscall is called from inside with perl's `syscall` twice: without the filter,
//! to show the probe reaches the kernel and would get another answer there, and with it. Probes
//! run both as the sandbox's unprivileged user and as root with every capability of the
//! sandbox's user namespace, the strongest caller a sandbox can hold. Ordinary work and the agent
//! CLIs must still run under the filter, in both modes.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use agent_runtime_sandbox::{
    seccomp_program, HostLayout, HostUser, RoMount, SeccompArch, SeccompOptions, DEFAULT_GID,
    DEFAULT_UID, TOOLS_DIR,
};
use pretty_assertions::assert_eq;
use tokio::process::Command;

use super::common::{bwrap, timed, Ran, RUN_TIMEOUT};

/// The filter meant to run next to bwrap's `--disable-userns`.
const BASE: SeccompOptions = SeccompOptions {
    deny_user_namespaces: false,
};
/// The filter for a bubblewrap without `--disable-userns`.
const NO_USERNS: SeccompOptions = SeccompOptions {
    deny_user_namespaces: true,
};

/// Who runs the script inside the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inside {
    /// The sandbox's unprivileged user, as the provider runs agents.
    Agent,
    /// uid 0 with every capability of the sandbox's user namespace (`--cap-add ALL`).
    RootWithCaps,
}

/// One bubblewrap run.
#[derive(Clone, Copy, Debug)]
struct Jail {
    filter: Option<SeccompOptions>,
    disable_userns: bool,
    inside: Inside,
    /// Bind the agent tools dir read-only at [`TOOLS_DIR`].
    tools: bool,
}

impl Jail {
    /// The filter in `options`, with `--disable-userns` exactly when the filter leaves user
    /// namespaces to bwrap: the two ways a provider may run it.
    fn filtered(options: SeccompOptions, inside: Inside) -> Self {
        Self {
            filter: Some(options),
            disable_userns: !options.deny_user_namespaces,
            inside,
            tools: false,
        }
    }

    fn unfiltered(inside: Inside) -> Self {
        Self {
            filter: None,
            disable_userns: false,
            inside,
            tools: false,
        }
    }
}

/// Where the pinned agent CLIs are installed for tests.
fn tools_dir() -> PathBuf {
    std::env::var_os("AGENT_RUNTIME_TEST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-tools")
        })
}

/// Runs `sh -c script` in a fresh sandbox; the filter is written to a file the outer shell opens
/// as fd 3 (no `pre_exec`: the workspace forbids `unsafe`).
async fn run(jail: Jail, script: &str) -> Ran {
    let bwrap = bwrap(HostUser::recommended()).await;
    let dir = tempfile::tempdir().unwrap();
    // The host user bwrap runs as must reach the program file.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = dir.path().join("filter.bpf");

    let mut args: Vec<String> = ["--unshare-all", "--unshare-user", "--die-with-parent"]
        .map(String::from)
        .into();
    for mount in HostLayout::discover().system {
        match mount {
            RoMount::Bind { host, inside } => args.extend([
                "--ro-bind".into(),
                host.display().to_string(),
                inside.display().to_string(),
            ]),
            RoMount::Symlink { target, inside } => args.extend([
                "--symlink".into(),
                target.display().to_string(),
                inside.display().to_string(),
            ]),
        }
    }
    if jail.tools {
        let tools = tools_dir().display().to_string();
        args.extend(["--ro-bind", &tools, TOOLS_DIR].map(String::from));
    }
    args.extend(
        [
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp",
        ]
        .map(String::from),
    );
    match jail.inside {
        Inside::Agent => args.extend([
            "--uid".into(),
            DEFAULT_UID.to_string(),
            "--gid".into(),
            DEFAULT_GID.to_string(),
        ]),
        Inside::RootWithCaps => {
            args.extend(["--uid", "0", "--gid", "0", "--cap-add", "ALL"].map(String::from));
        }
    }
    if jail.disable_userns {
        args.push("--disable-userns".into());
    }
    // Without a filter fd 3 is an empty file bwrap never reads.
    let mut bytes = Vec::new();
    if let Some(options) = jail.filter {
        let arch = SeccompArch::host().expect("seccomp filters exist for x86_64 and aarch64");
        bytes = seccomp_program(arch, &options).unwrap();
        args.extend(["--seccomp", "3"].map(String::from));
    }
    std::fs::write(&program, bytes).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
    args.extend(["--", "sh", "-c", script].map(String::from));

    // `sh -c 'f=$1; shift; exec "$@" 3<"$f"' sh FILE bwrap ARGS...` opens the program as fd 3
    // and becomes bwrap.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"f=$1; shift; exec "$@" 3<"$f""#)
        .arg("sh")
        .arg(&program)
        .arg(&bwrap.path)
        .args(&args);
    if let HostUser::Range { first, .. } = HostUser::recommended() {
        command.uid(first).gid(first);
    }
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/tmp")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .expect("sandboxed script timed out")
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Perl helpers. `probe(LABEL, SUB)` runs SUB in a child process, so a call that succeeds
/// changes nothing for the next probe, and prints `LABEL ok` or `LABEL <errno name>`. `sys`
/// makes a syscall and returns (result, errno); it copies the arguments because perl's `syscall`
/// wants writable strings. `with_target(SUB)` hands SUB the pid of a sleeping child to aim at.
const PERL_PRELUDE: &str = r#"
use strict; use warnings; use Errno; $| = 1;
my %name;
for my $n (sort keys %!) { my $f = Errno->can($n) or next; $name{$f->()} //= $n; }
sub sys { my ($n, @args) = @_; my $r = syscall($n, @args); ($r, $! + 0) }
sub probe {
    my ($label, $call) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($r, $e) = $call->();
        print "$label ", ($r == -1 ? ($name{$e} // "E$e") : "ok"), "\n";
        exit 0;
    }
    waitpid($pid, 0);
    print "$label died $?\n" if $?;
}
sub with_target {
    my ($call) = @_;
    my $t = fork // die "fork: $!";
    if ($t == 0) { sleep 60; exit 0 }
    my @r = $call->($t);
    kill 'KILL', $t; waitpid($t, 0);
    @r
}
"#;

/// Probes that make one syscall: (label, number, perl argument list). The arguments are chosen so
/// that, without the filter, the kernel answers without changing anything outside the probe's
/// own process (a bad fd, a missing path, a NULL pointer, a query).
fn direct_probes() -> Vec<(&'static str, libc::c_long, &'static str)> {
    use libc::*;
    let mut probes = vec![
        ("mount", SYS_mount, "'none', '/tmp', 'tmpfs', 0, 0"),
        ("umount2", SYS_umount2, "'/nonexistent', 0"),
        (
            "pivot_root",
            SYS_pivot_root,
            "'/nonexistent', '/nonexistent'",
        ),
        ("open_tree", SYS_open_tree, "-100, '/tmp', 1"),
        ("move_mount", SYS_move_mount, "-1, '', -1, '', 0"),
        ("fsopen", SYS_fsopen, "'tmpfs', 0"),
        ("fsconfig", SYS_fsconfig, "-1, 0, 0, 0, 0"),
        ("fsmount", SYS_fsmount, "-1, 0, 0"),
        ("fspick", SYS_fspick, "-100, '/tmp', 0"),
        ("mount_setattr", SYS_mount_setattr, "-100, '/tmp', 0, 0, 0"),
        // Linux 6.15 numbered it 467 on every architecture; libc has no constant for it yet.
        ("open_tree_attr", 467, "-100, '/tmp', 1, 0, 0"),
        ("setns", SYS_setns, "-1, 0"),
        ("pidfd_getfd", SYS_pidfd_getfd, "-1, 0, 0"),
        ("bpf", SYS_bpf, "9999, 0, 0"),
        ("perf_event_open", SYS_perf_event_open, "0, 0, -1, -1, 0"),
        // UFFD_USER_MODE_ONLY, which an unprivileged process may ask for.
        ("userfaultfd", SYS_userfaultfd, "1"),
        ("io_uring_setup", SYS_io_uring_setup, "1, 0"),
        ("io_uring_enter", SYS_io_uring_enter, "-1, 0, 0, 0, 0, 0"),
        ("io_uring_register", SYS_io_uring_register, "-1, 0, 0, 0"),
        // KEYCTL_GET_KEYRING_ID of the session keyring; a key in the process keyring.
        ("keyctl", SYS_keyctl, "0, -3, 0"),
        ("add_key", SYS_add_key, "'user', 'probe', 'x', 1, -2"),
        (
            "request_key",
            SYS_request_key,
            "'user', 'no-such-key', 0, 0",
        ),
        ("kexec_load", SYS_kexec_load, "0, 1000, 0, 0"),
        ("kexec_file_load", SYS_kexec_file_load, "-1, -1, 0, 0, 0"),
        ("init_module", SYS_init_module, "0, 0, ''"),
        ("finit_module", SYS_finit_module, "-1, '', 0"),
        ("delete_module", SYS_delete_module, "'no_such_module', 2048"),
        // Without the magic numbers: EINVAL, never a reboot.
        ("reboot", SYS_reboot, "0, 0, 0, 0"),
        ("swapon", SYS_swapon, "'/nonexistent', 0"),
        ("swapoff", SYS_swapoff, "'/nonexistent'"),
        // SYSLOG_ACTION_SIZE_BUFFER.
        ("syslog", SYS_syslog, "10, 0, 0"),
        ("acct", SYS_acct, "0"),
        ("quotactl", SYS_quotactl, "0, 0, 0, 0"),
        ("quotactl_fd", SYS_quotactl_fd, "-1, 0, 0, 0"),
        // Both NULL: changes nothing.
        ("settimeofday", SYS_settimeofday, "0, 0"),
        ("clock_settime", SYS_clock_settime, "0, 0"),
        (
            "name_to_handle_at",
            SYS_name_to_handle_at,
            "-100, '/', 0, 0, 0",
        ),
        ("open_by_handle_at", SYS_open_by_handle_at, "-1, 0, 0"),
        ("lookup_dcookie", SYS_lookup_dcookie, "0, 0, 0"),
        // FAN_CLASS_NOTIF | FAN_REPORT_FID, allowed to unprivileged callers since Linux 5.13.
        ("fanotify_init", SYS_fanotify_init, "512, 0"),
        // stdin is /dev/null, so without the filter these are ENOTTY; the kernel reads only
        // the low 32 bits of the request.
        ("ioctl_tiocsti", SYS_ioctl, "0, 0x5412, 'x'"),
        (
            "ioctl_tiocsti_high_bits",
            SYS_ioctl,
            "0, (1 << 32) | 0x5412, 'x'",
        ),
        ("ioctl_tioclinux", SYS_ioctl, "0, 0x541C, 'x'"),
        ("personality_query_allowed", SYS_personality, "0xffffffff"),
        ("personality_no_aslr", SYS_personality, "0x0040000"),
        ("personality_exec_data", SYS_personality, "0x0400000"),
        ("unshare_files_allowed", SYS_unshare, "0x400"),
        ("unshare_newns", SYS_unshare, "0x20000"),
        ("unshare_newnet", SYS_unshare, "0x40000000"),
        ("unshare_newuser", SYS_unshare, "0x10000000"),
        // Size 0 is too small for any struct clone_args: EINVAL, unless the filter answers.
        ("clone3", SYS_clone3, "0, 0"),
    ];
    // iopl(0) keeps the current level; ioperm of 0 ports is EINVAL.
    #[cfg(target_arch = "x86_64")]
    probes.extend([("iopl", SYS_iopl, "0"), ("ioperm", SYS_ioperm, "0, 0, 0")]);
    probes
}

/// Every probe: a label and the body of a perl sub that returns (result, errno).
fn probes() -> Vec<(&'static str, String)> {
    use libc::*;
    let direct = direct_probes().into_iter();
    let mut probes: Vec<_> = direct
        .map(|(label, nr, args)| (label, format!("sys({nr}, {args})")))
        .collect();
    // Aimed at another process of the sandbox (a child of the probe).
    for (label, nr) in [
        ("ptrace_attach", SYS_ptrace),
        ("process_vm_readv", SYS_process_vm_readv),
        ("process_vm_writev", SYS_process_vm_writev),
    ] {
        let args = if nr == SYS_ptrace {
            "16, $_[0], 0, 0"
        } else {
            "$_[0], 0, 0, 0, 0, 0"
        };
        probes.push((label, format!("with_target(sub {{ sys({nr}, {args}) }})")));
    }
    // clone(2) as fork does it; the child exits at once.
    for (label, flags) in [
        ("clone_fork_allowed", SIGCHLD),
        ("clone_newnet", CLONE_NEWNET | SIGCHLD),
        ("clone_newpid", CLONE_NEWPID | SIGCHLD),
        ("clone_newuser", CLONE_NEWUSER | SIGCHLD),
    ] {
        let body = format!(
            "my ($r, $e) = sys({SYS_clone}, {flags}, 0, 0, 0, 0); exit 0 if $r == 0; \
             waitpid($r, 0) if $r > 0; ($r, $e)"
        );
        probes.push((label, body));
    }
    // FIONREAD on a pipe: an ioctl the filter lets through.
    let fionread = format!(
        "pipe(my $r, my $w) or die; my $n = pack('L', 0); sys({SYS_ioctl}, fileno($r), 0x541B, $n)"
    );
    probes.push(("ioctl_fionread_allowed", fionread));
    probes
}

/// Runs every probe in one perl process; returns label -> `ok` or errno name.
async fn run_probes(jail: Jail) -> BTreeMap<String, String> {
    let mut perl = PERL_PRELUDE.to_owned();
    for (label, body) in probes() {
        perl.push_str(&format!("probe('{label}', sub {{ {body} }});\n"));
    }
    let script = format!("exec perl -e '{}'", perl.replace('\'', r"'\''"));
    let ran = run(jail, &script).await;
    assert_eq!(ran.code, Some(0), "{jail:?}: {ran:?}");
    let answers: BTreeMap<String, String> = ran
        .stdout
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(label, answer)| (label.to_owned(), answer.to_owned()))
        .collect();
    assert_eq!(answers.len(), probes().len(), "{jail:?}: {ran:?}");
    answers
}

/// Probes the kernel may refuse with `EPERM` by itself even to root of the sandbox: they need
/// capabilities in the host's initial namespace, or a sysctl refuses them. Every other probe gets
/// another answer without the filter, so its `EPERM` under the filter is the filter's.
const KERNEL_MAY_REFUSE: [&str; 17] = [
    "acct",
    "bpf",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "lookup_dcookie",
    "open_by_handle_at",
    "quotactl",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
];

/// What every probe answers under the filter: `EPERM`, except the calls the filter allows
/// (`*_allowed`, and `clone3` without the option, which the kernel answers as in `control`) and
/// new user namespaces, which `--disable-userns` refuses with `ENOSPC` when the filter leaves
/// them to bwrap.
fn expected_under_filter(
    options: SeccompOptions,
    control: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut expected = BTreeMap::new();
    for (label, _) in probes() {
        let answer = if label.ends_with("_allowed") {
            "ok"
        } else if label == "clone3" {
            if options.deny_user_namespaces {
                "ENOSYS"
            } else {
                &control["clone3"]
            }
        } else if label.ends_with("_newuser") && !options.deny_user_namespaces {
            "ENOSPC"
        } else {
            "EPERM"
        };
        expected.insert(label.to_owned(), answer.to_owned());
    }
    expected
}

#[tokio::test]
async fn denied_syscalls_fail_with_eperm_and_only_because_of_the_filter() {
    timed(async {
        let control = run_probes(Jail::unfiltered(Inside::RootWithCaps)).await;
        for (label, answer) in &control {
            let refused = answer == "EPERM" && !KERNEL_MAY_REFUSE.contains(&label.as_str());
            assert!(
                !refused,
                "without the filter the kernel refused {label}: {control:#?}"
            );
        }
        for label in [
            "unshare_newuser",
            "clone_newuser",
            "mount",
            "ptrace_attach",
            "keyctl",
        ] {
            assert_eq!(
                control[label], "ok",
                "{label} works without the filter: {control:#?}"
            );
        }

        for options in [BASE, NO_USERNS] {
            for inside in [Inside::Agent, Inside::RootWithCaps] {
                let answers = run_probes(Jail::filtered(options, inside)).await;
                let expected = expected_under_filter(options, &control);
                assert_eq!(answers, expected, "{options:?} as {inside:?}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn nested_user_namespaces_are_refused() {
    timed(async {
        let unshare = "unshare -Ur true";
        let control = run(Jail::unfiltered(Inside::Agent), unshare).await;
        assert_eq!(
            control.code,
            Some(0),
            "user namespaces work without the filter: {control:?}"
        );

        let bwrap_refuses = run(Jail::filtered(BASE, Inside::Agent), unshare).await;
        assert_eq!(bwrap_refuses.code, Some(1), "{bwrap_refuses:?}");
        assert!(
            bwrap_refuses.stderr.contains("No space left on device"),
            "{bwrap_refuses:?}"
        );

        let filter_refuses = run(Jail::filtered(NO_USERNS, Inside::Agent), unshare).await;
        assert_eq!(filter_refuses.code, Some(1), "{filter_refuses:?}");
        assert!(
            filter_refuses.stderr.contains("Operation not permitted"),
            "{filter_refuses:?}"
        );

        // The base filter leaves user namespaces to bwrap's --disable-userns.
        let base_alone = Jail {
            disable_userns: false,
            ..Jail::filtered(BASE, Inside::Agent)
        };
        assert_eq!(run(base_alone, unshare).await.code, Some(0));
    })
    .await;
}

#[tokio::test]
async fn mount_fails_even_for_root_of_the_sandbox() {
    timed(async {
        let mount = "mount -t tmpfs none /tmp && grep -c ' /tmp tmpfs ' /proc/self/mounts";
        let control = run(Jail::unfiltered(Inside::RootWithCaps), mount).await;
        assert_eq!(
            control.code,
            Some(0),
            "mount works without the filter: {control:?}"
        );
        for options in [BASE, NO_USERNS] {
            let ran = run(Jail::filtered(options, Inside::RootWithCaps), mount).await;
            assert_ne!(ran.code, Some(0), "{options:?}: {ran:?}");
            assert_eq!(ran.stdout, "", "{options:?}: {ran:?}");
        }
    })
    .await;
}

#[cfg(target_arch = "x86_64")]
#[tokio::test]
async fn an_x32_syscall_kills_the_process() {
    timed(async {
        // x32 getpid (39 | the x32 bit); 159 = 128 + SIGSYS.
        let script = "perl -e 'syscall(0x40000027)'; echo \"exit $?\"";
        let control = run(Jail::unfiltered(Inside::Agent), script).await;
        assert_eq!(control.ok(), "exit 0\n");
        for options in [BASE, NO_USERNS] {
            let ran = run(Jail::filtered(options, Inside::Agent), script).await;
            assert_eq!(ran.ok(), "exit 159\n", "{options:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn ordinary_work_runs_under_the_filter() {
    timed(async {
        let script = r#"set -e
            grep '^Seccomp:' /proc/self/status
            ls / > /dev/null
            echo piped | cat
            (echo subshell)
            perl -e 'my $p = fork // die; exit 7 if !$p; waitpid($p, 0); print "fork ", $? >> 8, "\n"'
            seq 1 200000 | sort --parallel=2 -S 16M -n -r | head -n 1
            node -e 'console.log(1)'
            node -e 'const { Worker } = require("worker_threads");
                     new Worker("1", { eval: true }).on("exit", (c) => console.log("worker", c))'
            node -e 'console.log(require("child_process").execFileSync("echo", ["child"]).toString().trim())'
            git init -q /tmp/repo && git -C /tmp/repo status --porcelain && echo "git ok"
            git --version"#;
        for options in [BASE, NO_USERNS] {
            let out = run(Jail::filtered(options, Inside::Agent), script).await.ok();
            let (before_version, version) = out.trim_end().rsplit_once('\n').unwrap();
            assert_eq!(
                before_version,
                "Seccomp:\t2\npiped\nsubshell\nfork 7\n200000\n1\nworker 0\nchild\ngit ok",
                "{options:?}"
            );
            assert!(version.starts_with("git version "), "{options:?}: {version}");
        }
    })
    .await;
}

/// The pinned agent CLIs (crates/agents: `claude::VERSION`, the Gemini CLI's version), relative
/// to the tools dir.
fn agent_clis() -> [(&'static str, String); 2] {
    let npm_arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x64"
    };
    [
        (
            "2.1.328",
            format!(
                "_anthropic-ai_claude-code@2.1.328/node_modules/@anthropic-ai/\
                 claude-code-linux-{npm_arch}/claude"
            ),
        ),
        (
            "0.61.0",
            "_google_gemini-cli@0.61.0/node_modules/.bin/gemini".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn the_agent_clis_start_under_the_filter() {
    timed(async {
        for (version, cli) in agent_clis() {
            let host = tools_dir().join(&cli);
            assert!(
                host.exists(),
                "{} is missing: set AGENT_RUNTIME_TEST_TOOLS_DIR to the installed agent tools",
                host.display()
            );
            for options in [BASE, NO_USERNS] {
                let jail = Jail {
                    tools: true,
                    ..Jail::filtered(options, Inside::Agent)
                };
                let ran = run(jail, &format!("exec {TOOLS_DIR}/{cli} --version")).await;
                assert_eq!(ran.stderr, "", "{options:?} {cli}: {ran:?}");
                let out = ran.ok();
                assert!(out.contains(version), "{options:?} {cli}: {out}");
            }
        }
    })
    .await;
}
