//! Killing and reaping sleepers that were let go, off the caller's path.
//!
//! A sleeper let go ([`Sandbox::detach`](crate::Sandbox::detach)) is put on a list, nothing
//! more: killing and reaping it in the call, or even waking a thread to do so, is most of what
//! letting it go would cost the caller (measured on a 2-CPU VM: detach took 60–80 µs killing
//! and reaping, 28–32 µs waking a thread per sleeper, 17 µs with the list). A reaper thread of ours
//! looks at the list every [`TICK`], kills what it finds, reaps it, and ends once it has had
//! nothing to do for [`IDLE`]. Whoever wants its sleeper gone for sure calls
//! [`Reaped::finish`], as a sandbox's drop does: it takes the sleeper off the list and reaps it
//! itself if the thread has not come round yet, so nothing is left behind once the sandbox is.

use crate::enter::child::Child;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How often the reaper thread looks at the list.
const TICK: Duration = Duration::from_millis(1);
/// How long the reaper thread goes on looking at an empty list before it ends.
const IDLE: Duration = Duration::from_millis(100);

/// Whether a sleeper let go has been reaped.
#[derive(Debug, Default)]
pub(crate) struct Reaped {
    done: Mutex<bool>,
    changed: Condvar,
}

impl Reaped {
    /// Makes sure the sleeper is killed and reaped: takes it off the list and does so here if
    /// the reaper thread has not taken it yet, else waits for the thread (which has killed it).
    pub(crate) fn finish(self: &Arc<Self>) {
        let mine = {
            let mut list = lock(&LIST);
            let at = list
                .pending
                .iter()
                .position(|(_, reaped)| Arc::ptr_eq(reaped, self));
            at.map(|at| list.pending.swap_remove(at))
        };
        if let Some(job) = mine {
            reap(job);
            return;
        }
        let mut done = lock(&self.done);
        while !*done {
            done = self
                .changed
                .wait(done)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn set(&self) {
        *lock(&self.done) = true;
        self.changed.notify_all();
    }
}

/// Nothing panics while holding these locks; a poisoned one is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Job = (Child, Arc<Reaped>);

struct List {
    pending: Vec<Job>,
    /// Whether the reaper thread runs (and will look at `pending` again).
    running: bool,
}

static LIST: Mutex<List> = Mutex::new(List {
    pending: Vec::new(),
    running: false,
});

/// Puts `child` on the list to be killed and reaped; starts the reaper thread if it does not
/// run (if no thread can be started, kills and reaps here).
pub(crate) fn let_go(child: Child) -> Arc<Reaped> {
    let reaped = Arc::new(Reaped::default());
    let mut list = lock(&LIST);
    list.pending.push((child, Arc::clone(&reaped)));
    if !list.running {
        let started = std::thread::Builder::new()
            .name("mntnssandbox-reaper".into())
            .spawn(reaper);
        if started.is_ok() {
            list.running = true;
        } else {
            let jobs = std::mem::take(&mut list.pending);
            drop(list);
            reap_all(jobs);
        }
    }
    reaped
}

fn reaper() {
    let mut idle = Duration::ZERO;
    loop {
        std::thread::sleep(TICK);
        let jobs = {
            let mut list = lock(&LIST);
            if list.pending.is_empty() {
                idle += TICK;
                if idle >= IDLE {
                    // Under the lock: a sleeper put on the list from now on starts a new thread.
                    list.running = false;
                    return;
                }
                continue;
            }
            idle = Duration::ZERO;
            std::mem::take(&mut list.pending)
        };
        reap_all(jobs);
    }
}

/// Kills them all first, so that they die side by side, then reaps them.
fn reap_all(jobs: Vec<Job>) {
    for (child, _) in &jobs {
        child.kill();
    }
    jobs.into_iter().for_each(reap);
}

fn reap((child, reaped): Job) {
    // Child's drop kills (if not done yet) and reaps.
    drop(child);
    reaped.set();
}
