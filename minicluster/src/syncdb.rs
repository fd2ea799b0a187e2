//! Sync databases (`core.db`, `core.files`): a compressed tar of `NAME-VERSION/desc` and
//! `NAME-VERSION/files` entries.

use std::{
    collections::BTreeMap,
    io::{self, Read},
};

use crate::{compress, desc, record::PackageRecord};

/// The largest `desc` or `files` member read: a `files` entry of the largest official package
/// holds about 8 MiB of paths, so anything beyond this is not a sync database.
const MAX_MEMBER_BYTES: u64 = 256 << 20;

/// Why a sync database could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SyncDbError {
    /// The stream is not a (compressed) tar archive, or it ends early.
    #[error("not a readable sync database (compressed tar): {0}")]
    Archive(#[source] io::Error),
    /// A member declares a size no sync database has.
    #[error("member {path} declares {size} bytes, more than a sync database entry can hold")]
    MemberTooLarge {
        /// The member's path.
        path: String,
        /// Its declared size.
        size: u64,
    },
}

/// One package folder of a sync database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The folder name, `NAME-VERSION`.
    pub folder: String,
    /// Text of the `desc` member.
    pub desc: Option<String>,
    /// Text of the `files` member (only in `.files` databases).
    pub files: Option<String>,
}

/// The outcome of reading one entry: a package, or why its folder could not be read.
pub type EntryResult = Result<PackageRecord, EntryError>;

/// Why one entry of an otherwise readable database is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{folder}: {problem}")]
pub struct EntryError {
    /// The entry's folder, `NAME-VERSION`.
    pub folder: String,
    /// What is wrong with it.
    pub problem: String,
}

/// What a sync database URL served.
#[derive(Debug)]
pub enum Served {
    /// The database's entries.
    Entries(Vec<Entry>),
    /// The text of a symbolic link (`core.db.tar.gz`): some hosts (GitHub Pages, a git checkout
    /// served as it is) serve `core.db` as a file holding its link target.
    LinkText(String),
}

/// Reads what a sync database URL served: its entries, or the name it links to.
pub fn read_served(input: impl Read + Send) -> Result<Served, SyncDbError> {
    let mut input = input;
    let mut head = Vec::new();
    input
        .by_ref()
        .take(256)
        .read_to_end(&mut head)
        .map_err(SyncDbError::Archive)?;
    if let Some(target) = link_text(&head) {
        return Ok(Served::LinkText(target));
    }
    read_entries(io::Cursor::new(head).chain(input)).map(Served::Entries)
}

/// The link target when `head` is nothing but a file name like `core.db.tar.zst`.
fn link_text(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head).ok()?.trim_end_matches('\n');
    let plain_name = !text.is_empty()
        && text.len() < 256
        && !text.contains(['/', '\n', '\0'])
        && text.contains(".tar");
    plain_name.then(|| text.to_owned())
}

/// Reads every entry of a sync database stream, in any compression pacman accepts.
///
/// Folders are returned in name order; member order inside the tar does not matter.
pub fn read_entries(input: impl Read + Send) -> Result<Vec<Entry>, SyncDbError> {
    let mut archive = tar::Archive::new(compress::decompress(input).map_err(SyncDbError::Archive)?);
    let mut folders: BTreeMap<String, Entry> = BTreeMap::new();
    for member in archive.entries().map_err(SyncDbError::Archive)? {
        let mut member = member.map_err(SyncDbError::Archive)?;
        let path = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let Some((folder, kind @ ("desc" | "files"))) = path.trim_end_matches('/').rsplit_once('/')
        else {
            continue;
        };
        let size = member.header().size().map_err(SyncDbError::Archive)?;
        if size > MAX_MEMBER_BYTES {
            return Err(SyncDbError::MemberTooLarge { path, size });
        }
        // Capacity from what arrives, not from what a (possibly hostile) header declares.
        let mut bytes = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        member
            .read_to_end(&mut bytes)
            .map_err(SyncDbError::Archive)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let entry = folders.entry(folder.to_owned()).or_insert_with(|| Entry {
            folder: folder.to_owned(),
            ..Entry::default()
        });
        if kind == "desc" {
            entry.desc = Some(text);
        } else {
            entry.files = Some(text);
        }
    }
    Ok(folders.into_values().collect())
}

impl Entry {
    /// The package this entry describes, with its file list when the entry has one.
    pub fn package(&self, repo: &str) -> EntryResult {
        let error = |problem: String| EntryError {
            folder: self.folder.clone(),
            problem,
        };
        let desc = self
            .desc
            .as_deref()
            .ok_or_else(|| error("no desc member".to_owned()))?;
        let mut package = desc::package(repo, desc).map_err(|e| error(e.to_string()))?;
        if let Some(files) = &self.files {
            package.files = Some(desc::files(files).map_err(|e| error(e.to_string()))?);
        }
        Ok(package)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(members: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .expect("in-memory tar");
        }
        builder.into_inner().expect("in-memory tar")
    }

    #[test]
    fn reads_desc_and_files_in_any_member_order() {
        let tar = tar_of(&[
            ("a-1-1/files", "%FILES%\nusr/\nusr/bin/a\n"),
            ("b-2-1/desc", "%NAME%\nb\n\n%VERSION%\n2-1\n"),
            ("a-1-1/desc", "%NAME%\na\n\n%VERSION%\n1-1\n"),
        ]);
        let compressed = zstd::encode_all(tar.as_slice(), 3).expect("zstd");
        let entries = read_entries(compressed.as_slice()).expect("readable");
        let packages: Vec<_> = entries
            .iter()
            .map(|entry| entry.package("core").expect("valid entry"))
            .collect();
        assert_eq!(packages[0].name, "a");
        assert_eq!(
            packages[0].files.as_deref(),
            Some(&["usr/".to_owned(), "usr/bin/a".to_owned()][..])
        );
        assert_eq!(packages[1].files, None);
    }

    #[test]
    fn link_text_is_recognised() {
        let served = read_served(&b"core.db.tar.gz"[..]).expect("reads");
        assert!(matches!(served, Served::LinkText(name) if name == "core.db.tar.gz"));
        let tar = tar_of(&[("a-1-1/desc", "%NAME%\na\n\n%VERSION%\n1-1\n")]);
        assert!(matches!(read_served(tar.as_slice()), Ok(Served::Entries(e)) if e.len() == 1));
    }

    #[test]
    fn a_non_tar_is_an_error() {
        let result =
            read_entries(&b"<html>404 not found</html> and some more text to fill a block"[..]);
        assert!(result.is_err());
    }

    #[test]
    fn an_entry_without_desc_is_an_entry_error() {
        let entries =
            read_entries(tar_of(&[("x-1-1/files", "%FILES%\n")]).as_slice()).expect("tar");
        assert!(entries[0].package("core").is_err());
    }
}
