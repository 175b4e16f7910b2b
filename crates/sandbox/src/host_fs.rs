//! File operations on a sandbox's host directories that an agent cannot redirect.
//!
//! The agent owns everything inside its workspace and home and may plant symlinks there (to
//! `/etc/passwd`, to `../../other-session`) or swap a directory for a symlink while the runtime
//! works. The runtime usually runs as root, so following such a link would read or overwrite host
//! files. Therefore paths are first checked lexically ([`RelPath`]), then resolved one component
//! at a time with `openat(O_NOFOLLOW)` from a descriptor of the root: **no symlink is ever
//! followed**, not even one pointing back inside the root, and there is no window between
//! checking and opening. Files are opened non-blocking and checked to be regular, so a FIFO
//! planted by the agent cannot hang the runtime. Everything here blocks; callers use
//! `spawn_blocking`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Gid, Mode, OFlags, Uid, CWD};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::error::SandboxError;
use crate::provider::FileStat;

/// Directories deeper than this below a root are not scanned (each level holds a descriptor).
const MAX_SCAN_DEPTH: usize = 128;
/// Read buffer for hashing.
const HASH_CHUNK: usize = 64 * 1024;

/// A checked relative path: not empty, not absolute, at most 4096 bytes, no NUL, and no empty,
/// `.` or `..` component. `/` separates components. Lexical checks only; symlinks are dealt with
/// while resolving.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelPath {
    raw: String,
}

impl RelPath {
    /// The longest path accepted, in bytes (Linux `PATH_MAX`).
    pub const MAX_LEN: usize = 4096;

    /// Checks `path`.
    pub fn parse(path: &str) -> Result<Self, SandboxError> {
        let reason = if path.is_empty() {
            Some("must not be empty")
        } else if path.starts_with('/') {
            Some("must be relative")
        } else if path.len() > Self::MAX_LEN {
            Some("is longer than 4096 bytes")
        } else if path.contains('\0') {
            Some("must not contain NUL")
        } else {
            path.split('/').find_map(|c| match c {
                "" => Some("must not contain empty components (`//` or a trailing `/`)"),
                "." => Some("must not contain `.` components"),
                ".." => Some("must not contain `..` components"),
                _ => None,
            })
        };
        match reason {
            Some(reason) => Err(SandboxError::InvalidPath {
                path: path.to_owned(),
                reason,
            }),
            None => Ok(Self {
                raw: path.to_owned(),
            }),
        }
    }

    /// The path as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Its components, first to last.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.raw.split('/')
    }

    fn split_last(&self) -> (impl Iterator<Item = &str>, &str) {
        let (parents, name) = match self.raw.rsplit_once('/') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, self.raw.as_str()),
        };
        (parents.into_iter().flat_map(|p| p.split('/')), name)
    }
}

/// A host directory that is the root of file operations, and who must own what they create.
#[derive(Clone, Debug)]
pub(crate) struct HostDir {
    path: PathBuf,
    /// Host uid/gid given to created files and directories, so the sandbox user can change
    /// them; `None` keeps the runtime's own.
    owner: Option<(u32, u32)>,
}

impl HostDir {
    pub(crate) fn new(path: PathBuf, owner: Option<(u32, u32)>) -> Self {
        Self { path, owner }
    }

    /// Reads a whole regular file; `None` when it or a parent directory does not exist.
    pub(crate) fn read(&self, rel: &RelPath) -> Result<Option<Vec<u8>>, SandboxError> {
        let (parents, name) = rel.split_last();
        let Some(parent) = self.open_parents(rel, parents, false)? else {
            return Ok(None);
        };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match rustix::fs::openat(&parent, name, flags | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(classify(e, &parent, name, rel)),
        };
        ensure_regular(&fd, rel)?;
        let mut bytes = Vec::new();
        File::from(fd)
            .read_to_end(&mut bytes)
            .map_err(|e| SandboxError::io(format!("reading {}", rel.as_str()), e))?;
        Ok(Some(bytes))
    }

    /// Writes a whole regular file, creating it and its missing parents.
    pub(crate) fn write(&self, rel: &RelPath, bytes: &[u8]) -> Result<(), SandboxError> {
        let (parents, name) = rel.split_last();
        let Some(parent) = self.open_parents(rel, parents, true)? else {
            return Err(SandboxError::InvalidPath {
                path: rel.as_str().to_owned(),
                reason: "a parent is not a directory",
            });
        };
        // No O_TRUNC: the file is truncated only once it is known to be a regular file.
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let mode = Mode::from_raw_mode(0o644);
        let fd = rustix::fs::openat(
            &parent,
            name,
            flags | OFlags::NOCTTY | OFlags::CLOEXEC,
            mode,
        )
        .map_err(|e| classify(e, &parent, name, rel))?;
        ensure_regular(&fd, rel)?;
        let context = || format!("writing {}", rel.as_str());
        rustix::fs::ftruncate(&fd, 0).map_err(|e| SandboxError::io(context(), e.into()))?;
        self.chown(&fd)
            .map_err(|e| SandboxError::io(context(), e))?;
        File::from(fd)
            .write_all(bytes)
            .map_err(|e| SandboxError::io(context(), e))
    }

    /// Removes a file or a symlink (never what it points to). Returns whether it existed.
    pub(crate) fn remove(&self, rel: &RelPath) -> Result<bool, SandboxError> {
        let (parents, name) = rel.split_last();
        let Some(parent) = self.open_parents(rel, parents, false)? else {
            return Ok(false);
        };
        match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(Errno::ISDIR) => Err(SandboxError::NotARegularFile {
                path: rel.as_str().to_owned(),
            }),
            Err(e) => Err(SandboxError::io(
                format!("removing {}", rel.as_str()),
                e.into(),
            )),
        }
    }

    /// Every regular file below the root; see [`crate::Sandbox::scan`].
    pub(crate) fn scan(&self, exclude_prefixes: &[String]) -> Result<Vec<FileStat>, SandboxError> {
        let excludes: Vec<&str> = exclude_prefixes
            .iter()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .collect();
        let root = self.open_root()?;
        let root = Dir::new(root)
            .map_err(|e| SandboxError::io(format!("listing {}", self.path.display()), e.into()))?;
        let mut files = Vec::new();
        // Depth-first with one open directory per level; the prefix ends with '/' below the root.
        let mut stack: Vec<(Dir, String)> = vec![(root, String::new())];
        while let Some((dir, prefix)) = stack.last_mut() {
            let entry = match dir.next() {
                None => {
                    stack.pop();
                    continue;
                }
                Some(Err(e)) => {
                    tracing::warn!(dir = %prefix, error = %e, "scan: cannot list directory, skipped");
                    stack.pop();
                    continue;
                }
                Some(Ok(entry)) => entry,
            };
            let name_bytes = entry.file_name().to_bytes();
            if name_bytes == b"." || name_bytes == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name_bytes) else {
                tracing::warn!(dir = %prefix, "scan: skipped a file name that is not UTF-8");
                continue;
            };
            let rel = format!("{prefix}{name}");
            if is_excluded(&rel, &excludes) {
                continue;
            }
            let Ok(dir_fd) = dir.fd() else { continue };
            match scan_entry(dir_fd, entry.file_name(), &rel) {
                Ok(Scanned::File(stat)) => files.push(stat),
                Ok(Scanned::Dir(sub)) if stack.len() < MAX_SCAN_DEPTH => match Dir::new(sub) {
                    Ok(sub) => stack.push((sub, format!("{rel}/"))),
                    Err(e) => tracing::warn!(path = %rel, error = %e, "scan: skipped"),
                },
                Ok(Scanned::Dir(_)) => {
                    tracing::warn!(path = %rel, "scan: directory nested too deep, skipped");
                }
                Ok(Scanned::Other) => {}
                // The agent may change the tree while it is scanned; skip what vanished or moved.
                Err(e) => tracing::warn!(path = %rel, error = %e, "scan: skipped"),
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn open_root(&self) -> Result<OwnedFd, SandboxError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::openat(CWD, &self.path, flags, Mode::empty())
            .map_err(|e| SandboxError::io(format!("opening {}", self.path.display()), e.into()))
    }

    /// Opens the directory holding `rel`'s last component, walking `parents` without following
    /// symlinks. With `create`, missing directories are made (and owned by `owner`); without,
    /// a missing or non-directory parent gives `None`.
    fn open_parents<'a>(
        &self,
        rel: &RelPath,
        parents: impl Iterator<Item = &'a str>,
        create: bool,
    ) -> Result<Option<OwnedFd>, SandboxError> {
        let mut dir = self.open_root()?;
        for name in parents {
            let next = match open_dir_at(&dir, name) {
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(classify(e, &dir, name, rel)),
                    }
                    let created =
                        open_dir_at(&dir, name).map_err(|e| classify(e, &dir, name, rel))?;
                    self.chown(&created)
                        .map_err(|e| SandboxError::io(format!("creating {}", rel.as_str()), e))?;
                    created
                }
                Err(Errno::NOENT) => return Ok(None),
                // A parent that is a file: nothing to read, and nowhere to write.
                Err(e) => match classify(e, &dir, name, rel) {
                    SandboxError::NotARegularFile { .. } => return Ok(None),
                    other => return Err(other),
                },
                Ok(next) => next,
            };
            dir = next;
        }
        Ok(Some(dir))
    }

    fn chown(&self, fd: &OwnedFd) -> io::Result<()> {
        match self.owner {
            Some((uid, gid)) => {
                let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
                rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(io::Error::from)
            }
            None => Ok(()),
        }
    }
}

enum Scanned {
    File(FileStat),
    Dir(OwnedFd),
    Other,
}

fn scan_entry(dir: impl AsFd, name: &std::ffi::CStr, rel: &str) -> io::Result<Scanned> {
    let stat = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => Ok(Scanned::Dir(open_dir_at(&dir, name)?)),
        FileType::RegularFile => {
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
            let fd = rustix::fs::openat(&dir, name, flags | OFlags::CLOEXEC, Mode::empty())?;
            // Checked again on the descriptor: the entry may have been swapped since statat.
            let stat = rustix::fs::fstat(&fd)?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                return Ok(Scanned::Other);
            }
            let (size, sha256) = hash_file(File::from(fd))?;
            Ok(Scanned::File(FileStat {
                path: rel.to_owned(),
                size,
                sha256,
            }))
        }
        _ => Ok(Scanned::Other),
    }
}

fn hash_file(mut file: File) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn is_excluded(rel: &str, excludes: &[&str]) -> bool {
    excludes.iter().any(|p| {
        rel.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn open_dir_at<P: rustix::path::Arg>(dir: impl AsFd, name: P) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
}

/// Turns a failed open of `name` in `dir` into the error that says why.
fn classify(err: Errno, dir: impl AsFd, name: &str, rel: &RelPath) -> SandboxError {
    let path = rel.as_str().to_owned();
    if let Ok(stat) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind == FileType::Symlink {
            return SandboxError::SymlinkInPath { path };
        }
        if matches!(err, Errno::NOTDIR | Errno::ISDIR | Errno::NXIO) {
            return SandboxError::NotARegularFile { path };
        }
    }
    SandboxError::io(format!("opening {path}"), err.into())
}

fn ensure_regular(fd: &OwnedFd, rel: &RelPath) -> Result<(), SandboxError> {
    let stat = rustix::fs::fstat(fd)
        .map_err(|e| SandboxError::io(format!("inspecting {}", rel.as_str()), e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
        Ok(())
    } else {
        Err(SandboxError::NotARegularFile {
            path: rel.as_str().to_owned(),
        })
    }
}

/// Deletes a directory tree without following symlinks (std's `remove_dir_all` is
/// symlink-safe). If the agent made a directory unwritable and the runtime is not root, the
/// tree's directories are made writable first. Only call this when nothing runs in the tree.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_dirs_writable(path, 0);
            match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
        Err(e) => Err(e),
    }
}

fn make_dirs_writable(dir: &Path, depth: usize) {
    use std::os::unix::fs::PermissionsExt;
    let is_real_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    if !is_real_dir || depth > MAX_SCAN_DEPTH {
        return;
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_dirs_writable(&entry.path(), depth + 1);
        }
    }
}

#[cfg(test)]
#[path = "host_fs_tests.rs"]
mod tests;
