//! What hostile-container tests plant and read: host files around a namespace, a procfs and
//! sysfs mounted inside, varied contents, a name swapped under a reader.

use super::*;

/// The host's procfs and sysfs mounted in a (rootful) container, with links into them.
pub const PSEUDO_SETUP: &str = r#"
mkdir proc sys etc
mount -t proc proc proc
mount -t sysfs sysfs sys
ln -s /proc/self/environ etc/os-release
ln -s /proc/self/cmdline cmdline
ln -s /sys/kernel/uevent_seqnum seqnum
"#;

/// A group the reading thread has (set by the test), and nobody else.
pub const GROUP: u32 = 4242;

/// Host files around a namespace: `secret` (0600, root's), `grouped` (0040, readable by
/// [`GROUP`] only), `public` (0644), `private/` (0700, root's) holding `inner` (0644), in a
/// directory any user may search.
pub struct HostFiles {
    dir: TempDir,
}

impl HostFiles {
    pub fn new() -> Self {
        let dir = TempDir::new("authority");
        std::fs::set_permissions(
            dir.path(),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .expect("chmod the host dir");
        dir.write("secret", "root-only host secret\n", 0o600);
        dir.write("public", "world-readable\n", 0o644);
        let grouped = dir.write("grouped", "for group 4242\n", 0o040);
        std::os::unix::fs::chown(grouped, None, Some(GROUP)).expect("chgrp grouped");
        std::fs::create_dir(dir.path().join("private")).expect("mkdir private");
        std::fs::write(dir.path().join("private/inner"), "behind a 0700 dir\n").expect("inner");
        std::fs::set_permissions(
            dir.path().join("private"),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
        )
        .expect("chmod private");
        HostFiles { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// What the namespace's user plants: its own tmpfs on /mnt with a file of its root's, a
    /// link to the host's secret, and the host directory bind-mounted in.
    pub fn planted(&self) -> String {
        format!(
            "mount -t tmpfs planted /mnt; echo own > /mnt/own; chmod 600 /mnt/own; \
             ln -s {secret} /mnt/os-release; mkdir /mnt/bound; mount --bind {dir} /mnt/bound",
            secret = self.path("secret"),
            dir = self.dir.path().display(),
        )
    }
}

/// `len` bytes of varied, deterministic content.
pub fn varied_bytes(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// A thread that swaps two names in a directory as fast as it can (renameat2
/// `RENAME_EXCHANGE`, atomic), as a hostile container would under a reader, until stopped.
pub struct Swapper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Swapper {
    /// Swaps `a` and `b` in the directory `dir` (its own descriptor).
    pub fn start(
        dir: std::os::fd::OwnedFd,
        a: &'static std::ffi::CStr,
        b: &'static std::ffi::CStr,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: a valid directory descriptor and NUL-terminated names.
                    let swapped = unsafe {
                        libc::renameat2(
                            dir.as_raw_fd(),
                            a.as_ptr(),
                            dir.as_raw_fd(),
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                    assert_eq!(
                        swapped,
                        0,
                        "RENAME_EXCHANGE {a:?} and {b:?}: {}",
                        std::io::Error::last_os_error()
                    );
                    swaps += 1;
                }
                swaps
            })
        };
        Swapper { stop, thread }
    }

    /// Stops swapping; how many swaps there were.
    pub fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the swapper")
    }
}

/// A namespace file bind-mounted onto a fresh file of the host, unmounted (and removed) when
/// dropped, whatever the test did in between.
pub struct BoundNamespace {
    dir: TempDir,
    file: PathBuf,
}

impl BoundNamespace {
    /// Binds `source` (`/proc/<pid>/ns/mnt`, say) onto a file of a temp dir.
    pub fn new(source: &str) -> Self {
        let dir = TempDir::new("bound-ns");
        let file = dir.write("mnt", "", 0o644);
        let status = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(&file)
            .status()
            .expect("mount --bind");
        assert!(status.success(), "bind {source} onto {file:?}");
        BoundNamespace { dir, file }
    }

    /// The bound file.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for BoundNamespace {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.file).status();
        if !unmounted.is_ok_and(|status| status.success()) && !std::thread::panicking() {
            panic!("umount {:?} (under {:?})", self.file, self.dir.path());
        }
    }
}
