use std::os::unix::fs::symlink;

use pretty_assertions::assert_eq;

use super::*;

fn rel(path: &str) -> RelPath {
    RelPath::parse(path).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    outside: PathBuf,
    root: PathBuf,
    dir: HostDir,
}

/// `<tmp>/root` is the root; `<tmp>/outside.txt` is a file that must stay out of reach.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "host secret").unwrap();
    let dir = HostDir::new(root.clone(), None);
    Fixture {
        _tmp: tmp,
        outside,
        root,
        dir,
    }
}

#[test]
fn rel_path_validation() {
    let cases = [
        "a.txt",
        "dir/sub/file",
        ".hidden/x",
        "..x",
        "a..b",
        "",
        "/abs",
        "../x",
        "a/../b",
        "./a",
        "a//b",
        "a/",
        "a/.",
        "nul\0",
    ];
    let results: Vec<(&str, Option<&str>)> = cases
        .iter()
        .map(|p| match RelPath::parse(p) {
            Ok(_) => (*p, None),
            Err(SandboxError::InvalidPath { reason, .. }) => (*p, Some(reason)),
            Err(other) => panic!("unexpected {other}"),
        })
        .collect();
    let empty = "must not contain empty components (`//` or a trailing `/`)";
    assert_eq!(
        results,
        vec![
            ("a.txt", None),
            ("dir/sub/file", None),
            (".hidden/x", None),
            ("..x", None),
            ("a..b", None),
            ("", Some("must not be empty")),
            ("/abs", Some("must be relative")),
            ("../x", Some("must not contain `..` components")),
            ("a/../b", Some("must not contain `..` components")),
            ("./a", Some("must not contain `.` components")),
            ("a//b", Some(empty)),
            ("a/", Some(empty)),
            ("a/.", Some("must not contain `.` components")),
            ("nul\0", Some("must not contain NUL")),
        ]
    );
    assert!(RelPath::parse(&"a".repeat(4097)).is_err());
}

#[test]
fn write_read_remove_round_trip() {
    let f = fixture();
    f.dir.write(&rel("a/b/c.txt"), b"hello").unwrap();
    assert_eq!(
        f.dir.read(&rel("a/b/c.txt")).unwrap(),
        Some(b"hello".to_vec())
    );
    f.dir.write(&rel("a/b/c.txt"), b"hi").unwrap();
    assert_eq!(f.dir.read(&rel("a/b/c.txt")).unwrap(), Some(b"hi".to_vec()));
    assert_eq!(f.dir.read(&rel("missing")).unwrap(), None);
    assert_eq!(f.dir.read(&rel("missing/dir/x")).unwrap(), None);
    assert_eq!(f.dir.read(&rel("a/b/c.txt/x")).unwrap(), None);
    assert!(f.dir.remove(&rel("a/b/c.txt")).unwrap());
    assert!(!f.dir.remove(&rel("a/b/c.txt")).unwrap());
    assert!(!f.dir.remove(&rel("nope/x")).unwrap());
    assert!(matches!(
        f.dir.remove(&rel("a/b")),
        Err(SandboxError::NotARegularFile { .. })
    ));
    assert!(matches!(
        f.dir.read(&rel("a")),
        Err(SandboxError::NotARegularFile { .. })
    ));
    assert!(matches!(
        f.dir.write(&rel("a"), b"x"),
        Err(SandboxError::NotARegularFile { .. })
    ));
    std::fs::write(f.root.join("file"), "x").unwrap();
    assert!(matches!(
        f.dir.write(&rel("file/x"), b"x"),
        Err(SandboxError::InvalidPath { .. })
    ));
}

#[test]
fn symlinks_are_never_followed() {
    let f = fixture();
    symlink("/etc/passwd", f.root.join("abs-link")).unwrap();
    symlink("../outside.txt", f.root.join("rel-link")).unwrap();
    symlink(f.outside.parent().unwrap(), f.root.join("dir-link")).unwrap();
    std::fs::write(f.root.join("inside.txt"), "ok").unwrap();
    symlink("inside.txt", f.root.join("inner-link")).unwrap();

    for path in ["abs-link", "rel-link", "dir-link/outside.txt", "inner-link"] {
        let read = f.dir.read(&rel(path));
        assert!(
            matches!(read, Err(SandboxError::SymlinkInPath { .. })),
            "read {path}: {read:?}"
        );
        let write = f.dir.write(&rel(path), b"pwned");
        assert!(
            matches!(write, Err(SandboxError::SymlinkInPath { .. })),
            "write {path}: {write:?}"
        );
    }
    let nested = f.dir.write(&rel("dir-link/new/file"), b"pwned");
    assert!(
        matches!(nested, Err(SandboxError::SymlinkInPath { .. })),
        "{nested:?}"
    );
    assert_eq!(std::fs::read_to_string(&f.outside).unwrap(), "host secret");
    assert!(!f.outside.parent().unwrap().join("new").exists());

    // Removing a link removes the link, not its target.
    assert!(f.dir.remove(&rel("rel-link")).unwrap());
    assert_eq!(std::fs::read_to_string(&f.outside).unwrap(), "host secret");
    let through = f.dir.remove(&rel("dir-link/outside.txt"));
    assert!(
        matches!(through, Err(SandboxError::SymlinkInPath { .. })),
        "{through:?}"
    );
    assert!(f.outside.exists());
}

#[test]
fn fifos_do_not_hang() {
    let f = fixture();
    let status = std::process::Command::new("mkfifo")
        .arg(f.root.join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(matches!(
        f.dir.read(&rel("fifo")),
        Err(SandboxError::NotARegularFile { .. })
    ));
    assert!(matches!(
        f.dir.write(&rel("fifo"), b"x"),
        Err(SandboxError::NotARegularFile { .. })
    ));
    assert_eq!(f.dir.scan(&[]).unwrap(), vec![]);
}

#[test]
fn scan_lists_regular_files_with_hashes() {
    let f = fixture();
    f.dir.write(&rel("b.txt"), b"hello").unwrap();
    f.dir.write(&rel("a/deep/x.bin"), b"").unwrap();
    f.dir
        .write(&rel("node_modules/pkg/index.js"), b"x")
        .unwrap();
    f.dir.write(&rel("node_modules2/keep.js"), b"x").unwrap();
    f.dir.write(&rel("a.txt"), b"hello").unwrap();
    symlink("/etc/passwd", f.root.join("link")).unwrap();
    symlink("/etc", f.root.join("etc-link")).unwrap();

    let stats = f
        .dir
        .scan(&["node_modules/".to_owned(), String::new()])
        .unwrap();
    let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let x = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let stat = |path: &str, size, sha256: &str| FileStat {
        path: path.into(),
        size,
        sha256: sha256.into(),
    };
    assert_eq!(
        stats,
        vec![
            stat("a.txt", 5, hello),
            stat("a/deep/x.bin", 0, empty),
            stat("b.txt", 5, hello),
            stat("node_modules2/keep.js", 1, x),
        ]
    );
}

#[test]
fn remove_tree_handles_unwritable_dirs_and_links() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    f.dir.write(&rel("locked/inner/file"), b"x").unwrap();
    symlink(f.outside.parent().unwrap(), f.root.join("link")).unwrap();
    let locked = f.root.join("locked");
    std::fs::set_permissions(locked.join("inner"), std::fs::Permissions::from_mode(0o500)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    remove_tree(&f.root).unwrap();
    assert!(!f.root.exists());
    assert!(f.outside.exists());
    remove_tree(&f.root).unwrap();
}
