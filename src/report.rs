//! The one line on stderr that says what failed — the step, the path as given (control
//! characters escaped, so it stays one line), the errno name and number — and exit 66.

use core::mem::MaybeUninit;
use linux_raw_sys::errno::*;

/// Exit status on any failure, as lxkns' own sleeper uses.
pub const EXIT_FAILURE: i32 = 66;

/// Bytes of a path shown before it is cut short with `...`; the rest of the line always fits.
const PATH_BUDGET: usize = 256;

/// Writes `mntnssandbox: <what><path>": <ENAME> (<errno>)` — or without a path
/// `mntnssandbox: <what>: <ENAME> (<errno>)` — to stderr in one write(2), and exits 66.
/// `what` ends in `"` when a path follows.
pub fn fail(what: &[u8], path: &[u8], errno: isize) -> ! {
    let errno = errno as u32;
    let mut line = Line {
        buf: [MaybeUninit::uninit(); 384],
        len: 0,
    };
    line.push(b"mntnssandbox: ");
    line.push(what);
    line.push_escaped(path);
    // `": ` after a path (closing the quote `what` opened), `: ` without one.
    line.push(&b"\": "[usize::from(path.is_empty())..]);
    line.push_errno_name(errno);
    line.push(b" (");
    line.push_decimal(errno);
    line.push(b")\n");
    crate::sys::write(2, line.as_bytes());
    crate::sys::exit_group(EXIT_FAILURE)
}

/// A buffer large enough for the longest line (prefix, a cut path, the errno); it is only
/// ever read up to what was written, so it is not zeroed first.
struct Line {
    buf: [MaybeUninit<u8>; 384],
    len: usize,
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push_byte(byte);
        }
    }

    /// The one place that stores a byte; kept out of line, as a call is smaller than its body.
    #[inline(never)]
    fn push_byte(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            slot.write(byte);
            self.len += 1;
        }
    }

    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `push_byte` wrote the first `len` bytes, and never lets `len` pass the buffer's end.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast(), self.len) }
    }

    /// Control characters, `"` and `\` as `\xNN`, so the line stays one unambiguous line;
    /// cut with `...` after the whole escapes that fit in PATH_BUDGET bytes.
    fn push_escaped(&mut self, path: &[u8]) {
        let end = self.len + PATH_BUDGET;
        for &byte in path {
            let escape = matches!(byte, 0..=0x1f | 0x7f | b'"' | b'\\');
            if self.len + if escape { 4 } else { 1 } > end {
                self.push(b"...");
                return;
            }
            if escape {
                self.push(b"\\x");
                self.push_hex_digit(byte >> 4);
                self.push_hex_digit(byte & 15);
            } else {
                self.push_byte(byte);
            }
        }
    }

    fn push_hex_digit(&mut self, digit: u8) {
        self.push_byte(b"0123456789abcdef"[usize::from(digit & 15)]);
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

    fn push_decimal(&mut self, number: u32) {
        if number >= 10 {
            self.push_decimal(number / 10);
        }
        self.push_byte(b'0' + (number % 10) as u8);
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
