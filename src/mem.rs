//! The memory functions LLVM emits calls to (`memcpy` for copies, `strlen` in `CStr::from_ptr`,
//! ...), which no libc provides here. Volatile accesses keep LLVM from recognising each loop as
//! the very function it implements and compiling it into a call to itself. The sleeper only
//! ever moves a few hundred bytes, so byte-at-a-time is plenty.

use core::ptr::{read_volatile, write_volatile};

/// # Safety
/// As C's memcpy: `dest` and `src` valid for `n` bytes, not overlapping.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: forwarded from the caller; memmove also handles the non-overlapping case.
    unsafe { memmove(dest, src, n) }
}

/// # Safety
/// As C's memmove: `dest` and `src` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) {
        for i in 0..n {
            // SAFETY: i < n, within both buffers; copying forward is safe when dest <= src.
            unsafe { write_volatile(dest.add(i), read_volatile(src.add(i))) };
        }
    } else {
        for i in (0..n).rev() {
            // SAFETY: i < n, within both buffers; copying backward is safe when dest > src.
            unsafe { write_volatile(dest.add(i), read_volatile(src.add(i))) };
        }
    }
    dest
}

/// # Safety
/// As C's memset: `dest` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, byte: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: i < n, within the buffer.
        unsafe { write_volatile(dest.add(i), byte as u8) };
    }
    dest
}

/// # Safety
/// As C's memcmp: `a` and `b` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, within both buffers.
        let (x, y) = unsafe { (read_volatile(a.add(i)), read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// As C's bcmp: `a` and `b` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// As C's strlen: `s` points to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the string is NUL-terminated, so every byte up to and including the NUL is readable.
    while unsafe { read_volatile(s.add(n)) } != 0 {
        n += 1;
    }
    n
}
