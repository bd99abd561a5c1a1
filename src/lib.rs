//! The `mntnssandbox` package is a program, the sleeper (`src/main.rs`); this library is
//! empty on purpose.
//!
//! It exists so that `mntnssandbox-host` can depend on this package: the package's `links`
//! key then hands this package's source directory to the host crate's build script
//! (`DEP_MNTNSSANDBOX_SOURCE`), which builds the sleeper from it, for the host's target, and
//! embeds it. Use `mntnssandbox-host` to spawn sleepers from Rust.

#![no_std]
