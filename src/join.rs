//! Joining a namespace by path: open it, then setns(2) into it.

use core::ffi::CStr;
use rustix::fs::{open, Mode, OFlags};
use rustix::io::Errno;
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

/// Which namespace a path should name; setns(2) checks the type for us.
#[derive(Clone, Copy)]
pub enum Kind {
    User,
    Mount,
}

/// Which step of joining failed.
#[derive(Clone, Copy)]
pub enum Step {
    Open,
    Join,
}

/// Enters the namespace of `kind` that `path` refers to. The fd is close-on-exec and closed
/// again before returning, whatever happens.
pub fn join(kind: Kind, path: &CStr) -> Result<(), (Step, Errno)> {
    let namespace = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|errno| (Step::Open, errno))?;
    let kind = match kind {
        Kind::User => LinkNameSpaceType::User,
        Kind::Mount => LinkNameSpaceType::Mount,
    };
    move_into_link_name_space(rustix::fd::AsFd::as_fd(&namespace), Some(kind))
        .map_err(|errno| (Step::Join, errno))
}
