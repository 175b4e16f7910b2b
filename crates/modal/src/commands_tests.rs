//! The command builders, asserted whole, and the scripts run with this host's `sh` in a temp
//! dir (they only need POSIX sh, GNU coreutils and findutils, like the image).

use std::process::{Command, Output, Stdio};

use super::*;
use pretty_assertions::assert_eq;
use sha2::{Digest, Sha256};

fn run(argv: &[String], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A script that exits early (a refused path) does not read its stdin: EPIPE is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn stat(path: &str, bytes: &[u8]) -> FileStat {
    FileStat {
        path: path.to_owned(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

#[test]
fn process_and_kill_argv() {
    let args = vec!["-p".to_owned(), "it's".to_owned()];
    assert_eq!(
        process_argv("/tmp/agent-runtime/e1.pid", "claude", &args),
        [
            "setsid",
            "-w",
            "sh",
            "-c",
            r#"echo $$ > "$0"; exec "$@""#,
            "/tmp/agent-runtime/e1.pid",
            "claude",
            "-p",
            "it's"
        ]
    );
    assert_eq!(pid_file("e1"), "/tmp/agent-runtime/e1.pid");
    let kill = kill_argv("/tmp/agent-runtime/e1.pid");
    assert_eq!(kill[..2], ["sh", "-c"]);
    assert_eq!(kill[3..], ["sh", "/tmp/agent-runtime/e1.pid"]);
    assert_eq!(mkdir_argv(&["/a", "/b"]), ["mkdir", "-p", "--", "/a", "/b"]);
}

#[test]
fn kill_ends_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("p.pid").to_string_lossy().into_owned();
    let argv = process_argv(
        &pid_file,
        "sh",
        &["-c".to_owned(), "sleep 300 & sleep 300".to_owned()],
    );
    let mut child = Command::new(&argv[0]).args(&argv[1..]).spawn().unwrap();
    let killed = run(&kill_argv(&pid_file), b"");
    assert!(killed.status.success(), "{killed:?}");
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(!std::path::Path::new(&pid_file).exists());
}

#[test]
fn file_scripts_never_follow_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("host")).unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let code = |op, rel: &str, stdin: &[u8]| run(&file_argv(op, root, rel), stdin).status.code();

    assert_eq!(code(FileOp::Write, "a/b/c.txt", b"hello"), Some(0));
    let read = run(&file_argv(FileOp::Read, root, "a/b/c.txt"), b"");
    assert_eq!(
        (read.status.code(), read.stdout),
        (Some(0), b"hello".to_vec())
    );
    assert_eq!(code(FileOp::Write, "a/b/c.txt", b"x"), Some(0));
    assert_eq!(std::fs::read(dir.path().join("a/b/c.txt")).unwrap(), b"x");

    assert_eq!(code(FileOp::Read, "missing", b""), Some(EXIT_MISSING));
    assert_eq!(code(FileOp::Read, "no/such/dir", b""), Some(EXIT_MISSING));
    assert_eq!(code(FileOp::Read, "d", b""), Some(EXIT_NOT_REGULAR));
    assert_eq!(
        code(FileOp::Read, "a/b/c.txt/x", b""),
        Some(EXIT_NOT_REGULAR)
    );
    for rel in ["etc/passwd", "etc/new-file", "host"] {
        assert_eq!(code(FileOp::Read, rel, b""), Some(EXIT_SYMLINK), "{rel}");
        assert_eq!(code(FileOp::Write, rel, b"x"), Some(EXIT_SYMLINK), "{rel}");
    }
    assert!(!std::path::Path::new("/etc/new-file").exists());

    assert_eq!(code(FileOp::Remove, "host", b""), Some(0));
    assert!(std::path::Path::new("/etc/hostname").exists());
    assert_eq!(code(FileOp::Remove, "host", b""), Some(EXIT_MISSING));
    assert_eq!(code(FileOp::Remove, "d", b""), Some(EXIT_NOT_REGULAR));
    assert_eq!(
        code(FileOp::Remove, "etc/hostname", b""),
        Some(EXIT_SYMLINK)
    );
    assert_eq!(code(FileOp::Remove, "a/b/c.txt", b""), Some(0));
}

#[test]
fn scan_lists_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, bytes) in [
        ("hello.txt", &b"hello"[..]),
        ("empty", b""),
        ("src/deep/main.rs", b"fn main() {}\n"),
        ("node_modules/pkg/index.js", b"x"),
        ("node_modules2/keep.js", b"k"),
        ("[odd]*name", b"odd"),
        (".git/HEAD", b"ref"),
        ("with space/new\nline", b"nl"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
    let excludes = vec![
        "node_modules".to_owned(),
        ".git/".to_owned(),
        "[odd]*name".to_owned(),
    ];
    let out = run(&scan_argv(root.to_str().unwrap(), &excludes), b"");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        parse_scan(&out.stdout, &excludes).unwrap(),
        vec![
            stat("empty", b""),
            stat("hello.txt", b"hello"),
            stat("node_modules2/keep.js", b"k"),
            stat("src/deep/main.rs", b"fn main() {}\n"),
            stat("with space/new\nline", b"nl"),
        ]
    );
    let out = run(&scan_argv("/nonexistent/root", &[]), b"");
    assert_eq!(parse_scan(&out.stdout, &[]).unwrap(), vec![]);
}

#[test]
fn parse_scan_joins_filters_and_sorts() {
    let hash = |c: char| c.to_string().repeat(64);
    let output = format!(
        "F 1 b\0F 2 a\0F 3 x/y\0F 4 gone\0\0{}  ./b\0{}  ./a\0{}  ./x/y\0",
        hash('1'),
        hash('A'),
        hash('3')
    );
    let excludes = vec!["x".to_owned()];
    let stats = parse_scan(output.as_bytes(), &excludes).unwrap();
    let expected = vec![
        FileStat {
            path: "a".into(),
            size: 2,
            sha256: hash('a'),
        },
        FileStat {
            path: "b".into(),
            size: 1,
            sha256: hash('1'),
        },
    ];
    assert_eq!(stats, expected);
    assert!(parse_scan(b"garbage\0", &[]).is_err());
    assert!(parse_scan(b"F 1 a\0\0nothash  ./a\0", &[]).is_err());
}
