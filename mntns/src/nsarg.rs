//! An NSREF as the user wrote it on the command line.

use crate::engines::ContainerRef;
use mntnssandbox_host::NamespaceRef;
use std::str::FromStr;

/// An NSREF as written: a namespace file or a PID, taken as it is, or a container of an engine,
/// looked up only when the command runs ([`resolve`](NamespaceArg::resolve)) — not while
/// parsing, so that `--help` or a usage error never runs an engine, and a lookup that fails
/// reads as every other failure (`mntns: podman:web: no such container`, exit status 1).
#[derive(Clone, Debug)]
pub(crate) enum NamespaceArg {
    Namespace(NamespaceRef),
    Container(ContainerRef),
}

impl NamespaceArg {
    /// The namespace reference: a container's is its process, by PID (its mount namespace, or
    /// its user namespace for `--userns`).
    pub(crate) fn resolve(&self) -> Result<NamespaceRef, String> {
        match self {
            NamespaceArg::Namespace(nsref) => Ok(nsref.clone()),
            NamespaceArg::Container(container) => container.pid().map(NamespaceRef::Pid),
        }
    }
}

impl FromStr for NamespaceArg {
    type Err = String;

    /// `podman:NAME-OR-ID` and `docker:NAME-OR-ID` are containers (a namespace file whose path
    /// starts so is written `./podman:...`); all digits a PID; anything else a path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match ContainerRef::parse(text) {
            Some(container) => container.map(NamespaceArg::Container),
            None => text
                .parse()
                .map(NamespaceArg::Namespace)
                .map_err(|error| error.to_string()),
        }
    }
}

impl From<NamespaceRef> for NamespaceArg {
    fn from(nsref: NamespaceRef) -> Self {
        NamespaceArg::Namespace(nsref)
    }
}
