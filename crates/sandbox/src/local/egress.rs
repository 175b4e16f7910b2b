//! The unix socket through which a local sandbox reaches the runtime's egress proxy.
//!
//! One socket per sandbox, in the sandbox's own host directory, owned by the sandbox's host uid
//! and reachable by nobody else (mode 0600 in a 0700 directory), bound into the sandbox at
//! [`super::EGRESS_SOCKET_INSIDE`]. Every connection is handed to the request's
//! [`EgressHandler`]; the socket identifies the sandbox, so the handler needs no credentials
//! from the client. Accepting and every connection end when the sandbox is destroyed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixListener;

use super::sandbox::LocalSandbox;
use crate::error::SandboxError;
use crate::provider::EgressHandler;

/// The socket, relative to the sandbox's host directory.
pub(super) const SOCKET_ON_HOST: &str = "run/egress.sock";

/// Creates `run/` and binds the socket in `host_dir`, owned by `owner` when given.
pub(super) fn bind(
    host_dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<UnixListener, SandboxError> {
    let run = host_dir.join("run");
    let socket = host_dir.join(SOCKET_ON_HOST);
    let prepare = || -> std::io::Result<UnixListener> {
        std::fs::create_dir(&run)?;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))?;
        let listener = UnixListener::bind(&socket)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&run, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&socket, Some(uid), Some(gid))?;
        }
        Ok(listener)
    };
    prepare().map_err(|e| SandboxError::io(format!("binding {}", socket.display()), e))
}

/// Accepts connections until the sandbox goes away, each served by `handler` in a task of the
/// sandbox's own.
pub(super) fn serve(
    sandbox: &LocalSandbox,
    listener: UnixListener,
    handler: Arc<dyn EgressHandler>,
) {
    let cancel = sandbox.cancel.clone();
    let tasks = sandbox.tasks.clone();
    let sandbox_id = sandbox.id.clone();
    sandbox.tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let (handler, cancel) = (handler.clone(), cancel.clone());
                    tasks.spawn(async move {
                        tokio::select! {
                            () = cancel.cancelled() => {}
                            () = handler.handle(Box::new(stream)) => {}
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%sandbox_id, error = %e, "accepting an egress connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
}
