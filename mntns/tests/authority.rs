//! `mntns` in a namespace another user made: as root, no more authority than that
//! namespace's root (a root-only host file it planted a link to is refused in one line),
//! whether it enters by itself or (without CAP_SYS_CHROOT) through a sleeper that joins the
//! namespace's user namespace; as that user, the same refusals; all read what that root may.

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{as_user, mntns_under_setpriv, run, run_bounded, Container, HostFiles, NOBODY};
use std::process::Command;

/// Who reads: root, root that may not enter a namespace by itself (no CAP_SYS_CHROOT, so its
/// sleeper joins the namespace's user namespace), or the namespace's owner.
#[derive(Clone, Copy, Debug)]
enum Reader {
    Root,
    RootWithoutChroot,
    Owner,
}

/// `mntns --sleeper S <args>` as `reader`.
fn mntns_as(reader: Reader, args: &[&str]) -> Command {
    let setpriv = match reader {
        Reader::Root => Vec::new(),
        Reader::RootWithoutChroot => vec!["--bounding-set=-sys_chroot".to_owned()],
        Reader::Owner => as_user(NOBODY).to_vec(),
    };
    mntns_under_setpriv(&setpriv, args)
}

#[test]
fn root_and_the_owner_read_a_users_namespace_with_its_roots_authority() {
    require_root!("root_and_the_owner_read_a_users_namespace_with_its_roots_authority");
    let host = HostFiles::new();
    let namespace = Container::keeping_host_root(&host.planted(), Some(NOBODY));
    let pid = namespace.pid().to_string();
    let secret = host.path("secret");
    let private = host.path("private");
    for reader in [Reader::Root, Reader::RootWithoutChroot, Reader::Owner] {
        let user: &[&str] = match reader {
            Reader::Root => &[],
            Reader::RootWithoutChroot | Reader::Owner => &["--userns", &pid],
        };
        fn args<'a>(user: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
            [user, rest].concat()
        }
        for path in ["/mnt/os-release", "/mnt/bound/secret", &secret] {
            let (status, out, err) = run(mntns_as(reader, &args(user, &["cat", &pid, path])));
            assert_eq!(status.code(), Some(1), "{reader:?} cat {path}: {err}");
            assert!(out.is_empty(), "{reader:?} cat {path} printed something");
            assert_eq!(
                err,
                format!(
                    "mntns: open {path:?}: EACCES (13): beyond the authority of the namespace's \
                     root (fsuid 65534, fsgid 65534, no groups, no capabilities)\n"
                ),
                "{reader:?}"
            );
        }
        // tar says the same of what it may not store, in GNU tar's form, and stores the rest.
        let tar = run_bounded(
            mntns_as(reader, &args(user, &["tar", &pid, "/mnt/bound"])),
            1 << 20,
        );
        let beyond = "EACCES (13): beyond the authority of the namespace's root (fsuid 65534, \
                      fsgid 65534, no groups, no capabilities)";
        assert_eq!(
            tar.status.and_then(|status| status.code()),
            Some(1),
            "{reader:?} tar: {}",
            tar.err
        );
        assert!(
            tar.err
                .lines()
                .any(|line| line == format!("mntns: /mnt/bound/secret: open: {beyond}")),
            "{reader:?} tar: {}",
            tar.err
        );
        let stored = tar
            .out
            .windows(b"world-readable".len())
            .any(|bytes| bytes == b"world-readable");
        assert!(stored, "{reader:?} tar did not store /mnt/bound/public");

        let (status, out, err) = run(mntns_as(reader, &args(user, &["ls", &pid, &private])));
        assert_eq!(status.code(), Some(1), "{reader:?} ls {private}: {err}");
        assert!(out.is_empty(), "{reader:?} listed {private}");
        assert!(err.contains("EACCES (13): beyond the authority"), "{err}");

        for (path, content) in [
            ("/mnt/own", "own\n"),
            ("/mnt/bound/public", "world-readable\n"),
        ] {
            let (status, out, err) = run(mntns_as(reader, &args(user, &["cat", &pid, path])));
            assert!(status.success(), "{reader:?} cat {path}: {err}");
            assert_eq!(out, content);
        }
    }
}
