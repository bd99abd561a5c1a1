//! Read files inside another mount namespace — a container's, say — safely, through a tiny
//! sleeper process that joins the namespace and holds it open.
//!
//! [`Builder::spawn`] starts the `mntnssandbox` sleeper with the namespace to join in its
//! environment, waits (bounded) for its `OK`, and returns a [`Sandbox`]. The sandbox opens the
//! sleeper's root directory once and resolves every path below it with openat2(2)
//! (`RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`), so that absolute symlinks and `..` stay inside
//! the namespace, as they would for a process in the container, instead of escaping to the
//! host as they do when reading `/proc/<pid>/root/...` naively.
//!
//! The sleeper lives as long as the sandbox: [`Sandbox::close`] or dropping it kills and reaps
//! it through a pidfd, and if this process dies, even by SIGKILL, the sleeper sees its stdin
//! (the *lifeline*) close and exits.
//!
//! The protocol is lxkns's: [`MNTNS_ENV`], [`USERNS_ENV`], [`HANDSHAKE`] and
//! [`FAILURE_EXIT_STATUS`]; [`LIFELINE_ENV`] is ours.
//!
//! Requires Linux 5.6+ (openat2, pidfd_open; waitid on a pidfd needs 5.4).
//!
//! The crate also builds the `mntns` command (`mntns cat NSREF PATH`, `mntns ls NSREF PATH`,
//! `mntns hold NSREF`, `mntns demo`), a thin layer over this API; see `mntns --help`.
//!
//! # Example
//!
//! Reading the host's own mount namespace (joining it needs root):
//!
//! ```
//! use mntnssandbox_host::{Builder, NamespaceRef};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let Some(sleeper) = doc_sleeper() else { return Ok(()) };
//!
//! let sandbox = Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
//! #   .sleeper(sleeper)
//!     .spawn()?;
//! println!("held by {:?}", sandbox.hold());
//!
//! for entry in sandbox.read_dir("/")? {
//!     println!("/{}", entry.file_name().to_string_lossy());
//! }
//! assert!(sandbox.metadata("/")?.is_dir());
//! // `..` above the root stays at the root.
//! assert_eq!(sandbox.canonicalize("/../..")?, std::path::Path::new("/"));
//!
//! sandbox.close()?;
//! # Ok(())
//! # }
//! # /// The sleeper if it is there and we are root; otherwise the example is skipped.
//! # fn doc_sleeper() -> Option<std::path::PathBuf> {
//! #     use std::os::unix::fs::MetadataExt;
//! #     let root = std::fs::metadata("/proc/self").map(|meta| meta.uid() == 0).unwrap_or(false);
//! #     let sleeper = std::env::var_os("MNTNSSANDBOX_TEST_BINARY").map(Into::into).unwrap_or_else(
//! #         || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mntnssandbox"),
//! #     );
//! #     if !root || !sleeper.exists() {
//! #         eprintln!("SKIPPED: the crate example needs root and a built sleeper");
//! #         return None;
//! #     }
//! #     Some(sleeper)
//! # }
//! ```

#![deny(missing_docs)]

mod child;
mod clone3;
mod enter;
mod error;
mod fd;
mod launch;
mod nsref;
mod policy;
mod privilege;
mod reaper;
mod sandbox;
mod slots;
mod spawn;

pub use error::{errno_name, Error, OsError};
pub use launch::SPAWNER_ENV;
pub use nsref::{NamespaceRef, ParseNamespaceRefError};
pub use policy::{ReadPolicy, PSEUDO_FILESYSTEMS};
pub use sandbox::{DirEntry, FileKind, Hold, Sandbox};
pub use spawn::{Builder, DEFAULT_TIMEOUT, SLEEPER_ENV, SLEEPER_NAME};

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
