//! The helper's two argument sets as data, and their round trip to argv.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::HelperError;

/// A process resource limit the launcher sets (soft = hard, so the sandbox cannot raise it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub kind: RlimitKind,
    pub value: u64,
}

impl Rlimit {
    pub fn new(kind: RlimitKind, value: u64) -> Self {
        Self { kind, value }
    }
}

/// The rlimits the launcher knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RlimitKind {
    /// `RLIMIT_NOFILE`: open file descriptors per process.
    Nofile,
    /// `RLIMIT_NPROC`: tasks of the sandbox's host uid (per sandbox when each has its own uid).
    Nproc,
    /// `RLIMIT_CORE`: core dump size.
    Core,
    /// `RLIMIT_FSIZE`: the largest file a process may write.
    Fsize,
}

impl RlimitKind {
    const ALL: [RlimitKind; 4] = [Self::Nofile, Self::Nproc, Self::Core, Self::Fsize];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nofile => "nofile",
            Self::Nproc => "nproc",
            Self::Core => "core",
            Self::Fsize => "fsize",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// What `launch` does before it execs its program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchArgs {
    /// `cgroup.procs` files to write the launcher's pid to (one per cgroup v1 hierarchy).
    pub cgroup_procs: Vec<PathBuf>,
    pub rlimits: Vec<Rlimit>,
    /// Host uid and gid to switch to (dropping supplementary groups) before exec.
    pub user: Option<(u32, u32)>,
    /// A seccomp program to open as fd 3 for bubblewrap's `--seccomp 3`.
    pub seccomp: Option<PathBuf>,
}

impl LaunchArgs {
    /// The options as arguments (without the `--` and the command).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for procs in &self.cgroup_procs {
            args.push("--cgroup-procs".to_owned());
            args.push(procs.to_string_lossy().into_owned());
        }
        for limit in &self.rlimits {
            args.push("--rlimit".to_owned());
            args.push(format!("{}={}", limit.kind.name(), limit.value));
        }
        if let Some((uid, gid)) = self.user {
            args.push("--user".to_owned());
            args.push(format!("{uid}:{gid}"));
        }
        if let Some(seccomp) = &self.seccomp {
            args.push("--seccomp".to_owned());
            args.push(seccomp.to_string_lossy().into_owned());
        }
        args
    }

    /// Parses options up to `--`; returns them and the command after it.
    pub(crate) fn parse(args: &[OsString]) -> Result<(Self, Vec<OsString>), HelperError> {
        let mut parsed = Self::default();
        let command = parse_options(args, |name, value| {
            match name {
                "--cgroup-procs" => parsed.cgroup_procs.push(PathBuf::from(value)),
                "--rlimit" => parsed.rlimits.push(parse_rlimit(value)?),
                "--user" => parsed.user = Some(parse_user(value)?),
                "--seccomp" => parsed.seccomp = Some(PathBuf::from(value)),
                _ => return Err(HelperError::usage(format!("unknown launch option {name}"))),
            }
            Ok(())
        })?;
        Ok((parsed, command))
    }
}

/// One loopback port inside the sandbox relayed to a unix socket bound into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// Listened on at 127.0.0.1 (and at ::1 when the namespace has IPv6).
    pub port: u16,
    /// The unix socket, as seen inside the sandbox.
    pub socket: PathBuf,
}

/// What `init` sets up before it starts its program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitArgs {
    pub bridges: Vec<Bridge>,
}

impl InitArgs {
    /// The options as arguments (without the `--` and the command).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for bridge in &self.bridges {
            args.push("--bridge".to_owned());
            args.push(format!(
                "{}={}",
                bridge.port,
                bridge.socket.to_string_lossy()
            ));
        }
        args
    }

    /// Parses options up to `--`; returns them and the command after it.
    pub(crate) fn parse(args: &[OsString]) -> Result<(Self, Vec<OsString>), HelperError> {
        let mut parsed = Self::default();
        let command = parse_options(args, |name, value| {
            match name {
                "--bridge" => parsed.bridges.push(parse_bridge(value)?),
                _ => return Err(HelperError::usage(format!("unknown init option {name}"))),
            }
            Ok(())
        })?;
        Ok((parsed, command))
    }
}

/// Walks `--name value` pairs up to `--`, handing each to `option`; returns the rest, which must
/// name a program.
fn parse_options(
    args: &[OsString],
    mut option: impl FnMut(&str, &OsStr) -> Result<(), HelperError>,
) -> Result<Vec<OsString>, HelperError> {
    let mut rest = args.iter();
    loop {
        let Some(name) = rest.next() else {
            return Err(HelperError::usage("missing `-- PROGRAM`"));
        };
        let name = name
            .to_str()
            .ok_or_else(|| HelperError::usage("option names are ASCII"))?;
        if name == "--" {
            break;
        }
        let value = rest
            .next()
            .ok_or_else(|| HelperError::usage(format!("{name} needs a value")))?;
        option(name, value)?;
    }
    let command: Vec<OsString> = rest.cloned().collect();
    if command.is_empty() {
        return Err(HelperError::usage("missing PROGRAM after `--`"));
    }
    Ok(command)
}

fn text<'a>(value: &'a OsStr, what: &str) -> Result<&'a str, HelperError> {
    value
        .to_str()
        .ok_or_else(|| HelperError::usage(format!("{what} is not UTF-8")))
}

fn parse_rlimit(value: &OsStr) -> Result<Rlimit, HelperError> {
    let value = text(value, "--rlimit")?;
    let invalid =
        || HelperError::usage(format!("invalid --rlimit {value:?}: expected NAME=NUMBER"));
    let (name, number) = value.split_once('=').ok_or_else(invalid)?;
    let kind = RlimitKind::from_name(name).ok_or_else(invalid)?;
    let value = number.parse().map_err(|_| invalid())?;
    Ok(Rlimit { kind, value })
}

fn parse_user(value: &OsStr) -> Result<(u32, u32), HelperError> {
    let value = text(value, "--user")?;
    let invalid = || HelperError::usage(format!("invalid --user {value:?}: expected UID:GID"));
    let (uid, gid) = value.split_once(':').ok_or_else(invalid)?;
    let uid: u32 = uid.parse().map_err(|_| invalid())?;
    let gid: u32 = gid.parse().map_err(|_| invalid())?;
    if uid == 0 || gid == 0 {
        return Err(HelperError::usage("--user must not be root"));
    }
    Ok((uid, gid))
}

fn parse_bridge(value: &OsStr) -> Result<Bridge, HelperError> {
    let value = text(value, "--bridge")?;
    let invalid =
        || HelperError::usage(format!("invalid --bridge {value:?}: expected PORT=SOCKET"));
    let (port, socket) = value.split_once('=').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if port == 0 || socket.is_empty() {
        return Err(invalid());
    }
    Ok(Bridge {
        port,
        socket: PathBuf::from(socket),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn launch_args_round_trip() {
        let args = LaunchArgs {
            cgroup_procs: vec!["/a/cgroup.procs".into(), "/b/cgroup.procs".into()],
            rlimits: vec![
                Rlimit::new(RlimitKind::Nproc, 1024),
                Rlimit::new(RlimitKind::Core, 0),
            ],
            user: Some((600_000, 600_000)),
            seccomp: Some("/x.bpf".into()),
        };
        let mut argv = os(&args
            .to_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
        argv.extend(os(&["--", "bwrap", "--x"]));
        assert_eq!(
            LaunchArgs::parse(&argv).unwrap(),
            (args, os(&["bwrap", "--x"]))
        );
    }

    #[test]
    fn init_args_round_trip() {
        let args = InitArgs {
            bridges: vec![Bridge {
                port: 3128,
                socket: "/run/x.sock".into(),
            }],
        };
        let mut argv = os(&args
            .to_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
        argv.extend(os(&["--", "sh", "-c", "true"]));
        assert_eq!(
            InitArgs::parse(&argv).unwrap(),
            (args, os(&["sh", "-c", "true"]))
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let refused = |argv: &[&str]| LaunchArgs::parse(&os(argv)).is_err();
        assert!(refused(&["--rlimit", "nofile=many", "--", "x"]));
        assert!(refused(&["--rlimit", "stack=1", "--", "x"]));
        assert!(refused(&["--user", "0:0", "--", "x"]));
        assert!(refused(&["--user", "5", "--", "x"]));
        assert!(refused(&["--bogus", "1", "--", "x"]));
        assert!(refused(&["--seccomp", "/x"]));
        assert!(refused(&["--"]));
        let init_refused = |argv: &[&str]| InitArgs::parse(&os(argv)).is_err();
        assert!(init_refused(&["--bridge", "0=/x", "--", "x"]));
        assert!(init_refused(&["--bridge", "3128", "--", "x"]));
        assert!(init_refused(&["--bridge", "3128=", "--", "x"]));
    }
}
