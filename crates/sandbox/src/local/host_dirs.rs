//! The host side of a local sandbox's files: the directories it is made of, the synthetic
//! identity files, the checks that the sandbox's host uid can reach what bubblewrap binds, and a
//! reachable copy of the helper when it cannot.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::SANDBOX_USER;
use crate::bwrap::HOME_DIR;
use crate::error::SandboxError;
use crate::host_fs::remove_tree;
use crate::provider::{labels_match, Labels, SandboxListing};

/// Creates `path` (and parents) if missing and returns its canonical form, so bwrap resolves
/// exactly the directories that were checked.
pub(super) fn prepare_dir(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    if !path.is_absolute() {
        return Err(SandboxError::InvalidConfig(format!(
            "{what} must be an absolute path, got {}",
            path.display()
        )));
    }
    std::fs::create_dir_all(path)
        .and_then(|()| path.canonicalize())
        .map_err(|e| SandboxError::io(format!("preparing {what} {}", path.display()), e))
}

/// Copies the helper binary to `<root_dir>/.helper/`, readable and executable by everyone,
/// unless an identical copy is there already; returns the copy's path.
pub(super) fn copy_helper(helper: &Path, root_dir: &Path) -> Result<PathBuf, SandboxError> {
    let dir = root_dir.join(".helper");
    let name = helper
        .file_name()
        .unwrap_or_else(|| "sandbox-helper".as_ref());
    let copy = dir.join(name);
    let same = |a: &Path, b: &Path| -> bool {
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        len(a).is_some() && len(a) == len(b) && std::fs::read(a).ok() == std::fs::read(b).ok()
    };
    let install = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        if !same(helper, &copy) {
            // Written beside and renamed, so a running sandbox never sees half a binary.
            let partial = dir.join(".partial");
            std::fs::copy(helper, &partial)?;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&partial, &copy)?;
        }
        Ok(())
    };
    install().map_err(|e| {
        SandboxError::io(
            format!("copying the sandbox helper to {}", dir.display()),
            e,
        )
    })?;
    tracing::info!(helper = %copy.display(), "the sandbox helper is copied where sandbox users can reach it");
    Ok(copy)
}

/// Checks that host `uid:gid` may search every directory from `/` down to `dir`, which bwrap
/// needs to bind it when it runs as that user.
pub(super) fn ensure_traversable(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let meta = std::fs::metadata(&current)
            .map_err(|e| format!("cannot inspect {}: {e}", current.display()))?;
        let mode = meta.mode();
        let searchable = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(format!(
                "sandboxes run as host uid {uid}, which cannot enter {} (mode {:o}, owner {}); \
                 keep {} under directories that others may search (`chmod o+x {}`), e.g. \
                 /var/lib/agent-runtime, or set host_user to Runtime",
                current.display(),
                mode & 0o7777,
                meta.uid(),
                dir.display(),
                current.display(),
            ));
        }
    }
    Ok(())
}

/// Lays out `<root_dir>/<id>/` fresh: see the module docs.
pub(super) fn create_host_dirs(
    dir: &Path,
    owner: Option<(u32, u32)>,
    uid: u32,
    gid: u32,
) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() {
        tracing::warn!(path = %dir.display(), "wiping a sandbox left over from an earlier run");
        remove_tree(dir)?;
    }
    std::fs::create_dir(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    for writable in ["workspace", "home"] {
        let path = dir.join(writable);
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        if let Some((host_uid, host_gid)) = owner {
            std::os::unix::fs::chown(&path, Some(host_uid), Some(host_gid))?;
        }
    }
    let etc = dir.join("etc");
    std::fs::create_dir(&etc)?;
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(etc.join("passwd"), passwd_file(uid, gid))?;
    std::fs::write(etc.join("group"), group_file(gid))?;
    for file in ["passwd", "group"] {
        std::fs::set_permissions(etc.join(file), std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// The file in a sandbox's host directory that holds its labels.
const LABELS_FILE: &str = "labels.json";

/// Writes `labels` beside the sandbox's directories (root-only: nothing inside sees it).
pub(super) fn write_labels(dir: &Path, labels: &Labels) -> std::io::Result<()> {
    let path = dir.join(LABELS_FILE);
    std::fs::write(
        &path,
        serde_json::to_vec(labels).map_err(std::io::Error::other)?,
    )?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
}

/// Every sandbox directory under `root` whose labels carry all of `want`. Directories without
/// a readable labels file (made before labels existed) count as unlabelled.
pub(super) fn read_leftovers(root: &Path, want: &Labels) -> std::io::Result<Vec<SandboxListing>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        let labels: Labels = std::fs::read(entry.path().join(LABELS_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if labels_match(&labels, want) {
            found.push(SandboxListing {
                sandbox_id: name.clone(),
                provider_id: name,
                labels,
            });
        }
    }
    found.sort_by(|a, b| a.sandbox_id.cmp(&b.sandbox_id));
    Ok(found)
}

fn passwd_file(uid: u32, gid: u32) -> String {
    let mut text = "root:x:0:0:root:/root:/usr/sbin/nologin\n".to_owned();
    text.push_str(&format!(
        "{SANDBOX_USER}:x:{uid}:{gid}:{SANDBOX_USER}:{HOME_DIR}:/bin/sh\n"
    ));
    if uid != 65534 {
        text.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    }
    text
}

fn group_file(gid: u32) -> String {
    let mut text = format!("root:x:0:\n{SANDBOX_USER}:x:{gid}:\n");
    if gid != 65534 {
        text.push_str("nogroup:x:65534:\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn identity_files() {
        assert_eq!(
            passwd_file(1000, 1000),
            "root:x:0:0:root:/root:/usr/sbin/nologin\n\
             agent:x:1000:1000:agent:/home/agent:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        );
        assert_eq!(
            group_file(1000),
            "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n"
        );
    }

    #[test]
    fn traversal_is_checked_by_mode_bits() {
        let tmp = tempfile::tempdir().unwrap();
        let inner = tmp.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        set(tmp.path(), 0o711);
        set(&tmp.path().join("a"), 0o700);
        let err = ensure_traversable(&inner, 54321, 54321).unwrap_err();
        assert!(
            err.contains("cannot enter") && err.contains("/a (mode 700"),
            "{err}"
        );
        set(&tmp.path().join("a"), 0o701);
        assert_eq!(ensure_traversable(&inner, 54321, 54321), Ok(()));
    }
}
