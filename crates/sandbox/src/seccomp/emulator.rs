//! Test-only: runs a filter over one `struct seccomp_data` as the kernel would, so unit tests
//! can ask what the program answers to any syscall, on any architecture, with any arguments.
//! It knows exactly the instructions [`super::bpf`] emits and refuses anything else.

use super::bpf::{op, SockFilter};

/// The input of a seccomp filter (`linux/seccomp.h`); the instruction pointer is left at 0.
#[derive(Clone, Copy, Debug)]
pub(super) struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at `offset` of the little-endian struct, as `BPF_LD | BPF_W | BPF_ABS`
    /// reads it; `None` outside the struct or unaligned (the kernel's checker refuses those).
    fn word(&self, offset: u32) -> Option<u32> {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend(self.nr.to_le_bytes());
        bytes.extend(self.arch.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        for arg in self.args {
            bytes.extend(arg.to_le_bytes());
        }
        let offset = usize::try_from(offset).ok()?;
        if offset % 4 != 0 {
            return None;
        }
        let word = bytes.get(offset..offset + 4)?;
        Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
    }
}

/// The verdict (`SECCOMP_RET_*`) `program` returns for `data`, or why it cannot run.
pub(super) fn run(program: &[SockFilter], data: &SeccompData) -> Result<u32, String> {
    let mut accumulator = 0u32;
    let mut pc = 0usize;
    loop {
        let insn = program
            .get(pc)
            .ok_or_else(|| format!("ran off the program at {pc}"))?;
        let taken = |condition: bool| usize::from(if condition { insn.jt } else { insn.jf });
        pc += 1 + match insn.code {
            op::LOAD_WORD => {
                accumulator = data
                    .word(insn.k)
                    .ok_or_else(|| format!("bad load offset {} at {}", insn.k, pc))?;
                0
            }
            op::JUMP_EQ => taken(accumulator == insn.k),
            op::JUMP_GE => taken(accumulator >= insn.k),
            op::JUMP_SET => taken(accumulator & insn.k != 0),
            op::JUMP => usize::try_from(insn.k).map_err(|e| e.to_string())?,
            op::RETURN => return Ok(insn.k),
            code => return Err(format!("unknown opcode {code:#x} at {pc}")),
        };
    }
}
