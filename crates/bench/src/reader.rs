//! The fan-out clients' reader: once every client has connected and subscribed, its socket is
//! taken out of its WebSocket stream and read by one of a few threads (one per core), each
//! polling its share of the sockets with epoll (mio) and cutting WebSocket frames out of what
//! it reads.
//!
//! A task per client (tokio-tungstenite) cost the clients about 20 µs of CPU per delivery, on
//! the same two cores as the server: at a thousand clients that alone filled a core at a
//! steady 50 events/s and the figures measured the clients more than the server. Here a
//! delivery costs one `recv` (often less: everything queued is read at once) and a scan.

use std::io::{ErrorKind, Read};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::fanout::ClientStats;
use crate::frame::scan;
use crate::socket::Socket;

/// What the reader needs of a subscribed client: its socket and the seq it subscribed after.
pub struct Subscribed {
    pub stream: TcpStream,
    pub since: u64,
}

/// Reads every client until it saw the turn end (or a resync, or its socket closed), or until
/// `deadline`. Returns each client's stats, in the order given.
pub fn read_all(
    clients: Vec<Subscribed>,
    threads: usize,
    deadline: Instant,
) -> Result<Vec<ClientStats>> {
    let threads = threads.clamp(1, clients.len().max(1));
    let mut shares: Vec<Vec<(usize, TcpStream, u64)>> = (0..threads).map(|_| Vec::new()).collect();
    for (index, client) in clients.into_iter().enumerate() {
        shares[index % threads].push((index, client.stream, client.since));
    }
    let total: usize = shares.iter().map(Vec::len).sum();
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| std::thread::spawn(move || read_share(share, deadline)))
        .collect();
    let mut stats: Vec<Option<ClientStats>> = (0..total).map(|_| None).collect();
    for handle in handles {
        let read = handle
            .join()
            .map_err(|_| anyhow!("a reader thread panicked"))??;
        for (index, client) in read {
            stats[index] = Some(client);
        }
    }
    Ok(stats.into_iter().map(Option::unwrap_or_default).collect())
}

/// The TCP stream under a subscribed WebSocket, taken out of the async runtime (call it there).
/// Its buffer is empty: clients subscribe at the end of the log before the turn starts (a frame
/// lost here would show as a gap).
pub fn raw_stream(socket: Socket) -> Result<TcpStream> {
    use std::os::fd::AsFd;
    let fd = match socket.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(stream) => stream.as_fd().try_clone_to_owned()?,
        _ => bail!("the benchmark clients use plain TCP"),
    };
    // Tokio takes its copy out of its poller as it drops it; the socket stays open on ours.
    drop(socket);
    let stream = std::net::TcpStream::from(fd);
    stream.set_nonblocking(true)?;
    Ok(TcpStream::from_std(stream))
}

struct Client {
    index: usize,
    stream: TcpStream,
    buffer: Vec<u8>,
    expected: u64,
    stats: ClientStats,
    done: bool,
}

fn read_share(
    share: Vec<(usize, TcpStream, u64)>,
    deadline: Instant,
) -> Result<Vec<(usize, ClientStats)>> {
    let mut poll = Poll::new()?;
    let mut clients = Vec::with_capacity(share.len());
    for (slot, (index, mut stream, since)) in share.into_iter().enumerate() {
        poll.registry()
            .register(&mut stream, Token(slot), Interest::READABLE)?;
        clients.push(Client {
            index,
            stream,
            buffer: Vec::with_capacity(16 * 1024),
            expected: since + 1,
            stats: ClientStats::default(),
            done: false,
        });
    }
    let mut open = clients.len();
    let mut events = Events::with_capacity(1024);
    let mut chunk = vec![0u8; 256 * 1024];
    while open > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Err(e) = poll.poll(&mut events, Some(left)) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        for event in events.iter() {
            let client = &mut clients[event.token().0];
            if client.done {
                continue;
            }
            if drain(client, &mut chunk) {
                client.done = true;
                open -= 1;
                let _ = poll.registry().deregister(&mut client.stream);
            }
        }
    }
    Ok(clients
        .into_iter()
        .map(|client| (client.index, client.stats))
        .collect())
}

/// Reads everything the socket has and records every complete frame; `true` when the client is
/// done (turn completed, resync, or the socket closed or failed).
fn drain(client: &mut Client, chunk: &mut [u8]) -> bool {
    // A socket that ended (or failed) still has its last frames in the buffer: record them.
    let mut ended = false;
    loop {
        match client.stream.read(chunk) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => client.buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    let now = Instant::now();
    let now_us = wall_clock_us();
    let mut consumed = 0;
    let mut done = false;
    while let Some(frame) = next_frame(&client.buffer[consumed..]) {
        consumed += frame.len;
        match frame.opcode {
            OPCODE_TEXT => {
                let text =
                    String::from_utf8_lossy(&client.buffer[consumed - frame.payload_len..consumed]);
                if client
                    .stats
                    .record(scan(&text), &mut client.expected, now, now_us)
                {
                    done = true;
                    break;
                }
            }
            OPCODE_CLOSE => {
                done = true;
                break;
            }
            // Pings (sent only to idle clients) and anything else: nothing to record.
            _ => {}
        }
    }
    client.buffer.drain(..consumed);
    done || ended
}

const OPCODE_TEXT: u8 = 1;
const OPCODE_CLOSE: u8 = 8;

/// One complete server frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub opcode: u8,
    /// Header and payload.
    pub len: usize,
    pub payload_len: usize,
}

/// The frame at the start of `buffer`, if all of it is there. Server frames are unmasked
/// (RFC 6455 §5.1) and the server never fragments a message.
pub fn next_frame(buffer: &[u8]) -> Option<FrameHeader> {
    let first = *buffer.first()?;
    let second = *buffer.get(1)?;
    let (payload_len, header) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*buffer.get(2)?, *buffer.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = buffer.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(bytes)).ok()?, 10)
        }
        short => (usize::from(short), 2),
    };
    let len = header + payload_len;
    (buffer.len() >= len).then_some(FrameHeader {
        opcode: first & 0x0f,
        len,
        payload_len,
    })
}

fn wall_clock_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn frames_of_every_length_encoding() {
        let short = [0x81, 2, b'h', b'i'];
        assert_eq!(
            next_frame(&short),
            Some(FrameHeader {
                opcode: 1,
                len: 4,
                payload_len: 2
            })
        );
        assert_eq!(next_frame(&short[..3]), None);
        let mut medium = vec![0x81, 126, 0x01, 0x00];
        medium.extend(std::iter::repeat_n(b'x', 256));
        assert_eq!(
            next_frame(&medium).map(|f| (f.len, f.payload_len)),
            Some((260, 256))
        );
        assert_eq!(next_frame(&medium[..259]), None);
        let mut long = vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        long.extend(std::iter::repeat_n(b'y', 65_536));
        assert_eq!(
            next_frame(&long).map(|f| (f.opcode, f.len, f.payload_len)),
            Some((1, 65_546, 65_536))
        );
        assert_eq!(next_frame(&[0x89, 0]).map(|f| f.opcode), Some(9));
        assert_eq!(next_frame(&[]), None);
    }

    #[test]
    fn frames_tungstenite_writes_are_read_alike() {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        for size in [5, 300, 70_000] {
            let text = "x".repeat(size);
            let frame = Frame::message(text.clone().into_bytes(), OpCode::Data(Data::Text), true);
            let mut bytes = Vec::new();
            frame.format(&mut bytes).expect("formats");
            let header = next_frame(&bytes).expect("a whole frame");
            assert_eq!(
                (header.opcode, header.len, header.payload_len),
                (OPCODE_TEXT, bytes.len(), size)
            );
            assert_eq!(&bytes[header.len - header.payload_len..], text.as_bytes());
        }
    }

    #[test]
    fn frames_that_arrive_with_the_sockets_end_are_recorded() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        let (mut server, _) = listener.accept().expect("accepts");
        let delta = |seq: u64| {
            let payload = format!(
                r#"{{"type":"event","envelope":{{"sessionId":"s","seq":{seq},"at":"2026-11-29T04:00:00.000Z","event":{{"type":"text_delta","blockId":"b","delta":"x"}}}}}}"#
            );
            crate::direct::websocket_text_frame(payload.as_bytes())
        };
        std::io::Write::write_all(&mut server, &[delta(1), delta(2)].concat()).expect("writes");
        drop(server);
        client.set_nonblocking(true).expect("nonblocking");
        let mut client = Client {
            index: 0,
            stream: TcpStream::from_std(client),
            buffer: Vec::new(),
            expected: 1,
            stats: ClientStats::default(),
            done: false,
        };
        let mut chunk = vec![0u8; 1024];
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        // Both frames and the end are queued once a read returns 0; until then, read again.
        let mut ended = false;
        while !ended && Instant::now() < deadline {
            ended = drain(&mut client, &mut chunk);
        }
        assert!(ended, "the socket's end was seen");
        assert_eq!((client.stats.events, client.stats.deltas), (2, 2));
        assert_eq!(client.stats.gaps, 0);
    }
}
