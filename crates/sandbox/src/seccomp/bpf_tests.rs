use super::*;
use pretty_assertions::assert_eq;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

fn error_of(result: Result<Vec<SockFilter>, SandboxError>) -> String {
    match result {
        Ok(program) => panic!("assembled {program:?}"),
        Err(SandboxError::Seccomp(reason)) => reason,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn an_instruction_is_eight_little_endian_bytes() {
    let bytes = insn(0x1234, 5, 6, 0x0a0b_0c0d).to_bytes();
    assert_eq!(bytes, [0x34, 0x12, 5, 6, 0x0d, 0x0c, 0x0b, 0x0a]);
    assert_eq!(
        SockFilter::from_bytes(&bytes),
        Some(insn(0x1234, 5, 6, 0x0a0b_0c0d))
    );
    assert_eq!(SockFilter::from_bytes(&bytes[..7]), None);
    let program = [insn(1, 2, 3, 4), insn(5, 6, 7, 8)];
    assert_eq!(
        encode(&program),
        [1, 0, 2, 3, 4, 0, 0, 0, 5, 0, 6, 7, 8, 0, 0, 0]
    );
}

#[test]
fn opcodes_are_the_kernels() {
    // BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, ..., BPF_RET|BPF_K from linux/bpf_common.h.
    assert_eq!(
        [
            op::LOAD_WORD,
            op::JUMP_EQ,
            op::JUMP_GE,
            op::JUMP_SET,
            op::JUMP,
            op::RETURN
        ],
        [0x20, 0x15, 0x35, 0x45, 0x05, 0x06]
    );
}

#[test]
fn labels_become_forward_offsets_from_the_next_instruction() {
    let mut asm = Assembler::new();
    let (yes, no) = (asm.label(), asm.label());
    asm.load_word(4);
    asm.jump_if(Condition::Equal, 7, Target::Next, Target::Label(no));
    asm.jump_if(Condition::AnyBitSet, 8, Target::Label(yes), Target::Next);
    asm.jump(no);
    asm.place(yes).unwrap();
    asm.ret(1);
    asm.place(no).unwrap();
    asm.ret(2);
    assert_eq!(
        asm.finish().unwrap(),
        [
            insn(op::LOAD_WORD, 0, 0, 4),
            insn(op::JUMP_EQ, 0, 3, 7),
            insn(op::JUMP_SET, 1, 0, 8),
            insn(op::JUMP, 0, 0, 1),
            insn(op::RETURN, 0, 0, 1),
            insn(op::RETURN, 0, 0, 2),
        ]
    );
}

#[test]
fn the_longest_jump_is_255_instructions() {
    for (gap, ok) in [(255, true), (256, false)] {
        let mut asm = Assembler::new();
        let far = asm.label();
        asm.jump_if(
            Condition::GreaterOrEqual,
            0,
            Target::Label(far),
            Target::Next,
        );
        for _ in 0..gap {
            asm.ret(0);
        }
        asm.place(far).unwrap();
        asm.ret(1);
        let result = asm.finish();
        if ok {
            assert_eq!(result.unwrap()[0], insn(op::JUMP_GE, 255, 0, 0));
        } else {
            assert_eq!(error_of(result), "instruction 0 jumps 256 ahead (max 255)");
        }
    }
}

#[test]
fn malformed_programs_are_refused() {
    let empty = Assembler::new();
    assert_eq!(
        error_of(empty.finish()),
        "0 instructions (a program has 1 to 4096)"
    );

    let mut long = Assembler::new();
    for _ in 0..=BPF_MAXINSNS {
        long.ret(0);
    }
    assert_eq!(
        error_of(long.finish()),
        "4097 instructions (a program has 1 to 4096)"
    );

    let mut open_end = Assembler::new();
    open_end.load_word(0);
    assert_eq!(
        error_of(open_end.finish()),
        "the last instruction is not a return"
    );

    let mut backward = Assembler::new();
    let start = backward.label();
    backward.place(start).unwrap();
    backward.jump(start);
    backward.ret(0);
    assert_eq!(
        error_of(backward.finish()),
        "instruction 0 jumps backward to 0"
    );

    let mut unplaced = Assembler::new();
    let nowhere = unplaced.label();
    unplaced.jump(nowhere);
    unplaced.ret(0);
    assert_eq!(error_of(unplaced.finish()), "label 0 is never placed");

    let mut past_end = Assembler::new();
    let end = past_end.label();
    past_end.jump(end);
    past_end.ret(0);
    past_end.place(end).unwrap();
    assert_eq!(error_of(past_end.finish()), "label 0 is past the end");

    let mut twice = Assembler::new();
    let label = twice.label();
    twice.place(label).unwrap();
    assert_eq!(
        twice.place(label).map_err(|e| e.to_string()),
        Err("cannot build the seccomp filter: label 0 placed twice".to_owned())
    );
}
