//! The environment as the kernel laid it out: NUL-terminated `NAME=value` strings, read in
//! place. The first occurrence of a name wins, as with getenv(3).

use core::ffi::CStr;
use core::ptr::NonNull;

/// A NULL-terminated array of pointers to `NAME=value\0` strings.
#[derive(Clone, Copy)]
pub struct Environment {
    envp: *const *const u8,
}

/// One `NAME=value` entry of the environment, read in place.
#[derive(Clone, Copy)]
pub struct Variable {
    /// A NUL-terminated string that lives for the whole program.
    entry: NonNull<u8>,
}

impl Variable {
    /// A variable that is not in the environment: `NAME=value` (or just `NAME=`).
    pub const fn from_static(entry: &'static CStr) -> Self {
        Self {
            // SAFETY: a reference is never null.
            entry: unsafe { NonNull::new_unchecked(entry.as_ptr().cast_mut().cast()) },
        }
    }

    /// The entry's bytes, `NAME=value`.
    pub fn bytes(self) -> impl Iterator<Item = u8> {
        let mut at = self.entry.as_ptr().cast_const();
        core::iter::from_fn(move || {
            // SAFETY: `at` never passes the entry's NUL, so it is within the string.
            let byte = unsafe { *at };
            if byte == 0 {
                return None;
            }
            // SAFETY: `at` was not the NUL, so the next byte is in the string too.
            at = unsafe { at.add(1) };
            Some(byte)
        })
    }

    /// What follows `NAME=` (`NAME` ends at the first `=`, as for getenv(3)); empty if there
    /// is no `=`.
    pub fn value(self) -> &'static CStr {
        let mut at = self.entry.as_ptr().cast_const();
        // SAFETY: `at` stops at the NUL or right after the first `=` before it, so it stays
        // within the string, and what follows is NUL-terminated and lives as long.
        unsafe {
            while *at != 0 {
                at = at.add(1);
                if *at.sub(1) == b'=' {
                    break;
                }
            }
            CStr::from_ptr(at.cast())
        }
    }
}

impl Environment {
    /// # Safety
    /// `envp` must be a NULL-terminated array of NUL-terminated strings that live for the
    /// whole program (the kernel's initial stack does).
    pub unsafe fn from_raw(envp: *const *const u8) -> Self {
        Self { envp }
    }

    /// The first entry that starts with `prefix` (`NAME=`), if its value is not empty. Not
    /// inlined: one loop serves every variable.
    #[inline(never)]
    pub fn non_empty(self, prefix: &[u8]) -> Option<Variable> {
        let mut cursor = self.envp;
        loop {
            // SAFETY: `cursor` stays within the NULL-terminated array: we stop at the NULL.
            let entry = unsafe { *cursor };
            if entry.is_null() {
                return None;
            }
            // SAFETY: `entry` is a NUL-terminated string from the initial stack.
            if let Some(value) = unsafe { strip_prefix(entry, prefix) } {
                // SAFETY: what follows the prefix is in the string: at worst its NUL.
                if unsafe { *value } == 0 {
                    return None;
                }
                // Not NULL: checked above.
                return NonNull::new(entry.cast_mut()).map(|entry| Variable { entry });
            }
            // SAFETY: this slot was not the terminating NULL, so the next one exists.
            cursor = unsafe { cursor.add(1) };
        }
    }
}

/// What follows `prefix` in the NUL-terminated `string`, if it starts with it.
///
/// # Safety
/// `string` must be NUL-terminated; a NUL in `prefix` may only be its last byte (then only an
/// exact match matches), so the comparison never reads past the string's end.
pub unsafe fn strip_prefix(string: *const u8, prefix: &[u8]) -> Option<*const u8> {
    for (i, &expected) in prefix.iter().enumerate() {
        // SAFETY: every byte before a mismatch (or the NUL, which never matches) is in the string.
        if unsafe { *string.add(i) } != expected {
            return None;
        }
    }
    // SAFETY: all of `prefix` matched, so the string is at least that long.
    Some(unsafe { string.add(prefix.len()) })
}
