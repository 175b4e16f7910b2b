//! The bare sender: the floor under the steady fan-out figures, measured in the same run. With
//! no runtime at all it writes the frames a server writes for a streamed reply to as many
//! loopback sockets as the runtime case had subscribers, one `write` per socket per event, at
//! the same pace, and the same reader ([`crate::reader`]) reads them. At a steady rate there is
//! nothing to coalesce, so what a delivery costs here is mostly the kernel's: a loopback
//! `sendto`, with the receiving side's softirq work charged to the sender as it is to the
//! server.
//!
//! Its frames are the runtime's: a real [`Envelope`] (`at` stamped by the runtime's own
//! `now_rfc3339`, as when it appends) holding the `text_delta` event the runtime emits
//! for Claude Code, serialized once per event as a [`ServerFrame::Event`], and the same bytes
//! written to every socket in an unmasked WebSocket text frame (RFC 6455 §5.2); after the last
//! delta a `turn_completed` ends every client. Its sockets are like the server's: `TCP_NODELAY`
//! set (`crates/server/src/server.rs`).
//!
//! CPU: the sending thread's own (`CLOCK_THREAD_CPUTIME_ID`) from the first event to the last
//! write, per event delivered; the clients' is this process's CPU over the same span less the
//! sender's.

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use agent_runtime_core::time::now_rfc3339;
use agent_runtime_protocol::{
    Envelope, ServerFrame, SessionEvent, TurnEndReason, Usage, MAIN_CONVERSATION,
};
use anyhow::{anyhow, bail, Context, Result};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;

use crate::fanout::{
    summarize, FanoutCase, FanoutResult, CONNECTS_IN_FLIGHT, CONNECT_TIMEOUT, RUN_TIMEOUT,
};
use crate::procfs;
use crate::reader::{self, Subscribed};

/// The seq the clients subscribe after: about where the runtime's measured turn starts, after
/// its session's warm-up turn (seqs of the same width make frames of the same size).
const SINCE: u64 = 10;

/// A session id as the runtime makes them (a UUID).
const SESSION_ID: &str = "0f6d2c3e-8b1a-4e5f-9c7d-2a4b6e8f0a1c";

/// The block id Claude Code's translator gives the reply's text block: its message id (the
/// scripted model's `msg_01…`) and the block's index.
const BLOCK_ID: &str = "msg_01a7c3e9f2b4d6a8c0e1f3:0";

/// A turn id as the runtime makes them.
const TURN_ID: &str = "turn_3c9a1f7e5b2d4c6a8e0f1a3b5c7d9e2f";

/// Whether the server-side sockets set `TCP_NODELAY`: as the runtime's do.
const NODELAY: bool = true;

/// The longest one write may block: a client that stopped reading ends the run, not hangs it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects `case.subscribers` loopback clients to a bare sender, streams `case.deltas` text
/// deltas and a `turn_completed` to all of them at the case's pace, and returns what the clients
/// saw (`cpu_us_per_delivery` is the sender's). Blocks: call it off the async runtime.
pub fn measure(case: FanoutCase) -> Result<FanoutResult> {
    let (clients, mut sockets) = connect(case.subscribers, Instant::now() + CONNECT_TIMEOUT)?;
    let own_before = procfs::cpu_time(std::process::id())?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let reading = std::thread::spawn(move || reader::read_all(clients, procfs::cores(), deadline));
    let sent = send_events(&mut sockets, case, deadline);
    // Should sending have failed, closing our ends ends every client still reading.
    if sent.is_err() {
        sockets.clear();
    }
    let clients = reading
        .join()
        .map_err(|_| anyhow!("the reader panicked"))??;
    drop(sockets);
    let sender_cpu = sent?;
    let own = procfs::cpu_time(std::process::id())?.saturating_sub(own_before);
    Ok(summarize(
        case,
        &clients,
        sender_cpu,
        own.saturating_sub(sender_cpu),
    ))
}

/// `count` connected pairs on loopback: the clients (nonblocking, for the reader) and the
/// sender's ends (blocking). Clients connect [`CONNECTS_IN_FLIGHT`] at a time and each batch is
/// accepted before the next connects, so the listen backlog never overflows.
fn connect(count: usize, deadline: Instant) -> Result<(Vec<Subscribed>, Vec<TcpStream>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(count);
    let mut sockets = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = (count - clients.len()).min(CONNECTS_IN_FLIGHT);
        for _ in 0..batch {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("connecting {count} clients took over {CONNECT_TIMEOUT:?}");
            }
            let stream = TcpStream::connect_timeout(&addr, left)
                .with_context(|| format!("connecting client {}", clients.len() + 1))?;
            stream.set_nonblocking(true)?;
            clients.push(Subscribed {
                stream: mio::net::TcpStream::from_std(stream),
                since: SINCE,
            });
        }
        while sockets.len() < clients.len() {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    stream.set_nodelay(NODELAY)?;
                    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
                    sockets.push(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        bail!("accepting {count} clients took over {CONNECT_TIMEOUT:?}");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("accepting a client"),
            }
        }
    }
    Ok((clients, sockets))
}

/// Sends every event to every socket on a fixed schedule (event `i` at `start + i × delay`, so
/// the pace does not drift) and returns this thread's CPU time over it.
fn send_events(sockets: &mut [TcpStream], case: FanoutCase, deadline: Instant) -> Result<Duration> {
    let delay = Duration::from_millis(case.pace.delay_ms());
    let cpu_before = thread_cpu_time();
    let start = Instant::now();
    for i in 0..=case.deltas {
        let due = start + delay * i;
        if due >= deadline {
            bail!("the bare sender would run past {RUN_TIMEOUT:?}");
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let seq = SINCE + 1 + u64::from(i);
        let event = if i < case.deltas {
            text_delta(i)
        } else {
            turn_completed(start.elapsed())
        };
        let frame = event_frame(seq, &now_rfc3339(), event)?;
        for socket in sockets.iter_mut() {
            socket
                .write_all(&frame)
                .with_context(|| format!("writing event {seq} to a client"))?;
        }
    }
    Ok(thread_cpu_time().saturating_sub(cpu_before))
}

/// The `index`-th delta of the reply: the word the scripted model streams as its `index`-th
/// chunk ([`crate::model::streamed`]), as Claude Code's translator emits it.
fn text_delta(index: u32) -> SessionEvent {
    SessionEvent::TextDelta {
        conversation_id: MAIN_CONVERSATION.to_string(),
        block_id: BLOCK_ID.to_string(),
        delta: format!("w{:06} ", index % 1_000_000),
    }
}

/// The end of the turn, as the runtime emits it for a reply that completed.
fn turn_completed(took: Duration) -> SessionEvent {
    SessionEvent::TurnCompleted {
        turn_id: TURN_ID.to_string(),
        reason: TurnEndReason::Completed,
        usage: Usage::default(),
        cost_usd: 0.0,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        error: None,
    }
}

/// The whole WebSocket frame a server sends for event `seq` of the session, appended at `at`.
pub fn event_frame(seq: u64, at: &str, event: SessionEvent) -> Result<Vec<u8>> {
    let envelope = Envelope {
        session_id: SESSION_ID.to_string(),
        seq,
        at: at.to_string(),
        event,
    };
    let json = serde_json::to_vec(&ServerFrame::Event { envelope })?;
    Ok(websocket_text_frame(&json))
}

/// `payload` as one unmasked, unfragmented WebSocket text frame, encoded by tungstenite as the
/// server's socket encodes it.
pub fn websocket_text_frame(payload: &[u8]) -> Vec<u8> {
    let frame = Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true);
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut bytes);
    bytes
}

/// CPU time the calling thread has spent, user + system.
fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::Pace;
    use crate::frame::{scan, EventKind, Frame};
    use crate::reader::next_frame;
    use chrono::Utc;
    use pretty_assertions::assert_eq;

    #[test]
    fn frame_lengths_round_trip_through_the_reader() {
        for (len, header) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65_535, 4),
            (65_536, 10),
            (70_000, 10),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let frame = websocket_text_frame(&payload);
            let read = next_frame(&frame).expect("a whole frame");
            assert_eq!(
                (read.opcode, read.len, read.payload_len),
                (1, header + len, len),
                "payload of {len} bytes"
            );
            assert_eq!(&frame[header..], payload.as_slice());
            assert_eq!(next_frame(&frame[..frame.len() - 1]), None);
        }
    }

    #[test]
    fn a_delta_frame_scans_as_the_runtimes() {
        let frame = event_frame(11, "2026-01-02T03:04:05.678Z", text_delta(0)).expect("frame");
        let read = next_frame(&frame).expect("a whole frame");
        let text = std::str::from_utf8(&frame[read.len - read.payload_len..]).expect("utf-8");
        assert_eq!(
            text,
            r#"{"type":"event","envelope":{"sessionId":"0f6d2c3e-8b1a-4e5f-9c7d-2a4b6e8f0a1c","seq":11,"at":"2026-01-02T03:04:05.678Z","event":{"type":"text_delta","conversationId":"main","blockId":"msg_01a7c3e9f2b4d6a8c0e1f3:0","delta":"w000000 "}}}"#
        );
        assert_eq!(
            scan(text),
            Frame::Event {
                seq: 11,
                at_ms: Some(1_767_323_045_678),
                kind: EventKind::TextDelta
            }
        );
    }

    #[test]
    fn the_last_frame_ends_the_turn_and_now_parses() {
        let frame =
            event_frame(12, &now_rfc3339(), turn_completed(Duration::from_secs(5))).expect("frame");
        let read = next_frame(&frame).expect("a whole frame");
        let text = std::str::from_utf8(&frame[read.len - read.payload_len..]).expect("utf-8");
        let Frame::Event { seq, at_ms, kind } = scan(text) else {
            panic!("an event: {text}");
        };
        assert_eq!((seq, kind), (12, EventKind::TurnCompleted));
        let now_ms = Utc::now().timestamp_millis();
        assert!(at_ms.is_some_and(|at| (now_ms - 60_000..=now_ms).contains(&at)));
    }

    #[test]
    fn every_client_sees_every_event_once() {
        let case = FanoutCase {
            subscribers: 3,
            pace: Pace::MaxRate,
            deltas: 5,
        };
        let result = measure(case).expect("a run");
        assert_eq!(
            (result.deliveries, result.gapped, result.completed),
            (18, 0, 3)
        );
        assert_eq!(result.latency_ms.map(|_| ()), Some(()));
    }
}
