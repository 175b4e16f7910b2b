//! The seccomp filter every sandboxed process runs under: [`seccomp_program`] gives the bytes
//! of a classic-BPF program (an array of `struct sock_filter`) for bubblewrap's `--seccomp FD`;
//! bwrap sets `no_new_privs` and installs it right before it executes the sandboxed command.
//!
//! The program, in order:
//!
//! 1. **Architecture.** A syscall made through another ABI than the one the filter was built
//!    for (i386 `int 0x80` on x86_64, AArch32 on aarch64) kills the process
//!    (`SECCOMP_RET_KILL_PROCESS`): its syscall numbers mean other syscalls, so the deny list
//!    would not hold for it. On x86_64, x32 syscalls (numbers with bit 30 set) are killed too;
//!    only `-1`, the "no syscall" value, passes (the kernel answers it `ENOSYS`).
//! 2. **Deny list.** Each syscall of `rules` fails with `EPERM` (every rule says why), some
//!    only for dangerous arguments (`ioctl` terminal injection, namespace flags of `clone` and
//!    `unshare`, `personality` flags that weaken exploit mitigations). Arguments are compared in
//!    their low 32 bits, all the kernel acts on (`unshare` refuses any flag in the upper half).
//! 3. **Everything else is allowed**; the filter is a deny list, not an allow list, so the agent
//!    CLIs and whatever tools they run keep working. Their path reads only the architecture and
//!    the number, never an argument, so the kernel's seccomp action cache (Linux 5.11+) can
//!    allow them without running the filter.
//!
//! With [`SeccompOptions::deny_user_namespaces`], `clone`/`unshare` with `CLONE_NEWUSER` fail
//! too, and `clone3` fails with `ENOSYS`: its flags live in memory the filter cannot read, and
//! `ENOSYS` makes libc fall back to `clone`, whose flags it can. This is for a bubblewrap without
//! `--disable-userns` (which needs an explicit `--unshare-user`; `--unshare-all` is not enough);
//! where bwrap has it, that is the stronger guard (it also covers `clone3`) and this mode is not
//! needed. Without it, `clone3` can still ask for namespaces; they need
//! capabilities a sandboxed process does not have, or a user namespace, which
//! `--disable-userns` refuses.
//!
//! The filter is assembled by a small in-crate assembler (`bpf`) rather than a crate such as
//! seccompiler: seccompiler has one match action per filter (this one needs `EPERM` and `ENOSYS`)
//! and does not refuse the x32 ABI, and about 200 lines of assembler are easy to test whole.
//!
//! # Layout
//!
//! - this file: the public API, the deny list (`rules`) and the program's shape.
//! - `bpf`: the assembler, labels resolved to `sock_filter` jump offsets.
//! - `syscalls`: syscall numbers per architecture.

mod bpf;
#[cfg(test)]
mod emulator;
mod syscalls;

use bpf::{Assembler, Condition, Label, SockFilter, Target};
use syscalls::Syscall;

use crate::error::SandboxError;

/// The syscall ABI a filter is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeccompArch {
    X86_64,
    Aarch64,
}

impl SeccompArch {
    /// The architecture this binary was built for, if a filter can be built for it.
    pub fn host() -> Option<Self> {
        if cfg!(target_arch = "x86_64") {
            Some(Self::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Self::Aarch64)
        } else {
            None
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel reports in `seccomp_data.arch` for this ABI.
    pub const fn audit_arch(self) -> u32 {
        // EM_* machine number | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
        match self {
            Self::X86_64 => 62 | 0x8000_0000 | 0x4000_0000,
            Self::Aarch64 => 183 | 0x8000_0000 | 0x4000_0000,
        }
    }
}

/// What the filter refuses beyond its fixed deny list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeccompOptions {
    /// Refuse new user namespaces in the filter itself (`CLONE_NEWUSER` in `clone` and
    /// `unshare`; `clone3` answered `ENOSYS`). For a bubblewrap without `--disable-userns`.
    pub deny_user_namespaces: bool,
}

/// The filter's program for `arch`, as the bytes bwrap's `--seccomp FD` reads: each
/// `struct sock_filter` in the (little-endian) byte order of both supported architectures.
///
/// Fails only if the program could not be assembled within classic BPF's limits, which the unit
/// tests rule out for every architecture and option.
pub fn seccomp_program(
    arch: SeccompArch,
    options: &SeccompOptions,
) -> Result<Vec<u8>, SandboxError> {
    Ok(bpf::encode(&assemble(arch, &rules(options))?))
}

/// Verdicts (`SECCOMP_RET_*`, `linux/seccomp.h`).
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// Offsets in `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

/// x86_64 numbers with this bit set are x32 syscalls.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// The number a syscall has when there is none (`-1`).
const NO_SYSCALL: u32 = u32::MAX;

/// `ioctl` requests that push input into a terminal as if it were typed (`asm-generic/ioctls.h`,
/// used by both architectures).
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541C;

/// Namespace flags of `clone` and `unshare` (`linux/sched.h`).
const CLONE_NEWNS: u32 = 0x0002_0000;
const CLONE_NEWCGROUP: u32 = 0x0200_0000;
const CLONE_NEWUTS: u32 = 0x0400_0000;
const CLONE_NEWIPC: u32 = 0x0800_0000;
const CLONE_NEWUSER: u32 = 0x1000_0000;
const CLONE_NEWPID: u32 = 0x2000_0000;
const CLONE_NEWNET: u32 = 0x4000_0000;
/// Only `unshare` (and `clone3`) take it; in `clone` this bit belongs to the exit signal.
const CLONE_NEWTIME: u32 = 0x0000_0080;
/// The namespaces refused in every mode; `CLONE_NEWUSER` is added by the option.
const CLONE_NAMESPACES: u32 =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET;

/// `personality` flags that weaken exploit mitigations (`linux/personality.h`).
const ADDR_NO_RANDOMIZE: u32 = 0x0004_0000;
const MMAP_PAGE_ZERO: u32 = 0x0010_0000;
const READ_IMPLIES_EXEC: u32 = 0x0040_0000;
/// `personality(0xffffffff)` only reads the current persona.
const PERSONALITY_QUERY: u32 = u32::MAX;

/// What the filter does with one syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Always fails with this errno.
    Fail(u32),
    /// Fails with `EPERM` when the arguments pass this check.
    FailIf(ArgCheck),
}

/// A check of one syscall argument (its low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgCheck {
    /// Argument `arg` is one of `values`.
    Is { arg: u32, values: &'static [u32] },
    /// Argument `arg` has any bit of `mask` set and is not `except`.
    HasAny {
        arg: u32,
        mask: u32,
        except: Option<u32>,
    },
}

/// One entry of the deny list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    syscall: Syscall,
    action: Action,
    /// Why it is denied, for readers of this file and of test failures.
    reason: &'static str,
}

const fn deny(syscall: Syscall, reason: &'static str) -> Rule {
    Rule {
        syscall,
        action: Action::Fail(EPERM),
        reason,
    }
}

/// The deny list, in the order the program tests it.
fn rules(options: &SeccompOptions) -> Vec<Rule> {
    use syscalls::*;
    const MOUNTS: &str = "changing mounts could undo the sandbox's read-only and hidden paths";
    const HANDLES: &str = "file handles open files by inode, around the sandbox's mount tree \
                           (the 'shocker' container escape)";
    const KEYS: &str = "kernel keyrings are not per sandbox and a long-standing exploit target";
    const IO_URING: &str = "io_uring is behind many recent kernel exploits; Docker, Android and \
                            ChromeOS turn it off and programs fall back to ordinary syscalls";
    const MODULES: &str = "loads or unloads kernel code";
    const KEXEC: &str = "replaces the running kernel";
    const SWAP: &str = "changes the host's swap";
    const QUOTA: &str = "file system quotas are the host's";
    const CLOCK: &str = "the wall clock is the host's";
    const PORTS: &str = "raw hardware I/O ports";

    let user_namespaces = if options.deny_user_namespaces {
        CLONE_NEWUSER
    } else {
        0
    };
    let mut rules = vec![
        deny(MOUNT, MOUNTS),
        deny(UMOUNT2, MOUNTS),
        deny(PIVOT_ROOT, MOUNTS),
        deny(OPEN_TREE, MOUNTS),
        deny(MOVE_MOUNT, MOUNTS),
        deny(FSOPEN, MOUNTS),
        deny(FSCONFIG, MOUNTS),
        deny(FSMOUNT, MOUNTS),
        deny(FSPICK, MOUNTS),
        deny(MOUNT_SETATTR, MOUNTS),
        deny(OPEN_TREE_ATTR, MOUNTS),
        deny(
            SETNS,
            "joining another namespace would step out of the sandbox's",
        ),
        deny(
            PTRACE,
            "reads and writes other processes' memory and registers (strace and gdb do not \
             work inside)",
        ),
        deny(
            PROCESS_VM_READV,
            "reads another process's memory, as ptrace would",
        ),
        deny(
            PROCESS_VM_WRITEV,
            "writes another process's memory, as ptrace would",
        ),
        deny(
            PIDFD_GETFD,
            "copies a file descriptor out of another process, as ptrace would",
        ),
        deny(
            BPF,
            "loads programs into the kernel, a large and often exploited surface",
        ),
        deny(
            PERF_EVENT_OPEN,
            "kernel profiling: a frequent exploit target and side channel",
        ),
        deny(
            USERFAULTFD,
            "stalls kernel accesses to user memory at will, the usual way to win kernel races",
        ),
        deny(IO_URING_SETUP, IO_URING),
        deny(IO_URING_ENTER, IO_URING),
        deny(IO_URING_REGISTER, IO_URING),
        deny(KEYCTL, KEYS),
        deny(ADD_KEY, KEYS),
        deny(REQUEST_KEY, KEYS),
        deny(KEXEC_LOAD, KEXEC),
        deny(KEXEC_FILE_LOAD, KEXEC),
        deny(INIT_MODULE, MODULES),
        deny(FINIT_MODULE, MODULES),
        deny(DELETE_MODULE, MODULES),
        deny(
            REBOOT,
            "restarts or halts the machine (or the sandbox's pid namespace)",
        ),
        deny(SWAPON, SWAP),
        deny(SWAPOFF, SWAP),
        deny(
            SYSLOG,
            "the kernel log leaks kernel addresses and the host's activity",
        ),
        deny(ACCT, "switches the host's process accounting"),
        deny(QUOTACTL, QUOTA),
        deny(QUOTACTL_FD, QUOTA),
        deny(SETTIMEOFDAY, CLOCK),
        deny(CLOCK_SETTIME, CLOCK),
        deny(IOPL, PORTS),
        deny(IOPERM, PORTS),
        deny(NAME_TO_HANDLE_AT, HANDLES),
        deny(OPEN_BY_HANDLE_AT, HANDLES),
        deny(
            LOOKUP_DCOOKIE,
            "a profiler interface that resolves kernel cookies to host paths",
        ),
        deny(
            FANOTIFY_INIT,
            "file system wide watches see activity beyond the sandbox's tree",
        ),
        Rule {
            syscall: IOCTL,
            action: Action::FailIf(ArgCheck::Is {
                arg: 1,
                values: &[TIOCSTI, TIOCLINUX],
            }),
            reason: "types input into a terminal, which a host shell may then run \
                     (bubblewrap's security notes)",
        },
        Rule {
            syscall: CLONE,
            action: Action::FailIf(ArgCheck::HasAny {
                arg: 0,
                mask: CLONE_NAMESPACES | user_namespaces,
                except: None,
            }),
            reason: "new namespaces open kernel surface meant for privileged users",
        },
        Rule {
            syscall: UNSHARE,
            action: Action::FailIf(ArgCheck::HasAny {
                arg: 0,
                mask: CLONE_NAMESPACES | CLONE_NEWTIME | user_namespaces,
                except: None,
            }),
            reason: "new namespaces open kernel surface meant for privileged users",
        },
        Rule {
            syscall: PERSONALITY,
            action: Action::FailIf(ArgCheck::HasAny {
                arg: 0,
                mask: ADDR_NO_RANDOMIZE | MMAP_PAGE_ZERO | READ_IMPLIES_EXEC,
                except: Some(PERSONALITY_QUERY),
            }),
            reason: "turning off ASLR, mapping page zero or making data executable helps exploits",
        },
    ];
    if options.deny_user_namespaces {
        rules.push(Rule {
            syscall: CLONE3,
            action: Action::Fail(ENOSYS),
            reason: "its flags cannot be read by the filter; ENOSYS makes libc fall back to clone",
        });
    }
    rules
}

/// The labels of the verdicts shared by every rule, placed at the end of the program.
struct Verdicts {
    allow: Label,
    kill: Label,
    /// One `SECCOMP_RET_ERRNO` return per errno used, created on first use.
    errnos: Vec<(u32, Label)>,
}

impl Verdicts {
    fn errno(&mut self, asm: &mut Assembler, errno: u32) -> Label {
        if let Some((_, label)) = self.errnos.iter().find(|(e, _)| *e == errno) {
            return *label;
        }
        let label = asm.label();
        self.errnos.push((errno, label));
        label
    }
}

/// Lays out the program described in the module doc.
fn assemble(arch: SeccompArch, rules: &[Rule]) -> Result<Vec<SockFilter>, SandboxError> {
    let mut asm = Assembler::new();
    let mut verdicts = Verdicts {
        allow: asm.label(),
        kill: asm.label(),
        errnos: Vec::new(),
    };

    // 1. The architecture first: the numbers below mean nothing for another ABI.
    asm.load_word(ARCH_OFFSET);
    asm.jump_if(
        Condition::Equal,
        arch.audit_arch(),
        Target::Next,
        Target::Label(verdicts.kill),
    );
    asm.load_word(NR_OFFSET);
    let x32 = match arch {
        SeccompArch::X86_64 => {
            let x32 = asm.label();
            let to_x32 = Target::Label(x32);
            asm.jump_if(
                Condition::GreaterOrEqual,
                X32_SYSCALL_BIT,
                to_x32,
                Target::Next,
            );
            Some(x32)
        }
        SeccompArch::Aarch64 => None,
    };

    // 2. One comparison per denied syscall; checks of arguments continue in a block below.
    let mut argument_checks = Vec::new();
    for rule in rules {
        let Some(number) = rule.syscall.number(arch) else {
            continue;
        };
        let target = match rule.action {
            Action::Fail(errno) => verdicts.errno(&mut asm, errno),
            Action::FailIf(check) => {
                let block = asm.label();
                argument_checks.push((block, check));
                block
            }
        };
        asm.jump_if(
            Condition::Equal,
            number,
            Target::Label(target),
            Target::Next,
        );
    }
    asm.ret(RET_ALLOW);

    // 3. The argument checks; each ends in a jump to a verdict.
    let allow = Target::Label(verdicts.allow);
    let eperm = Target::Label(verdicts.errno(&mut asm, EPERM));
    for (block, check) in argument_checks {
        asm.place(block)?;
        match check {
            ArgCheck::Is { arg, values } => {
                asm.load_word(low_word_of_arg(arg));
                for &value in values {
                    asm.jump_if(Condition::Equal, value, eperm, Target::Next);
                }
                asm.jump(verdicts.allow);
            }
            ArgCheck::HasAny { arg, mask, except } => {
                asm.load_word(low_word_of_arg(arg));
                if let Some(except) = except {
                    asm.jump_if(Condition::Equal, except, allow, Target::Next);
                }
                asm.jump_if(Condition::AnyBitSet, mask, eperm, allow);
            }
        }
    }
    if let Some(x32) = x32 {
        asm.place(x32)?;
        let kill = Target::Label(verdicts.kill);
        asm.jump_if(Condition::Equal, NO_SYSCALL, allow, kill);
    }

    // 4. The verdicts.
    asm.place(verdicts.allow)?;
    asm.ret(RET_ALLOW);
    for (errno, label) in verdicts.errnos {
        asm.place(label)?;
        asm.ret(RET_ERRNO | errno);
    }
    asm.place(verdicts.kill)?;
    asm.ret(RET_KILL_PROCESS);
    asm.finish()
}

/// The offset of the low 32 bits of syscall argument `arg` (both architectures are
/// little-endian, so they come first).
const fn low_word_of_arg(arg: u32) -> u32 {
    ARGS_OFFSET + 8 * arg
}

#[cfg(test)]
mod tests;
