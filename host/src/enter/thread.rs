//! Entering a mount namespace without a process: a thread of ours with its own file-system
//! context (`unshare(CLONE_FS)`) setns(2)es into the namespace, opens its root, and setns(2)es
//! back home. The calling thread, and every other thread, keep their namespaces; only the two
//! descriptors come back.
//!
//! As lxkns' `pause_task` does. setns(CLONE_NEWNS) needs CAP_SYS_ADMIN over the user namespace
//! that owns the mount namespace and CAP_SYS_CHROOT in our own: this serves privileged hosts,
//! and everyone else falls back to a sleeper.
//!
//! The thread is kept for the next request (a new thread per request costs more than the
//! entering itself: std maps and unmaps its stack, clones, exits and is joined: 0.50× a raw
//! sleeper spawn against 0.30× pooled, in the benchmark), and ends once it has had nothing to
//! do for [`IDLE`]. After each request it goes back into this process's own mount namespace
//! (through a pidfd of ours, so it keeps no descriptor between requests), so it never keeps a
//! container's namespace alive; if it cannot, it ends.

use crate::error::{from_errno, Error};
use crate::fd::{lend, own};
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long the entering thread waits for another request before it ends.
const IDLE: Duration = Duration::from_millis(200);

/// A namespace to enter, and where to send its root.
struct Request {
    namespace: OwnedFd,
    reply: SyncSender<(OwnedFd, io::Result<OwnedFd>)>,
}

/// The entering thread's mailbox, while it runs, and which thread it is.
struct Mailbox {
    requests: Sender<Request>,
    generation: u64,
}

/// The mailbox of the thread that serves requests now, and the last generation started.
static THREAD: Mutex<(Option<Mailbox>, u64)> = Mutex::new((None, 0));

fn lock() -> MutexGuard<'static, (Option<Mailbox>, u64)> {
    // Nothing panics while holding it; a poisoned one is still sound.
    THREAD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forgets the mailbox of thread `generation`, if it is still the one in service.
fn retire(generation: u64) {
    retire_locked(&mut lock(), generation);
}

/// [`retire`], the lock held.
fn retire_locked(thread: &mut (Option<Mailbox>, u64), generation: u64) {
    if thread
        .0
        .as_ref()
        .is_some_and(|mailbox| mailbox.generation == generation)
    {
        thread.0 = None;
    }
}

/// Enters the mount namespace `namespace` (a checked namespace file) and returns a descriptor
/// (`O_PATH`) of its root directory, as a process that joins it sees that root; waits for the
/// entering thread no longer than `timeout`.
pub(crate) fn enter_in_thread(namespace: &OwnedFd, timeout: Duration) -> Result<OwnedFd, Error> {
    // The thread's own copy: one that does not come back takes only that with it.
    let namespace = namespace
        .try_clone()
        .map_err(|error| Error::io("dup the namespace descriptor", error))?;
    let (reply, answer) = mpsc::sync_channel(1);
    let mut request = Request { namespace, reply };
    // At most twice: a thread that ended (or broke) since we looked is replaced once.
    for _ in 0..2 {
        let mut thread = lock();
        let (mailbox, generation) = match thread.0.as_ref() {
            Some(mailbox) => (mailbox.requests.clone(), mailbox.generation),
            None => {
                let (mailbox, requests) = mpsc::channel();
                thread.1 += 1;
                let generation = thread.1;
                std::thread::Builder::new()
                    .name("mntnssandbox-enter".into())
                    .spawn(move || serve(requests, generation))
                    .map_err(|error| Error::io("start the entering thread", error))?;
                thread.0 = Some(Mailbox {
                    requests: mailbox.clone(),
                    generation,
                });
                (mailbox, generation)
            }
        };
        match mailbox.send(request) {
            Ok(()) => {
                drop(thread);
                let (_namespace, root) = match answer.recv_timeout(timeout) {
                    Ok(answer) => answer,
                    Err(RecvTimeoutError::Timeout) => {
                        retire(generation);
                        return Err(Error::EnterTimeout { timeout });
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let error = io::Error::other("the entering thread ended");
                        return Err(Error::io("enter the namespace", error));
                    }
                };
                return root.map_err(|error| Error::io("enter the namespace", error));
            }
            Err(mpsc::SendError(returned)) => {
                thread.0 = None;
                request = returned;
            }
        }
    }
    let error = io::Error::other("no thread to enter the namespace");
    Err(Error::io("enter the namespace", error))
}

/// The entering thread: every signal blocked, its own file-system context, then one request
/// after another.
fn serve(requests: Receiver<Request>, generation: u64) {
    block_signals();
    // SAFETY: CLONE_FS gives this thread its own root, cwd and umask, which nothing else
    // observes: it runs no other code.
    let unshared = unsafe { rustix::thread::unshare_unsafe(UnshareFlags::FS) };
    loop {
        let request = match requests.recv_timeout(IDLE) {
            Ok(request) => request,
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let mut thread = lock();
                // Under the lock: a request sent from now on finds no thread and starts one.
                match requests.try_recv() {
                    Ok(request) => request,
                    Err(_) => {
                        retire_locked(&mut thread, generation);
                        return;
                    }
                }
            }
        };
        let Request { namespace, reply } = request;
        if let Err(errno) = unshared {
            let _ = reply.send((namespace, Err(from_errno(errno))));
            retire(generation);
            return;
        }
        let root = enter(&namespace);
        // Back home, or this thread would keep the namespace alive: if that fails, it ends.
        let went_home = go_home();
        let _ = reply.send((namespace, root));
        if went_home.is_err() {
            retire(generation);
            return;
        }
    }
}

/// Blocks every signal on this thread (the kernel never delivers SIGKILL and SIGSTOP to a
/// thread's handler anyway).
fn block_signals() {
    // SAFETY: a filled local signal set; pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// Back into this process's own mount namespace, that of its main thread, through a pidfd of
/// our own (Linux 5.8+): no descriptor is kept between requests.
fn go_home() -> io::Result<()> {
    let pidfd = rustix::process::pidfd_open(
        rustix::process::getpid(),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(from_errno)?;
    rustix::thread::move_into_thread_name_spaces(
        pidfd.as_fd(),
        rustix::thread::ThreadNameSpaceType::MOUNT,
    )
    .map_err(from_errno)
}

/// Into the namespace, and its root.
fn enter(namespace: &OwnedFd) -> io::Result<OwnedFd> {
    setns(namespace)?;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open("/", flags, Mode::empty())
        .map(own)
        .map_err(from_errno)
}

fn setns(namespace: &OwnedFd) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(lend(namespace), Some(LinkNameSpaceType::Mount))
        .map_err(from_errno)
}
