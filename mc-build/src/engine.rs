//! Who runs a build: the [`Engine`] trait, this machine ([`crate::builder::Workshop`] itself)
//! or a buildbot master ([`buildbot::Buildbot`]).
//!
//! An engine gets one ready base at a time (its dependencies are built and published: the
//! scheduler sees to that) and returns the folder holding the packages it made, which the
//! scheduler publishes into the run's repository. Order, dependencies, repository and records
//! stay engine-independent, so another distributed engine (a Nomad parameterized job, a GitLab
//! runner) follows by implementing [`Engine`]. Isolation is the [`crate::sandbox::Backend`]'s
//! business, wherever the build runs: a buildbot worker runs `mc-build` itself.

pub mod buildbot;
mod client;
pub mod master_cfg;

use std::path::{Path, PathBuf};

use crate::{
    builder::{Attempt, Failure, Workshop},
    srcinfo::Base,
};

/// One ready base to build.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The base.
    pub base: &'a Base,
    /// Its PKGBUILD folder.
    pub folder: &'a Path,
    /// Package names the set made that it needs (see [`crate::builder::needed`]).
    pub needed: &'a [String],
}

/// How a build ended, and where it ran.
#[derive(Debug)]
pub struct Ran {
    /// The folder holding the packages made, or why there are none.
    pub outcome: Result<PathBuf, Failure>,
    /// The worker that ran it; `None` on this machine.
    pub worker: Option<String>,
    /// Workers lost during earlier tries of this build, in order.
    pub lost_workers: Vec<String>,
}

/// Runs builds; any number at once, from the scheduler's threads.
pub trait Engine: Sync {
    /// Builds `request` to its end; its log ends up at [`Workshop::log_path`].
    fn build(&self, request: &Request<'_>) -> Ran;
}

/// This machine: the workshop builds in its own sandbox.
impl Engine for Workshop<'_> {
    fn build(&self, request: &Request<'_>) -> Ran {
        Ran {
            outcome: Workshop::build(
                self,
                request.base,
                request.folder,
                request.needed,
                Attempt::default(),
            ),
            worker: None,
            lost_workers: Vec::new(),
        }
    }
}
