//! From the initial stack to `main`: argc, argv and envp where the kernel put them.

use crate::env::Environment;

/// Called by `_start` with the initial stack pointer: `[argc, argv.., NULL, envp.., NULL]`.
///
/// # Safety
/// `stack` must be the initial stack pointer the kernel handed to `_start`.
pub unsafe extern "C" fn entry(stack: *const usize) -> ! {
    // SAFETY: the kernel's layout: argc, then argc argument pointers and a NULL, then envp.
    let (argc, argv) = unsafe { (*stack, stack.add(1).cast::<*const u8>()) };
    if argc > 1 {
        // SAFETY: argv holds argc > 1 arguments and its NULL terminator.
        unsafe { crate::cli::answer(argv) };
    }
    // SAFETY: envp starts right after argv's NULL terminator and is itself NULL-terminated.
    crate::main(unsafe { Environment::from_raw(argv.add(argc + 1)) })
}
