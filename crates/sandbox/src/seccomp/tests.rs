use super::bpf::{op, SockFilter, BPF_MAXINSNS};
use super::emulator::{run, SeccompData};
use super::*;
use pretty_assertions::assert_eq;

const ARCHES: [SeccompArch; 2] = [SeccompArch::X86_64, SeccompArch::Aarch64];
const MODES: [SeccompOptions; 2] = [
    SeccompOptions {
        deny_user_namespaces: false,
    },
    SeccompOptions {
        deny_user_namespaces: true,
    },
];
const USERNS: SeccompOptions = MODES[1];

const ALLOW: u32 = RET_ALLOW;
const KILL: u32 = RET_KILL_PROCESS;
const DENY: u32 = RET_ERRNO | EPERM;
const NOSYS: u32 = RET_ERRNO | ENOSYS;

/// `AUDIT_ARCH_I386` and `AUDIT_ARCH_ARM`: the 32-bit ABIs each architecture also runs.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Decodes what [`seccomp_program`] returns, so every test also covers the encoding.
fn program(arch: SeccompArch, options: &SeccompOptions) -> Vec<SockFilter> {
    let bytes = seccomp_program(arch, options).unwrap();
    assert_eq!(bytes.len() % SockFilter::SIZE, 0);
    bytes
        .chunks(SockFilter::SIZE)
        .map(|insn| SockFilter::from_bytes(insn).unwrap())
        .collect()
}

/// The filter's verdict for syscall `nr` of `arch` with `args`.
fn verdict(program: &[SockFilter], arch: SeccompArch, nr: u32, args: [u64; 6]) -> u32 {
    let data = SeccompData {
        nr,
        arch: arch.audit_arch(),
        args,
    };
    run(program, &data).unwrap()
}

fn number(arch: SeccompArch, syscall: Syscall) -> u32 {
    syscall.number(arch).unwrap()
}

fn with_arg(index: usize, value: u64) -> [u64; 6] {
    let mut args = [0; 6];
    args[index] = value;
    args
}

fn rule(options: &SeccompOptions, name: &str) -> Rule {
    let found = rules(options).into_iter().find(|r| r.syscall.name == name);
    found.unwrap_or_else(|| panic!("no rule for {name}"))
}

#[test]
fn audit_arch_values_are_the_kernels() {
    // AUDIT_ARCH_X86_64 and AUDIT_ARCH_AARCH64 as linux/audit.h spells them out.
    assert_eq!(SeccompArch::X86_64.audit_arch(), 0xC000_003E);
    assert_eq!(SeccompArch::Aarch64.audit_arch(), 0xC000_00B7);
}

#[test]
fn the_architecture_is_checked_first() {
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            let load_arch = SockFilter {
                code: op::LOAD_WORD,
                jt: 0,
                jf: 0,
                k: ARCH_OFFSET,
            };
            assert_eq!(p[0], load_arch);
            assert_eq!(
                (p[1].code, p[1].k, p[1].jt),
                (op::JUMP_EQ, arch.audit_arch(), 0)
            );
            let mismatch = p[2 + usize::from(p[1].jf)];
            assert_eq!((mismatch.code, mismatch.k), (op::RETURN, KILL));
            assert_eq!((p[2].code, p[2].k), (op::LOAD_WORD, NR_OFFSET));
        }
    }
}

#[test]
fn syscalls_of_another_abi_kill_the_process() {
    for arch in ARCHES {
        let other = ARCHES.into_iter().find(|a| *a != arch).unwrap();
        for options in MODES {
            let p = program(arch, &options);
            for foreign in [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, other.audit_arch(), 0] {
                // read/restart_syscall, mount and an allowed high number alike.
                for nr in [0, number(arch, syscalls::MOUNT), 300] {
                    let data = SeccompData {
                        nr,
                        arch: foreign,
                        args: [0; 6],
                    };
                    assert_eq!(
                        run(&p, &data),
                        Ok(KILL),
                        "{arch:?} nr {nr} from {foreign:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn x32_syscalls_are_killed_on_x86_64_and_minus_one_passes() {
    for options in MODES {
        let x86 = program(SeccompArch::X86_64, &options);
        // x32 read, mount, execve (520) and the largest numbers other than -1.
        for nr in [
            X32_SYSCALL_BIT,
            X32_SYSCALL_BIT | 165,
            X32_SYSCALL_BIT | 520,
            u32::MAX - 1,
        ] {
            assert_eq!(
                verdict(&x86, SeccompArch::X86_64, nr, [0; 6]),
                KILL,
                "{nr:#x}"
            );
        }
        assert_eq!(
            verdict(&x86, SeccompArch::X86_64, NO_SYSCALL, [0; 6]),
            ALLOW
        );
        // aarch64 has no second ABI with the same audit arch: a high number is just unknown.
        let arm = program(SeccompArch::Aarch64, &options);
        assert_eq!(
            verdict(&arm, SeccompArch::Aarch64, X32_SYSCALL_BIT, [0; 6]),
            ALLOW
        );
    }
}

#[test]
fn every_unconditional_rule_fails_with_its_errno_whatever_the_arguments() {
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            for rule in rules(&options) {
                let Action::Fail(errno) = rule.action else {
                    continue;
                };
                let Some(nr) = rule.syscall.number(arch) else {
                    // Only the x86 port syscalls are missing on aarch64.
                    assert!(["iopl", "ioperm"].contains(&rule.syscall.name), "{rule:?}");
                    assert_eq!(arch, SeccompArch::Aarch64);
                    continue;
                };
                for args in [[0; 6], [u64::MAX; 6], with_arg(0, 1)] {
                    let got = verdict(&p, arch, nr, args);
                    assert_eq!(got, RET_ERRNO | errno, "{arch:?} {}", rule.syscall.name);
                }
            }
        }
    }
}

#[test]
fn the_issues_required_syscalls_are_denied_on_both_architectures() {
    let required = [
        "ptrace",
        "mount",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "keyctl",
        "add_key",
    ];
    for options in MODES {
        for name in required {
            let rule = rule(&options, name);
            assert_eq!(rule.action, Action::Fail(EPERM), "{name}");
            for arch in ARCHES {
                let p = program(arch, &options);
                assert_eq!(verdict(&p, arch, number(arch, rule.syscall), [0; 6]), DENY);
            }
        }
    }
}

#[test]
fn terminal_injection_is_denied_and_other_ioctls_are_allowed() {
    const TCGETS: u64 = 0x5401;
    const FIONREAD: u64 = 0x541B;
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            let ioctl = number(arch, syscalls::IOCTL);
            let request = |value: u64| verdict(&p, arch, ioctl, with_arg(1, value));
            assert_eq!(request(TIOCSTI.into()), DENY);
            assert_eq!(request(TIOCLINUX.into()), DENY);
            // The kernel reads only the low 32 bits of the request.
            assert_eq!(request(1 << 32 | u64::from(TIOCSTI)), DENY);
            assert_eq!(request(TCGETS), ALLOW);
            assert_eq!(request(FIONREAD), ALLOW);
            // TIOCSTI's value as the fd or the argument is no request.
            assert_eq!(verdict(&p, arch, ioctl, with_arg(0, TIOCSTI.into())), ALLOW);
            assert_eq!(verdict(&p, arch, ioctl, with_arg(2, TIOCSTI.into())), ALLOW);
        }
    }
}

#[test]
fn clone_and_unshare_may_not_create_namespaces() {
    const SIGCHLD: u32 = 17;
    /// What glibc's `pthread_create` passes (VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|
    /// PARENT_SETTID|CHILD_CLEARTID).
    const THREAD: u32 = 0x003d_0f00;
    const CLONE_FS: u32 = 0x200;
    const CLONE_FILES: u32 = 0x400;
    // (flags, verdict without the option, verdict with deny_user_namespaces)
    let clone_cases = [
        (SIGCHLD, ALLOW, ALLOW),
        (THREAD, ALLOW, ALLOW),
        (CLONE_NEWTIME | SIGCHLD, ALLOW, ALLOW), // 0x80 is part of the exit signal here
        (CLONE_NEWNS | SIGCHLD, DENY, DENY),
        (CLONE_NEWPID, DENY, DENY),
        (CLONE_NEWNET, DENY, DENY),
        (CLONE_NEWIPC, DENY, DENY),
        (CLONE_NEWUTS, DENY, DENY),
        (CLONE_NEWCGROUP, DENY, DENY),
        (CLONE_NEWUSER | SIGCHLD, ALLOW, DENY),
        (CLONE_NEWUSER | CLONE_NEWNS, DENY, DENY),
    ];
    let unshare_cases = [
        (CLONE_FILES, ALLOW, ALLOW),
        (CLONE_FS, ALLOW, ALLOW),
        (CLONE_NEWNS, DENY, DENY),
        (CLONE_NEWTIME, DENY, DENY),
        (CLONE_NEWNET | CLONE_FILES, DENY, DENY),
        (CLONE_NEWUSER, ALLOW, DENY),
    ];
    for arch in ARCHES {
        for (options, column) in MODES.iter().zip([0, 1]) {
            let p = program(arch, options);
            for (syscall, cases) in [
                (syscalls::CLONE, &clone_cases[..]),
                (syscalls::UNSHARE, &unshare_cases[..]),
            ] {
                for &(flags, base, userns) in cases {
                    let expected = [base, userns][column];
                    // High bits of the flags word change nothing.
                    for high in [0, 0xffff_ffff_0000_0000] {
                        let args = with_arg(0, high | u64::from(flags));
                        let got = verdict(&p, arch, number(arch, syscall), args);
                        assert_eq!(
                            got, expected,
                            "{arch:?} {options:?} {} {flags:#x}",
                            syscall.name
                        );
                    }
                }
            }
            let clone3 = verdict(&p, arch, number(arch, syscalls::CLONE3), [0; 6]);
            assert_eq!(
                clone3,
                [ALLOW, NOSYS][column],
                "{arch:?} {options:?} clone3"
            );
            let setns = verdict(&p, arch, number(arch, syscalls::SETNS), [0; 6]);
            assert_eq!(setns, DENY);
        }
    }
}

#[test]
fn personality_may_be_read_and_set_but_not_weakened() {
    const PER_LINUX32: u64 = 0x0008;
    const UNAME26: u64 = 0x0002_0000;
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            let personality = |persona: u64| {
                let nr = number(arch, syscalls::PERSONALITY);
                verdict(&p, arch, nr, with_arg(0, persona))
            };
            for allowed in [PERSONALITY_QUERY.into(), 0, PER_LINUX32, UNAME26] {
                assert_eq!(personality(allowed), ALLOW, "{allowed:#x}");
            }
            for weakening in [ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, READ_IMPLIES_EXEC] {
                assert_eq!(personality(weakening.into()), DENY, "{weakening:#x}");
                assert_eq!(personality(u64::from(weakening) | PER_LINUX32), DENY);
            }
        }
    }
}

#[test]
fn every_syscall_no_rule_names_is_allowed() {
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            let named: Vec<u32> = rules(&options)
                .iter()
                .filter_map(|rule| rule.syscall.number(arch))
                .collect();
            // Every number in use today (the highest is below 500) and then some.
            for nr in (0..1024).filter(|nr| !named.contains(nr)) {
                for args in [[0; 6], [u64::MAX; 6]] {
                    assert_eq!(
                        verdict(&p, arch, nr, args),
                        ALLOW,
                        "{arch:?} {options:?} {nr}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_program_is_well_formed() {
    for arch in ARCHES {
        for options in MODES {
            let p = program(arch, &options);
            assert!(p.len() < BPF_MAXINSNS, "{} instructions", p.len());
            assert_eq!(p.last().map(|insn| insn.code), Some(op::RETURN));
            for (at, insn) in p.iter().enumerate() {
                let targets = match insn.code {
                    op::LOAD_WORD | op::RETURN => vec![],
                    op::JUMP_EQ | op::JUMP_GE | op::JUMP_SET => {
                        vec![insn.jt.into(), insn.jf.into()]
                    }
                    op::JUMP => vec![usize::try_from(insn.k).unwrap()],
                    code => panic!("unexpected opcode {code:#x} at {at}"),
                };
                for offset in targets {
                    assert!(
                        at + 1 + offset < p.len(),
                        "{arch:?}: jump at {at} leaves the program"
                    );
                }
            }
            // Every denied syscall is compared in the dispatch chain, which runs from the
            // syscall number load to the first return.
            let chain_end = p.iter().position(|insn| insn.code == op::RETURN).unwrap();
            let compared: Vec<u32> = p[3..chain_end]
                .iter()
                .filter(|insn| insn.code == op::JUMP_EQ)
                .map(|insn| insn.k)
                .collect();
            let expected: Vec<u32> = rules(&options)
                .iter()
                .filter_map(|rule| rule.syscall.number(arch))
                .collect();
            assert_eq!(compared, expected, "{arch:?} {options:?}");
        }
    }
}

#[test]
fn the_program_is_deterministic_and_only_the_option_changes_it() {
    for arch in ARCHES {
        let base = seccomp_program(arch, &SeccompOptions::default()).unwrap();
        assert_eq!(
            base,
            seccomp_program(arch, &SeccompOptions::default()).unwrap()
        );
        assert_ne!(base, seccomp_program(arch, &USERNS).unwrap());
    }
    assert_ne!(
        seccomp_program(SeccompArch::X86_64, &USERNS).unwrap(),
        seccomp_program(SeccompArch::Aarch64, &USERNS).unwrap()
    );
}

#[test]
fn every_rule_has_a_reason_and_names_a_syscall_once() {
    for options in MODES {
        let rules = rules(&options);
        for (i, rule) in rules.iter().enumerate() {
            assert!(!rule.reason.is_empty(), "{rule:?}");
            let twice = rules[i + 1..].iter().any(|r| r.syscall == rule.syscall);
            assert!(!twice, "{} has two rules", rule.syscall.name);
        }
    }
}

#[test]
fn the_host_architecture_is_supported() {
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        let host = SeccompArch::host().unwrap();
        assert_eq!(cfg!(target_arch = "x86_64"), host == SeccompArch::X86_64);
    } else {
        assert_eq!(SeccompArch::host(), None);
    }
}

/// The libc crate's number of a syscall for the architecture these tests run on.
fn libc_number(name: &str) -> Option<libc::c_long> {
    Some(match name {
        "mount" => libc::SYS_mount,
        "umount2" => libc::SYS_umount2,
        "pivot_root" => libc::SYS_pivot_root,
        "open_tree" => libc::SYS_open_tree,
        "move_mount" => libc::SYS_move_mount,
        "fsopen" => libc::SYS_fsopen,
        "fsconfig" => libc::SYS_fsconfig,
        "fsmount" => libc::SYS_fsmount,
        "fspick" => libc::SYS_fspick,
        "mount_setattr" => libc::SYS_mount_setattr,
        "clone" => libc::SYS_clone,
        "clone3" => libc::SYS_clone3,
        "unshare" => libc::SYS_unshare,
        "setns" => libc::SYS_setns,
        "ptrace" => libc::SYS_ptrace,
        "process_vm_readv" => libc::SYS_process_vm_readv,
        "process_vm_writev" => libc::SYS_process_vm_writev,
        "pidfd_getfd" => libc::SYS_pidfd_getfd,
        "personality" => libc::SYS_personality,
        "bpf" => libc::SYS_bpf,
        "perf_event_open" => libc::SYS_perf_event_open,
        "userfaultfd" => libc::SYS_userfaultfd,
        "io_uring_setup" => libc::SYS_io_uring_setup,
        "io_uring_enter" => libc::SYS_io_uring_enter,
        "io_uring_register" => libc::SYS_io_uring_register,
        "keyctl" => libc::SYS_keyctl,
        "add_key" => libc::SYS_add_key,
        "request_key" => libc::SYS_request_key,
        "kexec_load" => libc::SYS_kexec_load,
        "kexec_file_load" => libc::SYS_kexec_file_load,
        "init_module" => libc::SYS_init_module,
        "finit_module" => libc::SYS_finit_module,
        "delete_module" => libc::SYS_delete_module,
        "reboot" => libc::SYS_reboot,
        "swapon" => libc::SYS_swapon,
        "swapoff" => libc::SYS_swapoff,
        "syslog" => libc::SYS_syslog,
        "acct" => libc::SYS_acct,
        "quotactl" => libc::SYS_quotactl,
        "quotactl_fd" => libc::SYS_quotactl_fd,
        "settimeofday" => libc::SYS_settimeofday,
        "clock_settime" => libc::SYS_clock_settime,
        #[cfg(target_arch = "x86_64")]
        "iopl" => libc::SYS_iopl,
        #[cfg(target_arch = "x86_64")]
        "ioperm" => libc::SYS_ioperm,
        "name_to_handle_at" => libc::SYS_name_to_handle_at,
        "open_by_handle_at" => libc::SYS_open_by_handle_at,
        "lookup_dcookie" => libc::SYS_lookup_dcookie,
        "fanotify_init" => libc::SYS_fanotify_init,
        "ioctl" => libc::SYS_ioctl,
        _ => return None,
    })
}

#[test]
fn syscall_numbers_match_libc_on_this_architecture() {
    let Some(host) = SeccompArch::host() else {
        return; // No filter is built for this architecture; nothing to compare.
    };
    for rule in rules(&USERNS) {
        let name = rule.syscall.name;
        let ours = rule.syscall.number(host).map(libc::c_long::from);
        match libc_number(name) {
            Some(theirs) => assert_eq!(ours, Some(theirs), "{name}"),
            // libc 0.2 has no SYS_open_tree_attr yet; Linux 6.15 gave it 467 on every arch.
            None if name == "open_tree_attr" => assert_eq!(ours, Some(467)),
            None => assert_eq!(ours, None, "{name} has a number here but not in libc"),
        }
    }
}
