//! The two ways a sleeper is started — clone3 and, where the kernel refuses clone3, std's
//! `Command` — each under hosts that change how children end: SIGCHLD ignored, `SA_NOCLDWAIT`,
//! a host that reaps any child it has (`waitpid(-1)`), and a seccomp filter that refuses clone3.
//!
//! Each such host is a process of its own: this test binary run again for one `#[ignore]`d
//! scenario (a process-wide signal disposition or seccomp filter must not reach the other
//! tests). The driver makes the container, runs the scenario against it, bounded, and
//! checks that it passed.

mod common;

use common::{assert_no_leaks, sleeper, Container, WAIT};
use mntnssandbox_host::{Builder, Error, Hold, NamespaceRef, FAILURE_EXIT_STATUS, SPAWNER_ENV};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

const SETUP: &str = "echo hello > greeting";
/// Tells a scenario which container to join (the holder's PID).
const HOLDER_ENV: &str = "SPAWNER_TEST_HOLDER";

/// Runs `scenario` in a fresh process of this test binary, against a fresh container.
fn run_scenario(scenario: &str, env: &[(&str, &str)]) {
    let container = Container::new(SETUP);
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
        .arg(scenario)
        .env(HOLDER_ENV, container.pid().to_string())
        .env("MNTNSSANDBOX_TEST_BINARY", sleeper())
        .envs(env.iter().copied());
    let (status, out, err) = common::run(command);
    assert!(
        status.success() && out.contains("1 passed"),
        "scenario {scenario} failed ({status}):\n{out}\n{err}"
    );
}

/// In a scenario: the container's holder, or a panic when run otherwise.
fn holder() -> u32 {
    std::env::var(HOLDER_ENV)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("a scenario is run by its driver test, with {HOLDER_ENV} set"))
}

/// What every scenario checks: a sandbox that reads and closes cleanly, and a refused
/// namespace that reports the sleeper's own line and exit status 66; nothing left behind.
/// (Last: it leaves the scenario's thread without CAP_SYS_ADMIN.)
fn spawn_ok_and_refused() {
    let pid = holder();
    assert_no_leaks("a sandbox", || {
        let sandbox = Builder::new(NamespaceRef::Pid(pid))
            .hold(Hold::Sleeper)
            .sleeper(sleeper())
            .timeout(WAIT)
            .spawn()
            .expect("spawn into the container");
        assert_eq!(
            sandbox.read("/greeting").expect("read /greeting"),
            b"hello\n"
        );
        sandbox.close().expect("close the sandbox");
    });
    // Refused by the sleeper itself: without CAP_SYS_ADMIN it may not join the container.
    common::give_up_sys_admin();
    let error = assert_no_leaks("a refused namespace", || {
        Builder::new(NamespaceRef::Pid(pid))
            .hold(Hold::Sleeper)
            .sleeper(sleeper())
            .timeout(WAIT)
            .spawn()
            .expect_err("a namespace that does not exist")
    });
    match &error {
        Error::NamespaceRefused { message, status } => {
            assert_eq!(
                message,
                &format!(
                    "package mntnssandbox: cannot join mount namespace using reference \
                     \"/proc/{pid}/ns/mnt\": Operation not permitted"
                )
            );
            assert_eq!(status.code(), Some(FAILURE_EXIT_STATUS), "{error}");
        }
        other => panic!("want NamespaceRefused with the sleeper's line, got {other:?}"),
    }
}

fn set_sigchld(handler: libc::sighandler_t, flags: libc::c_int) {
    // SAFETY: a zeroed sigaction is valid; the handler is SIG_IGN, SIG_DFL or an
    // async-signal-safe extern "C" function.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        assert_eq!(
            libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()),
            0,
            "sigaction SIGCHLD"
        );
    }
}

extern "C" fn on_sigchld(_: libc::c_int) {}

#[test]
fn host_ignoring_sigchld() {
    require_root!("host_ignoring_sigchld");
    run_scenario("scenario_sigchld_ignored", &[]);
}

#[test]
#[ignore = "run by host_ignoring_sigchld in a process of its own"]
fn scenario_sigchld_ignored() {
    set_sigchld(libc::SIG_IGN, 0);
    spawn_ok_and_refused();
}

#[test]
fn host_with_sa_nocldwait() {
    require_root!("host_with_sa_nocldwait");
    run_scenario("scenario_sa_nocldwait", &[]);
}

#[test]
#[ignore = "run by host_with_sa_nocldwait in a process of its own"]
fn scenario_sa_nocldwait() {
    set_sigchld(
        on_sigchld as *const () as libc::sighandler_t,
        libc::SA_NOCLDWAIT,
    );
    spawn_ok_and_refused();
}

/// A host that reaps whatever child ends (a `waitpid(-1)` loop, as some process supervisors
/// have) takes the sleeper's status; the crate still tells how it died (from the pidfd).
#[test]
fn host_reaping_any_child() {
    require_root!("host_reaping_any_child");
    run_scenario("scenario_reaping_any_child", &[]);
}

#[test]
#[ignore = "run by host_reaping_any_child in a process of its own"]
fn scenario_reaping_any_child() {
    let sandbox = Builder::new(NamespaceRef::Pid(holder()))
        .hold(Hold::Sleeper)
        .sleeper(sleeper())
        .spawn()
        .expect("spawn into the container");
    // SAFETY: the pidfd stays open for the call.
    let killed = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            std::os::fd::AsRawFd::as_raw_fd(&sandbox.pidfd().expect("held by a sleeper")),
            libc::SIGKILL,
            std::ptr::null::<u8>(),
            0,
        )
    };
    assert_eq!(killed, 0, "kill the sleeper");
    assert!(
        common::wait_readable(
            std::os::fd::AsRawFd::as_raw_fd(&sandbox.pidfd().expect("held by a sleeper")),
            WAIT
        ),
        "the sleeper did not die within {WAIT:?}"
    );
    // SAFETY: waitpid with a valid status pointer.
    let reaped = unsafe { libc::waitpid(-1, &mut 0, libc::WNOHANG) };
    assert_eq!(
        reaped as u32,
        sandbox.pid().expect("held by a sleeper"),
        "waitpid(-1) reaps the dead sleeper"
    );
    match sandbox.close() {
        Err(Error::SleeperDied { status, .. }) => {
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}")
        }
        other => panic!("want SleeperDied by SIGKILL, got {other:?}"),
    }
}

/// A seccomp filter like some container runtimes': clone3 fails with `errno`, and the crate
/// must fall back to `Command`.
fn refuse_clone3(errno: u32) {
    const AUDIT_ARCH: u32 = if cfg!(target_arch = "x86_64") {
        0xc000_003e
    } else {
        0xc000_00b7
    };
    let statement = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump_if = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut filter = [
        statement(load, 4), // seccomp_data.arch
        jump_if(AUDIT_ARCH, 1, 0),
        statement(ret, libc::SECCOMP_RET_ALLOW),
        statement(load, 0), // seccomp_data.nr
        jump_if(libc::SYS_clone3 as u32, 0, 1),
        statement(ret, libc::SECCOMP_RET_ERRNO | errno),
        statement(ret, libc::SECCOMP_RET_ALLOW),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl and seccomp with a valid filter program; TSYNC puts every thread of this
    // process under it.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &program,
            ),
            0,
            "install the seccomp filter: {}",
            std::io::Error::last_os_error()
        );
        // The filter is in force: clone3 itself says so.
        assert_eq!(
            libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0),
            -1
        );
    }
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(errno as i32)
    );
}

#[test]
fn clone3_refused_by_seccomp() {
    require_root!("clone3_refused_by_seccomp");
    run_scenario("scenario_clone3_enosys", &[]);
    run_scenario("scenario_clone3_eperm", &[]);
}

#[test]
#[ignore = "run by clone3_refused_by_seccomp in a process of its own"]
fn scenario_clone3_enosys() {
    refuse_clone3(libc::ENOSYS as u32);
    spawn_ok_and_refused();
    missing_sleeper();
}

#[test]
#[ignore = "run by clone3_refused_by_seccomp in a process of its own"]
fn scenario_clone3_eperm() {
    refuse_clone3(libc::EPERM as u32);
    spawn_ok_and_refused();
}

#[test]
fn command_forced_by_the_environment() {
    require_root!("command_forced_by_the_environment");
    run_scenario("scenario_command_forced", &[(SPAWNER_ENV, "command")]);
}

#[test]
#[ignore = "run by command_forced_by_the_environment in a process of its own"]
fn scenario_command_forced() {
    spawn_ok_and_refused();
    missing_sleeper();
}

/// Exec failures are reported by both spawners alike.
fn missing_sleeper() {
    let error = assert_no_leaks("a missing sleeper", || {
        Builder::new(NamespaceRef::Pid(holder()))
            .hold(Hold::Sleeper)
            .sleeper("/nonexistent/mntnssandbox")
            .spawn()
            .expect_err("no such sleeper")
    });
    assert!(matches!(error, Error::SleeperNotFound { .. }), "{error:?}");
}
