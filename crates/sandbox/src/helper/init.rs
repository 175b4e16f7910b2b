//! `init`: inside the sandbox. Binds the loopback bridges, starts the program, relays
//! connections from each bridge port to its unix socket until the program exits, then exits with
//! the program's status.
//!
//! Plain threads and blocking sockets: a sandbox has a handful of connections (the agent's
//! model API stream, a package download), and the helper stays small and starts in a
//! millisecond. Two threads per connection, one per direction; a direction that ends shuts down
//! the write half of the other side, so half-closed HTTP exchanges work.

use std::ffi::OsString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use super::args::InitArgs;
use super::HelperError;

/// How long an accept loop pauses after an error (e.g. the sandbox ran out of file
/// descriptors), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Binds, runs, relays; returns the program's status as an exit code.
pub(crate) fn init(args: &InitArgs, command: &[OsString]) -> Result<ExitCode, HelperError> {
    let mut listeners = Vec::new();
    for bridge in &args.bridges {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, bridge.port))
            .map_err(|e| HelperError::io(format!("binding 127.0.0.1:{}", bridge.port), &e))?;
        listeners.push((v4, bridge.socket.clone()));
        // Best effort: a namespace without IPv6 has no ::1, and clients are pointed at 127.0.0.1.
        if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, bridge.port)) {
            listeners.push((v6, bridge.socket.clone()));
        }
    }
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| HelperError::usage("missing PROGRAM"))?;
    let mut child = Command::new(program)
        .args(rest)
        .spawn()
        .map_err(|e| HelperError::exec(program, &e))?;
    for (listener, socket) in listeners {
        std::thread::spawn(move || accept_loop(&listener, &socket));
    }
    let status = child
        .wait()
        .map_err(|e| HelperError::io("waiting for the program", &e))?;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => i32::from(super::EXIT_HELPER_FAILED),
    };
    Ok(ExitCode::from(
        u8::try_from(code & 0xff).unwrap_or(super::EXIT_HELPER_FAILED),
    ))
}

fn accept_loop(listener: &TcpListener, socket: &Path) {
    loop {
        match listener.accept() {
            Ok((client, _)) => {
                let socket = socket.to_path_buf();
                std::thread::spawn(move || relay(client, &socket));
            }
            Err(_) => std::thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

/// Relays one connection both ways; returns when both directions have ended.
fn relay(client: TcpStream, socket: &Path) {
    let Ok(upstream) = UnixStream::connect(socket) else {
        // The runtime is gone or refuses: the client sees the connection close.
        return;
    };
    let _ = client.set_nodelay(true);
    let (Ok(client_read), Ok(upstream_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let outbound = std::thread::spawn(move || {
        copy_then_shutdown(client_read, upstream_write, |s| s.shutdown(Shutdown::Write));
    });
    copy_then_shutdown(upstream, client, |s| s.shutdown(Shutdown::Write));
    let _ = outbound.join();
}

fn copy_then_shutdown<R: io::Read, W: io::Write>(
    mut from: R,
    mut to: W,
    shutdown: impl FnOnce(&W) -> io::Result<()>,
) {
    let _ = io::copy(&mut from, &mut to);
    let _ = shutdown(&to);
}
