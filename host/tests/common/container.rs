//! Throwaway containers: a private mount namespace (and user namespace) with a tmpfs root, a
//! namespace that keeps the host's tree, and namespaces nested for chained references.

use super::*;

/// A throwaway container: a private mount namespace (plus a user namespace unless we are
/// root, or when asked to run as another user) whose root is a fresh tmpfs.
///
/// A shell, started through `unshare`, mounts a tmpfs over a staging directory, runs `setup`
/// in it (`$S` is the staging path), makes it the root as container runtimes do
/// (`pivot_root`, the old root detached: the namespace's root, the one setns(2) gives, and the
/// holder's own, the one `/proc/<pid>/root` gives), says `ready` and waits on stdin, with
/// builtins only from then on (the old root's programs are gone). The staging directory is a
/// host temp dir, so that the same absolute path exists on the host with other contents.
pub struct Container {
    holder: Child,
    stdin: Option<ChildStdin>,
    user_ns: bool,
    staging: TempDir,
}

const CONTAINER_SCRIPT: &str = r#"set -eu
S="$1"
mount -n -t tmpfs -o mode=0755 container "$S"
cd "$S"
eval "$2"
mkdir "$S/.old-root"
pivot_root "$S" "$S/.old-root"
cd /
echo ready
read _ || true
"#;

/// Where the container's old root was put by `pivot_root`. The container's shell has no
/// programs left (their loader was in the old root), so the test detaches the old root (with
/// `umount` run inside the old root itself, through nsenter) and removes the directory.
const OLD_ROOT: &str = ".old-root";

/// A namespace that keeps the host's root, as `unshare -U -r -m` gives any local user: `setup`
/// runs in the host's `/`, with mounts of the namespace's own.
const HOST_ROOT_SCRIPT: &str = r#"set -eu
eval "$2"
echo ready
read _ || true
"#;

impl Container {
    /// As ourselves: root gets a plain mount namespace, others a user+mount namespace.
    pub fn new(setup: &str) -> Self {
        Self::spawn(setup, None, CONTAINER_SCRIPT)
    }

    /// As `uid`/`gid` (via setpriv; needs root), always in a user+mount namespace.
    pub fn as_user(setup: &str, uid: u32) -> Self {
        Self::spawn(setup, Some(uid), CONTAINER_SCRIPT)
    }

    /// A user+mount namespace made by `uid` (via setpriv; `None`: ourselves) whose root stays
    /// the host's, with its whole tree: what `unshare -U -r -m` gives any local user. `setup`
    /// runs inside (as the namespace's root), in the host's `/`.
    pub fn keeping_host_root(setup: &str, uid: Option<u32>) -> Self {
        // As root, through setpriv as uid 0: the same path, a user namespace all the same.
        let uid = if is_root() { uid.or(Some(0)) } else { uid };
        Self::spawn(setup, uid, HOST_ROOT_SCRIPT)
    }

    fn spawn(setup: &str, uid: Option<u32>, script: &str) -> Self {
        let staging = TempDir::new("container");
        let user_ns = uid.is_some() || !is_root();
        let mut command = match uid {
            Some(uid) => {
                let mut command = Command::new("setpriv");
                command.args(as_user(uid)).arg("unshare");
                command
            }
            None => Command::new("unshare"),
        };
        if user_ns {
            command.args(["--user", "--map-root-user"]);
        }
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(staging.path())
            .arg(setup)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut holder = command
            .spawn()
            .expect("spawn the container holder (unshare)");
        let stdin = holder.stdin.take();
        let stdout = holder.stdout.take().expect("piped stdout");
        let ready = wait_readable(stdout.as_raw_fd(), WAIT);
        let mut line = String::new();
        if ready {
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read the holder's ready line");
        }
        if line == "ready\n" && script == CONTAINER_SCRIPT {
            detach_old_root(holder.id(), user_ns);
        }
        if line != "ready\n" {
            let _ = holder.kill();
            let _ = holder.wait();
            let mut stderr = String::new();
            let _ = holder
                .stderr
                .take()
                .expect("piped")
                .read_to_string(&mut stderr);
            panic!(
                "container holder not ready within {WAIT:?} (got {line:?}); its stderr: {stderr}"
            );
        }
        Container {
            holder,
            stdin,
            user_ns,
            staging,
        }
    }

    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// The host directory whose path the container's staging directory shared.
    pub fn staging(&self) -> &TempDir {
        &self.staging
    }

    /// Whether the sleeper must join the holder's user namespace too.
    pub fn in_user_ns(&self) -> bool {
        self.user_ns
    }

    /// `mntns --sleeper S [--userns PID] <args...>` for this container.
    pub fn mntns(&self, args: &[&str]) -> Command {
        let mut command = mntns();
        command.arg("--sleeper").arg(sleeper());
        if self.user_ns {
            command.args(["--userns", &self.pid().to_string()]);
        }
        command.args(args);
        command
    }

    /// A builder for this container's mount namespace, with the test sleeper, held by it
    /// (most tests are about sleepers; see `fd_builder`).
    pub fn builder(&self) -> Builder {
        self.fd_builder().hold(Hold::Sleeper)
    }

    /// A builder for this container's mount namespace with the defaults: held by descriptors
    /// (through a thread where we may enter by ourselves), with the test sleeper.
    pub fn fd_builder(&self) -> Builder {
        let builder = Builder::new(NamespaceRef::Pid(self.pid())).sleeper(sleeper());
        if self.user_ns {
            builder.user_namespace(NamespaceRef::Pid(self.pid()))
        } else {
            builder
        }
    }
}

impl Drop for Container {
    /// Closes the holder's stdin and waits (bounded) for it to exit; kills it otherwise.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !wait_exit(&mut self.holder, WAIT) {
            let _ = self.holder.kill();
            let _ = self.holder.wait();
            if !std::thread::panicking() {
                panic!(
                    "container holder {} did not exit within {WAIT:?}",
                    self.holder.id()
                );
            }
        }
    }
}

/// Detaches the old root of container holder `pid` and removes its directory (see
/// [`OLD_ROOT`]).
fn detach_old_root(pid: u32, user_ns: bool) {
    let old_root = format!("/proc/{pid}/root/{OLD_ROOT}");
    let mut umount = Command::new("nsenter");
    umount.arg(format!("--target={pid}"));
    if user_ns && !is_root() {
        umount.arg("--user");
    }
    umount
        .arg("--mount")
        .arg(format!("--root={old_root}"))
        .args(["umount", "-n", "-l", "/"]);
    let (status, _, err) = run(umount);
    assert!(
        status.success(),
        "detach the old root of {pid}: {status}: {err}"
    );
    std::fs::remove_dir(&old_root).unwrap_or_else(|error| panic!("rmdir {old_root}: {error}"));
}

/// An outer namespace (a user and mount namespace of root's, keeping the host's tree, with a
/// tmpfs of its own at `only_inside` that no other namespace sees) holding, under `ns/`, a
/// bind mount of an inner mount namespace (`inner`) and of a user namespace (`user`), a link to
/// it (`link`), a link into procfs (`magic`) and a FIFO (`fifo`): for chained references. The
/// inner namespace is made from inside the outer one (so it is newer, as the kernel requires
/// of a namespace bound into another, and of the same user namespace) and holds `file`
/// (`inner\n`) at [`Nested::inner_file`].
pub struct Nested {
    pub only_inside: TempDir,
    pub outer: Container,
    inner: Child,
    inner_stdin: Option<ChildStdin>,
}

impl Nested {
    pub fn new() -> Self {
        let only_inside = TempDir::new("only-inside");
        let dir = only_inside.path().display().to_string();
        let outer = Container::keeping_host_root(
            &format!(
                "mount -t tmpfs outer {dir}; mkdir {dir}/ns {dir}/inner-root; \
                 touch {dir}/ns/inner {dir}/ns/user; \
                 ln -s /proc/self/ns/mnt {dir}/ns/magic; mkfifo {dir}/ns/fifo; \
                 ln -s {dir}/ns/inner {dir}/ns/link"
            ),
            None,
        );
        let inside_outer = |command: &mut Command| {
            command
                .arg(format!("--target={}", outer.pid()))
                .args(["--user", "--mount"]);
        };
        let start_inner = || {
            let mut inner = Command::new("nsenter");
            inside_outer(&mut inner);
            inner
                .args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "set -e; mount -t tmpfs inner {dir}/inner-root; \
                     echo inner > {dir}/inner-root/file; echo ready; read _ || true"
                ))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut inner = inner
                .spawn()
                .expect("nsenter ... unshare, the inner namespace");
            let stdout = inner.stdout.take().expect("piped");
            assert!(
                wait_readable(stdout.as_raw_fd(), WAIT),
                "no ready from the inner namespace within {WAIT:?}"
            );
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).expect("read");
            assert_eq!(line, "ready\n", "the inner namespace did not come up");
            inner
        };
        let bind = |inner: &Child, what: &str, file: &str| {
            let mut bind = Command::new("nsenter");
            inside_outer(&mut bind);
            bind.args(["mount", "--bind"])
                .arg(format!("/proc/{}/ns/{what}", inner.id()))
                .arg(format!("{dir}/ns/{file}"));
            run(bind)
        };
        // The kernel binds a mount namespace's file only into a namespace whose id is lower
        // (no loop); on Linux 6.18 ids are reused, so a newer namespace may have a lower one
        // (EINVAL about half the time, seen here): another inner namespace is made until one
        // binds. (nsenter execs unshare, which execs sh: the inner holder is the PID spawned.)
        let mut attempts = Vec::new();
        let mut inner = loop {
            let mut inner = start_inner();
            let (status, _, err) = bind(&inner, "mnt", "inner");
            if status.success() {
                break inner;
            }
            attempts.push(err);
            drop(inner.stdin.take());
            assert!(
                wait_exit(&mut inner, WAIT),
                "the refused inner namespace did not end"
            );
            assert!(
                attempts.len() < 20,
                "no inner namespace could be bound: {attempts:?}"
            );
        };
        let inner_stdin = inner.stdin.take();
        let (status, _, err) = bind(&inner, "user", "user");
        assert!(status.success(), "bind the inner's user namespace: {err}");
        Nested {
            only_inside,
            outer,
            inner,
            inner_stdin,
        }
    }

    /// The path of `name` under `ns/`, as the outer namespace sees it.
    pub fn inside(&self, name: &str) -> String {
        format!("{}/ns/{name}", self.only_inside.path().display())
    }

    /// The inner namespace's file, as it sees it.
    pub fn inner_file(&self) -> String {
        format!("{}/inner-root/file", self.only_inside.path().display())
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        drop(self.inner_stdin.take());
        if !wait_exit(&mut self.inner, WAIT) {
            let _ = self.inner.kill();
            let _ = self.inner.wait();
        }
    }
}
