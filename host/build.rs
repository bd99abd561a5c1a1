//! Builds the sleeper this crate embeds (feature `embedded-sleeper`, on by default), from the
//! `mntnssandbox` package's source, for the target this crate is built for.
//!
//! The `mntnssandbox` package is a dependency of this one only for its `links` key: its build
//! script hands us its source directory (`DEP_MNTNSSANDBOX_SOURCE`). A nested
//! `cargo build --release --offline --target $TARGET` builds the sleeper from it into a target
//! directory of its own under `OUT_DIR`, and src/enter/embedded.rs includes the binary. Inside this
//! workspace the nested build runs in place, with the workspace's Cargo.lock (`--locked`).
//! Built from a registry (or `cargo package`'s check), the package is copied under `OUT_DIR`
//! first and made a workspace of its own: the registry's copy is not ours to write a
//! Cargo.lock into, and it may sit below some other workspace's directory.
//!
//! The sleeper gets exactly the rustc flags it needs (none on gnu targets; on musl ones, those
//! the mntnssandbox package names, with rust-lld as the linker), never the flags, target
//! directory or wrappers cargo gave this build: those are for this crate, not the sleeper.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{env, io};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_EMBEDDED_SLEEPER").is_none() {
        return;
    }
    let source = PathBuf::from(required("DEP_MNTNSSANDBOX_SOURCE"));
    let out = PathBuf::from(required("OUT_DIR"));
    let target = required("TARGET").into_string().expect("TARGET is UTF-8");
    for input in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        ".cargo/config.toml",
    ] {
        let path = source.join(input);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }

    let in_workspace = fs::read_to_string(source.join("Cargo.toml"))
        .expect("read the mntnssandbox package's Cargo.toml")
        .lines()
        .any(|line| line.trim() == "[workspace]");
    let package_dir = if in_workspace {
        source
    } else {
        standalone_copy(&source, &out.join("sleeper-src"))
            .unwrap_or_else(|error| panic!("copy {} to OUT_DIR: {error}", source.display()))
    };

    let target_dir = out.join("sleeper-target");
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(&package_dir)
        .args(["build", "--release", "--offline", "--bin", "mntnssandbox"])
        .arg("--manifest-path")
        .arg(package_dir.join("Cargo.toml"))
        .args(["--target", &target])
        .arg("--target-dir")
        .arg(&target_dir);
    if in_workspace {
        cargo.arg("--locked");
    }
    for (name, _) in env::vars_os() {
        if leaks_into_nested_cargo(&name) {
            cargo.env_remove(name);
        }
    }
    let rustflags: Vec<String> = if target.ends_with("-musl") {
        let linker = format!("target.{target}.linker=\"rust-lld\"");
        cargo.args(["--config", &linker]);
        env::var("DEP_MNTNSSANDBOX_MUSL_RUSTFLAGS")
            .expect("the mntnssandbox package names its musl rustflags")
            .split(' ')
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    // Set, even empty, it overrides every other source of rustflags.
    cargo.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    // Our stdout is read by cargo as build script instructions: the nested cargo's goes to
    // stderr, which cargo shows when this build fails.
    cargo.stdout(Stdio::from(
        io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .expect("dup stderr"),
    ));

    let status = cargo.status().expect("run cargo for the sleeper");
    assert!(
        status.success(),
        "building the embedded sleeper for {target} failed ({status}); its errors are above. \
         Without the `embedded-sleeper` feature (default-features = false) this crate runs \
         the sleeper it is given (Builder::sleeper, $MNTNSSANDBOX_BINARY) or finds beside \
         the program or on PATH"
    );
    let built = target_dir.join(&target).join("release/mntnssandbox");
    fs::copy(&built, out.join("mntnssandbox"))
        .unwrap_or_else(|error| panic!("copy {}: {error}", built.display()));
}

fn required(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo sets {name} for this build script"))
}

/// What cargo set for this build script, or the user for this crate's build, that must not
/// steer the nested build: rustflags, target and target directory, compiler wrappers (clippy's
/// included), and this script's own variables.
fn leaks_into_nested_cargo(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_CRATE_NAME",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "DEP_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// Copies the packaged `mntnssandbox` (a few small files) to `to`, as a workspace of its own
/// and without its Cargo.lock: offline, cargo then resolves to the crates this build already
/// downloaded, where the lock might name versions that are not there.
fn standalone_copy(from: &Path, to: &Path) -> io::Result<PathBuf> {
    if to.exists() {
        fs::remove_dir_all(to)?;
    }
    copy_tree(from, to)?;
    let manifest = to.join("Cargo.toml");
    let mut text = fs::read_to_string(&manifest)?;
    text.push_str("\n[workspace]\n");
    fs::write(&manifest, text)?;
    match fs::remove_file(to.join("Cargo.lock")) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    Ok(to.to_owned())
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() {
            fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}
