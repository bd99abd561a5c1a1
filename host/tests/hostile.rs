//! A hostile container's files, after resolution: FIFOs (also swapped in under a race),
//! devices, kernel pseudo-filesystems, huge files. Content is read from regular files only,
//! off pseudo-filesystems, bounded, and nothing hangs. (`mntns`' side: mntns/tests/hostile.rs.)

mod common;

use common::{within_wait, Container, WAIT};
use mntnssandbox_host::{Error, FileKind, ReadPolicy, Sandbox};
use std::sync::Arc;
use std::time::Instant;

fn not_regular(result: Result<impl std::fmt::Debug, Error>) -> FileKind {
    match result {
        Err(Error::NotRegularFile { kind, .. }) => kind,
        other => panic!("expected NotRegularFile, got {other:?}"),
    }
}

/// Reads `path` through a shared sandbox on another thread, bounded.
fn read_within_wait(sandbox: &Arc<Sandbox>, path: &'static str) -> Result<Vec<u8>, Error> {
    let sandbox = Arc::clone(sandbox);
    within_wait(&format!("read {path}"), move || sandbox.read(path))
}

#[test]
fn fifos_are_refused_without_blocking() {
    let container = Container::new("mkfifo fifo; ln -s /fifo fifo-link; echo ok > file");
    let sandbox = Arc::new(container.builder().spawn().expect("spawn"));
    for path in ["/fifo", "/fifo-link"] {
        assert_eq!(
            not_regular(read_within_wait(&sandbox, path)),
            FileKind::Fifo
        );
        let opener = Arc::clone(&sandbox);
        let opened = within_wait(&format!("open {path}"), move || opener.open(path));
        assert_eq!(not_regular(opened), FileKind::Fifo);
        // Names still answer for every kind of file.
        let meta = sandbox.metadata(path).expect("metadata of a FIFO");
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
    }
    assert_eq!(sandbox.read("/file").expect("a regular file"), b"ok\n");
}

#[test]
fn a_name_swapped_between_file_and_fifo_never_blocks_nor_reads_the_fifo() {
    require_root!("a_name_swapped_between_file_and_fifo_never_blocks_nor_reads_the_fifo");
    let container = Container::new("echo regular > a; mkfifo b");
    let sandbox = Arc::new(container.builder().spawn().expect("spawn"));

    // The container's side: swap the two names as fast as it can (renameat2 RENAME_EXCHANGE,
    // atomic), in the namespace's root (the sleeper's: the holder's own root is the one under
    // the moved tmpfs).
    let root = sandbox
        .root_fd()
        .try_clone_to_owned()
        .expect("dup the root");
    let swapper = common::Swapper::start(root, c"a", c"b");
    let reader = Arc::clone(&sandbox);
    // Hundreds of reads of each outcome (bounded in count, and in time by `within_wait`).
    let (regular, fifo) = within_wait("reads of a swapped name", move || {
        let (mut regular, mut fifo) = (0, 0);
        for _ in 0..100_000 {
            if regular >= 300 && fifo >= 300 {
                break;
            }
            match reader.read("/a") {
                Ok(data) => {
                    assert_eq!(data, b"regular\n", "read something else than the file");
                    regular += 1;
                }
                Err(Error::NotRegularFile {
                    kind: FileKind::Fifo,
                    ..
                }) => fifo += 1,
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        (regular, fifo)
    });
    let swaps = swapper.stop();
    eprintln!("{swaps} swaps: {regular} reads of the file, {fifo} refusals of the FIFO");
    assert!(
        regular >= 300 && fifo >= 300,
        "too few reads of each kind to tell"
    );
}

#[test]
fn devices_are_refused_unopened() {
    require_root!("devices_are_refused_unopened");
    let container = Container::new(
        "mknod null c 1 3; mknod zero c 1 5; mknod kmsg c 1 11; ln -s /zero zero-link",
    );
    let sandbox = Arc::new(container.builder().spawn().expect("spawn"));
    for path in ["/null", "/zero", "/kmsg", "/zero-link"] {
        assert_eq!(
            not_regular(read_within_wait(&sandbox, path)),
            FileKind::CharDevice
        );
    }
    let meta = sandbox
        .symlink_metadata("/zero")
        .expect("metadata of a device");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &meta.file_type()
    ));
}

#[test]
fn pseudo_filesystems_are_refused_by_default() {
    require_root!("pseudo_filesystems_are_refused_by_default");
    let container = Container::new(common::PSEUDO_SETUP);
    let sandbox = container.builder().spawn().expect("spawn");
    for (path, filesystem) in [
        ("/etc/os-release", "procfs"),
        ("/cmdline", "procfs"),
        ("/seqnum", "sysfs"),
    ] {
        match sandbox.read(path) {
            Err(Error::PseudoFilesystem {
                filesystem: name, ..
            }) => assert_eq!(name, filesystem, "{path}"),
            // Never print what came back: it would be this process's environment.
            other => panic!(
                "{path}: expected PseudoFilesystem, got {:?}",
                other.map(|data| format!("{} bytes", data.len()))
            ),
        }
    }
    // Allowed explicitly, they read: the reader's own environment, which is the danger.
    let allowed = ReadPolicy::new().allow_pseudo_filesystems(true);
    let environ = sandbox
        .read_with("/etc/os-release", allowed)
        .expect("allowed");
    let own = std::fs::read("/proc/self/environ").expect("our environ");
    assert_eq!(
        environ, own,
        "the container's link reads the reader's environment"
    );

    sandbox.close().expect("close");
}

#[test]
fn huge_files_are_refused_by_size_and_ordinary_ones_read_whole() {
    let source = common::TempDir::new("hostile-large");
    // 70 MiB of varied bytes: over the default cap of read(), streamed whole by mntns cat.
    let large = common::varied_bytes(70 << 20);
    std::fs::write(source.path().join("large"), &large).expect("write the large file");
    let setup = format!(
        "truncate -s 100G sparse; cp {}/large large; echo small > small",
        source.path().display()
    );
    let container = Container::new(&setup);
    let sandbox = container.builder().spawn().expect("spawn");

    let started = Instant::now();
    match sandbox.read("/sparse") {
        Err(Error::TooLarge {
            size,
            max_bytes,
            grew: false,
            ..
        }) => {
            assert_eq!(size, 100 << 30);
            assert_eq!(max_bytes, ReadPolicy::DEFAULT_MAX_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(started.elapsed() < WAIT, "refused by size, not by reading");
    match sandbox.read("/large") {
        Err(Error::TooLarge { size, .. }) => assert_eq!(size, 70 << 20),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let roomier = ReadPolicy::new().max_bytes(128 << 20);
    assert!(sandbox.read_with("/large", roomier).expect("under 128 MiB") == large);
    assert_eq!(sandbox.read("/small").expect("small"), b"small\n");
    // Streaming is there for huge files on purpose.
    let file = sandbox.open("/sparse").expect("open streams any size");
    assert_eq!(file.metadata().expect("metadata").len(), 100 << 30);

    sandbox.close().expect("close");
}

#[test]
fn names_on_pseudo_filesystems_are_refused_by_default() {
    require_root!("names_on_pseudo_filesystems_are_refused_by_default");
    let container = Container::new(common::PSEUDO_SETUP);
    let mut sandbox = container.builder().spawn().expect("spawn");
    let refused = |result: Result<(), Error>, path: &str, filesystem: &str| match result {
        Err(Error::PseudoFilesystem {
            filesystem: name, ..
        }) => assert_eq!(name, filesystem, "{path}"),
        // Never print what came back: it would be about this process.
        other => panic!("{path}: expected PseudoFilesystem, got {:?}", other.is_ok()),
    };
    // The reader's own descriptors, process and kernel, as the container's links would show.
    for dir in ["/proc/self/fd", "/proc/self", "/proc", "/sys/kernel"] {
        let filesystem = if dir.starts_with("/sys") {
            "sysfs"
        } else {
            "procfs"
        };
        refused(sandbox.read_dir(dir).map(drop), dir, filesystem);
        refused(sandbox.metadata(dir).map(drop), dir, filesystem);
        refused(sandbox.canonicalize(dir).map(drop), dir, filesystem);
    }
    for link in ["/proc/self/exe", "/proc/self/cwd", "/proc/self/fd/0"] {
        refused(sandbox.read_link(link).map(drop), link, "procfs");
        refused(sandbox.symlink_metadata(link).map(drop), link, "procfs");
    }
    // The container's own names, links into procfs included, still answer.
    let mut top: Vec<_> = sandbox
        .read_dir("/")
        .expect("ls / of the container")
        .map(|entry| entry.expect("an entry").into_file_name())
        .collect();
    top.sort();
    assert_eq!(top, ["cmdline", "etc", "proc", "seqnum", "sys"]);
    assert_eq!(
        sandbox.read_link("/cmdline").expect("a link on tmpfs"),
        std::path::Path::new("/proc/self/cmdline")
    );
    assert!(sandbox
        .symlink_metadata("/cmdline")
        .expect("stat of the link")
        .is_symlink());

    // Allowed explicitly, they answer about the reader: the danger the default refuses.
    sandbox.set_read_policy(ReadPolicy::new().allow_pseudo_filesystems(true));
    let ours = sandbox.read_dir("/proc/self/fd").expect("allowed").count();
    assert!(ours >= 3, "the reader's own descriptors: {ours}");
    assert!(sandbox.read_link("/proc/self/exe").is_ok());
}
