//! `mntns`: read files inside a mount namespace — a container's — with container semantics,
//! through a mntnssandbox sleeper.

use clap::{Parser, Subcommand};
use mntnssandbox_host::{Builder, NamespaceRef, OsError};
use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Read files inside a mount namespace (a container's) as a process in it would see them:
/// absolute symlinks and `..` stay inside its root.
///
/// NSREF is a namespace file (such as /proc/1234/ns/mnt) or a PID.
#[derive(Parser, Debug)]
#[command(name = "mntns", version)]
struct Cli {
    /// The mntnssandbox sleeper binary [default: $MNTNSSANDBOX_BINARY, else the one built
    /// into mntns]
    #[arg(long, global = true, value_name = "PATH")]
    sleeper: Option<PathBuf>,

    /// Seconds to wait for the sleeper's handshake
    #[arg(long, global = true, value_name = "SECS", default_value = "5", value_parser = seconds)]
    timeout: Duration,

    /// A user namespace for the sleeper to join first (needed for unprivileged containers)
    #[arg(long, global = true, value_name = "NSREF")]
    userns: Option<NamespaceRef>,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print a file as seen inside the namespace
    Cat {
        /// The mount namespace: a namespace file or a PID
        nsref: NamespaceRef,
        /// The file, as a path inside the namespace
        path: PathBuf,
    },
    /// List a directory inside the namespace, one name per line, sorted
    Ls {
        /// The mount namespace: a namespace file or a PID
        nsref: NamespaceRef,
        /// The directory, as a path inside the namespace
        #[arg(default_value = "/")]
        path: PathBuf,
    },
    /// Hold the namespace: print the sleeper's PID and root path, keep it until stdin closes
    ///
    /// The line printed is "PID /proc/PID/root". SIGINT, SIGTERM and SIGHUP end mntns cleanly
    /// too (exit 0). The sleeper goes with mntns in every case, even when mntns is killed with
    /// SIGKILL: its stdin is a pipe from mntns.
    Hold {
        /// The mount namespace: a namespace file or a PID
        nsref: NamespaceRef,
    },
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
    let result = match &cli.command {
        Cmd::Cat { nsref, path } => cat(&cli, nsref, path),
        Cmd::Ls { nsref, path } => ls(&cli, nsref, path),
        Cmd::Hold { nsref } => hold(&cli, nsref),
        Cmd::Demo => demo(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, whatever the message holds.
            let message = message.replace('\n', " ");
            let _ = writeln!(io::stderr(), "mntns: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Every failure ends up as the text after `mntns: `.
type Outcome = Result<(), String>;

fn fail(what: impl Display) -> String {
    what.to_string()
}

fn builder(cli: &Cli, nsref: &NamespaceRef) -> Builder {
    let mut builder = Builder::new(nsref.clone()).timeout(cli.timeout);
    if let Some(sleeper) = &cli.sleeper {
        builder = builder.sleeper(sleeper);
    }
    if let Some(user) = &cli.userns {
        builder = builder.user_namespace(user.clone());
    }
    builder
}

fn cat(cli: &Cli, nsref: &NamespaceRef, path: &std::path::Path) -> Outcome {
    let sandbox = builder(cli, nsref).spawn().map_err(fail)?;
    let mut file = sandbox.open(path).map_err(fail)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(format!("read {path:?}: {}", OsError(&error))),
        };
        out.write_all(&buf[..n])
            .map_err(|error| format!("write stdout: {}", OsError(&error)))?;
    }
    out.flush()
        .map_err(|error| format!("write stdout: {}", OsError(&error)))?;
    sandbox.close().map_err(fail)
}

fn ls(cli: &Cli, nsref: &NamespaceRef, path: &std::path::Path) -> Outcome {
    let sandbox = builder(cli, nsref).spawn().map_err(fail)?;
    let entries = sandbox.read_dir(path).map_err(fail)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for entry in &entries {
        out.write_all(entry.file_name().as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|error| format!("write stdout: {}", OsError(&error)))?;
    }
    out.flush()
        .map_err(|error| format!("write stdout: {}", OsError(&error)))?;
    drop(out);
    sandbox.close().map_err(fail)
}

/// The signals that end `hold` cleanly, blocked and read from a signalfd.
const HOLD_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn hold(cli: &Cli, nsref: &NamespaceRef) -> Outcome {
    // Block the signals before anything else (we have no other threads), so none is lost; the
    // sleeper is spawned with an empty signal mask by std.
    let signals =
        signalfd(&HOLD_SIGNALS).map_err(|error| format!("signalfd: {}", OsError(&error)))?;
    let sandbox = builder(cli, nsref).spawn().map_err(fail)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{} {}", sandbox.pid(), sandbox.root().display())
            .and_then(|()| out.flush())
            .map_err(|error| format!("write stdout: {}", OsError(&error)))?;
    }

    let stdin = io::stdin();
    let stdin_fd = stdin.as_fd();
    loop {
        let mut fds = [
            libc::pollfd {
                fd: stdin_fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sandbox.pidfd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {}", OsError(&error)));
        }
        if fds[2].revents != 0 {
            // Died under us (killed from outside): close() says how.
            return sandbox.close().map_err(fail);
        }
        if fds[1].revents != 0 {
            break;
        }
        if fds[0].revents != 0 {
            let mut sink = [0u8; 4096];
            // SAFETY: reading into a local buffer of the given size.
            let n = unsafe { libc::read(0, sink.as_mut_ptr().cast(), sink.len()) };
            if n == 0 {
                break;
            }
            if n < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                    _ => break,
                }
            }
        }
    }
    sandbox.close().map_err(fail)
}

/// Blocks `signals` for this thread and returns a signalfd (close-on-exec) that reads them.
fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    // SAFETY: plain libc calls on a local, initialised sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The demo container: a tmpfs with a few files and an absolute symlink, moved over `/` in a
/// private mount namespace, so that it becomes that namespace's root (what setns(2) gives a
/// joining process), while this shell keeps the old root and its programs. It reports ready
/// and waits for stdin to close, using only shell builtins from then on.
const DEMO_SCRIPT: &str = r#"set -eu
mount -n -t tmpfs -o mode=0755 mntns-demo /tmp
cd /tmp
mkdir etc
echo demo-container > etc/hostname
printf 'PRETTY_NAME="mntns demo container"\nID=mntns-demo\n' > etc/os-release
ln -s /etc/hostname abs-link
cd /
mount -n --move /tmp /
echo ready
read _ || true
"#;

/// How long the demo waits for its container to come up or go away.
const DEMO_WAIT: Duration = Duration::from_secs(10);

fn demo(cli: &Cli) -> Outcome {
    let root = rustix::process::geteuid().is_root();
    let unshare: &[&str] = if root {
        &["--mount", "--propagation", "private"]
    } else {
        &[
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ]
    };
    println!("mntns demo: a throwaway container, read naively and safely\n");

    let holder = Command::new("unshare")
        .args(unshare)
        .args(["sh", "-c", DEMO_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("run unshare: {}", OsError(&error)))?;
    let mut holder = Holder::new(holder);
    holder.wait_ready()?;
    let holder_pid = holder.pid();
    println!(
        "  container  holder PID {holder_pid} (unshare {}): a tmpfs root with /etc/hostname,",
        unshare.join(" ")
    );
    println!("             /etc/os-release and /abs-link -> /etc/hostname");

    let mut builder = builder(cli, &NamespaceRef::Pid(holder_pid));
    if !root && cli.userns.is_none() {
        builder = builder.user_namespace(NamespaceRef::Pid(holder_pid));
    }
    let started = Instant::now();
    let sandbox = builder.spawn().map_err(fail)?;
    let spawn_time = started.elapsed();
    let pid = sandbox.pid();
    let rss = vm_rss(pid).unwrap_or_else(|| "?".into());
    println!(
        "  sleeper    PID {pid}, joined in {} µs, VmRSS {rss}",
        spawn_time.as_micros()
    );
    println!("  root       {}\n", sandbox.root().display());

    let link = sandbox.read_link("/abs-link").map_err(fail)?;
    println!("  /abs-link -> {} inside the container", link.display());
    let naive_path = sandbox.root().join("abs-link");
    let naive = match std::fs::read_to_string(&naive_path) {
        Ok(text) => format!("{:?}", text.trim_end()),
        Err(error) => format!("error {}", OsError(&error)),
    };
    let safe = sandbox.read_to_string("/abs-link").map_err(fail)?;
    let naive_label = format!("naive  std::fs::read({})", naive_path.display());
    let safe_label = "safe   Sandbox::read_to_string(\"/abs-link\")".to_owned();
    let width = naive_label.len().max(safe_label.len());
    println!("    {naive_label:width$}  {naive}   <- the HOST's /etc/hostname!");
    println!(
        "    {safe_label:width$}  {:?}   <- the container's\n",
        safe.trim_end()
    );

    let names: Vec<String> = sandbox
        .read_dir("/")
        .map_err(fail)?
        .into_iter()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    println!("  ls /       {}", names.join("  "));
    let os_release = sandbox.read_to_string("/etc/os-release").map_err(fail)?;
    if let Some(pretty) = os_release
        .lines()
        .find(|line| line.starts_with("PRETTY_NAME="))
    {
        println!("  os-release {pretty}");
    }
    let climb = "/etc/../../../../etc/hostname";
    let climbed = sandbox.read_to_string(climb).map_err(fail)?;
    println!(
        "  {climb} -> {:?} (.. stops at the root)",
        climbed.trim_end()
    );
    let canonical = sandbox.canonicalize("/abs-link").map_err(fail)?;
    println!("  canonicalize(\"/abs-link\") = {}\n", canonical.display());

    sandbox.close().map_err(fail)?;
    holder.finish()?;
    let sleeper_gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let holder_gone = !std::path::Path::new(&format!("/proc/{holder_pid}")).exists();
    if sleeper_gone && holder_gone {
        println!("  cleaned up: sleeper {pid} and holder {holder_pid} are gone");
        Ok(())
    } else {
        Err(format!(
            "demo cleanup: sleeper {pid} or holder {holder_pid} is still there"
        ))
    }
}

/// `VmRSS:   123 kB` of a process, as `123 kB`.
fn vm_rss(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    Some(line["VmRSS:".len()..].trim().to_owned())
}

/// The demo's namespace holder; killed and reaped on drop if not finished.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    fn new(mut child: Child) -> Self {
        let stdin = child.stdin.take();
        Holder { child, stdin }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits, bounded, for the `ready` line; on failure reports the holder's stderr.
    fn wait_ready(&mut self) -> Outcome {
        let stdout = self.child.stdout.take().expect("piped");
        let readable = wait_readable(stdout.as_fd(), DEMO_WAIT)
            .map_err(|error| format!("wait for the demo container: {}", OsError(&error)))?;
        let mut line = String::new();
        if readable {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        if line == "ready\n" {
            return Ok(());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let why = stderr.lines().last().unwrap_or(if readable {
            "no ready line"
        } else {
            "timed out"
        });
        Err(format!("set up the demo container: {why}"))
    }

    /// Closes its stdin and waits (bounded, through a pidfd) for it to exit.
    fn finish(&mut self) -> Outcome {
        drop(self.stdin.take());
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a valid PID");
        let exited = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(pidfd) => {
                use rustix::fd::IntoRawFd;
                // SAFETY: a fresh, owned descriptor changes wrapper types.
                let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd.into_raw_fd()) };
                wait_readable(pidfd.as_fd(), DEMO_WAIT)
                    .map_err(|error| format!("wait for the holder: {}", OsError(&error)))?
            }
            // Exited and reaped already? wait() below tells.
            Err(_) => true,
        };
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err("demo container holder did not exit when told".into());
        }
        match self.child.wait() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("demo container holder: {status}")),
            Err(error) => Err(format!("wait for the holder: {}", OsError(&error))),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether `fd` turned readable (or hung up) within `timeout`.
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pollfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        match ready {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}
