//! The one line on stderr that says what failed: the step, the namespace kind, the path as
//! given (control characters escaped, so it stays one line) and the errno name and number.

use crate::join::{Kind, Step};
use core::ffi::CStr;
use linux_raw_sys::errno::*;
use rustix::io::Errno;

/// Everything that makes the sleeper exit with status 66.
pub enum Failure {
    /// `sleepy_mntns` is not set, or set to the empty string.
    MountNamespaceUnset,
    /// Opening or joining a namespace failed.
    Namespace { step: Step, kind: Kind, path: &'static CStr, errno: Errno },
    /// The `OK` handshake could not be written to stdout.
    Handshake(Errno),
    /// The lifeline (stdin) could not be read.
    Lifeline(Errno),
}

/// Formats `failure` as one line and writes it to stderr in a single write(2).
pub fn report(failure: &Failure) {
    let mut line = Line::new();
    line.text(b"mntnssandbox: ");
    let errno = match *failure {
        Failure::MountNamespaceUnset => {
            line.text(b"sleepy_mntns is not set or empty");
            None
        }
        Failure::Namespace { step, kind, path, errno } => {
            line.text(match step {
                Step::Open => b"open ",
                Step::Join => b"join ",
            });
            line.text(match kind {
                Kind::User => b"user",
                Kind::Mount => b"mount",
            });
            line.text(b" namespace ");
            line.quoted(path.to_bytes());
            Some(errno)
        }
        Failure::Handshake(errno) => {
            line.text(b"write OK to stdout");
            Some(errno)
        }
        Failure::Lifeline(errno) => {
            line.text(b"read lifeline (stdin)");
            Some(errno)
        }
    };
    if let Some(errno) = errno {
        line.errno(errno);
    }
    line.text(b"\n");
    // SAFETY: fd 2 is borrowed for this one write only; if it is closed the write fails harmlessly.
    let stderr = unsafe { rustix::fd::BorrowedFd::borrow_raw(2) };
    // Nothing sensible is left to do if even stderr fails.
    let _ = rustix::io::write(stderr, line.as_bytes());
}

/// Bytes of a path shown before it is cut short with `...`; the errno after it always fits.
const PATH_BUDGET: usize = 256;

/// A fixed buffer large enough for the longest line (prefix, a cut path, the errno).
struct Line {
    buf: [u8; 384],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Self { buf: [0; 384], len: 0 }
    }

    fn byte(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn text(&mut self, text: &[u8]) {
        for &byte in text {
            self.byte(byte);
        }
    }

    /// `"path"`, with `"`, `\` and control characters escaped as `\"`, `\\` and `\xNN`.
    fn quoted(&mut self, path: &[u8]) {
        let end = self.len + PATH_BUDGET;
        self.byte(b'"');
        for &byte in path {
            if self.len + 4 > end {
                self.text(b"...");
                break;
            }
            match byte {
                b'"' | b'\\' => self.text(&[b'\\', byte]),
                0..=0x1f | 0x7f => self.text(&[b'\\', b'x', hex(byte >> 4), hex(byte & 0xf)]),
                _ => self.byte(byte),
            }
        }
        self.byte(b'"');
    }

    /// `: ENAME (N)`, the name from the table of errors this program can meet.
    fn errno(&mut self, errno: Errno) {
        let number = errno.raw_os_error() as u32;
        self.text(b": ");
        self.text(errno_name(number));
        self.text(b" (");
        self.decimal(number);
        self.text(b")");
    }

    fn decimal(&mut self, mut number: u32) {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (number % 10) as u8;
            number /= 10;
            if number == 0 {
                break;
            }
        }
        self.text(&digits[start..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn hex(nibble: u8) -> u8 {
    b"0123456789abcdef"[(nibble & 0xf) as usize]
}

/// The errors open(2), setns(2), read(2) and write(2) can give us.
const ERRNO_NAMES: [(u32, &str); 23] = [
    (EPERM, "EPERM"),
    (ENOENT, "ENOENT"),
    (EINTR, "EINTR"),
    (EIO, "EIO"),
    (ENXIO, "ENXIO"),
    (EBADF, "EBADF"),
    (EAGAIN, "EAGAIN"),
    (ENOMEM, "ENOMEM"),
    (EACCES, "EACCES"),
    (EFAULT, "EFAULT"),
    (ENODEV, "ENODEV"),
    (ENOTDIR, "ENOTDIR"),
    (EISDIR, "EISDIR"),
    (EINVAL, "EINVAL"),
    (ENFILE, "ENFILE"),
    (EMFILE, "EMFILE"),
    (ENOSPC, "ENOSPC"),
    (EPIPE, "EPIPE"),
    (ENAMETOOLONG, "ENAMETOOLONG"),
    (ENOSYS, "ENOSYS"),
    (ELOOP, "ELOOP"),
    (EOVERFLOW, "EOVERFLOW"),
    (EUSERS, "EUSERS"),
];

/// The table packed at compile time as `[0x80 | number, name...]*`, so the binary carries
/// about 150 bytes instead of a table of pointers three times that size.
static PACKED_NAMES: [u8; packed_len()] = pack();

const fn packed_len() -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < ERRNO_NAMES.len() {
        len += 1 + ERRNO_NAMES[i].1.len();
        i += 1;
    }
    len
}

const fn pack() -> [u8; packed_len()] {
    let mut packed = [0u8; packed_len()];
    let (mut i, mut at) = (0, 0);
    while i < ERRNO_NAMES.len() {
        let (number, name) = ERRNO_NAMES[i];
        assert!(number < 0x80, "errno numbers must fit in 7 bits");
        packed[at] = 0x80 | number as u8;
        at += 1;
        let name = name.as_bytes();
        let mut j = 0;
        while j < name.len() {
            packed[at] = name[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    packed
}

fn errno_name(number: u32) -> &'static [u8] {
    let mut at = 0;
    while at < PACKED_NAMES.len() {
        let marker = PACKED_NAMES[at];
        let start = at + 1;
        at = start;
        while at < PACKED_NAMES.len() && PACKED_NAMES[at] < 0x80 {
            at += 1;
        }
        if u32::from(marker & 0x7f) == number {
            return &PACKED_NAMES[start..at];
        }
    }
    b"errno"
}
