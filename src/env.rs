//! The environment as the kernel laid it out: NUL-terminated `NAME=value` strings, looked up
//! without copying. The first occurrence of a name wins, as with getenv(3).

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

    /// The value of the first `name=` entry, if any.
    pub fn get(self, name: &[u8]) -> Option<&'static CStr> {
        let mut cursor = self.envp;
        loop {
            // SAFETY: `cursor` stays within the NULL-terminated array (we stop at the NULL).
            let entry = unsafe { *cursor };
            if entry.is_null() {
                return None;
            }
            // SAFETY: every entry is a NUL-terminated string on the initial stack.
            let entry = unsafe { CStr::from_ptr(entry.cast()) };
            if let Some(value) = value_of(entry, name) {
                return Some(value);
            }
            // SAFETY: the current entry was not the terminating NULL, so the next slot exists.
            cursor = unsafe { cursor.add(1) };
        }
    }

    /// The value of `name` if it is set and not empty.
    pub fn non_empty(self, name: &[u8]) -> Option<&'static CStr> {
        self.get(name).filter(|value| !value.is_empty())
    }
}

/// The value part of `entry` if `entry` is `name=value`.
fn value_of(entry: &'static CStr, name: &[u8]) -> Option<&'static CStr> {
    let bytes = entry.to_bytes_with_nul();
    let rest = bytes.strip_prefix(name)?.strip_prefix(b"=")?;
    // `rest` still ends in the entry's NUL and holds no other.
    CStr::from_bytes_with_nul(rest).ok()
}
