//! The numbers of the syscalls the filter names, on each architecture.
//!
//! x86_64 numbers are those of the kernel's `arch/x86/entry/syscalls/syscall_64.tbl`; aarch64
//! uses the generic table (`include/uapi/asm-generic/unistd.h`). From 424 on, every
//! architecture shares one numbering. The unit tests check this table against the `libc`
//! crate's `SYS_*` constants for the architecture they run on.

use super::SeccompArch;

/// A syscall and its number on each architecture; `None` where the architecture has no such
/// syscall (the filter then has nothing to do for it there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Syscall {
    pub name: &'static str,
    pub x86_64: Option<u32>,
    pub aarch64: Option<u32>,
}

impl Syscall {
    const fn both(name: &'static str, x86_64: u32, aarch64: u32) -> Self {
        Self {
            name,
            x86_64: Some(x86_64),
            aarch64: Some(aarch64),
        }
    }

    const fn x86_64_only(name: &'static str, x86_64: u32) -> Self {
        Self {
            name,
            x86_64: Some(x86_64),
            aarch64: None,
        }
    }

    /// The number of this syscall on `arch`.
    pub fn number(self, arch: SeccompArch) -> Option<u32> {
        match arch {
            SeccompArch::X86_64 => self.x86_64,
            SeccompArch::Aarch64 => self.aarch64,
        }
    }
}

// Mounts and the root directory.
pub(super) const MOUNT: Syscall = Syscall::both("mount", 165, 40);
pub(super) const UMOUNT2: Syscall = Syscall::both("umount2", 166, 39);
pub(super) const PIVOT_ROOT: Syscall = Syscall::both("pivot_root", 155, 41);
pub(super) const OPEN_TREE: Syscall = Syscall::both("open_tree", 428, 428);
pub(super) const MOVE_MOUNT: Syscall = Syscall::both("move_mount", 429, 429);
pub(super) const FSOPEN: Syscall = Syscall::both("fsopen", 430, 430);
pub(super) const FSCONFIG: Syscall = Syscall::both("fsconfig", 431, 431);
pub(super) const FSMOUNT: Syscall = Syscall::both("fsmount", 432, 432);
pub(super) const FSPICK: Syscall = Syscall::both("fspick", 433, 433);
pub(super) const MOUNT_SETATTR: Syscall = Syscall::both("mount_setattr", 442, 442);
/// Linux 6.15.
pub(super) const OPEN_TREE_ATTR: Syscall = Syscall::both("open_tree_attr", 467, 467);

// Namespaces and processes.
pub(super) const CLONE: Syscall = Syscall::both("clone", 56, 220);
pub(super) const CLONE3: Syscall = Syscall::both("clone3", 435, 435);
pub(super) const UNSHARE: Syscall = Syscall::both("unshare", 272, 97);
pub(super) const SETNS: Syscall = Syscall::both("setns", 308, 268);
pub(super) const PTRACE: Syscall = Syscall::both("ptrace", 101, 117);
pub(super) const PROCESS_VM_READV: Syscall = Syscall::both("process_vm_readv", 310, 270);
pub(super) const PROCESS_VM_WRITEV: Syscall = Syscall::both("process_vm_writev", 311, 271);
pub(super) const PIDFD_GETFD: Syscall = Syscall::both("pidfd_getfd", 438, 438);
pub(super) const PERSONALITY: Syscall = Syscall::both("personality", 135, 92);

// Kernel attack surface.
pub(super) const BPF: Syscall = Syscall::both("bpf", 321, 280);
pub(super) const PERF_EVENT_OPEN: Syscall = Syscall::both("perf_event_open", 298, 241);
pub(super) const USERFAULTFD: Syscall = Syscall::both("userfaultfd", 323, 282);
pub(super) const IO_URING_SETUP: Syscall = Syscall::both("io_uring_setup", 425, 425);
pub(super) const IO_URING_ENTER: Syscall = Syscall::both("io_uring_enter", 426, 426);
pub(super) const IO_URING_REGISTER: Syscall = Syscall::both("io_uring_register", 427, 427);
pub(super) const KEYCTL: Syscall = Syscall::both("keyctl", 250, 219);
pub(super) const ADD_KEY: Syscall = Syscall::both("add_key", 248, 217);
pub(super) const REQUEST_KEY: Syscall = Syscall::both("request_key", 249, 218);

// The machine as a whole.
pub(super) const KEXEC_LOAD: Syscall = Syscall::both("kexec_load", 246, 104);
pub(super) const KEXEC_FILE_LOAD: Syscall = Syscall::both("kexec_file_load", 320, 294);
pub(super) const INIT_MODULE: Syscall = Syscall::both("init_module", 175, 105);
pub(super) const FINIT_MODULE: Syscall = Syscall::both("finit_module", 313, 273);
pub(super) const DELETE_MODULE: Syscall = Syscall::both("delete_module", 176, 106);
pub(super) const REBOOT: Syscall = Syscall::both("reboot", 169, 142);
pub(super) const SWAPON: Syscall = Syscall::both("swapon", 167, 224);
pub(super) const SWAPOFF: Syscall = Syscall::both("swapoff", 168, 225);
pub(super) const SYSLOG: Syscall = Syscall::both("syslog", 103, 116);
pub(super) const ACCT: Syscall = Syscall::both("acct", 163, 89);
pub(super) const QUOTACTL: Syscall = Syscall::both("quotactl", 179, 60);
pub(super) const QUOTACTL_FD: Syscall = Syscall::both("quotactl_fd", 443, 443);
pub(super) const SETTIMEOFDAY: Syscall = Syscall::both("settimeofday", 164, 170);
pub(super) const CLOCK_SETTIME: Syscall = Syscall::both("clock_settime", 227, 112);
pub(super) const IOPL: Syscall = Syscall::x86_64_only("iopl", 172);
pub(super) const IOPERM: Syscall = Syscall::x86_64_only("ioperm", 173);

// Files by handle or cookie, and file-system-wide watches.
pub(super) const NAME_TO_HANDLE_AT: Syscall = Syscall::both("name_to_handle_at", 303, 264);
pub(super) const OPEN_BY_HANDLE_AT: Syscall = Syscall::both("open_by_handle_at", 304, 265);
pub(super) const LOOKUP_DCOOKIE: Syscall = Syscall::both("lookup_dcookie", 212, 18);
pub(super) const FANOTIFY_INIT: Syscall = Syscall::both("fanotify_init", 300, 262);

// Terminals.
pub(super) const IOCTL: Syscall = Syscall::both("ioctl", 16, 29);
