//! The counts of an indexing run, by the names its summary record gives them (failed items are
//! [`minicluster::report::FAILED`]); the progress line shows them too.

/// Newly indexed packages.
pub const INDEXED: &str = "indexed";
/// Packages that replaced another version.
pub const REPLACED: &str = "replaced";
/// Packages skipped because the index already held them.
pub const UNCHANGED: &str = "unchanged";
/// Records of other types passed on.
pub const FORWARDED: &str = "forwarded";

/// Every count the summary shows, also when it stays 0.
pub const ALL: [&str; 5] = [
    INDEXED,
    REPLACED,
    UNCHANGED,
    FORWARDED,
    minicluster::report::FAILED,
];
