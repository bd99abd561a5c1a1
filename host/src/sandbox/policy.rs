//! What content reads accept from an untrusted namespace: regular files only (checked by the
//! sandbox, always), not on a kernel pseudo-filesystem unless allowed, and read whole only up
//! to a size limit.

/// How [`Sandbox`](crate::Sandbox) reads file *content* ([`open`](crate::Sandbox::open),
/// [`read`](crate::Sandbox::read), [`read_to_string`](crate::Sandbox::read_to_string)).
///
/// Whatever the policy, content is only ever read from regular files: a FIFO, a socket or a
/// device is refused with [`Error::NotRegularFile`](crate::Error::NotRegularFile) without
/// being opened, so no read can block on a FIFO nor stream from `/dev/zero` or the host's
/// terminal. On top of that, by default:
///
/// - **Kernel pseudo-filesystems are refused** ([`PSEUDO_FILESYSTEMS`]): a link in the
///   container to `/proc/self/environ` would otherwise return *this* process's environment,
///   `/proc/kmsg` the host's kernel log, a sysfs file the host's firmware tables — all read with
///   the host's credentials (a confused deputy). Allow them with
///   [`allow_pseudo_filesystems`](ReadPolicy::allow_pseudo_filesystems) only when you mean to
///   read the kernel's view, knowing that the container chooses where its links lead.
/// - **Whole-file reads are capped** at [`ReadPolicy::DEFAULT_MAX_BYTES`] (64 MiB): a file
///   larger than the cap fails with [`Error::TooLarge`](crate::Error::TooLarge) before any
///   memory is spent on it, and one that grows past the cap while being read fails the same
///   way. [`open`](crate::Sandbox::open) streams files of any size, for callers that mean to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadPolicy {
    max_bytes: u64,
    pseudo_filesystems: bool,
}

impl ReadPolicy {
    /// The default cap on whole-file reads: 64 MiB. Far above any configuration file, and
    /// above the package databases scanners read (dpkg's `status`, rpm's `rpmdb.sqlite`, apk's
    /// `installed` are single-digit to tens of MiB in large images), yet small enough that a
    /// hostile file costs no more than that per read.
    pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

    /// The default policy: pseudo-filesystems refused, whole-file reads capped at
    /// [`DEFAULT_MAX_BYTES`](Self::DEFAULT_MAX_BYTES).
    pub const fn new() -> Self {
        ReadPolicy {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            pseudo_filesystems: false,
        }
    }

    /// Caps whole-file reads at `max_bytes` (`u64::MAX`: no cap).
    pub const fn max_bytes(self, max_bytes: u64) -> Self {
        ReadPolicy { max_bytes, ..self }
    }

    /// Allows (or refuses, the default) reading content from kernel pseudo-filesystems.
    pub const fn allow_pseudo_filesystems(self, allow: bool) -> Self {
        ReadPolicy {
            pseudo_filesystems: allow,
            ..self
        }
    }

    /// The cap on whole-file reads, in bytes.
    pub const fn max_bytes_limit(&self) -> u64 {
        self.max_bytes
    }

    /// Whether content on kernel pseudo-filesystems may be read.
    pub const fn allows_pseudo_filesystems(&self) -> bool {
        self.pseudo_filesystems
    }

    /// The pseudo-filesystem the file `fd` lies on, if it is on one and this policy refuses it.
    pub(crate) fn refused_filesystem(
        &self,
        fd: &impl std::os::fd::AsFd,
    ) -> rustix::io::Result<Option<&'static str>> {
        if self.pseudo_filesystems {
            return Ok(None);
        }
        let fs = rustix::fs::fstatfs(crate::fd::lend(fd))?;
        Ok(pseudo_filesystem(fs.f_type as u64))
    }
}

impl Default for ReadPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// The kernel pseudo-filesystems whose content is refused by default, as
/// `(statfs f_type, name)`; the numbers are those of `<linux/magic.h>`.
///
/// Each either exposes the *reader's* own process or credentials (procfs: `/proc/self/...`),
/// the host kernel's state (sysfs, debugfs, tracefs, securityfs, the LSMs' files, cgroupfs,
/// pstore, efivarfs, configfs, the bpf and binfmt_misc file systems, resctrl, fusectl,
/// mqueue, binderfs, rpc_pipefs, nfsd, openprom, usbdevfs, xenfs), the host's devices
/// (functionfs and gadgetfs, the USB gadget side), mount points that make a lookup wait for
/// a daemon (autofs), or kernel objects that are not files to read (devpts, nsfs, pipefs,
/// sockfs, anon_inodefs). Ordinary and container file systems (ext4, xfs, btrfs, overlayfs,
/// tmpfs, fuse, nfs, ...) are not in the list.
pub const PSEUDO_FILESYSTEMS: &[(u32, &str)] = &[
    (0x9fa0, "procfs"),
    (0x6265_6572, "sysfs"),
    (0x1cd1, "devpts"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x6165_676c, "pstore"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x6e73_6673, "nsfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x0765_5821, "resctrl"),
    (0x6573_5543, "fusectl"),
    (0x1980_0202, "mqueue"),
    (0x6c6f_6f70, "binderfs"),
    (0x6759_6969, "rpc_pipefs"),
    (0x6e66_7364, "nfsd"),
    (0x9fa1, "openpromfs"),
    (0x9fa2, "usbdevfs"),
    (0xabba_1974, "xenfs"),
    (0x5049_5045, "pipefs"),
    (0x534f_434b, "sockfs"),
    (0x0904_1934, "anon_inodefs"),
    // AppArmor's policy files (`/sys/kernel/security/apparmor`): the host's security policy,
    // and the reader's own confinement.
    (0x5a3c_69f0, "apparmorfs"),
    // USB gadget function endpoints: reads and writes talk to the host's USB controller.
    (0x0a64_7361, "functionfs"),
    // The older USB gadget interface, the same danger.
    (0xaee7_1ee7, "gadgetfs"),
    // Automount points: a lookup can make the reader wait for the automount daemon (or mount
    // a file system on the host's behalf).
    (0x0187, "autofs"),
];

/// The name of the pseudo-filesystem with `statfs` type `f_type`, if it is one.
pub(crate) fn pseudo_filesystem(f_type: u64) -> Option<&'static str> {
    // statfs' f_type is a signed word on some architectures: compare the low 32 bits.
    let magic = f_type as u32;
    PSEUDO_FILESYSTEMS
        .iter()
        .find(|(number, _)| *number == magic)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_linux_magic_numbers() {
        use linux_raw_sys::general as magic;
        for (number, name) in [
            (magic::PROC_SUPER_MAGIC, "procfs"),
            (magic::SYSFS_MAGIC, "sysfs"),
            (magic::DEVPTS_SUPER_MAGIC, "devpts"),
            (magic::DEBUGFS_MAGIC, "debugfs"),
            (magic::TRACEFS_MAGIC, "tracefs"),
            (magic::SECURITYFS_MAGIC, "securityfs"),
            (magic::EFIVARFS_MAGIC, "efivarfs"),
            (magic::PSTOREFS_MAGIC, "pstore"),
            (magic::CGROUP_SUPER_MAGIC, "cgroup"),
            (magic::CGROUP2_SUPER_MAGIC, "cgroup2"),
            (magic::SELINUX_MAGIC, "selinuxfs"),
            (magic::SMACK_MAGIC, "smackfs"),
            (magic::BINFMTFS_MAGIC, "binfmt_misc"),
            (magic::RDTGROUP_SUPER_MAGIC, "resctrl"),
            (magic::OPENPROM_SUPER_MAGIC, "openpromfs"),
            (magic::USBDEVICE_SUPER_MAGIC, "usbdevfs"),
            (magic::XENFS_SUPER_MAGIC, "xenfs"),
            (magic::BINDERFS_SUPER_MAGIC, "binderfs"),
            (magic::PIPEFS_MAGIC, "pipefs"),
            (magic::SOCKFS_MAGIC, "sockfs"),
            (magic::ANON_INODE_FS_MAGIC, "anon_inodefs"),
            (magic::AAFS_MAGIC, "apparmorfs"),
            (magic::AUTOFS_SUPER_MAGIC, "autofs"),
        ] {
            assert_eq!(pseudo_filesystem(number.into()), Some(name), "{name}");
        }
        // A sign-extended f_type still matches.
        assert_eq!(
            pseudo_filesystem(magic::SELINUX_MAGIC as i32 as i64 as u64),
            Some("selinuxfs")
        );
        for ordinary in [
            magic::EXT4_SUPER_MAGIC,
            magic::TMPFS_MAGIC,
            magic::OVERLAYFS_SUPER_MAGIC,
            magic::XFS_SUPER_MAGIC,
            magic::BTRFS_SUPER_MAGIC,
            magic::FUSE_SUPER_MAGIC,
        ] {
            assert_eq!(pseudo_filesystem(ordinary.into()), None);
        }
    }

    #[test]
    fn defaults_refuse_pseudo_filesystems_and_cap_reads() {
        let policy = ReadPolicy::default();
        assert!(!policy.allows_pseudo_filesystems());
        assert_eq!(policy.max_bytes_limit(), 64 * 1024 * 1024);
        let custom = policy.max_bytes(10).allow_pseudo_filesystems(true);
        assert_eq!(custom.max_bytes_limit(), 10);
        assert!(custom.allows_pseudo_filesystems());
    }
}
