//! Memory from the memory cgroup: a child cgroup of our own that the bench enters while it
//! holds processes, so that what they cost the kernel (page tables, kernel stacks, slab) is
//! charged there and read back exactly, instead of guessed from /proc/meminfo.

use std::path::{Path, PathBuf};

/// A memory cgroup made for the bench, removed when dropped.
pub struct MemoryCgroup {
    dir: PathBuf,
    /// Where the bench goes back to.
    home: PathBuf,
    /// Which controller this is, for the report.
    pub describe: String,
    version: Version,
}

#[derive(Clone, Copy, PartialEq)]
enum Version {
    V1,
    V2,
}

/// Memory in bytes: all of it, and the kernel's part where the cgroup says; `None` where a
/// file could not be read.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub total: Option<u64>,
    pub kernel: Option<u64>,
}

/// The growth of a memory figure from `before` to `after`, in KiB per `per` things held;
/// `None`, with a warning on stderr, where either reading is missing or the figure fell (the
/// cgroup let go of something charged before: no figure is better than a wrong 0).
pub fn per_item_kib(
    what: &str,
    before: Option<u64>,
    after: Option<u64>,
    per: usize,
) -> Option<f64> {
    match (before, after) {
        (Some(before), Some(after)) if after >= before => {
            Some((after - before) as f64 / 1024.0 / per as f64)
        }
        (Some(before), Some(after)) => {
            eprintln!(
                "WARNING: {what}: the cgroup's usage fell while holding ({before} -> {after} \
                 bytes): reported as missing"
            );
            None
        }
        _ => {
            eprintln!("WARNING: {what}: the cgroup's usage could not be read: reported as missing");
            None
        }
    }
}

impl MemoryCgroup {
    /// A child of our own memory cgroup: cgroup v1's memory controller if mounted (hybrid
    /// hierarchies), else cgroup v2 where the memory controller can be enabled for children.
    pub fn create() -> Result<MemoryCgroup, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|error| format!("read /proc/self/cgroup: {error}"))?;
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let (root, version, path) = if v1.join("memory.usage_in_bytes").exists() {
            let path = own
                .lines()
                .find_map(|line| {
                    let (_, rest) = line.split_once(':')?;
                    let (controllers, path) = rest.split_once(':')?;
                    controllers
                        .split(',')
                        .any(|c| c == "memory")
                        .then_some(path)
                })
                .ok_or("no memory controller in /proc/self/cgroup")?;
            (v1.to_owned(), Version::V1, path.to_owned())
        } else {
            let path = own
                .lines()
                .find_map(|line| line.strip_prefix("0::"))
                .ok_or("no cgroup v2 line in /proc/self/cgroup")?;
            (
                PathBuf::from("/sys/fs/cgroup"),
                Version::V2,
                path.to_owned(),
            )
        };
        let home = root.join(path.trim_start_matches('/'));
        let dir = home.join(format!("mntnssandbox-bench-{}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|error| format!("create the cgroup {}: {error}", dir.display()))?;
        let usage_file = match version {
            Version::V1 => "memory.usage_in_bytes",
            Version::V2 => {
                // Children get the memory controller only if it is enabled here.
                let _ = std::fs::write(home.join("cgroup.subtree_control"), "+memory");
                "memory.current"
            }
        };
        let cgroup = MemoryCgroup {
            describe: match version {
                Version::V1 => format!("cgroup v1 memory controller, {}", dir.display()),
                Version::V2 => format!("cgroup v2 memory controller, {}", dir.display()),
            },
            dir,
            home,
            version,
        };
        if !cgroup.dir.join(usage_file).exists() {
            return Err(format!(
                "no {usage_file} in {} (memory controller not enabled for children)",
                cgroup.dir.display()
            ));
        }
        Ok(cgroup)
    }

    /// Moves this whole process into the cgroup until the guard is dropped.
    pub fn enter(&self) -> Entered<'_> {
        move_self(&self.dir);
        Entered(self)
    }

    pub fn usage(&self) -> Usage {
        let read = |name: &str| {
            std::fs::read_to_string(self.dir.join(name))
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
        };
        match self.version {
            Version::V1 => Usage {
                total: read("memory.usage_in_bytes"),
                kernel: read("memory.kmem.usage_in_bytes"),
            },
            Version::V2 => Usage {
                total: read("memory.current"),
                kernel: std::fs::read_to_string(self.dir.join("memory.stat"))
                    .ok()
                    .and_then(|stat| {
                        stat.lines()
                            .find_map(|line| line.strip_prefix("kernel "))
                            .and_then(|value| value.trim().parse().ok())
                    }),
            },
        }
    }
}

fn move_self(dir: &Path) {
    std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
        .unwrap_or_else(|error| panic!("move the bench into {}: {error}", dir.display()));
}

/// The bench inside the cgroup; back home when dropped.
pub struct Entered<'a>(&'a MemoryCgroup);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        move_self(&self.0.home);
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Empty of processes by now; what is still charged moves to the parent.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
