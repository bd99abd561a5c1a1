//! Read files — and whole trees — inside another mount namespace (a container's, say) safely,
//! from a multithreaded program.
//!
//! [`Builder::spawn`] opens a [`Sandbox`] on the namespace, the cheapest way first
//! ([`Sandbox::way`] says which): for a reference that names a process, through that
//! process's root, `/proc/<pid>/root` (no thread, no process, no setns; [`Way::ProcessRoot`]);
//! where this process may enter the namespace by itself (root on the host), by a thread of
//! ours that enters it and opens its root ([`Way::Thread`]); otherwise the `mntnssandbox`
//! sleeper is spawned with the namespace to join in its environment, its `OK` awaited
//! (bounded), its root and namespace taken ([`Way::Sleeper`]). By default the sandbox holds
//! the namespace by two descriptors, the namespace's and its root directory's, and no process
//! ([`Hold::Fds`]); with [`Hold::Sleeper`] it keeps the sleeper, for a PID and a
//! `/proc/<pid>/root` path. A kept sleeper lives as long as the sandbox: [`Sandbox::close`] or
//! dropping it kills and reaps it through a pidfd, and if this process dies, even by SIGKILL,
//! the sleeper sees its stdin (the *lifeline*) close and exits. [`Builder::within`] follows
//! lxkns' chained references.
//!
//! Every path is resolved below the namespace's root with openat2(2) (`RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS`), so that absolute symlinks and `..` stay inside the namespace, as
//! they would for a process in the container, instead of escaping to the host as they do when
//! reading `/proc/<pid>/root/...` naively. Every file is treated as hostile: content is read
//! from regular files only, never blocking in open; content and names on kernel
//! pseudo-filesystems are refused ([`ReadPolicy`]); reads are bounded; directories stream
//! ([`Sandbox::read_dir`]); trees are walked one name at a time, nothing followed
//! ([`Sandbox::walk`]). In a namespace owned by another user namespace, every operation runs
//! with no more authority than that namespace's own root ([`Authority`]).
//!
//! The protocol is lxkns's: [`MNTNS_ENV`], [`USERNS_ENV`], [`HANDSHAKE`] and
//! [`FAILURE_EXIT_STATUS`]; [`LIFELINE_ENV`] is ours.
//!
//! Requires Linux 5.6+ (openat2, pidfd_open; waitid on a pidfd needs 5.4).
//!
//! # Where the sleeper comes from
//!
//! This crate carries it (feature `embedded-sleeper`, on by default). Its build script builds
//! the sleeper from the source of the `mntnssandbox` package, a dependency of this crate, with
//! a nested `cargo build --release` for the target this crate is built for (a host built for
//! aarch64 carries an aarch64 sleeper), and embeds it ([`EMBEDDED_SLEEPER`], about 2 KB).
//! [`Builder::spawn`] writes it once per process to a memfd sealed against writes, shrinking
//! and growing, and executes it as it is (execveat; `/proc/self/fd/N` where clone3 is
//! refused). Where executing a memfd is refused
//! (`vm.memfd_noexec = 2`, no `/proc`), spawning fails with an error that says so; there is no
//! fallback to a file on disk.
//!
//! Which sleeper runs: the one given to [`Builder::sleeper`], else the file named by
//! `$MNTNSSANDBOX_BINARY`, else the embedded one. Without the `embedded-sleeper` feature, the
//! last step is `mntnssandbox` beside the current executable, else on `PATH`
//! ([`Builder::default_sleeper`]).
//!
//! This crate is the library alone (its only dependencies: rustix, libc, thiserror, and the
//! sleeper's source). The `mntns` command, a thin layer over this API, is the `mntns` crate.
//!
//! # Example
//!
//! Reading the host's own mount namespace (joining it needs root), with the embedded sleeper:
//!
//! ```
//! use mntnssandbox_host::{Builder, Error, NamespaceRef};
//!
//! fn main() -> Result<(), Error> {
//! #   if !doc_can_run() { return Ok(()) }
//!     let sandbox = Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into())).spawn()?;
//!     println!("held by {:?}", sandbox.hold());
//!
//!     for entry in sandbox.read_dir("/")? {
//!         println!("/{}", entry?.file_name().to_string_lossy());
//!     }
//!     assert!(sandbox.metadata("/")?.is_dir());
//!     // `..` above the root stays at the root.
//!     assert_eq!(sandbox.canonicalize("/../..")?, std::path::Path::new("/"));
//!
//!     sandbox.close()?;
//!     Ok(())
//! }
//! # /// Joining a mount namespace needs root; the embedded sleeper needs its feature.
//! # fn doc_can_run() -> bool {
//! #     use std::os::unix::fs::MetadataExt;
//! #     let root = std::fs::metadata("/proc/self").map(|meta| meta.uid() == 0).unwrap_or(false);
//! #     if !root || !cfg!(feature = "embedded-sleeper") {
//! #         eprintln!("SKIPPED: the crate example needs root and the embedded-sleeper feature");
//! #     }
//! #     root && cfg!(feature = "embedded-sleeper")
//! # }
//! ```
//!
//! An error prints as one line, from `main` too: `Error: open "sleepy_mntns=/x": ENOENT (2)
//! (exit status: 66)`.

#![deny(missing_docs)]

mod enter;
mod error;
mod fd;
mod nsref;
mod sandbox;

#[cfg(feature = "embedded-sleeper")]
pub use enter::embedded::EMBEDDED_SLEEPER;
pub use enter::launch::SPAWNER_ENV;
pub use enter::{Builder, Sleeper, DEFAULT_TIMEOUT, SLEEPER_ENV, SLEEPER_NAME};
pub use error::{errno_name, Error, OsError};
pub use nsref::{NamespaceRef, ParseNamespaceRefError};
pub use sandbox::authority::{Authority, IdMap};
pub use sandbox::policy::{ReadPolicy, PSEUDO_FILESYSTEMS};
pub use sandbox::{
    DirEntry, FileKind, Hold, NotDescended, ReadDir, Sandbox, Stat, Walk, WalkEntry, WalkError, Way,
};

/// The environment variable with the path of the mount namespace for the sleeper to join;
/// the counterpart of lxkns' `MntnsEnvironmentVariableName`.
pub const MNTNS_ENV: &str = "sleepy_mntns";

/// The environment variable with the path of a user namespace for the sleeper to join first
/// (optional); the counterpart of lxkns' `UsernsEnvironmentVariableName`.
pub const USERNS_ENV: &str = "sleepy_userns";

/// The environment variable that, when not empty, makes the sleeper sleep reading stdin and
/// exit on end-of-file (this crate's addition to the protocol).
pub const LIFELINE_ENV: &str = "sleepy_lifeline";

/// What the sleeper writes to stdout, and nothing else, once it is in the namespace.
pub const HANDSHAKE: &[u8] = b"OK\n";

/// The sleeper's exit status when it cannot join; its one stderr line says why.
pub const FAILURE_EXIT_STATUS: i32 = 66;
