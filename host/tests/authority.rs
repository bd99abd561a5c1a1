//! The authority bound: a root host reading a namespace that another user made (`unshare -U -r
//! -m`, in which the host's whole tree stays visible) reads with no more authority than that
//! namespace's root, and is nobody's deputy for root-only host files; the namespace's own
//! files and world-readable ones still read. The reading thread's credentials come back whole.

mod common;

use common::{Container, HostFiles, TempDir, GROUP, NOBODY};
use mntnssandbox_host::{Authority, Builder, Error, Hold, NamespaceRef, Sandbox};
use std::os::unix::fs::PermissionsExt;

/// Every way a root-only host file is reached from the namespace, refused as beyond the
/// namespace root's authority; what that root may read, read.
fn assert_bounded(sandbox: &Sandbox, host: &HostFiles) {
    let beyond = |result: Result<_, Error>, path: &str| match result {
        Err(Error::BeyondAuthority { uid, .. }) => assert_eq!(uid, NOBODY, "{path}"),
        // Never print what came back: it would be the host's secret.
        other => panic!(
            "{path}: expected BeyondAuthority, got {:?}",
            other.map(|_| "a read")
        ),
    };
    for path in [
        "/mnt/os-release".to_owned(),
        "/mnt/bound/secret".to_owned(),
        host.path("secret"),
        host.path("grouped"),
        host.path("private/inner"),
    ] {
        beyond(sandbox.read(&path).map(drop), &path);
    }
    let private = host.path("private");
    beyond(sandbox.read_dir(&private).map(drop), &private);
    let inner = host.path("private/inner");
    beyond(sandbox.metadata(&inner).map(drop), &inner);
    beyond(sandbox.canonicalize(&inner).map(drop), &inner);

    assert_eq!(
        sandbox.read("/mnt/own").expect("the root's own 0600 file"),
        b"own\n"
    );
    assert_eq!(
        sandbox.read("/mnt/bound/public").expect("world-readable"),
        b"world-readable\n"
    );
    assert_eq!(
        sandbox.read(host.path("public")).expect("world-readable"),
        b"world-readable\n"
    );
    assert!(sandbox
        .metadata(&private)
        .expect("stat of the 0700 dir")
        .is_dir());
    let error = sandbox.read("/mnt/os-release").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EACCES));
    assert_eq!(
        error.to_string(),
        "open \"/mnt/os-release\": EACCES (13): beyond the authority of the namespace's root \
         (fsuid 65534, fsgid 65534, no groups, no capabilities)"
    );
}

/// The calling thread's credentials, as the bound must leave them.
#[derive(Debug, PartialEq)]
struct Credentials {
    fsuid: u32,
    fsgid: u32,
    groups: Vec<u32>,
    capabilities: String,
    parent_death_signal: i32,
    dumpable: i32,
}

fn credentials() -> Credentials {
    // SAFETY: setfsuid/setfsgid with an invalid id change nothing and return the current one.
    let (fsuid, fsgid) = unsafe {
        (
            libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32,
            libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32,
        )
    };
    let mut groups = vec![0; 256];
    // SAFETY: getgroups(2) writes at most 256 gids into a buffer of 256.
    let count = unsafe { libc::syscall(libc::SYS_getgroups, 256, groups.as_mut_ptr()) };
    groups.truncate(count as usize);
    let mut signal = 0;
    // SAFETY: PR_GET_PDEATHSIG writes one int.
    unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut signal as *mut libc::c_int) };
    Credentials {
        fsuid,
        fsgid,
        groups,
        capabilities: format!("{:?}", rustix::thread::capabilities(None).expect("capget")),
        parent_death_signal: signal,
        // SAFETY: PR_GET_DUMPABLE takes no argument.
        dumpable: unsafe { libc::prctl(libc::PR_GET_DUMPABLE) },
    }
}

#[test]
fn a_root_host_reads_a_users_namespace_with_that_users_authority() {
    require_root!("a_root_host_reads_a_users_namespace_with_that_users_authority");
    let _serial = common::serial();
    let host = HostFiles::new();
    let namespace = Container::keeping_host_root(&host.planted(), Some(NOBODY));
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; it is this thread's alone.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR2 as libc::c_ulong) };
    let gid = |gid| rustix::process::Gid::from_raw(gid);
    rustix::thread::set_thread_groups(&[gid(0), gid(GROUP)]).expect("setgroups on this thread");
    let before = credentials();
    for (how, builder) in [
        ("a thread", Builder::new(NamespaceRef::Pid(namespace.pid()))),
        (
            "a sleeper let go",
            Builder::new(NamespaceRef::Pid(namespace.pid())).threads(false),
        ),
        (
            "a sleeper kept",
            Builder::new(NamespaceRef::Pid(namespace.pid())).hold(Hold::Sleeper),
        ),
    ] {
        let sandbox = builder
            .sleeper(common::sleeper())
            .spawn()
            .unwrap_or_else(|error| panic!("{how}: {error}"));
        assert_eq!(
            sandbox.authority(),
            Authority::NamespaceRoot {
                uid: NOBODY,
                gid: NOBODY
            },
            "{how}"
        );
        assert_eq!(sandbox.uid_map().to_outside(0), Some(NOBODY));
        assert_bounded(&sandbox, &host);
        assert_eq!(
            credentials(),
            before,
            "{how}: the thread's credentials changed"
        );
        sandbox.close().expect("close");
    }
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong) };
    rustix::thread::set_thread_groups(&[gid(0)]).expect("setgroups on this thread");
}

#[test]
fn a_namespace_of_roots_own_reads_without_capabilities() {
    require_root!("a_namespace_of_roots_own_reads_without_capabilities");
    let _serial = common::serial();
    // A directory of another user (uid 1, not mapped into root's user namespace below).
    let host = TempDir::new("authority-uid1");
    std::fs::set_permissions(host.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let theirs = host.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    std::fs::write(theirs.join("file"), "uid 1's\n").expect("write");
    std::os::unix::fs::chown(&theirs, Some(1), Some(1)).expect("chown");
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let roots = host.write("roots", "root's own\n", 0o600);

    // `unshare -U -r -m` as root: a user namespace mapping 0 to 0, owned by root.
    let namespace = Container::keeping_host_root("true", None);
    let sandbox = Builder::new(NamespaceRef::Pid(namespace.pid()))
        .spawn()
        .expect("spawn");
    assert_eq!(
        sandbox.authority(),
        Authority::NamespaceRoot { uid: 0, gid: 0 }
    );
    // Its root is uid 0 and reads uid 0's files...
    assert_eq!(
        sandbox.read(&roots).expect("root's 0600 file"),
        b"root's own\n"
    );
    // ...but holds no CAP_DAC_OVERRIDE over uid 1, unmapped there: neither does the bound.
    let file = theirs.join("file");
    assert!(
        matches!(
            sandbox.read(&file),
            Err(Error::BeyondAuthority { uid: 0, .. })
        ),
        "read {file:?} with the host's capabilities"
    );
    assert!(std::fs::read(&file).is_ok(), "the host itself may");
}

#[test]
fn a_rootful_namespace_reads_with_the_hosts_authority() {
    require_root!("a_rootful_namespace_reads_with_the_hosts_authority");
    let _serial = common::serial();
    let host = HostFiles::new();
    let container = Container::new("true");
    let sandbox = Builder::new(NamespaceRef::Path(
        format!("/proc/{}/ns/mnt", std::process::id()).into(),
    ))
    .spawn()
    .expect("spawn");
    assert_eq!(sandbox.authority(), Authority::Own);
    assert_eq!(
        sandbox
            .read(host.path("secret"))
            .expect("the host's own namespace"),
        b"root-only host secret\n"
    );
    let rootful = container.fd_builder().spawn().expect("spawn");
    assert_eq!(rootful.authority(), Authority::Own);
    assert_eq!(rootful.uid_map().to_inside(12345), Some(12345));
}

/// A namespace file bind-mounted elsewhere names no process whose id maps could be read: a
/// sleeper joins its owner for a moment to read them, and the bound is the same.
#[test]
fn a_bound_namespace_file_without_a_process_at_hand_gets_the_same_bound() {
    require_root!("a_bound_namespace_file_without_a_process_at_hand_gets_the_same_bound");
    let _serial = common::serial();
    let host = HostFiles::new();
    let namespace = Container::keeping_host_root(&host.planted(), Some(NOBODY));
    let bound = common::BoundNamespace::new(&format!("/proc/{}/ns/mnt", namespace.pid()));
    let file = bound.path().to_owned();
    let open = || {
        Builder::new(NamespaceRef::Path(file.clone()))
            .sleeper(common::sleeper())
            .spawn()
            .expect("spawn")
    };
    // The probe leaves nothing behind.
    common::assert_no_leaks("a probe of the user namespace", || drop(open()));
    let sandbox = open();
    assert_eq!(
        sandbox.authority(),
        Authority::NamespaceRoot {
            uid: NOBODY,
            gid: NOBODY
        }
    );
    assert_eq!(sandbox.uid_map().to_outside(0), Some(NOBODY));
    assert_bounded(&sandbox, &host);
}
