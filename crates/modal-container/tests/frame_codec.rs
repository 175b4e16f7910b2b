//! The frame codec: every kind round-trips, split anywhere; bad input is refused.

use agent_runtime_modal_container::frame::*;
use pretty_assertions::assert_eq;

fn every_kind() -> Vec<Frame> {
    vec![
        Frame::Start {
            exec: 7,
            spec: ExecSpec {
                argv: vec!["sh".into(), "-c".into(), "echo é".into()],
                env: vec![("A".into(), "1".into())],
                cwd: Some("/workspace".into()),
            },
        },
        Frame::Stdin {
            exec: 7,
            data: b"in\0put".to_vec(),
        },
        Frame::StdinEof { exec: 7 },
        Frame::Kill { exec: 3, signal: 9 },
        Frame::KillAll,
        Frame::Ready,
        Frame::StartFailed {
            exec: 1,
            message: "No such file".into(),
        },
        Frame::Stdout {
            exec: 1,
            data: vec![0xff, 0, 1],
        },
        Frame::Stderr {
            exec: 1,
            data: Vec::new(),
        },
        Frame::StdoutEof { exec: 1 },
        Frame::StderrEof { exec: 1 },
        Frame::Exited {
            exec: 0,
            status: ExitStatus::Code(-3),
        },
        Frame::Exited {
            exec: 4_000_000_000,
            status: ExitStatus::Signal(15),
        },
    ]
}

#[test]
fn every_frame_round_trips_when_fed_byte_by_byte() {
    let frames = every_kind();
    let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
    let mut decoder = Decoder::new();
    let mut decoded = Vec::new();
    for byte in bytes {
        decoder.feed(&[byte]);
        while let Some(frame) = decoder.next_frame().unwrap() {
            decoded.push(frame);
        }
    }
    assert_eq!(decoded, frames);
    assert_eq!(decoder.pending(), 0);
}

#[test]
fn frames_fed_at_once_come_out_in_order() {
    let frames = every_kind();
    let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
    let mut decoder = Decoder::new();
    decoder.feed(&bytes);
    let decoded: Vec<Frame> = std::iter::from_fn(|| decoder.next_frame().unwrap()).collect();
    assert_eq!(decoded, frames);
}

#[test]
fn wire_form_of_an_exit() {
    let bytes = encode(&Frame::Exited {
        exec: 2,
        status: ExitStatus::Code(3),
    });
    assert_eq!(bytes, vec![0, 0, 0, 9, 16, 0, 0, 0, 2, 0, 0, 0, 3]);
}

#[test]
fn corrupt_input_is_an_error() {
    let mut decoder = Decoder::new();
    decoder.feed(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::TooLong(u32::MAX as usize))
    );

    let mut decoder = Decoder::new();
    decoder.feed(&[0, 0, 0, 5, 99, 0, 0, 0, 0]);
    assert_eq!(decoder.next_frame(), Err(FrameError::UnknownKind(99)));

    let mut decoder = Decoder::new();
    decoder.feed(&[0, 0, 0, 6, 16, 0, 0, 0, 0, 1]);
    assert_eq!(decoder.next_frame(), Err(FrameError::Truncated(16)));

    let mut decoder = Decoder::new();
    decoder.feed(&[0, 0, 0, 2, 1, 0]);
    assert_eq!(decoder.next_frame(), Err(FrameError::Truncated(1)));
}
