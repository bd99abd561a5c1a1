//! `mntns demo`: a throwaway container-like namespace, read naively and safely.

use crate::{builder, fail, sleeper_of, Cli, Outcome};
use mntnssandbox_host::{Hold, NamespaceRef, OsError};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

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

pub(crate) fn demo(cli: &Cli) -> Outcome {
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

    // Held by a sleeper: the naive read below goes through its /proc/<pid>/root.
    let mut builder = builder(cli, &NamespaceRef::Pid(holder_pid).into())?.hold(Hold::Sleeper);
    if !root && cli.userns.is_none() {
        builder = builder.user_namespace(NamespaceRef::Pid(holder_pid));
    }
    let started = Instant::now();
    let sandbox = builder.spawn().map_err(fail)?;
    let spawn_time = started.elapsed();
    let (pid, root) = sleeper_of(&sandbox);
    let rss = vm_rss(pid).unwrap_or_else(|| "?".into());
    println!(
        "  sleeper    PID {pid}, joined in {} µs, VmRSS {rss}",
        spawn_time.as_micros()
    );
    println!("  root       {}\n", root.display());

    let link = sandbox.read_link("/abs-link").map_err(fail)?;
    println!("  /abs-link -> {} inside the container", link.display());
    let naive_path = root.join("abs-link");
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

    let mut names = sandbox
        .read_dir("/")
        .map_err(fail)?
        .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    names.sort();
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
