//! Killing a bwrap process together with the sandbox it started.
//!
//! Killing bwrap alone normally takes its sandbox down: bwrap's init inside the new pid
//! namespace has `PR_SET_PDEATHSIG` (`--die-with-parent`), dies with bwrap, and the kernel then
//! kills every process of that namespace. But the init sets that flag only after it has been
//! cloned, so a bwrap killed in that window leaves its sandbox running, orphaned; and the init,
//! orphaned, becomes a zombie that only the host's pid 1 can reap (never, if the runtime itself
//! is pid 1 of a container). So instead:
//!
//! 1. bwrap is stopped (`SIGSTOP`), which freezes its list of children: a stopped process
//!    neither forks nor reaps, so their pids stay valid;
//! 2. each child, the sandbox's init, is killed; the kernel kills the rest of its namespace;
//! 3. bwrap is resumed, reaps its init and exits with `128 + 9`, and the caller reaps bwrap.
//!    Without children (stopped before it cloned) it is killed outright instead.

use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// How long bwrap may take to stop after `SIGSTOP`; it normally takes microseconds.
const STOP_TIMEOUT: Duration = Duration::from_millis(500);

/// Stops `bwrap_pid` and kills its children (step 1 and 2 above). Returns whether there were
/// any; `bwrap_pid` is left stopped. The caller must not have reaped `bwrap_pid` yet, so the
/// pid cannot have been reused. Reads `/proc`; quick, but blocking.
pub(super) fn stop_bwrap_and_kill_sandbox(bwrap_pid: u32) -> bool {
    let Some(pid) = to_pid(bwrap_pid) else {
        return false;
    };
    if let Err(e) = kill_process(pid, Signal::STOP) {
        tracing::debug!(pid = bwrap_pid, error = %e, "cannot stop bwrap");
    }
    // A signal takes effect asynchronously: bwrap may still be inside `clone` on another CPU.
    // Only once it shows as stopped is its list of children final.
    if !wait_until_stopped(bwrap_pid) {
        tracing::warn!(
            pid = bwrap_pid,
            "bwrap did not stop in time; killing what it has so far"
        );
    }
    let children = child_pids(bwrap_pid);
    for child in &children {
        if let Some(child) = to_pid(*child) {
            let _ = kill_process(child, Signal::KILL);
        }
    }
    !children.is_empty()
}

/// Lets a stopped bwrap run again (step 3 above).
pub(super) fn resume_bwrap(bwrap_pid: u32) {
    if let Some(pid) = to_pid(bwrap_pid) {
        let _ = kill_process(pid, Signal::CONT);
    }
}

/// Waits (briefly, by polling) until `pid` is stopped or dead.
fn wait_until_stopped(pid: u32) -> bool {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| process_state(&stat));
        match state {
            Some('T' | 't' | 'Z' | 'X') | None => return true,
            Some(_) if Instant::now() >= deadline => return false,
            Some(_) => std::thread::sleep(Duration::from_micros(100)),
        }
    }
}

fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

/// Pids whose parent is `parent`, from `/proc/*/stat` (works without CONFIG_PROC_CHILDREN).
fn child_pids(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parent_pid(&stat))
                == Some(parent)
        })
        .collect()
}

/// The fields after `comm` in a `/proc/PID/stat` line, `pid (comm) state ppid ...`; `comm`
/// may itself contain spaces and parentheses.
fn fields_after_comm(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace())
}

fn parent_pid(stat: &str) -> Option<u32> {
    fields_after_comm(stat)?.nth(1)?.parse().ok()
}

fn process_state(stat: &str) -> Option<char> {
    fields_after_comm(stat)?.next()?.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parent_pid_despite_odd_command_names() {
        assert_eq!(parent_pid("42 (bwrap) S 17 42 42 0 -1"), Some(17));
        assert_eq!(parent_pid("43 (a) b (c) R 99 1 1"), Some(99));
        assert_eq!(parent_pid("garbage"), None);
        assert_eq!(process_state("43 (a) b (c) T 99 1 1"), Some('T'));
    }

    #[test]
    fn finds_own_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found = child_pids(std::process::id()).contains(&child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found);
    }
}
