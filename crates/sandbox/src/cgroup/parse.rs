//! Pure parsers of `/proc/self/cgroup` and `/proc/self/mountinfo`, and the mapping of a
//! process's cgroup path onto a mounted cgroup filesystem.
//!
//! Both files are read as text by the caller; nothing here touches the filesystem, so the
//! tests feed real samples (this host's, systemd hosts', containers') and synthetic ones.

use std::path::PathBuf;

use super::error::CgroupError;
use super::support::CgroupVersion;

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controller-list:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcCgroupLine {
    /// 0 for the unified (v2) hierarchy.
    pub hierarchy_id: u32,
    /// v1 controllers bound to this hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The process's cgroup, relative to the root of its cgroup namespace; starts with `/`.
    pub path: String,
}

impl ProcCgroupLine {
    /// Whether this is the unified (v2) hierarchy's line, `0::/path`.
    pub fn is_unified(&self) -> bool {
        self.hierarchy_id == 0 && self.controllers.is_empty()
    }

    /// Whether the v1 controller `name` is bound to this hierarchy.
    pub fn has_controller(&self, name: &str) -> bool {
        self.controllers.iter().any(|c| c == name)
    }
}

/// Parses `/proc/<pid>/cgroup`. Blank lines are skipped; any other malformed line is an error.
pub fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroupLine>, CgroupError> {
    let bad = |line: &str, reason| CgroupError::Parse {
        file: "/proc/self/cgroup",
        line: line.to_owned(),
        reason,
    };
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // A cgroup name may itself contain ':', so only the first two separate fields.
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad(line, "expected `id:controllers:path`"));
        };
        let hierarchy_id = id
            .parse()
            .map_err(|_| bad(line, "hierarchy id is not a number"))?;
        if !path.starts_with('/') {
            return Err(bad(line, "path does not start with `/`"));
        }
        lines.push(ProcCgroupLine {
            hierarchy_id,
            controllers: controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            path: path.to_owned(),
        });
    }
    Ok(lines)
}

/// A mounted cgroup filesystem, from one line of `/proc/<pid>/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// `cgroup` (v1) or `cgroup2`.
    pub version: CgroupVersion,
    /// The cgroup shown at the mount point, relative to the reader's cgroup namespace root:
    /// `/` for a whole hierarchy, `/docker/abc` for a bind mount of part of one, `/..` when
    /// the mount's root lies outside the namespace.
    pub root: String,
    /// Where it is mounted (octal escapes such as `\040` decoded).
    pub mount_point: PathBuf,
    /// Whether the mount is read-only (per-mount `ro`, or a read-only superblock).
    pub read_only: bool,
    /// Superblock options: the controllers of a v1 hierarchy (`memory`, `cpu`, `cpuacct`),
    /// `name=systemd`, `nsdelegate`, ...
    pub super_options: Vec<String>,
}

impl CgroupMount {
    /// Whether this v1 mount serves controller `name` (never true for cgroup2, whose
    /// controllers are listed in `cgroup.controllers` instead).
    pub fn has_controller(&self, name: &str) -> bool {
        self.version == CgroupVersion::V1 && self.super_options.iter().any(|o| o == name)
    }

    /// The directory of cgroup `path` (as in `/proc/self/cgroup`) under this mount, or why
    /// this mount does not show it.
    pub fn dir_of(&self, path: &str) -> Result<PathBuf, String> {
        if self.root == "/" {
            return Ok(self.mount_point.join(path.trim_start_matches('/')));
        }
        if self.root == "/.." || self.root.starts_with("/../") {
            return Err(format!(
                "{} shows a cgroup outside this cgroup namespace (root {})",
                self.mount_point.display(),
                self.root
            ));
        }
        let rest = match path.strip_prefix(self.root.as_str()) {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/'),
            _ => {
                return Err(format!(
                    "{} shows only {}, not the runtime's cgroup {path}",
                    self.mount_point.display(),
                    self.root
                ))
            }
        };
        Ok(if rest.is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(rest)
        })
    }
}

/// Parses the cgroup mounts out of `/proc/<pid>/mountinfo`, in mount order; other lines are
/// only checked for the ` - ` separator. When several mounts share a mount point, only the
/// last (the one on top) is kept.
pub fn parse_cgroup_mounts(text: &str) -> Result<Vec<CgroupMount>, CgroupError> {
    let bad = |line: &str, reason| CgroupError::Parse {
        file: "/proc/self/mountinfo",
        line: line.to_owned(),
        reason,
    };
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(separator) = fields.iter().skip(6).position(|f| *f == "-") else {
            return Err(bad(line, "no ` - ` separator after the optional fields"));
        };
        let separator = separator + 6;
        let (Some(fstype), Some(super_options)) =
            (fields.get(separator + 1), fields.get(separator + 3))
        else {
            return Err(bad(line, "missing fields after ` - `"));
        };
        let version = match *fstype {
            "cgroup" => CgroupVersion::V1,
            "cgroup2" => CgroupVersion::V2,
            _ => continue,
        };
        let super_options: Vec<String> = super_options.split(',').map(unescape_octal).collect();
        let mount_options = fields[5];
        let read_only =
            mount_options.split(',').any(|o| o == "ro") || super_options.iter().any(|o| o == "ro");
        let mount = CgroupMount {
            version,
            root: unescape_octal(fields[3]),
            mount_point: PathBuf::from(unescape_octal(fields[4])),
            read_only,
            super_options,
        };
        mounts.retain(|m| m.mount_point != mount.mount_point);
        mounts.push(mount);
    }
    Ok(mounts)
}

/// Decodes the kernel's `\NNN` octal escapes (space, tab, newline, backslash) in mountinfo.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match escape {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in a flat-keyed cgroup file (`memory.events`, `memory.oom_control`,
/// `pids.events`): lines of `key value`.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(key))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// Controller names in `cgroup.controllers` or `cgroup.subtree_control`: space-separated,
/// tolerating the `+name` form that was written (so a plain-file test tree reads back too).
pub fn controller_list(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|c| c.trim_start_matches('+').to_owned())
        .collect()
}

/// Pids, one per line, as in `cgroup.procs`.
pub fn pid_list(text: &str) -> Vec<u32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(crate) mod tests;
