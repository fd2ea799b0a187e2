//! The counts of an indexing run: what the summary record reports and the progress line shows.

/// Counts of a run, as its summary record gives them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Newly indexed packages.
    pub indexed: u64,
    /// Packages that replaced another version.
    pub replaced: u64,
    /// Packages skipped because the index already held them.
    pub unchanged: u64,
    /// Records of other types passed on.
    pub forwarded: u64,
    /// Items that failed.
    pub failed: u64,
}
