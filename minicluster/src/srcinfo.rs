//! `.SRCINFO`, the declarative form of a PKGBUILD, read with the ALPM project's `alpm-srcinfo`.
//!
//! A PKGBUILD is bash: sourcing it runs code. Every tool that needs to know what a PKGBUILD
//! declares reads its `.SRCINFO` through here instead.

use std::path::Path;

pub use alpm_srcinfo::SourceInfoV1;

/// Why a `.SRCINFO` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SrcinfoError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid `.SRCINFO`.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or where the text came from).
        path: String,
        /// What the parser said, with the offending line.
        message: String,
    },
}

/// Reads `folder/.SRCINFO`.
pub fn read(folder: &Path) -> Result<SourceInfoV1, SrcinfoError> {
    let path = folder.join(".SRCINFO");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| SrcinfoError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Reads a `.SRCINFO` given as text; `name` says where it came from, for errors.
pub fn parse(text: &str, name: &str) -> Result<SourceInfoV1, SrcinfoError> {
    SourceInfoV1::from_string(text).map_err(|e| SrcinfoError::Parse {
        path: name.to_owned(),
        message: e.to_string(),
    })
}
