//! Paths resolve inside the container's root, as for a process in it: absolute, `..`-climbing,
//! chained, looping and magic symlinks never reach a host file.

mod common;

use common::Container;
use mntnssandbox_host::{DirEntry, Error, FileKind, Sandbox};
use std::path::Path;

const HOST_MARKER: &str = "HOST-ONLY MARKER\n";

/// The container's files. `$S` is the staging path, which is also a host temp dir where the
/// host keeps its own `marker` and `host-only` files: the same absolute paths name different
/// files inside and outside.
const SETUP: &str = r#"
mkdir -p etc proc a/b/c "./$S"
echo container-hostname > etc/hostname
echo container-marker > "./$S/marker"
ln -s /etc/hostname abs
ln -s ../../../../../etc/hostname a/b/up
ln -s ../../../../../../../../$S/marker a/b/c/up-marker
ln -s "$S/marker" abs-marker
ln -s "$S/host-only" host-only
ln -s abs chain1
ln -s chain1 chain2
ln -s /a/b/../../chain2 chain3
ln -s loop1 loop2
ln -s loop2 loop1
ln -s /proc/self/root/etc/hostname magic
ln -s /proc/self/root magic-root
ln -s /proc/self/cwd magic-cwd
ln -s "/$(printf '%01000d' 0)" long-target
mount -n --rbind /proc proc
"#;

fn container() -> Container {
    Container::new(SETUP)
}

fn errno(result: Result<impl std::fmt::Debug, Error>) -> i32 {
    match result {
        Err(error) => error
            .raw_os_error()
            .unwrap_or_else(|| panic!("no errno in {error}")),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

#[test]
fn symlinks_stay_inside_the_root() {
    let container = container();
    let host = container.staging();
    host.write("marker", HOST_MARKER, 0o644);
    host.write("host-only", HOST_MARKER, 0o644);
    let marker = host.path().join("marker");

    let sandbox = container
        .builder()
        .spawn()
        .expect("spawn a sleeper in the container");
    let read = |path: &str| sandbox.read_to_string(path);

    // Absolute: /etc/hostname of the container, whatever the host's says.
    assert_eq!(read("/abs").unwrap(), "container-hostname\n");
    assert_eq!(
        read("abs").unwrap(),
        "container-hostname\n",
        "relative paths start at the root"
    );
    // `..` stops at the root however often it is repeated.
    assert_eq!(read("/a/b/up").unwrap(), "container-hostname\n");
    assert_eq!(
        read("/../../../etc/hostname").unwrap(),
        "container-hostname\n"
    );
    assert_eq!(read("/a/b/c/up-marker").unwrap(), "container-marker\n");
    // The host's marker has the same absolute path: the container's file is read instead.
    assert_eq!(
        read(marker.to_str().unwrap()).unwrap(),
        "container-marker\n"
    );
    assert_eq!(read("/abs-marker").unwrap(), "container-marker\n");
    // A file only the host has does not exist in here.
    assert_eq!(errno(read("/host-only")), libc::ENOENT);
    // Chains, through absolute and `..` links.
    assert_eq!(read("/chain3").unwrap(), "container-hostname\n");
    // Loops.
    assert_eq!(errno(read("/loop1")), libc::ELOOP);
    // Magic links (the container has the host's /proc bound in) are refused.
    for magic in [
        "/magic",
        "/magic-root/etc/hostname",
        "/magic-cwd",
        "/proc/self/root/etc/passwd",
    ] {
        let code = errno(read(magic));
        assert!(
            code == libc::ELOOP || code == libc::EXDEV,
            "{magic}: errno {code}"
        );
    }

    // The naive way does escape: that is what all of the above guards against.
    let naive = std::fs::read_to_string(
        sandbox
            .root()
            .expect("held by a sleeper")
            .join("abs-marker"),
    )
    .unwrap();
    assert_eq!(
        naive, HOST_MARKER,
        "the naive read through /proc/<pid>/root should escape"
    );

    sandbox.close().expect("close");
}

/// The entries of a directory, sorted by name.
fn list(sandbox: &Sandbox, path: &str) -> Vec<DirEntry> {
    let mut entries = sandbox
        .read_dir(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    entries.sort_by(|a, b| a.file_name().cmp(b.file_name()));
    entries
}

#[test]
fn metadata_listing_and_canonical_paths() {
    let container = container();
    let sandbox = container
        .builder()
        .spawn()
        .expect("spawn a sleeper in the container");

    let names: Vec<String> = list(&sandbox, "/a/b")
        .iter()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["c", "up"]);
    let up = list(&sandbox, "/a/b")
        .into_iter()
        .find(|e| e.file_name() == "up");
    assert_eq!(up.unwrap().file_kind(), FileKind::Symlink);
    let top = list(&sandbox, "/");
    for name in ["a", "abs", "etc", "loop1", "magic", "proc"] {
        assert!(
            top.iter().any(|entry| entry.file_name() == name),
            "no /{name} in {top:?}"
        );
    }
    // read_dir follows symlinks inside too (/a/b/up/.. is the container's /etc/.. = /).
    assert_eq!(errno(sandbox.read_dir("/abs")), libc::ENOTDIR);

    assert!(sandbox.metadata("/abs").unwrap().is_file());
    assert!(sandbox
        .symlink_metadata("/abs")
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        sandbox.metadata("/a/b/up/..").is_err(),
        "a symlink to a file has no `..`"
    );
    assert_eq!(
        sandbox.metadata("/abs").unwrap().len(),
        "container-hostname\n".len() as u64
    );
    assert_eq!(
        sandbox.read_link("/chain3").unwrap(),
        Path::new("/a/b/../../chain2")
    );
    assert_eq!(errno(sandbox.read_link("/etc")), libc::EINVAL);
    // Longer than the first buffer: read whole all the same.
    assert_eq!(
        sandbox.read_link("/long-target").unwrap(),
        Path::new(&format!("/{}", "0".repeat(1000)))
    );

    assert_eq!(sandbox.canonicalize("/").unwrap(), Path::new("/"));
    assert_eq!(sandbox.canonicalize("/..").unwrap(), Path::new("/"));
    assert_eq!(
        sandbox.canonicalize("/a/b/up").unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        sandbox.canonicalize("/chain3").unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        sandbox.canonicalize("a/b/../b/./c").unwrap(),
        Path::new("/a/b/c")
    );
    assert_eq!(errno(sandbox.canonicalize("/loop1")), libc::ELOOP);
    assert_eq!(errno(sandbox.canonicalize("/nope")), libc::ENOENT);
    let magic = errno(sandbox.canonicalize("/magic-root"));
    assert!(
        magic == libc::ELOOP || magic == libc::EXDEV,
        "errno {magic}"
    );

    // Errors carry the path and why: the errno's name, or what refused it.
    let message = sandbox.read("/etc").unwrap_err().to_string();
    assert_eq!(message, r#""/etc": not a regular file: a directory"#);
    let message = sandbox.open("/no/such").unwrap_err().to_string();
    assert_eq!(message, r#"open "/no/such": ENOENT (2)"#);
    sandbox.close().expect("close");
}
