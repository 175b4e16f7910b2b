//! A tiny assembler for the classic-BPF subset a seccomp filter needs: load a 32-bit word of
//! `struct seccomp_data`, compare it with a constant and jump forward, return a verdict.
//!
//! Jumps name [`Label`]s; [`Assembler::finish`] resolves them to the 8-bit forward offsets of
//! `struct sock_filter` and refuses anything the kernel's checker would refuse (a backward or
//! too-long jump, an unplaced label, an empty or too-long program, one that can run off its end).

use crate::error::SandboxError;

/// The kernel's limit on the length of a classic-BPF program (`BPF_MAXINSNS`).
pub(super) const BPF_MAXINSNS: usize = 4096;

/// Opcodes (`linux/bpf_common.h`): instruction class | size | mode or operation | source, with
/// `BPF_LD = BPF_W = BPF_K = 0`, `BPF_JMP = 0x05`, `BPF_RET = 0x06`.
pub(super) mod op {
    /// `BPF_LD | BPF_W | BPF_ABS`: load the 32-bit word at a fixed offset of `seccomp_data`.
    pub const LOAD_WORD: u16 = 0x20;
    /// `BPF_JMP | BPF_JEQ | BPF_K`: jump if the accumulator equals `k`.
    pub const JUMP_EQ: u16 = 0x05 | 0x10;
    /// `BPF_JMP | BPF_JGE | BPF_K`: jump if the accumulator is `>= k`, unsigned.
    pub const JUMP_GE: u16 = 0x05 | 0x30;
    /// `BPF_JMP | BPF_JSET | BPF_K`: jump if the accumulator has any bit of `k` set.
    pub const JUMP_SET: u16 = 0x05 | 0x40;
    /// `BPF_JMP | BPF_JA`: jump `k` instructions ahead.
    pub const JUMP: u16 = 0x05;
    /// `BPF_RET | BPF_K`: return the verdict `k`.
    pub const RETURN: u16 = 0x06;
}

/// One instruction, `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl SockFilter {
    /// The size of one encoded instruction.
    pub const SIZE: usize = 8;

    /// Little-endian bytes: the native order of both architectures this crate builds filters
    /// for (x86_64, aarch64), so the result does not depend on the host that builds it.
    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut bytes = [0; Self::SIZE];
        bytes[0..2].copy_from_slice(&self.code.to_le_bytes());
        bytes[2] = self.jt;
        bytes[3] = self.jf;
        bytes[4..8].copy_from_slice(&self.k.to_le_bytes());
        bytes
    }

    /// The inverse of [`Self::to_bytes`]; `None` unless `bytes` is exactly one instruction.
    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; Self::SIZE] = bytes.try_into().ok()?;
        Some(Self {
            code: u16::from_le_bytes([bytes[0], bytes[1]]),
            jt: bytes[2],
            jf: bytes[3],
            k: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        })
    }
}

/// Encodes a whole program as the byte array bwrap's `--seccomp FD` reads.
pub(super) fn encode(program: &[SockFilter]) -> Vec<u8> {
    program.iter().flat_map(|insn| insn.to_bytes()).collect()
}

/// A place in the program a jump can go to, created by [`Assembler::label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Label(usize);

/// Where a conditional jump goes on one of its two branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// The next instruction (offset 0).
    Next,
    /// A label placed further on.
    Label(Label),
}

/// The comparison of a conditional jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Condition {
    Equal,
    GreaterOrEqual,
    AnyBitSet,
}

/// An instruction whose jump offsets are not resolved yet.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Load {
        offset: u32,
    },
    Jump {
        condition: Condition,
        k: u32,
        then: Target,
        otherwise: Target,
    },
    Always {
        to: Label,
    },
    Return {
        verdict: u32,
    },
}

/// Builds a program instruction by instruction; see the module doc.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    code: Vec<Pending>,
    /// The instruction index each label was placed at, by label number.
    placed: Vec<Option<usize>>,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new label, to be placed once with [`Self::place`].
    pub fn label(&mut self) -> Label {
        self.placed.push(None);
        Label(self.placed.len() - 1)
    }

    /// Places `label` at the next instruction emitted.
    pub fn place(&mut self, label: Label) -> Result<(), SandboxError> {
        let slot = &mut self.placed[label.0];
        if slot.is_some() {
            return Err(invalid(format!("label {} placed twice", label.0)));
        }
        *slot = Some(self.code.len());
        Ok(())
    }

    /// Loads the 32-bit word at `offset` of `struct seccomp_data` into the accumulator.
    pub fn load_word(&mut self, offset: u32) {
        self.code.push(Pending::Load { offset });
    }

    /// Compares the accumulator with `k` and goes to `then` or `otherwise`.
    pub fn jump_if(&mut self, condition: Condition, k: u32, then: Target, otherwise: Target) {
        self.code.push(Pending::Jump {
            condition,
            k,
            then,
            otherwise,
        });
    }

    /// Goes to `label` unconditionally.
    pub fn jump(&mut self, label: Label) {
        self.code.push(Pending::Always { to: label });
    }

    /// Ends the filter with `verdict` (a `SECCOMP_RET_*` value).
    pub fn ret(&mut self, verdict: u32) {
        self.code.push(Pending::Return { verdict });
    }

    /// Resolves the jumps and checks the program as the kernel would.
    pub fn finish(self) -> Result<Vec<SockFilter>, SandboxError> {
        if self.code.is_empty() || self.code.len() > BPF_MAXINSNS {
            return Err(invalid(format!(
                "{} instructions (a program has 1 to {BPF_MAXINSNS})",
                self.code.len()
            )));
        }
        if !matches!(self.code.last(), Some(Pending::Return { .. })) {
            return Err(invalid("the last instruction is not a return".to_owned()));
        }
        let offset = |at: usize, target: Target| -> Result<u8, SandboxError> {
            let Target::Label(label) = target else {
                return Ok(0);
            };
            let Some(to) = self.placed[label.0] else {
                return Err(invalid(format!("label {} is never placed", label.0)));
            };
            if to >= self.code.len() {
                return Err(invalid(format!("label {} is past the end", label.0)));
            }
            // Jumps only go forward, counted from the instruction after the jump.
            let distance = to
                .checked_sub(at + 1)
                .ok_or_else(|| invalid(format!("instruction {at} jumps backward to {to}")))?;
            u8::try_from(distance)
                .map_err(|_| invalid(format!("instruction {at} jumps {distance} ahead (max 255)")))
        };
        let mut program = Vec::with_capacity(self.code.len());
        for (at, pending) in self.code.iter().enumerate() {
            program.push(match *pending {
                Pending::Load { offset } => SockFilter {
                    code: op::LOAD_WORD,
                    jt: 0,
                    jf: 0,
                    k: offset,
                },
                Pending::Jump {
                    condition,
                    k,
                    then,
                    otherwise,
                } => SockFilter {
                    code: match condition {
                        Condition::Equal => op::JUMP_EQ,
                        Condition::GreaterOrEqual => op::JUMP_GE,
                        Condition::AnyBitSet => op::JUMP_SET,
                    },
                    jt: offset(at, then)?,
                    jf: offset(at, otherwise)?,
                    k,
                },
                Pending::Always { to } => SockFilter {
                    code: op::JUMP,
                    jt: 0,
                    jf: 0,
                    k: offset(at, Target::Label(to))?.into(),
                },
                Pending::Return { verdict } => SockFilter {
                    code: op::RETURN,
                    jt: 0,
                    jf: 0,
                    k: verdict,
                },
            });
        }
        Ok(program)
    }
}

fn invalid(reason: String) -> SandboxError {
    SandboxError::Seccomp(reason)
}

#[cfg(test)]
#[path = "bpf_tests.rs"]
mod tests;
