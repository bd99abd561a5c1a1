//! The environment as the kernel laid it out: NUL-terminated `NAME=value` strings, read in
//! place. The first occurrence of a name wins, as with getenv(3).

use core::ffi::CStr;

/// A NULL-terminated array of pointers to `NAME=value\0` strings.
#[derive(Clone, Copy)]
pub struct Environment {
    envp: *const *const u8,
}

impl Environment {
    /// # Safety
    /// `envp` must be a NULL-terminated array of NUL-terminated strings that live for the
    /// whole program (the kernel's initial stack does).
    pub unsafe fn from_raw(envp: *const *const u8) -> Self {
        Self { envp }
    }

    /// The value of the first entry that starts with `prefix` (`NAME=`), if it is not empty.
    /// Not inlined: one loop serves every variable.
    #[inline(never)]
    pub fn non_empty(self, prefix: &[u8]) -> Option<&'static CStr> {
        let mut cursor = self.envp;
        loop {
            // SAFETY: `cursor` stays within the NULL-terminated array: we stop at the NULL.
            let entry = unsafe { *cursor };
            if entry.is_null() {
                return None;
            }
            // SAFETY: `entry` is a NUL-terminated string from the initial stack.
            if let Some(value) = unsafe { strip_prefix(entry, prefix) } {
                // SAFETY: what follows the prefix is the rest of the string, NUL-terminated
                // and as long-lived: at worst its NUL.
                return unsafe { (*value != 0).then(|| CStr::from_ptr(value.cast())) };
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
