//! The one line on stderr that says what failed — the step, the environment entry that
//! named the path, as given (control characters escaped, so it stays one line), the errno
//! name and number — and exit 66.

use crate::env::Variable;
use core::mem::MaybeUninit;
use linux_raw_sys::errno::*;

/// Exit status on any failure, as lxkns' own sleeper uses.
pub const EXIT_FAILURE: i32 = 66;

/// Bytes of a quoted environment entry shown before it is cut short with `...`.
const QUOTE_BUDGET: usize = 256;

/// Room for the longest line: the prefix and `what` (under 40 bytes), the quoted entry with
/// every byte escaped, `...`, and `": ENAMETOOLONG (4294967295)\n`.
const LINE_CAPACITY: usize = 80 + 4 * QUOTE_BUDGET;

/// Writes `mntnssandbox: <what>NAME=value": <ENAME> (<errno>)` for the environment entry
/// `quoted` — or, with none, `mntnssandbox: <what>: <ENAME> (<errno>)` — to stderr in one
/// write(2), and exits 66. `what` ends in `"` when an entry follows.
pub fn fail(what: &[u8], quoted: Option<Variable>, errno: isize) -> ! {
    let errno = errno as u32;
    let mut line = Line {
        buf: [MaybeUninit::uninit(); LINE_CAPACITY],
        len: 0,
    };
    line.push(b"mntnssandbox: ");
    line.push(what);
    if let Some(variable) = quoted {
        line.push_escaped(variable);
    }
    // `": ` after a quoted entry (closing the quote `what` opened), `: ` without one.
    line.push(&b"\": "[usize::from(quoted.is_none())..]);
    line.push_errno_name(errno);
    line.push(b" (");
    line.push_digits(errno, 10);
    line.push(b")\n");
    crate::sys::write(2, line.as_bytes());
    crate::sys::exit_group(EXIT_FAILURE)
}

/// A buffer for the line; it is only ever read up to what was written, so it is not zeroed
/// first.
struct Line {
    buf: [MaybeUninit<u8>; LINE_CAPACITY],
    len: usize,
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

    /// Control characters, `"` and `\` as `\xNN`, so the line stays one unambiguous line;
    /// after QUOTE_BUDGET bytes, cut with `...`.
    fn push_escaped(&mut self, variable: Variable) {
        let mut bytes = variable.bytes();
        for byte in bytes.by_ref().take(QUOTE_BUDGET) {
            if matches!(byte, 0..=0x1f | 0x7f | b'"' | b'\\') {
                // Two hex digits: a leading 0 below 16.
                self.push(&b"\\x0"[..2 + usize::from(byte < 16)]);
                self.push_digits(u32::from(byte), 16);
            } else {
                self.push_byte(byte);
            }
        }
        if bytes.next().is_some() {
            self.push(b"...");
        }
    }

    /// `ENOENT` for 2, and so on; `errno` for a number not in the table (the number follows).
    fn push_errno_name(&mut self, number: u32) {
        let mut bytes = PACKED_NAMES.iter();
        // The catch-all entry, last, ends the search for any number not in the table.
        bytes.find(|&&byte| u32::from(byte) == 0x80 + number || byte == 0x80);
        for &byte in bytes.take_while(|&&byte| byte < 0x80) {
            self.push_byte(byte);
        }
    }

    /// `number` in `base` (at most 16), without leading zeros.
    fn push_digits(&mut self, number: u32, base: u32) {
        if number >= base {
            self.push_digits(number / base, base);
        }
        self.push_byte(b"0123456789abcdef"[(number % base) as usize & 15]);
    }
}

/// The errors open(2), setns(2), read(2) and write(2) can give here.
const ERRNO_NAMES: [(u32, &str); 14] = [
    (EPERM, "EPERM"),
    (ENOENT, "ENOENT"),
    (EBADF, "EBADF"),
    (ENOMEM, "ENOMEM"),
    (EACCES, "EACCES"),
    (ENOTDIR, "ENOTDIR"),
    (EINVAL, "EINVAL"),
    (ENFILE, "ENFILE"),
    (EMFILE, "EMFILE"),
    (EPIPE, "EPIPE"),
    (ENAMETOOLONG, "ENAMETOOLONG"),
    (ELOOP, "ELOOP"),
    (EIO, "EIO"),
    // The catch-all: no failure has errno 0.
    (0, "errno"),
];

/// The table packed at compile time as `[0x80 | number, name...]*`: about 100 bytes in the
/// binary instead of a table of pointers several times that size.
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
