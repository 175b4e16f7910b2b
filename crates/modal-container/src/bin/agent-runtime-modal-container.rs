//! The container init of the Modal stand-in (see `agent_runtime_modal_standin`).
//!
//! Runs as the one long-lived process of a local bubblewrap sandbox and starts the sandbox's
//! entrypoint and every exec as its own children, so that they share one PID namespace, one
//! network namespace and one `/tmp`, as the processes of a Modal container do. It speaks the
//! framed protocol of `agent_runtime_modal_container::frame` on its stdin (commands) and stdout
//! (events); its stderr is its log.
//!
//! Every child runs in a process group of its own (`Kill` signals the group). When its stdin
//! ends (the stand-in went away) it kills every group it started and exits.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use agent_runtime_modal_container::frame::{
    encode, Decoder, ExecNum, ExecSpec, ExitStatus, Frame, OUTPUT_CHUNK,
};
use rustix::process::{kill_process_group, Pid, Signal};

/// The init's stdout, shared by the threads that report events.
type Events = Arc<Mutex<std::io::Stdout>>;

fn main() {
    let events: Events = Arc::new(Mutex::new(std::io::stdout()));
    send(&events, &Frame::Ready);
    let mut stdins: HashMap<ExecNum, mpsc::Sender<Option<Vec<u8>>>> = HashMap::new();
    let groups: Arc<Mutex<HashMap<ExecNum, i32>>> = Arc::default();
    let mut decoder = Decoder::new();
    let mut input = std::io::stdin().lock();
    let mut buf = vec![0u8; OUTPUT_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("modal-container: reading commands: {e}");
                break;
            }
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => handle(frame, &events, &mut stdins, &groups),
                Ok(None) => break,
                Err(e) => {
                    eprintln!("modal-container: bad command stream: {e}");
                    kill_all(&groups);
                    std::process::exit(2);
                }
            }
        }
    }
    kill_all(&groups);
}

fn handle(
    frame: Frame,
    events: &Events,
    stdins: &mut HashMap<ExecNum, mpsc::Sender<Option<Vec<u8>>>>,
    groups: &Arc<Mutex<HashMap<ExecNum, i32>>>,
) {
    match frame {
        Frame::Start { exec, spec } => match start(exec, &spec, events, groups) {
            Ok(stdin) => {
                stdins.insert(exec, stdin);
            }
            Err(message) => send(events, &Frame::StartFailed { exec, message }),
        },
        Frame::Stdin { exec, data } => {
            if let Some(stdin) = stdins.get(&exec) {
                // A closed channel means the child's stdin is gone: the data has nowhere to go.
                let _ = stdin.send(Some(data));
            }
        }
        Frame::StdinEof { exec } => {
            if let Some(stdin) = stdins.remove(&exec) {
                let _ = stdin.send(None);
            }
        }
        Frame::Kill { exec, signal } => {
            let group = lock(groups).get(&exec).copied();
            if let (Some(group), Some(signal)) = (group, Signal::from_named_raw(signal)) {
                signal_group(group, signal);
            }
        }
        Frame::KillAll => kill_all(groups),
        other => eprintln!("modal-container: ignoring unexpected command {other:?}"),
    }
}

/// Starts one child with its pumps; returns where its stdin goes.
fn start(
    exec: ExecNum,
    spec: &ExecSpec,
    events: &Events,
    groups: &Arc<Mutex<HashMap<ExecNum, i32>>>,
) -> Result<mpsc::Sender<Option<Vec<u8>>>, String> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| "empty command".to_string())?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    lock(groups).insert(exec, child.id() as i32);
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    if let Some(stdout) = stdout {
        pump(
            stdout,
            events.clone(),
            move |data| Frame::Stdout { exec, data },
            move || Frame::StdoutEof { exec },
        );
    }
    if let Some(stderr) = stderr {
        pump(
            stderr,
            events.clone(),
            move |data| Frame::Stderr { exec, data },
            move || Frame::StderrEof { exec },
        );
    }
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || feed_stdin(stdin, rx));
    let events = events.clone();
    std::thread::spawn(move || reap(exec, child, &events));
    Ok(tx)
}

/// Copies one output pipe into frames until end of file.
fn pump(
    mut pipe: impl Read + Send + 'static,
    events: Events,
    data_frame: impl Fn(Vec<u8>) -> Frame + Send + 'static,
    eof_frame: impl Fn() -> Frame + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; OUTPUT_CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => send(&events, &data_frame(buf[..n].to_vec())),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        send(&events, &eof_frame());
    });
}

/// Writes what arrives for a child's stdin; `None` (or the channel closing) closes it.
fn feed_stdin(stdin: Option<ChildStdin>, rx: mpsc::Receiver<Option<Vec<u8>>>) {
    let Some(mut stdin) = stdin else { return };
    while let Ok(Some(data)) = rx.recv() {
        if stdin.write_all(&data).and_then(|()| stdin.flush()).is_err() {
            // The child closed its stdin; later data is dropped like a write to a closed pipe.
            return;
        }
    }
}

/// Waits for a child and reports its exit. Its group stays in the table: it may outlive its
/// leader (background jobs) and must stay killable.
fn reap(exec: ExecNum, mut child: Child, events: &Events) {
    let status = match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            (None, None) => ExitStatus::Code(-1),
        },
        Err(e) => {
            eprintln!("modal-container: waiting for exec {exec}: {e}");
            ExitStatus::Code(-1)
        }
    };
    send(events, &Frame::Exited { exec, status });
}

fn kill_all(groups: &Mutex<HashMap<ExecNum, i32>>) {
    for group in lock(groups).values() {
        signal_group(*group, Signal::KILL);
    }
}

fn signal_group(group: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(group) {
        // ESRCH: the whole group is gone already.
        let _ = kill_process_group(pid, signal);
    }
}

fn send(events: &Events, frame: &Frame) {
    let mut out = lock(events);
    if out
        .write_all(&encode(frame))
        .and_then(|()| out.flush())
        .is_err()
    {
        // The stand-in is gone: nothing is left to report to.
        drop(out);
        std::process::exit(1);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
