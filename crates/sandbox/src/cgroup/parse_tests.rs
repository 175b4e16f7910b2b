//! Parsers against real samples (this development host, a systemd v1 host, pure v2 hosts,
//! containers) and synthetic edge cases.

use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use super::*;

/// `/proc/self/cgroup` of a shell on the development host: cgroup v1 controllers, an empty
/// cgroup2 at `/sys/fs/cgroup/unified`, the memory cgroup a per-task one.
pub(crate) const HYBRID_PROC_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/6d78d289987a7282cb1fcd58375e23b7
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

/// `/proc/self/mountinfo` of the same shell, verbatim.
pub(crate) const HYBRID_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 27 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// A systemd v1 host (Ubuntu 18.04 style): co-mounted `cpu,cpuacct`, a read-only tmpfs at
/// `/sys/fs/cgroup`, propagation fields, a service's cgroup.
pub(crate) const SYSTEMD_V1_PROC_CGROUP: &str = "\
12:pids:/system.slice/agent-runtime.service
11:cpu,cpuacct:/system.slice/agent-runtime.service
10:net_cls,net_prio:/
8:memory:/system.slice/agent-runtime.service
1:name=systemd:/system.slice/agent-runtime.service
0::/system.slice/agent-runtime.service
";

pub(crate) const SYSTEMD_V1_MOUNTINFO: &str = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
38 30 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio
40 30 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
";

/// A pure v2 systemd host, in a login session.
pub(crate) const V2_PROC_CGROUP: &str = "0::/user.slice/user-1000.slice/session-3.scope\n";

pub(crate) const V2_MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

fn line(id: u32, controllers: &[&str], path: &str) -> ProcCgroupLine {
    ProcCgroupLine {
        hierarchy_id: id,
        controllers: controllers.iter().map(|c| (*c).to_owned()).collect(),
        path: path.to_owned(),
    }
}

fn v1(root: &str, mount_point: &str, options: &[&str]) -> CgroupMount {
    CgroupMount {
        version: CgroupVersion::V1,
        root: root.to_owned(),
        mount_point: PathBuf::from(mount_point),
        read_only: false,
        super_options: options.iter().map(|o| (*o).to_owned()).collect(),
    }
}

#[test]
fn proc_cgroup_of_the_hybrid_development_host() {
    let lines = parse_proc_cgroup(HYBRID_PROC_CGROUP).unwrap();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0], line(9, &["name=systemd"], "/"));
    assert_eq!(
        lines[5],
        line(
            4,
            &["memory"],
            "/process_api/6d78d289987a7282cb1fcd58375e23b7"
        )
    );
    assert_eq!(lines[9], line(0, &[], "/"));
    assert!(lines[9].is_unified());
    assert!(!lines[5].is_unified());
    assert!(lines[5].has_controller("memory"));
}

#[test]
fn mountinfo_of_the_hybrid_development_host() {
    let mounts = parse_cgroup_mounts(HYBRID_MOUNTINFO).unwrap();
    let points: Vec<&Path> = mounts.iter().map(|m| m.mount_point.as_path()).collect();
    assert_eq!(
        points,
        [
            "/sys/fs/cgroup/cpu",
            "/sys/fs/cgroup/cpuacct",
            "/sys/fs/cgroup/cpuset",
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/devices",
            "/sys/fs/cgroup/freezer",
            "/sys/fs/cgroup/blkio",
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/systemd",
            "/sys/fs/cgroup/unified",
        ]
        .map(Path::new)
    );
    assert_eq!(
        mounts[3],
        v1("/", "/sys/fs/cgroup/memory", &["rw", "memory"])
    );
    assert!(mounts[3].has_controller("memory"));
    assert!(!mounts[1].has_controller("cpu"), "cpuacct is not cpu");
    assert_eq!(
        mounts[9],
        CgroupMount {
            version: CgroupVersion::V2,
            root: "/".to_owned(),
            mount_point: PathBuf::from("/sys/fs/cgroup/unified"),
            read_only: false,
            super_options: vec!["rw".to_owned()],
        }
    );
    // cgroup2 never "has" a controller by mount option; its cgroup.controllers says.
    assert!(!mounts[9].has_controller("rw"));
    assert_eq!(
        mounts[3].dir_of("/process_api/6d78d289987a7282cb1fcd58375e23b7"),
        Ok(PathBuf::from(
            "/sys/fs/cgroup/memory/process_api/6d78d289987a7282cb1fcd58375e23b7"
        ))
    );
    assert_eq!(
        mounts[7].dir_of("/"),
        Ok(PathBuf::from("/sys/fs/cgroup/pids"))
    );
}

#[test]
fn systemd_v1_host_with_co_mounted_controllers() {
    let lines = parse_proc_cgroup(SYSTEMD_V1_PROC_CGROUP).unwrap();
    assert_eq!(
        lines[1],
        line(
            11,
            &["cpu", "cpuacct"],
            "/system.slice/agent-runtime.service"
        )
    );
    let mounts = parse_cgroup_mounts(SYSTEMD_V1_MOUNTINFO).unwrap();
    assert_eq!(mounts.len(), 6, "the tmpfs is not a cgroup mount");
    let cpu = mounts.iter().find(|m| m.has_controller("cpu")).unwrap();
    assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    assert!(cpu.has_controller("cpuacct"));
    assert_eq!(
        cpu.dir_of("/system.slice/agent-runtime.service"),
        Ok(PathBuf::from(
            "/sys/fs/cgroup/cpu,cpuacct/system.slice/agent-runtime.service"
        ))
    );
    let unified = mounts
        .iter()
        .find(|m| m.version == CgroupVersion::V2)
        .unwrap();
    assert_eq!(unified.super_options, ["rw", "nsdelegate"]);
}

#[test]
fn pure_v2_host() {
    assert_eq!(
        parse_proc_cgroup(V2_PROC_CGROUP).unwrap(),
        [line(0, &[], "/user.slice/user-1000.slice/session-3.scope")]
    );
    let mounts = parse_cgroup_mounts(V2_MOUNTINFO).unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(
        mounts[0].super_options,
        ["rw", "nsdelegate", "memory_recursiveprot"]
    );
    assert_eq!(
        mounts[0].dir_of("/user.slice/user-1000.slice/session-3.scope"),
        Ok(PathBuf::from(
            "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"
        ))
    );
}

#[test]
fn container_with_its_own_cgroup_namespace_and_a_read_only_mount() {
    // Docker's default: cgroupns=private, /sys/fs/cgroup mounted read-only.
    let lines = parse_proc_cgroup("0::/\n").unwrap();
    assert_eq!(lines, [line(0, &[], "/")]);
    let mounts = parse_cgroup_mounts(
        "1339 1337 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot\n",
    )
    .unwrap();
    assert!(mounts[0].read_only);
    assert_eq!(mounts[0].dir_of("/"), Ok(PathBuf::from("/sys/fs/cgroup")));
    // A read-only superblock counts too.
    let mounts = parse_cgroup_mounts(
        "40 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup ro,pids\n",
    )
    .unwrap();
    assert!(mounts[0].read_only);
}

#[test]
fn container_without_cgroup_namespace_sees_a_bind_mounted_subtree() {
    // The container's part of the host hierarchy is mounted at the usual place.
    let mount = v1("/docker/abc123", "/sys/fs/cgroup/memory", &["rw", "memory"]);
    assert_eq!(
        mount.dir_of("/docker/abc123"),
        Ok(PathBuf::from("/sys/fs/cgroup/memory"))
    );
    assert_eq!(
        mount.dir_of("/docker/abc123/inner"),
        Ok(PathBuf::from("/sys/fs/cgroup/memory/inner"))
    );
    // A sibling whose name merely starts the same is not inside the mount.
    assert!(mount.dir_of("/docker/abc1234").is_err());
    assert!(mount.dir_of("/").is_err());
}

#[test]
fn cgroup_namespace_entered_without_remounting() {
    // After unshare(CLONE_NEWCGROUP) the old mount's root lies above the namespace root.
    let mounts = parse_cgroup_mounts(
        "41 31 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    let error = mounts[0].dir_of("/").unwrap_err();
    assert!(error.contains("outside this cgroup namespace"), "{error}");
}

#[test]
fn octal_escapes_and_odd_options() {
    let mounts = parse_cgroup_mounts(
        "50 31 0:40 /a\\040b /mnt/my\\040cgroups\\011x rw shared:3 master:1 propagate_from:2 - cgroup cgroup rw,noprefix,clone_children,release_agent=/x\\134y,memory\n",
    )
    .unwrap();
    assert_eq!(mounts[0].root, "/a b");
    assert_eq!(mounts[0].mount_point, Path::new("/mnt/my cgroups\tx"));
    assert_eq!(
        mounts[0].super_options,
        [
            "rw",
            "noprefix",
            "clone_children",
            "release_agent=/x\\y",
            "memory"
        ]
    );
    assert!(mounts[0].has_controller("memory"));
    // A backslash not followed by three octal digits stays as it is.
    assert_eq!(unescape_octal("a\\9b\\12"), "a\\9b\\12");
}

#[test]
fn a_later_mount_on_the_same_point_hides_the_earlier() {
    let mounts = parse_cgroup_mounts(
        "32 31 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
         60 32 0:29 / /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids\n",
    )
    .unwrap();
    assert_eq!(mounts.len(), 1);
    assert!(mounts[0].read_only);
}

#[test]
fn cgroup_names_may_contain_colons() {
    assert_eq!(
        parse_proc_cgroup("0::/a:b/c\n").unwrap(),
        [line(0, &[], "/a:b/c")]
    );
}

#[test]
fn malformed_lines_are_errors() {
    for bad in ["garbage", "x::/", "1:memory", "1:memory:relative"] {
        assert!(
            matches!(
                parse_proc_cgroup(bad),
                Err(CgroupError::Parse {
                    file: "/proc/self/cgroup",
                    ..
                })
            ),
            "{bad}"
        );
    }
    for bad in [
        "22 27 0:21 / /proc rw,relatime proc proc rw",
        "22 27 0:21 / /proc rw -",
    ] {
        assert!(
            matches!(
                parse_cgroup_mounts(bad),
                Err(CgroupError::Parse {
                    file: "/proc/self/mountinfo",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert_eq!(parse_proc_cgroup("\n\n").unwrap(), []);
}

#[test]
fn flat_keyed_files_and_lists() {
    let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    assert_eq!(keyed_value(oom_control, "oom_kill"), Some(3));
    assert_eq!(keyed_value(oom_control, "oom"), None);
    let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n";
    assert_eq!(keyed_value(events, "oom_kill"), Some(1));
    assert_eq!(keyed_value(events, "max"), Some(12));
    assert_eq!(
        controller_list("cpu memory pids\n"),
        ["cpu", "memory", "pids"]
    );
    assert_eq!(controller_list("+memory +pids"), ["memory", "pids"]);
    assert_eq!(controller_list(""), Vec::<String>::new());
    assert_eq!(pid_list("12\n345\n\n"), [12, 345]);
}
