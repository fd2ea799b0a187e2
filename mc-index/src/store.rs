//! The SQLite database behind `mc-index`: opening it, and writing one package at a time.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use minicluster::{
    package::Entry,
    record::{IndexSource, IndexStatus, PackageRecord},
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

/// The schema, documented in its comments (`mc-index schema` prints it).
pub const SCHEMA: &str = include_str!("schema.sql");

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer mc-index.
    #[error(
        "database {path} has schema version {found}; this mc-index knows version {SCHEMA_VERSION}"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
}

/// The file list of a package, as far as it is known.
#[derive(Debug)]
pub enum FileList {
    /// Members read from the package itself.
    Members(Vec<Entry>),
    /// Paths from a `.files` database.
    Paths(Vec<String>),
}

impl FileList {
    /// How many paths the list holds.
    pub fn len(&self) -> usize {
        match self {
            Self::Members(entries) => entries.len(),
            Self::Paths(paths) => paths.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the list came from.
    pub fn source(&self) -> IndexSource {
        match self {
            Self::Members(_) => IndexSource::Package,
            Self::Paths(_) => IndexSource::FilesDb,
        }
    }
}

/// A package ready to be written.
#[derive(Debug)]
pub struct IndexedPackage {
    /// Its description, merged from the sync database and `.PKGINFO`.
    pub record: PackageRecord,
    /// `.PKGINFO` lines (empty for `.files` database entries).
    pub pkginfo: Vec<(String, String)>,
    /// `.BUILDINFO` lines.
    pub buildinfo: Vec<(String, String)>,
    /// Its paths.
    pub files: FileList,
}

/// What the index already holds for a (repo, name).
#[derive(Debug, PartialEq, Eq)]
pub struct Existing {
    /// The indexed package file's sha256.
    pub sha256: Option<String>,
    /// Where its file list came from.
    pub source: IndexSource,
    /// How many paths it has.
    pub file_count: u64,
}

/// An open index database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path` for writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self::connect(path, OpenFlags::default())?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database for reading only.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::connect(path, flags)
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| StoreError::Sqlite {
                path: path.to_owned(),
                source,
            })?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        // WAL lets queries and the duplicate check read while a package is being written;
        // NORMAL sync is still crash-safe in WAL mode (a power cut may lose the last commits,
        // never consistency).
        store
            .conn
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                 PRAGMA synchronous = NORMAL;",
            )
            .map_err(|e| store.error(e))?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.error(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        self.conn
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| self.error(e))
    }

    /// The SQLite connection, for queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Wraps a SQLite error with the database path.
    pub fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// What the index holds for `repo`/`name`, if anything.
    pub fn existing(&self, repo: &str, name: &str) -> Result<Option<Existing>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT sha256, indexed_from, \
                 (SELECT count(*) FROM files WHERE files.package_id = packages.id) \
                 FROM packages WHERE repo = ?1 AND name = ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![repo, name], |row| {
                        let source: String = row.get(1)?;
                        Ok(Existing {
                            sha256: row.get(0)?,
                            source: IndexSource::from_name(&source).unwrap_or(IndexSource::FilesDb),
                            file_count: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .map_err(|e| self.error(e))
    }

    /// The full record of the indexed package `id`.
    pub fn package(&self, id: i64) -> Result<PackageRecord, StoreError> {
        let mut record = self
            .conn
            .query_row(
                "SELECT repo, name, base, version, arch, filename, url, path, sha256, csize, \
                 isize, builddate, packager, description, url_upstream, indexed_from, \
                 (SELECT count(*) FROM files WHERE package_id = ?1) FROM packages WHERE id = ?1",
                [id],
                |row| {
                    Ok(PackageRecord {
                        repo: row.get(0)?,
                        name: row.get(1)?,
                        base: row.get(2)?,
                        version: row.get(3)?,
                        arch: row.get(4)?,
                        filename: row.get(5)?,
                        url: row.get(6)?,
                        path: row.get(7)?,
                        sha256: row.get(8)?,
                        csize: row.get(9)?,
                        isize: row.get(10)?,
                        builddate: row.get(11)?,
                        packager: row.get(12)?,
                        desc: row.get(13)?,
                        url_upstream: row.get(14)?,
                        indexed_from: IndexSource::from_name(&row.get::<_, String>(15)?),
                        file_count: row.get(16)?,
                        ..PackageRecord::default()
                    })
                },
            )
            .map_err(|e| self.error(e))?;
        let relations = self.pairs(
            "SELECT kind, spec FROM relations WHERE package_id = ?1 ORDER BY rowid",
            id,
        )?;
        for (kind, spec) in relations {
            let list = match kind.as_str() {
                "depends" => &mut record.depends,
                "makedepends" => &mut record.makedepends,
                "checkdepends" => &mut record.checkdepends,
                "optdepends" => &mut record.optdepends,
                "provides" => &mut record.provides,
                "conflicts" => &mut record.conflicts,
                "replaces" => &mut record.replaces,
                _ => continue,
            };
            list.push(spec);
        }
        let lists = self.pairs(
            "SELECT key, value FROM metadata WHERE package_id = ?1 AND source = 'package' \
             ORDER BY rowid",
            id,
        )?;
        for (key, value) in lists {
            match key.as_str() {
                "group" => record.groups.push(value),
                "license" => record.licenses.push(value),
                _ => {}
            }
        }
        Ok(record)
    }

    /// The two text columns `sql` selects for package `id`.
    fn pairs(&self, sql: &str, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(|e| self.error(e))?;
        statement
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| self.error(e))
    }

    /// Writes one package in one transaction, replacing whatever the index held for its name.
    pub fn write(&mut self, package: &IndexedPackage) -> Result<IndexStatus, StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let status = write_package(&tx, package).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(status)
    }
}

fn write_package(tx: &Transaction<'_>, package: &IndexedPackage) -> rusqlite::Result<IndexStatus> {
    let record = &package.record;
    let repo = record.repo.as_deref().unwrap_or("local");
    let removed = tx.execute(
        "DELETE FROM packages WHERE repo = ?1 AND name = ?2",
        params![repo, record.name],
    )?;
    let source = package.files.source().as_str();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    tx.execute(
        "INSERT INTO packages (repo, name, base, version, arch, filename, url, path, sha256, \
         csize, isize, builddate, packager, description, url_upstream, indexed_from, indexed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            repo,
            record.name,
            record.base,
            record.version,
            record.arch,
            record.filename,
            record.url,
            record.path,
            record.sha256,
            record.csize,
            record.isize,
            record.builddate,
            record.packager,
            record.desc,
            record.url_upstream,
            source,
            now,
        ],
    )?;
    let id = tx.last_insert_rowid();
    write_relations(tx, id, record)?;
    write_metadata(tx, id, package)?;
    write_files(tx, id, &package.files)?;
    Ok(if removed > 0 {
        IndexStatus::Replaced
    } else {
        IndexStatus::Indexed
    })
}

fn write_relations(tx: &Transaction<'_>, id: i64, record: &PackageRecord) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO relations (package_id, kind, name, spec) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let kinds = [
        ("depends", &record.depends),
        ("makedepends", &record.makedepends),
        ("checkdepends", &record.checkdepends),
        ("optdepends", &record.optdepends),
        ("provides", &record.provides),
        ("conflicts", &record.conflicts),
        ("replaces", &record.replaces),
    ];
    for (kind, specs) in kinds {
        for spec in specs {
            insert.execute(params![id, kind, relation_name(spec), spec])?;
        }
    }
    Ok(())
}

/// The name part of a relation: `glibc>=2.38` → `glibc`, `python: for scripts` → `python`.
fn relation_name(spec: &str) -> &str {
    spec.split(['<', '>', '=', ':'])
        .next()
        .unwrap_or(spec)
        .trim()
}

fn write_metadata(tx: &Transaction<'_>, id: i64, package: &IndexedPackage) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO metadata (package_id, source, key, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let record = &package.record;
    let lists = [("group", &record.groups), ("license", &record.licenses)];
    for (key, values) in lists {
        for value in values {
            insert.execute(params![id, "package", key, value])?;
        }
    }
    for (source, pairs) in [
        ("pkginfo", &package.pkginfo),
        ("buildinfo", &package.buildinfo),
    ] {
        for (key, value) in pairs {
            insert.execute(params![id, source, key, value])?;
        }
    }
    Ok(())
}

fn write_files(tx: &Transaction<'_>, id: i64, files: &FileList) -> rusqlite::Result<()> {
    // A tar may hold a path twice (a file overwritten by a later member): the last one wins,
    // as it would on disk.
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO files (package_id, path, kind, size, mode, link_target, sha256) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    match files {
        FileList::Members(entries) => {
            for entry in entries {
                insert.execute(params![
                    id,
                    entry.path,
                    entry.kind.as_str(),
                    entry.size,
                    entry.mode,
                    entry.link_target,
                    entry.sha256,
                ])?;
            }
        }
        FileList::Paths(paths) => {
            for path in paths {
                insert.execute(params![
                    id,
                    path,
                    None::<&str>,
                    None::<u64>,
                    None::<u32>,
                    None::<&str>,
                    None::<&str>
                ])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(version: &str, paths: &[&str]) -> IndexedPackage {
        IndexedPackage {
            record: PackageRecord {
                repo: Some("core".into()),
                name: "zlib".into(),
                version: version.into(),
                depends: vec!["glibc>=2.38".into()],
                optdepends: vec!["python: bindings".into()],
                ..PackageRecord::default()
            },
            pkginfo: vec![("pkgname".into(), "zlib".into())],
            buildinfo: vec![],
            files: FileList::Paths(paths.iter().map(|p| (*p).to_owned()).collect()),
        }
    }

    #[test]
    fn a_new_version_replaces_the_old_one_and_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("index.sqlite")).expect("opens");
        let first = store
            .write(&package("1-1", &["usr/", "usr/lib/a"]))
            .expect("writes");
        let second = store.write(&package("2-1", &["usr/"])).expect("writes");
        assert_eq!(
            (first, second),
            (IndexStatus::Indexed, IndexStatus::Replaced)
        );
        let count = |sql: &str| -> i64 {
            store
                .connection()
                .query_row(sql, [], |row| row.get(0))
                .expect("counts")
        };
        assert_eq!(count("SELECT count(*) FROM packages"), 1);
        assert_eq!(count("SELECT count(*) FROM files"), 1);
        assert_eq!(
            count("SELECT count(*) FROM relations WHERE name IN ('glibc', 'python')"),
            2
        );
        let existing = store.existing("core", "zlib").expect("reads");
        assert_eq!(existing.map(|e| e.source), Some(IndexSource::FilesDb));
    }
}
