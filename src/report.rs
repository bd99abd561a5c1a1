//! The one line on stderr that says what failed, in lxkns' words, and the exit.
//!
//! Joining, the line is byte for byte the one lxkns' own sleeper prints:
//! `package mntnssandbox: invalid mount namespace reference "<path>": <strerror>` when open(2)
//! fails, `... cannot join mount namespace using reference "<path>": <strerror>` when setns(2)
//! does (`user` for the user namespace), with glibc's strerror(3) text. Our own steps read
//! the same way: `package mntnssandbox: <what>: <strerror>`. Only where lxkns would print a
//! broken line do we differ: control characters in the path are shown in caret notation (`^J`)
//! so that it stays one line, and an overlong path is cut (see [`PATH_BUDGET`]).

use core::ffi::CStr;
use core::mem::MaybeUninit;
use linux_raw_sys::errno::*;

/// Exit status on any failure, as lxkns' own sleeper uses.
pub const EXIT_FAILURE: i32 = 66;

/// Bytes of the path as shown (escapes included): a longer one shows the whole escapes that
/// fit in `PATH_BUDGET - 3` bytes, then `...`.
pub const PATH_BUDGET: usize = 3840;

/// Room for the longest line: the prefix and the words around the path (under 70 bytes),
/// the path as shown, and the longest strerror text (37 bytes). Under PIPE_BUF (4096), so the
/// one write(2) of the line is atomic even into a pipe, and under a page of stack.
const LINE_CAPACITY: usize = PATH_BUDGET + 128;

const PREFIX: &[u8] = b"package mntnssandbox: ";

/// Which call failed while joining: open(2) of the path, or setns(2) into what it opened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Open,
    Join,
}

/// `package mntnssandbox: invalid <kind> namespace reference "<path>": <strerror>` (Open) or
/// `... cannot join <kind> namespace using reference "<path>": <strerror>` (Join); exit 66.
#[cold]
#[inline(never)]
pub fn refuse(step: Step, kind: &[u8], path: &CStr, errno: isize) -> ! {
    let (words, reference): (&[u8], _) = match step {
        Step::Open => (b"invalid ", &USING_REFERENCE[b"using ".len()..]),
        Step::Join => (b"cannot join ", USING_REFERENCE),
    };
    report(&[words, kind, b" namespace ", reference], Some(path), errno)
}

const USING_REFERENCE: &[u8] = b"using reference \"";

/// `package mntnssandbox: <what>: <strerror>`; exit 66.
pub fn fail(what: &[u8], errno: isize) -> ! {
    report(&[what], None, errno)
}

/// `package mntnssandbox: <usage line>`; exit 2.
pub fn usage(usage_line: &[u8]) -> ! {
    report(&[usage_line], None, 0)
}

/// Writes `package mntnssandbox: `, the `words`, then `"<path>"` if any, then `: <strerror>`
/// and exit 66; with `errno` 0 (a usage error: no call failed), only a newline and exit 2.
/// The line goes out in one write(2).
#[cold]
#[inline(never)]
fn report(words: &[&[u8]], path: Option<&CStr>, errno: isize) -> ! {
    let mut line = Line {
        len: 0,
        buf: [MaybeUninit::uninit(); LINE_CAPACITY],
    };
    line.push(PREFIX);
    for word in words {
        line.push(word);
    }
    if let Some(path) = path {
        line.push_path(path);
    }
    let status = if errno == 0 {
        2
    } else {
        // `": ` after a path (closing the quote `words` opened), `: ` without one.
        line.push(&b"\": "[usize::from(path.is_none())..]);
        line.push_strerror(errno as u32);
        line.push(b"\n");
        EXIT_FAILURE
    };
    crate::sys::write(2, line.as_bytes());
    crate::sys::exit_group(status)
}

/// A buffer for the line; it is only ever read up to what was written, so it is not zeroed
/// first. `len` first: addressed at a small offset, each access is shorter.
#[repr(C)]
struct Line {
    len: usize,
    buf: [MaybeUninit<u8>; LINE_CAPACITY],
}

impl Line {
    /// The one place that stores bytes: what does not fit is dropped (nothing is that long).
    /// Kept out of line: inlined at each call, its loop costs more than the call.
    #[inline(never)]
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                slot.write(byte);
                self.len += 1;
            }
        }
    }

    fn push_byte(&mut self, byte: u8) {
        self.push(&[byte]);
    }

    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `push` wrote the first `len` bytes, and never lets `len` pass the buffer's end.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast(), self.len) }
    }

    /// The path as given, byte for byte (`"` and `\` too, as lxkns prints them), but control
    /// characters in caret notation; cut with `...` after whole escapes if longer than
    /// PATH_BUDGET.
    fn push_path(&mut self, path: &CStr) {
        let end = self.len + PATH_BUDGET;
        let mut cut = self.len;
        for &byte in path.to_bytes() {
            if self.len + 3 <= end {
                cut = self.len;
            }
            if byte < 0x20 || byte == 0x7f {
                // Caret notation, as `cat -v` shows them: `^J` for a newline, `^?` for DEL.
                self.push(&[b'^', byte ^ 0x40]);
            } else {
                self.push_byte(byte);
            }
            if self.len > end {
                self.len = cut;
                self.push(b"...");
                return;
            }
        }
    }

    /// glibc's strerror(3) text for `number`, or its `Unknown error <number>`.
    fn push_strerror(&mut self, number: u32) {
        let mut bytes = STRERROR.iter();
        // The catch-all entry, last, ends the search for any number not in the table.
        let found = bytes.find(|&&byte| u32::from(byte) == 0x80 + number || byte == 0x80);
        for &byte in bytes.take_while(|&&byte| byte < 0x80) {
            self.push_byte(byte);
        }
        if found == Some(&0x80) {
            self.push_decimal(number);
        }
    }

    /// `number` in decimal.
    fn push_decimal(&mut self, number: u32) {
        let mut unit = 1;
        while unit <= number / 10 {
            unit *= 10;
        }
        while unit > 0 {
            self.push_byte(b'0' + (number / unit % 10) as u8);
            unit /= 10;
        }
    }
}

/// glibc's texts for the errors open(2), setns(2), capset(2), write(2) of `OK` and read(2) of
/// the lifeline can give here (as `python3 -c 'import os; print(os.strerror(N))'` prints them).
const STRERROR_TEXTS: [(u32, &str); 23] = [
    (EPERM, "Operation not permitted"),
    (ENOENT, "No such file or directory"),
    (EIO, "Input/output error"),
    (ENXIO, "No such device or address"),
    (EBADF, "Bad file descriptor"),
    (EAGAIN, "Resource temporarily unavailable"),
    (ENOMEM, "Cannot allocate memory"),
    (EACCES, "Permission denied"),
    (EFAULT, "Bad address"),
    (ENODEV, "No such device"),
    (ENOTDIR, "Not a directory"),
    (EINVAL, "Invalid argument"),
    (ENFILE, "Too many open files in system"),
    (EMFILE, "Too many open files"),
    (EFBIG, "File too large"),
    (ENOSPC, "No space left on device"),
    (EPIPE, "Broken pipe"),
    (ENAMETOOLONG, "File name too long"),
    (ENOSYS, "Function not implemented"),
    (ELOOP, "Too many levels of symbolic links"),
    (EOVERFLOW, "Value too large for defined data type"),
    (EUSERS, "Too many users"),
    // The catch-all, followed by the number: no failure has errno 0.
    (0, "Unknown error "),
];

/// The table packed at compile time as `[0x80 | number, text...]*`: about 500 bytes in the
/// binary instead of a table of pointers on top of that.
static STRERROR: [u8; packed_len()] = pack();

const fn packed_len() -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < STRERROR_TEXTS.len() {
        len += 1 + STRERROR_TEXTS[i].1.len();
        i += 1;
    }
    len
}

const fn pack() -> [u8; packed_len()] {
    let mut packed = [0u8; packed_len()];
    let (mut i, mut at) = (0, 0);
    while i < STRERROR_TEXTS.len() {
        let (number, text) = STRERROR_TEXTS[i];
        assert!(number < 0x80, "errno numbers must fit in 7 bits");
        packed[at] = 0x80 | number as u8;
        at += 1;
        let text = text.as_bytes();
        let mut j = 0;
        while j < text.len() {
            assert!(text[j] < 0x80, "texts must be ASCII");
            packed[at] = text[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    packed
}
