//! The command lines the provider runs inside a sandbox (process wrapper, kill, file
//! operations, scan) and the parsing of what they print. Pure: built and parsed here, executed
//! by `sandbox.rs`. Every path reaches the shell as a positional argument, never spliced into
//! script text.

use std::collections::BTreeMap;

use agent_runtime_sandbox::FileStat;

/// Where a process's pid file lives (shared `/tmp` of the container).
pub const PID_DIR: &str = "/tmp/agent-runtime";

/// Exit code of a file script when a path component (or the file) is a symbolic link.
pub const EXIT_SYMLINK: i32 = 90;
/// Exit code of a file script when the path (or a parent) is not what it must be.
pub const EXIT_NOT_REGULAR: i32 = 91;
/// Exit code of a file script when the file does not exist.
pub const EXIT_MISSING: i32 = 92;

/// The pid file of one exec.
pub fn pid_file(exec_id: &str) -> String {
    format!("{PID_DIR}/{exec_id}.pid")
}

/// The argv that runs `program args` as the leader of a new session (so of a new process
/// group), after recording its pid in `pid_file`: `kill_argv` then kills the group, with
/// everything the program started. `setsid -w` waits for the program and passes its exit
/// code on; `sh` writes the pid of itself, which `exec` turns into the program.
pub fn process_argv(pid_file: &str, program: &str, args: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "setsid",
        "-w",
        "sh",
        "-c",
        r#"echo $$ > "$0"; exec "$@""#,
        pid_file,
        program,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    argv.extend(args.iter().cloned());
    argv
}

/// The argv that kills the process group whose leader's pid is in `pid_file` (waiting up to
/// 5 s for the file, when the process was started just now) and removes the file.
pub fn kill_argv(pid_file: &str) -> Vec<String> {
    let script = r#"i=0
while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
pg=$(cat -- "$1" 2>/dev/null) || exit 0
kill -s KILL -- "-$pg" 2>/dev/null
rm -f -- "$1"
exit 0"#;
    sh_argv(script, [pid_file])
}

/// `mkdir -p` of the given directories.
pub fn mkdir_argv(dirs: &[&str]) -> Vec<String> {
    let mut argv = vec!["mkdir".to_owned(), "-p".to_owned(), "--".to_owned()];
    argv.extend(dirs.iter().map(|d| (*d).to_owned()));
    argv
}

/// Walks `$2` (a relative path checked by `RelPath`) below `$1` component by component and
/// exits [`EXIT_SYMLINK`] at a symbolic link and [`EXIT_NOT_REGULAR`] at a parent that is not
/// a directory. Leaves the parent directory in `$p` and the file in `$f`.
const WALK: &str = r#"p=$1 rest=$2
while :; do
  case $rest in */*) c=${rest%%/*}; rest=${rest#*/};; *) break;; esac
  p=$p/$c
  [ -L "$p" ] && exit 90
  [ -e "$p" ] && [ ! -d "$p" ] && exit 91
done
f=$p/$rest
"#;

/// Which file operation a [`file_argv`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOp {
    /// Prints the file; [`EXIT_MISSING`] when there is none.
    Read,
    /// Replaces the file with stdin, creating missing parents.
    Write,
    /// Removes the file or symlink; [`EXIT_MISSING`] when there was none.
    Remove,
}

/// The argv of a file operation on `root/rel`. None of them follows a symbolic link: one in
/// a parent fails the operation ([`EXIT_SYMLINK`]); a final one is refused by read and write
/// and removed itself by remove. (Another process in the sandbox could swap a component in
/// between the check and the use; it could change the same files directly anyway.)
pub fn file_argv(op: FileOp, root: &str, rel: &str) -> Vec<String> {
    let action = match op {
        FileOp::Read => {
            r#"[ -L "$f" ] && exit 90
[ -e "$f" ] || exit 92
[ -f "$f" ] || exit 91
exec cat -- "$f""#
        }
        FileOp::Write => {
            r#"[ -L "$f" ] && exit 90
[ -e "$f" ] && [ ! -f "$f" ] && exit 91
mkdir -p -- "$p" && exec cat > "$f""#
        }
        FileOp::Remove => {
            r#"[ -L "$f" ] || [ -e "$f" ] || exit 92
[ -d "$f" ] && [ ! -L "$f" ] && exit 91
exec rm -f -- "$f""#
        }
    };
    sh_argv(&format!("{WALK}{action}"), [root, rel])
}

/// The argv that lists every regular file below `root` (symlinks are not followed) with its
/// size and sha256, skipping `exclude_prefixes` (by whole components). Prints NUL-terminated
/// `F <size> <path>` records, an empty record, then `sha256sum -z` records; see
/// [`parse_scan`].
pub fn scan_argv(root: &str, exclude_prefixes: &[String]) -> Vec<String> {
    let script = r#"cd -- "$1" 2>/dev/null || exit 0
shift
find . "$@" -type f -printf 'F %s %P\0'
printf '\0'
find . "$@" -type f -print0 | xargs -0 -r sha256sum -z --"#;
    let excludes = normalized_excludes(exclude_prefixes);
    let mut args = vec![root.to_owned()];
    if !excludes.is_empty() {
        args.push("(".to_owned());
        for (i, prefix) in excludes.iter().enumerate() {
            if i > 0 {
                args.push("-o".to_owned());
            }
            args.push("-path".to_owned());
            args.push(format!("./{}", escape_find_pattern(prefix)));
        }
        args.extend([")", "-prune", "-o"].map(str::to_owned));
    }
    sh_argv(script, args.iter().map(String::as_str))
}

/// Parses the output of [`scan_argv`]: files with both a size and a hash (one that changed
/// between the two passes may lack one and is left out), outside `exclude_prefixes`, sorted
/// by byte order.
pub fn parse_scan(output: &[u8], exclude_prefixes: &[String]) -> Result<Vec<FileStat>, String> {
    let mut records = output.split(|b| *b == 0);
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for record in records.by_ref() {
        if record.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(record);
        let rest = text
            .strip_prefix("F ")
            .ok_or_else(|| format!("unexpected scan record {text:?}"))?;
        let (size, path) = rest
            .split_once(' ')
            .ok_or_else(|| format!("unexpected scan record {text:?}"))?;
        let size = size
            .parse()
            .map_err(|_| format!("unexpected size in scan record {text:?}"))?;
        sizes.insert(path.to_owned(), size);
    }
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    for record in records.filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let (hash, path) = text
            .split_once("  ")
            .filter(|(hash, _)| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("unexpected sha256sum record {text:?}"))?;
        let path = path.strip_prefix("./").unwrap_or(path);
        hashes.insert(path.to_owned(), hash.to_ascii_lowercase());
    }
    let excludes = normalized_excludes(exclude_prefixes);
    let mut stats: Vec<FileStat> = sizes
        .into_iter()
        .filter(|(path, _)| !is_excluded(path, &excludes))
        .filter_map(|(path, size)| {
            let sha256 = hashes.remove(&path)?;
            Some(FileStat { path, size, sha256 })
        })
        .collect();
    stats.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(stats)
}

/// Whether `path` is equal to or below one of `excludes` (whole components).
fn is_excluded(path: &str, excludes: &[String]) -> bool {
    excludes.iter().any(|prefix| {
        path == prefix
            || path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Prefixes without `./` in front or `/` behind; empty ones dropped.
fn normalized_excludes(prefixes: &[String]) -> Vec<String> {
    prefixes
        .iter()
        .map(|p| {
            let p = p.trim_start_matches("./");
            p.trim_end_matches('/').to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Escapes the glob characters of `find -path`.
fn escape_find_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `sh -c script sh args...`.
fn sh_argv<'a>(script: &str, args: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ];
    argv.extend(args.into_iter().map(str::to_owned));
    argv
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
