//! `mntns tar` of a hostile tree: links out of the root, loops, FIFOs, devices, a socket, a
//! 100 GiB sparse file, a host procfs mount, names full of escapes, hard links, odd modes and
//! owners, a directory swapped for a symlink while walked, 10,000 levels, 100,000 entries in
//! one directory. It finishes without a hang, stores nothing from outside the root, and GNU
//! tar extracts it to the same tree (what was refused aside).

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{run_bounded, Bounded, Container, TempDir, WAIT};
use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names to be stored byte for byte.
const NAMES: &[&[u8]] = &[
    b"esc-\x1b]0;pwned\x07",
    b"clear-\x1b[2J",
    b"new\nline",
    b"back\\slash",
    b"sp ace",
    b"caf\xc3\xa9",
    b"latin1-\xe9",
];

/// The hostile tree under /tree, made in the container before it is sealed.
fn hostile_setup() -> String {
    let mut setup = String::from(
        "set -e; mkdir -p tree/dir tree/private tree/loop tree/proc tree/long; cd tree
         echo content > dir/file
         printf 'x%.0s' $(seq 5000) > dir/large
         ln -s /etc/hostname abs-link; ln -s ../../../../etc/shadow rel-out
         ln -s self-loop self-loop; ln -s b a; ln -s a b; ln -s 'a//b/./c/' odd-target
         mkfifo fifo; mknod null c 1 3; mknod disk b 7 0
         truncate -s 100G sparse
         mount -t proc proc proc
         mount --bind . loop
         echo linked > hard1; ln hard1 hard2
         echo secret > private/mode0600; chmod 600 private/mode0600; chmod 700 private
         echo setuid > setuid; chmod 4755 setuid
         echo owned > owned; chown 1234:5678 owned
         touch -d '2001-02-03 04:05:06' dir/file
         L=$(printf 'l%.0s' $(seq 255)); mkdir -p long/$L/$L; echo deep > long/$L/$L/$L
         ln -s $(printf 't%.0s' $(seq 300)) long-target
         cd ..
",
    );
    for name in NAMES {
        let octal: String = name.iter().map(|byte| format!("\\{byte:03o}")).collect();
        setup.push_str(&format!("echo named > \"tree/$(printf '{octal}')\"\n"));
    }
    setup
}

/// `mntns tar` of `paths` in `container`, its stdout up to 1 GiB.
fn mntns_tar(container: &Container, args: &[&str]) -> Bounded {
    let pid = container.pid().to_string();
    let mut full = vec!["tar"];
    let (options, paths): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("--"));
    full.extend(options);
    full.push(&pid);
    full.extend(paths);
    run_bounded(container.mntns(&full), 1 << 30)
}

/// Extracts `archive` with GNU tar (as root: owners and modes kept) into a fresh directory.
fn extract(archive: &[u8]) -> TempDir {
    let into = TempDir::new("tar-extract");
    let file = into.path().join("archive.tar");
    std::fs::write(&file, archive).expect("write the archive");
    let mut tar = Command::new("tar");
    tar.args(["--numeric-owner", "-xpf"])
        .arg(&file)
        .arg("-C")
        .arg(into.path());
    let (status, _, err) = common::run(tar);
    assert!(status.success(), "GNU tar -x: {status}: {err}");
    std::fs::remove_file(&file).expect("remove the archive");
    into
}

/// What a tree holds, name by name (not following links): kind, mode, owners, mtime, and the
/// content or link target.
fn describe(root: &Path, skip: &[&[u8]]) -> BTreeMap<Vec<u8>, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let dir = root.join(&relative);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("ls {dir:?}: {e}")) {
            let entry = entry.expect("an entry");
            let name = relative.join(entry.file_name());
            let key = name.as_os_str().as_bytes().to_vec();
            if skip.contains(&key.as_slice()) {
                continue;
            }
            let meta = entry.metadata().expect("lstat");
            let kind = meta.file_type();
            let what = if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).expect("readlink");
                format!(
                    "link {:?}",
                    target.as_os_str().as_bytes().escape_ascii().to_string()
                )
            } else if kind.is_dir() {
                stack.push(name.clone());
                "dir".into()
            } else if kind.is_file() {
                let content = std::fs::read(entry.path()).expect("read");
                format!("file {} {}", content.len(), content.escape_ascii())
            } else {
                format!("special {:o}", meta.mode() & 0o170000)
            };
            let mtime = if kind.is_dir() { 0 } else { meta.mtime() };
            found.insert(
                key,
                format!(
                    "{what} mode {:o} owner {}:{} mtime {mtime}",
                    meta.mode() & 0o7777,
                    meta.uid(),
                    meta.gid()
                ),
            );
        }
    }
    found
}

/// One line per stderr message, each naming what was left out.
fn stderr_lines(outcome: &Bounded) -> Vec<&str> {
    outcome.err.lines().collect()
}

#[test]
fn a_hostile_tree_extracts_to_the_same_tree_without_anything_from_outside() {
    require_root!("a_hostile_tree_extracts_to_the_same_tree_without_anything_from_outside");
    let container = Container::new(&hostile_setup());
    let theirs = PathBuf::from(format!("/proc/{}/root/tree", container.pid()));
    let _socket = std::os::unix::net::UnixListener::bind(theirs.join("sock")).expect("a socket");
    let outcome = mntns_tar(&container, &["/tree"]);
    let status = outcome.status.expect("mntns tar hung and was killed");
    // Things were left out (the FIFO, the devices, the socket-less sparse file...): 1.
    assert_eq!(status.code(), Some(1), "stderr: {}", outcome.err);
    let lines = stderr_lines(&outcome);
    for expected in [
        "mntns: /tree/fifo: a FIFO: not stored (--specials stores it)",
        "mntns: /tree/null: a character device: not stored (--specials stores it)",
        "mntns: /tree/disk: a block device: not stored (--specials stores it)",
        "mntns: /tree/sparse: a sparse file (107374182400 bytes, 0 allocated): skipped, not expanded",
        "mntns: /tree/proc: on procfs, a kernel pseudo-filesystem (not descended)",
        "mntns: /tree/loop: a file system loop (not descended)",
        "mntns: /tree/sock: socket ignored",
    ] {
        assert!(lines.contains(&expected), "no {expected:?} in {lines:?}");
    }
    assert_eq!(lines.len(), 7, "one line each, nothing else: {lines:?}");
    assert!(
        outcome
            .err
            .bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)),
        "stderr is not plain ASCII: {:?}",
        outcome.err
    );

    let extracted = extract(&outcome.out);
    let refused: &[&[u8]] = &[b"fifo", b"null", b"disk", b"sparse", b"sock"];
    let mut want = describe(&theirs, &[refused, &[b"proc", b"loop"]].concat());
    // The mount points are stored as the directories they are, empty.
    for dir in [&b"proc"[..], b"loop"] {
        let meta = std::fs::symlink_metadata(theirs.join(OsStr::from_bytes(dir))).expect("stat");
        want.insert(
            dir.to_vec(),
            format!(
                "dir mode {:o} owner {}:{} mtime 0",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            ),
        );
    }
    let got = describe(&extracted.path().join("tree"), &[]);
    let (want_names, got_names): (Vec<_>, Vec<_>) = (
        want.keys().map(|k| k.escape_ascii().to_string()).collect(),
        got.keys().map(|k| k.escape_ascii().to_string()).collect(),
    );
    assert_eq!(got_names, want_names, "the names differ");
    for (name, description) in &want {
        assert_eq!(
            got.get(name),
            Some(description),
            "{} differs",
            name.escape_ascii()
        );
    }
    // Hard links stay links.
    let one = std::fs::metadata(extracted.path().join("tree/hard1")).expect("hard1");
    let two = std::fs::metadata(extracted.path().join("tree/hard2")).expect("hard2");
    assert_eq!(one.ino(), two.ino(), "hard1 and hard2 are not one file");
    // The symlinks point where they said, nowhere else: nothing from outside was stored.
    let host_hostname = std::fs::read("/etc/hostname").expect("the host's hostname");
    let archive = &outcome.out;
    assert!(
        !archive
            .windows(host_hostname.len())
            .any(|w| w == host_hostname.as_slice()),
        "the host's /etc/hostname is in the archive"
    );
}

#[test]
fn specials_are_stored_as_entries_when_asked_and_never_opened() {
    require_root!("specials_are_stored_as_entries_when_asked_and_never_opened");
    let container = Container::new(
        "mkdir tree; mkfifo tree/fifo; mknod tree/zero c 1 5; mknod tree/loop0 b 7 0",
    );
    let outcome = mntns_tar(&container, &["--specials", "/tree"]);
    assert_eq!(
        outcome.status.expect("hung").code(),
        Some(0),
        "{}",
        outcome.err
    );
    let dir = TempDir::new("tar-specials");
    let file = dir.path().join("a.tar");
    std::fs::write(&file, &outcome.out).expect("write");
    let mut list = Command::new("tar");
    list.args(["-tvf"]).arg(&file);
    let (status, listing, _) = common::run(list);
    assert!(status.success());
    for (kind, name) in [('p', "tree/fifo"), ('c', "tree/zero"), ('b', "tree/loop0")] {
        assert!(
            listing
                .lines()
                .any(|line| line.starts_with(kind) && line.ends_with(name)),
            "no {kind} {name} in\n{listing}"
        );
    }
    let extracted = extract(&outcome.out);
    let zero = std::fs::symlink_metadata(extracted.path().join("tree/zero")).expect("zero");
    assert!(zero.file_type().is_char_device());
    assert_eq!(zero.rdev(), rustix::fs::makedev(1, 5));
}

#[test]
fn refused_onto_a_terminal_and_a_missing_path_is_fatal() {
    let container = Container::new("mkdir tree; echo a > tree/a");
    // A missing start: GNU tar's fatal case, after storing the rest.
    let outcome = mntns_tar(&container, &["/missing", "/tree"]);
    assert_eq!(
        outcome.status.expect("hung").code(),
        Some(2),
        "{}",
        outcome.err
    );
    assert_eq!(outcome.err, "mntns: /missing: walk: ENOENT (2)\n");
    let extracted = extract(&outcome.out);
    assert_eq!(
        std::fs::read(extracted.path().join("tree/a")).expect("a"),
        b"a\n"
    );

    // Onto a terminal: refused before anything is written (script gives a terminal).
    let pid = container.pid().to_string();
    let mntns = common::mntns();
    let line = format!(
        "{} --sleeper {} tar {pid} /tree; echo \"status $?\"",
        mntns.get_program().to_string_lossy(),
        common::sleeper().display()
    );
    let mut script = Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    let (status, out, _) = common::run(script);
    assert!(status.success(), "{out}");
    assert!(
        out.contains("mntns: refusing to write a tar archive to a terminal (redirect stdout)"),
        "{out:?}"
    );
    assert!(out.contains("status 2"), "{out:?}");
}

/// Makes, below the container's `/` (through the holder's root, as root), a chain of `depth`
/// directories `d/d/d/...` with a file at the bottom, and a directory `wide` of `width` files.
fn deep_and_wide(container: &Container, depth: usize, width: usize) {
    let root = format!("/proc/{}/root", container.pid());
    let open = |dir: i32, name: &str| -> OwnedFd {
        let name = CString::new(name).expect("no NUL");
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
        assert!(
            fd >= 0,
            "open {name:?}: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: just opened, owned here.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let mkdir = |dir: i32, name: &str| {
        let name = CString::new(name).expect("no NUL");
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::mkdirat(dir, name.as_ptr(), 0o755) },
            0,
            "mkdir"
        );
    };
    let touch = |dir: i32, name: &str| {
        let name = CString::new(name).expect("no NUL");
        // SAFETY: as above; the new descriptor is closed at once.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
        assert!(fd >= 0, "create {name:?}");
        // SAFETY: just opened.
        unsafe { libc::close(fd) };
    };
    let top = std::fs::File::open(&root).expect("the container's root");
    mkdir(top.as_raw_fd(), "deep");
    let mut dir = open(top.as_raw_fd(), "deep");
    for _ in 0..depth {
        mkdir(dir.as_raw_fd(), "d");
        dir = open(dir.as_raw_fd(), "d");
    }
    touch(dir.as_raw_fd(), "bottom");
    mkdir(top.as_raw_fd(), "wide");
    let wide = open(top.as_raw_fd(), "wide");
    for n in 0..width {
        touch(wide.as_raw_fd(), &format!("f{n}"));
    }
}

#[test]
fn ten_thousand_levels_and_a_hundred_thousand_entries_finish_in_bounded_memory() {
    require_root!("ten_thousand_levels_and_a_hundred_thousand_entries_finish_in_bounded_memory");
    let container = Container::new("true");
    deep_and_wide(&container, 10_000, 100_000);
    let outcome = mntns_tar(&container, &["/deep", "/wide"]);
    assert_eq!(
        outcome.status.expect("hung").code(),
        Some(0),
        "{}",
        outcome.err
    );
    // GNU tar extracts no path over PATH_MAX (the deep one is 20,000 bytes): it lists them.
    let dir = TempDir::new("tar-deep");
    let file = dir.path().join("a.tar");
    std::fs::write(&file, &outcome.out).expect("write");
    let mut list = Command::new("tar");
    list.arg("-tf").arg(&file);
    let listing = run_bounded(list, 1 << 30);
    assert!(
        listing.status.expect("tar -t hung").success(),
        "{}",
        listing.err
    );
    let names: Vec<&[u8]> = listing
        .out
        .split(|&b| b == b'\n')
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(names.len(), 1 + 10_000 + 1 + 1 + 100_000, "entries");
    let bottom = format!("deep/{}bottom", "d/".repeat(10_000));
    assert!(
        names.contains(&bottom.as_bytes()),
        "no {} levels deep file",
        10_000
    );
    assert!(names.contains(&&b"wide/f99999"[..]));
}

#[test]
fn a_directory_swapped_for_a_symlink_while_walked_stores_nothing_from_outside() {
    require_root!("a_directory_swapped_for_a_symlink_while_walked_stores_nothing_from_outside");
    // `real` holds files; `link` is a symlink to the host's-looking /outside, which inside the
    // container holds a marker the archive must never contain under tree/.
    let container = Container::new(
        "mkdir -p tree/real outside; for i in 1 2 3 4 5 6 7 8; do echo in > tree/real/f$i; done
         echo OUTSIDE-MARKER > outside/marker; ln -s /outside tree/link",
    );
    let root = format!("/proc/{}/root/tree", container.pid());
    let tree = std::fs::File::open(&root).expect("open the tree");
    let swapper = common::Swapper::start(OwnedFd::from(tree), c"real", c"link");
    let mut statuses = BTreeMap::new();
    for _ in 0..40 {
        let outcome = mntns_tar(&container, &["/tree"]);
        let code = outcome.status.expect("mntns tar hung").code();
        *statuses.entry(code).or_insert(0) += 1;
        assert!(matches!(code, Some(0 | 1)), "{code:?}: {}", outcome.err);
        assert!(
            !outcome.out.windows(14).any(|w| w == b"OUTSIDE-MARKER"),
            "the archive holds /outside/marker, from outside the tree"
        );
        let dir = TempDir::new("tar-swap");
        let file = dir.path().join("a.tar");
        std::fs::write(&file, &outcome.out).expect("write");
        let mut list = Command::new("tar");
        list.arg("-tf").arg(&file);
        let (status, listing, err) = common::run(list);
        assert!(status.success(), "an archive GNU tar cannot read: {err}");
        assert!(
            listing.lines().all(|name| name.starts_with("tree")),
            "{listing}"
        );
    }
    let swaps = swapper.stop();
    eprintln!("{swaps} swaps during 40 archives; exit statuses {statuses:?}");
    let _ = WAIT;
}

#[test]
fn owners_are_stored_as_the_container_sees_them() {
    require_root!("owners_are_stored_as_the_container_sees_them");
    // A rootless container: its root is uid 65534 on the host, 0 inside.
    let container = Container::as_user("mkdir tree; echo mine > tree/file", common::NOBODY);
    let theirs = PathBuf::from(format!("/proc/{}/root/tree/file", container.pid()));
    assert_eq!(
        std::fs::metadata(&theirs)
            .expect("stat from the host")
            .uid(),
        common::NOBODY,
        "the host sees nobody's file"
    );
    let outcome = mntns_tar(&container, &["/tree"]);
    assert_eq!(
        outcome.status.expect("hung").code(),
        Some(0),
        "{}",
        outcome.err
    );
    let extracted = extract(&outcome.out);
    for name in ["tree", "tree/file"] {
        let meta = std::fs::symlink_metadata(extracted.path().join(name)).expect("extracted");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (0, 0),
            "{name}: as the container sees it"
        );
    }
}
