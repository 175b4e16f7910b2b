//! One local sandbox: bubblewrap processes over its host directories.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::kill::{resume_bwrap, stop_bwrap_and_kill_sandbox};
use super::uids::UidLease;
use crate::bwrap::{bwrap_launch_spec, BwrapPolicy, HOME_DIR, TOOLS_DIR, WORKSPACE_DIR};
use crate::cgroup::SandboxCgroup;
use crate::error::SandboxError;
use crate::helper::{init_spec, launch_spec, Bridge, HelperProgram, InitArgs, LaunchArgs};
use crate::helper::{Rlimit, RlimitKind};
use crate::host_fs::{remove_tree, HostDir, RelPath};
use crate::launch_spec::LaunchSpec;
use crate::limits::SandboxLimits;
use crate::live_ids::LiveSandbox;
use crate::provider::{ExitInfo, FileStat, LimitHit, ProcessHandle, Root, Sandbox, SandboxProcess};

/// How long `destroy` waits for killed processes to be reaped before deleting files anyway.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long bwrap gets to notice its killed sandbox and exit before it is killed too.
const BWRAP_EXIT_GRACE: Duration = Duration::from_secs(2);

pub(super) struct LocalSandbox {
    pub(super) id: String,
    /// `<root_dir>/<id>`, deleted by `destroy`.
    pub(super) host_dir: PathBuf,
    pub(super) workspace: HostDir,
    pub(super) home: HostDir,
    /// The complete bubblewrap policy of this sandbox.
    pub(super) policy: BwrapPolicy,
    pub(super) helper: HelperProgram,
    /// Loopback ports inside relayed to sockets bound in (the egress proxy's).
    pub(super) bridges: Vec<Bridge>,
    /// The seccomp program handed to bwrap as fd 3.
    pub(super) seccomp_file: Option<PathBuf>,
    pub(super) limits: SandboxLimits,
    /// The sandbox's own host uid and gid, when the runtime switches to one.
    pub(super) host_ids: Option<(u32, u32)>,
    /// Holds `host_ids` for this sandbox. Each process's owner task holds it too, so the uid is
    /// free again only once the sandbox is gone and every process of it has been reaped.
    pub(super) uid_lease: Option<Arc<UidLease>>,
    /// The cgroup every process of the sandbox is born in; taken and removed by `destroy`
    /// (dropped, it removes itself).
    pub(super) cgroup: Arc<Mutex<Option<SandboxCgroup>>>,
    /// Out-of-memory kills in that cgroup.
    pub(super) oom: OomWatch,
    /// Base environment plus the request's extra environment.
    pub(super) env: BTreeMap<String, String>,
    /// Parent of every process's kill token: cancelling it kills all of them.
    pub(super) cancel: CancellationToken,
    /// The tasks that own and reap the processes.
    pub(super) tasks: TaskTracker,
    pub(super) destroyed: AtomicBool,
}

impl LiveSandbox for LocalSandbox {
    fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }
}

impl LocalSandbox {
    fn ensure_alive(&self) -> Result<(), SandboxError> {
        if self.is_destroyed() {
            return Err(SandboxError::Destroyed {
                id: self.id.clone(),
            });
        }
        Ok(())
    }

    fn dir(&self, root: Root) -> HostDir {
        match root {
            Root::Workspace => self.workspace.clone(),
            Root::Home => self.home.clone(),
        }
    }

    /// The spec that is actually executed on the host for `spec`, innermost first: the
    /// helper's `init` (when there are bridges), bubblewrap, the helper's `launch`.
    fn host_spec(&self, spec: LaunchSpec) -> (LaunchSpec, LaunchSpec) {
        let mut env = self.env.clone();
        env.extend(spec.env);
        let inner = LaunchSpec { env, ..spec };
        let in_sandbox = if self.bridges.is_empty() {
            inner.clone()
        } else {
            let args = InitArgs {
                bridges: self.bridges.clone(),
            };
            init_spec(&self.helper.prefix_args, &args, inner.clone())
        };
        let bwrap = bwrap_launch_spec(&self.policy, &in_sandbox);
        let cgroup_procs = self
            .cgroup
            .lock()
            .ok()
            .and_then(|cgroup| cgroup.as_ref().map(SandboxCgroup::procs_files))
            .unwrap_or_default();
        let launch = LaunchArgs {
            cgroup_procs,
            rlimits: rlimits(&self.limits, self.host_ids.is_some()),
            user: self.host_ids,
            seccomp: self.seccomp_file.clone(),
        };
        (inner, launch_spec(&self.helper, &launch, bwrap))
    }
}

/// How often the cgroup's out-of-memory counter is read.
const OOM_POLL: Duration = Duration::from_millis(250);

/// Out-of-memory kills in a sandbox's cgroup, as its monitor task saw them, and how many
/// [`Sandbox::limit_hit`] has reported.
pub(super) struct OomWatch {
    /// Whether the cgroup counts OOM kills at all.
    enabled: bool,
    seen: watch::Sender<u64>,
    reported: AtomicU64,
}

impl OomWatch {
    pub(super) fn new(cgroup: Option<&SandboxCgroup>) -> Self {
        let baseline = cgroup.and_then(|c| c.oom_kills().ok().flatten());
        OomWatch {
            enabled: baseline.is_some(),
            seen: watch::Sender::new(baseline.unwrap_or(0)),
            reported: AtomicU64::new(baseline.unwrap_or(0)),
        }
    }
}

impl OomWatch {
    /// The event for a count of `kills`, once: `None` when it was reported already.
    fn report(&self, kills: u64) -> Option<LimitHit> {
        let before = self.reported.fetch_max(kills, Ordering::AcqRel);
        (kills > before).then_some(LimitHit::OutOfMemory { kills })
    }
}

impl LocalSandbox {
    /// Starts the task that reads the cgroup's OOM counter until the sandbox goes away.
    pub(super) fn watch_oom(&self) {
        if !self.oom.enabled {
            return;
        }
        let (cgroup, seen, cancel) = (
            self.cgroup.clone(),
            self.oom.seen.clone(),
            self.cancel.clone(),
        );
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(OOM_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                // A read of a small cgroupfs file: microseconds, fine on an async thread.
                let kills = cgroup
                    .lock()
                    .ok()
                    .and_then(|c| c.as_ref().and_then(|c| c.oom_kills().ok().flatten()));
                if let Some(kills) = kills {
                    seen.send_if_modified(|known| {
                        let more = kills > *known;
                        if more {
                            *known = kills;
                        }
                        more
                    });
                }
            }
        });
    }
}

/// The rlimits of `limits`, and no core dumps (an agent's crash would litter the workspace).
/// `RLIMIT_NPROC` counts every task of a host uid, so it is set only when the sandbox has a host
/// uid of its own ([`super::HostUser::Range`]); a shared uid would count the runtime and every
/// other sandbox too.
fn rlimits(limits: &SandboxLimits, own_uid: bool) -> Vec<Rlimit> {
    let mut rlimits = vec![Rlimit::new(RlimitKind::Core, 0)];
    let optional = [
        (RlimitKind::Fsize, limits.file_size_bytes),
        (RlimitKind::Nofile, limits.open_files),
        (RlimitKind::Nproc, limits.pids.filter(|_| own_uid)),
    ];
    for (kind, value) in optional {
        if let Some(value) = value {
            rlimits.push(Rlimit::new(kind, value));
        }
    }
    rlimits
}

/// A dropped sandbox (not destroyed) still kills its processes; its files stay until the id is
/// created again.
impl Drop for LocalSandbox {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[async_trait]
impl Sandbox for LocalSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn workspace_dir(&self) -> &str {
        WORKSPACE_DIR
    }

    fn home_dir(&self) -> &str {
        HOME_DIR
    }

    fn tools_dir(&self) -> &str {
        TOOLS_DIR
    }

    async fn spawn(&self, spec: LaunchSpec) -> Result<SandboxProcess, SandboxError> {
        self.ensure_alive()?;
        let (inner, outer) = self.host_spec(spec);
        tracing::debug!(sandbox_id = %self.id, spec = %inner, "spawning in sandbox");
        let mut cmd = Command::new(&outer.program);
        cmd.args(&outer.args)
            .env_clear()
            .envs(&outer.env)
            .current_dir(&outer.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Spawned from this (runtime) thread on purpose: `--die-with-parent` ties bwrap to the
        // thread that forked it, and tokio's blocking-pool threads exit when idle.
        let mut child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            program: outer.program.clone(),
            source,
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::io(
                "spawning in sandbox",
                std::io::Error::other("stdio pipes missing"),
            ));
        };
        let pid = child.id();
        let kill = self.cancel.child_token();
        let handle_kill = kill.clone();
        let (exit_tx, exit_rx) = watch::channel(None);
        let lease = self.uid_lease.clone();
        self.tasks.spawn(async move {
            own_process(child, kill, exit_tx).await;
            drop(lease);
        });
        Ok(SandboxProcess {
            stdin: Box::pin(stdin),
            stdout: Box::pin(stdout),
            stderr: Box::pin(stderr),
            handle: Box::new(LocalProcess {
                pid,
                kill: handle_kill,
                exit: exit_rx,
            }),
        })
    }

    async fn write_file(&self, root: Root, rel: &str, bytes: &[u8]) -> Result<(), SandboxError> {
        self.ensure_alive()?;
        let (rel, dir, bytes) = (RelPath::parse(rel)?, self.dir(root), bytes.to_vec());
        blocking(move || dir.write(&rel, &bytes)).await
    }

    async fn read_file(&self, root: Root, rel: &str) -> Result<Option<Vec<u8>>, SandboxError> {
        self.ensure_alive()?;
        let (rel, dir) = (RelPath::parse(rel)?, self.dir(root));
        blocking(move || dir.read(&rel)).await
    }

    async fn remove_file(&self, root: Root, rel: &str) -> Result<bool, SandboxError> {
        self.ensure_alive()?;
        let (rel, dir) = (RelPath::parse(rel)?, self.dir(root));
        blocking(move || dir.remove(&rel)).await
    }

    async fn scan(
        &self,
        root: Root,
        exclude_prefixes: &[String],
    ) -> Result<Vec<FileStat>, SandboxError> {
        self.ensure_alive()?;
        let (dir, excludes) = (self.dir(root), exclude_prefixes.to_vec());
        blocking(move || dir.scan(&excludes)).await
    }

    fn proxy_url(&self) -> Option<String> {
        (!self.bridges.is_empty()).then(super::egress_url)
    }

    async fn limit_hit(&self) -> LimitHit {
        let mut seen = self.oom.seen.subscribe();
        loop {
            let kills = *seen.borrow_and_update();
            if let Some(hit) = self.oom.report(kills) {
                return hit;
            }
            if seen.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn check_limits(&self) -> Option<LimitHit> {
        if !self.oom.enabled {
            return None;
        }
        let kills = self
            .cgroup
            .lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(|c| c.oom_kills().ok().flatten()))?;
        self.oom.report(kills)
    }

    async fn destroy(&self) -> Result<(), SandboxError> {
        self.destroyed.store(true, Ordering::Release);
        self.cancel.cancel();
        self.tasks.close();
        if tokio::time::timeout(REAP_TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(sandbox_id = %self.id, "sandbox processes not reaped in time");
        }
        let cgroup = self.cgroup.lock().ok().and_then(|mut c| c.take());
        if let Some(cgroup) = cgroup {
            let removed = blocking(move || {
                cgroup
                    .remove()
                    .map_err(|e| SandboxError::io("removing the cgroup", std::io::Error::other(e)))
            })
            .await;
            if let Err(e) = removed {
                tracing::warn!(sandbox_id = %self.id, "{e}");
            }
        }
        let dir = self.host_dir.clone();
        blocking(move || {
            remove_tree(&dir)
                .map_err(|e| SandboxError::io(format!("removing {}", dir.display()), e))
        })
        .await?;
        tracing::info!(sandbox_id = %self.id, "sandbox destroyed");
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SandboxError> + Send + 'static,
) -> Result<T, SandboxError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SandboxError::io("sandbox file operation", std::io::Error::other(e)))?
}

/// Owns one bwrap child until it is reaped: waits for it, or kills it together with its
/// sandbox (see [`super::kill`]) when `kill` fires (an explicit kill, a dropped handle, or the
/// sandbox going away).
async fn own_process(
    mut child: Child,
    kill: CancellationToken,
    exit: watch::Sender<Option<ExitInfo>>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        () = kill.cancelled() => kill_and_reap(&mut child).await,
    };
    let info = match status {
        Ok(status) => ExitInfo {
            code: status.code(),
            signal: status.signal(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot wait for a sandbox process");
            ExitInfo {
                code: None,
                signal: None,
            }
        }
    };
    exit.send_replace(Some(info));
}

/// Kills bwrap and its sandbox without leaving orphans behind; see [`super::kill`].
async fn kill_and_reap(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    // Not reaped yet (the wait branch did not complete), so the pid is still this child's.
    let Some(pid) = child.id() else {
        return child.wait().await;
    };
    // Polls /proc for a moment, so off the async threads.
    let stopped_and_killed = tokio::task::spawn_blocking(move || stop_bwrap_and_kill_sandbox(pid));
    if stopped_and_killed.await.unwrap_or(false) {
        resume_bwrap(pid);
        if let Ok(status) = tokio::time::timeout(BWRAP_EXIT_GRACE, child.wait()).await {
            return status;
        }
        tracing::warn!(
            pid,
            "bwrap did not exit after its sandbox was killed; killing it"
        );
    }
    if let Err(e) = child.start_kill() {
        tracing::debug!(pid, error = %e, "cannot kill bwrap");
    }
    child.wait().await
}

struct LocalProcess {
    pid: Option<u32>,
    kill: CancellationToken,
    exit: watch::Receiver<Option<ExitInfo>>,
}

#[async_trait]
impl ProcessHandle for LocalProcess {
    fn id(&self) -> Option<u32> {
        self.pid
    }

    async fn wait(&mut self) -> Result<ExitInfo, SandboxError> {
        let lost = || {
            SandboxError::io(
                "waiting for a sandbox process",
                std::io::Error::other("its owner task ended"),
            )
        };
        let exit = self
            .exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| lost())?;
        let info = *exit;
        info.ok_or_else(lost)
    }

    async fn kill(&mut self) -> Result<(), SandboxError> {
        self.kill.cancel();
        self.wait().await.map(|_| ())
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        self.kill.cancel();
    }
}
