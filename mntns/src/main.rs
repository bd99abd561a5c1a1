//! `mntns`: read files inside a mount namespace — a container's — with container semantics,
//! through a mntnssandbox sleeper.

mod demo;
mod engines;
mod hold;
mod nsarg;
mod ps;
mod read;
mod tar;

use clap::{Parser, Subcommand};
use mntnssandbox_host::{Builder, Sandbox};
use nsarg::NamespaceArg;
use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Read files inside a mount namespace (a container's) as a process in it would see them:
/// absolute symlinks and `..` stay inside its root.
///
/// NSREF is a namespace file (such as /proc/1234/ns/mnt), a PID, or a running container:
/// podman:NAME-OR-ID or docker:NAME-OR-ID, looked up with `podman container inspect` or
/// `docker container inspect` (so with the engine's settings in the environment:
/// CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, DOCKER_HOST, ...) and read through its process.
#[derive(Parser, Debug)]
#[command(name = "mntns", version)]
pub(crate) struct Cli {
    /// The mntnssandbox sleeper binary [default: $MNTNSSANDBOX_BINARY, else the one built
    /// into mntns]
    #[arg(long, global = true, value_name = "PATH")]
    sleeper: Option<PathBuf>,

    /// Seconds to wait for the sleeper's handshake
    #[arg(long, global = true, value_name = "SECS", default_value = "5", value_parser = seconds)]
    timeout: Duration,

    /// A user namespace for the sleeper to join first (needed for unprivileged containers)
    #[arg(long, global = true, value_name = "NSREF")]
    userns: Option<NamespaceArg>,

    /// Find NSREF inside this mount namespace: NSREF is then a namespace file bind-mounted
    /// there (resolved in its root, no magic links). Repeat for a chain, outermost first
    #[arg(long = "in", global = true, value_name = "NSREF")]
    within: Vec<NamespaceArg>,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print a regular file as seen inside the namespace
    ///
    /// Only regular files are read: a FIFO, socket or device is refused without being opened,
    /// and so is a file on a kernel pseudo-filesystem (procfs, sysfs, ...) unless
    /// --allow-pseudo-filesystems is given. Files of any size are streamed unless --max-bytes
    /// is given.
    Cat {
        /// The mount namespace: a namespace file, a PID, podman:NAME or docker:NAME
        nsref: NamespaceArg,
        /// The file, as a path inside the namespace
        path: PathBuf,
        /// Refuse a larger file without printing any of it; stop with an error after N bytes
        /// if it grows while being read
        #[arg(long, value_name = "N")]
        max_bytes: Option<u64>,
        /// Read files on kernel pseudo-filesystems too (with this process's credentials: a
        /// container's link to /proc/self/environ would print mntns' own environment)
        #[arg(long)]
        allow_pseudo_filesystems: bool,
    },
    /// List a directory inside the namespace, one name per line, sorted by bytes
    ///
    /// Names are escaped as `LC_ALL=C ls -b` does (\n, \t, \\, "\ ", octal \ooo for other
    /// control and non-ASCII bytes), so that no name can move the cursor, retitle the terminal
    /// or pass for two entries. A directory on a kernel pseudo-filesystem (procfs, sysfs, ...)
    /// is refused unless --allow-pseudo-filesystems is given.
    Ls {
        /// The mount namespace: a namespace file, a PID, podman:NAME or docker:NAME
        nsref: NamespaceArg,
        /// The directory, as a path inside the namespace
        #[arg(default_value = "/")]
        path: PathBuf,
        /// Print names raw, each followed by a NUL byte, for programs
        #[arg(short = 'z', long)]
        zero: bool,
        /// Do not sort: print names as they are read, in the directory's order (memory stays
        /// flat whatever the directory holds)
        #[arg(short = 'U')]
        unsorted: bool,
        /// List directories on kernel pseudo-filesystems too (with this process's credentials:
        /// a container's link to /proc/self/fd would list mntns' own descriptors)
        #[arg(long)]
        allow_pseudo_filesystems: bool,
    },
    /// Hold the namespace: print the sleeper's PID and root path, keep it until stdin closes
    ///
    /// The line printed is "PID /proc/PID/root". SIGINT, SIGTERM and SIGHUP end mntns cleanly
    /// too (exit 0). The sleeper goes with mntns in every case, even when mntns is killed with
    /// SIGKILL: its stdin is a pipe from mntns.
    Hold {
        /// The mount namespace: a namespace file, a PID, podman:NAME or docker:NAME
        nsref: NamespaceArg,
    },
    /// Write a tar archive of subtrees inside the namespace to stdout (refused onto a terminal)
    ///
    /// Nothing is followed: symlinks are stored as links (targets as written), every
    /// directory is opened by its one name below its parent, kernel pseudo-filesystems are not
    /// gone into. Regular files' content is read from the very inode listed; FIFOs, sockets
    /// and devices are never opened, and stored (as entries) only with --specials; sparse
    /// files are skipped, never expanded. Owners are numeric, as the container sees them.
    /// Exit status: 0 when all was stored, 1 when something was skipped or changed while read
    /// (one line each on stderr), 2 on a fatal error.
    Tar {
        /// The mount namespace: a namespace file, a PID, podman:NAME or docker:NAME
        nsref: NamespaceArg,
        /// The subtrees, as paths inside the namespace (stored without their leading `/`)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Store FIFOs and devices as entries (never opened); sockets cannot be stored
        #[arg(long)]
        specials: bool,
        /// Skip regular files larger than N bytes (with a warning)
        #[arg(long, value_name = "N")]
        max_file_bytes: Option<u64>,
        /// Stay on the file system of each PATH: directories on others are stored, not gone into
        #[arg(long)]
        one_file_system: bool,
    },
    /// List the running containers of podman and docker, with the PRETTY_NAME of each one's
    /// os-release
    ///
    /// One line each, under a header: ENGINE NAME PID PRETTY_NAME, in aligned columns. The
    /// engines are those on PATH; one that does not answer (docker without a reachable daemon)
    /// is skipped with a line on stderr. Names and PRETTY_NAMEs come from the containers, so
    /// they are escaped as `mntns ls` escapes names (spaces in PRETTY_NAME, the last column,
    /// stay). An os-release that cannot be read shows as "-", with a line on stderr saying why.
    Ps,
    /// Build a throwaway container-like namespace and show naive vs. safe reads in it
    Demo,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is not a usable timeout"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Tar {
        nsref,
        paths,
        specials,
        max_file_bytes,
        one_file_system,
    } = &cli.command
    {
        let options = tar::Options {
            specials: *specials,
            max_file_bytes: *max_file_bytes,
            one_file_system: *one_file_system,
        };
        return match builder(&cli, nsref).and_then(|builder| builder.spawn().map_err(fail)) {
            Ok(sandbox) => tar::tar(&sandbox, paths, &options),
            Err(message) => {
                complain(message);
                ExitCode::from(2)
            }
        };
    }
    let result = match &cli.command {
        Cmd::Cat {
            nsref,
            path,
            max_bytes,
            allow_pseudo_filesystems,
        } => read::cat(&cli, nsref, path, *max_bytes, *allow_pseudo_filesystems),
        Cmd::Ls {
            nsref,
            path,
            zero,
            unsorted,
            allow_pseudo_filesystems,
        } => read::ls(
            &cli,
            nsref,
            path,
            *zero,
            *unsorted,
            *allow_pseudo_filesystems,
        ),
        Cmd::Hold { nsref } => hold::hold(&cli, nsref),
        Cmd::Ps => ps::ps(&cli),
        Cmd::Demo => demo::demo(&cli),
        Cmd::Tar { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            complain(message);
            ExitCode::FAILURE
        }
    }
}

/// Prints `message` on stderr after `mntns: `, as one line whatever it holds.
pub(crate) fn complain(message: impl Display) {
    let message = message.to_string().replace('\n', " ");
    let _ = writeln!(io::stderr(), "mntns: {message}");
}

/// Every failure ends up as the text after `mntns: `.
pub(crate) type Outcome = Result<(), String>;

pub(crate) fn fail(what: impl Display) -> String {
    what.to_string()
}

/// The failure of a write to stdout, with its errno.
pub(crate) fn write_failed(error: io::Error) -> String {
    format!("write stdout: {}", mntnssandbox_host::OsError(&error))
}

/// The PID and root path of a sandbox built with `Hold::Sleeper`.
pub(crate) fn sleeper_of(sandbox: &Sandbox) -> (u32, PathBuf) {
    match (sandbox.pid(), sandbox.root()) {
        (Some(pid), Some(root)) => (pid, root),
        _ => unreachable!("a sandbox held by a sleeper has a PID"),
    }
}

/// A builder for `nsref` with the global options; containers named in them are looked up here.
pub(crate) fn builder(cli: &Cli, nsref: &NamespaceArg) -> Result<Builder, String> {
    let mut builder = Builder::new(nsref.resolve()?).timeout(cli.timeout);
    if let Some(sleeper) = &cli.sleeper {
        builder = builder.sleeper(sleeper);
    }
    if let Some(user) = &cli.userns {
        builder = builder.user_namespace(user.resolve()?);
    }
    for outer in &cli.within {
        builder = builder.within(outer.resolve()?);
    }
    Ok(builder)
}
