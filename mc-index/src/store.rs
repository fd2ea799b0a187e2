//! The SQLite database behind `mc-index`: opening it, and writing one package at a time.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use minicluster::{
    package::Entry,
    record::{IndexSource, IndexStatus, PackageRecord},
};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
    functions::FunctionFlags, params,
};

/// The schema, documented in its comments (`mc-index schema` prints it).
pub const SCHEMA: &str = include_str!("schema.sql");

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 5;

/// `PRAGMA application_id` of an mc-index database: "mcIX".
const APPLICATION_ID: i64 = 0x6D63_4958;

/// The tables of a version 1 database, which carried no application id.
const VERSION_1_TABLES: [&str; 4] = ["files", "metadata", "packages", "relations"];

/// From version 1 or 2, before the current schema is created: the old `files` (version 1:
/// no rowid, hex digests; version 2: fed a trigram index by triggers) is set aside, and
/// `packages` gets its file count.
const UPGRADE_BEFORE: &str = "DROP TRIGGER IF EXISTS files_trigram_insert; \
     DROP TRIGGER IF EXISTS files_trigram_delete; DROP TABLE IF EXISTS files_trigram; \
     DROP INDEX IF EXISTS files_package; ALTER TABLE files RENAME TO files_old; \
     ALTER TABLE packages ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;";
/// After it: the rows copied into the new `files` with their names (`mc_file_name` and
/// `mc_reverse`, which [`Store::open`] provides) and blob digests.
const UPGRADE_AFTER: &str = "INSERT OR IGNORE INTO names (name, reversed) \
     SELECT mc_file_name(path), mc_reverse(mc_file_name(path)) FROM files_old; \
     INSERT INTO files (package_id, name_id, path, kind, size, mode, link_target, sha256) \
     SELECT package_id, (SELECT id FROM names WHERE name = mc_file_name(path)), path, kind, \
     size, mode, link_target, \
     CASE typeof(sha256) WHEN 'text' THEN unhex(sha256) ELSE sha256 END \
     FROM files_old ORDER BY package_id, path; DROP TABLE files_old; \
     UPDATE packages SET file_count = (SELECT count(*) FROM files WHERE package_id = packages.id);";

/// From version 3, before the current schema is created: `files_name` gains the package, and
/// names their reversed spelling (and what [`UPGRADE_4_BEFORE`] does).
const UPGRADE_3_BEFORE: &str = "DROP INDEX IF EXISTS files_name; DROP INDEX IF EXISTS files_package; \
     ALTER TABLE names ADD COLUMN reversed TEXT NOT NULL DEFAULT '';";
/// After it.
const UPGRADE_3_AFTER: &str = "UPDATE names SET reversed = mc_reverse(name);";
/// From version 4: `files_package` gains the path (the schema then creates it anew).
const UPGRADE_4_BEFORE: &str = "DROP INDEX IF EXISTS files_package;";

/// The writer remembers this many file names' ids; past that it starts over (a name it forgot
/// costs one lookup in `names`).
const NAME_CACHE_ENTRIES: usize = 100_000;

/// How long to wait for another writer (or a reader checkpointing) to let go of the database.
const BUSY_TIMEOUT_MS: u32 = 10_000;

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
    /// An older schema, which only a writer may upgrade.
    #[error(
        "database {path} has schema version {found}, this mc-index reads version \
         {SCHEMA_VERSION}: upgrade it with `mc-index --db {path} </dev/null`"
    )]
    OlderSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A SQLite database of another program (or an empty one, for a query).
    #[error(
        "{path} is not an mc-index database (application_id {application_id:#x}, tables: \
         {tables}); give --db a new file or one mc-index made"
    )]
    NotOurs {
        /// The database file.
        path: PathBuf,
        /// Its `PRAGMA application_id`.
        application_id: i64,
        /// The tables it holds, for the message.
        tables: String,
    },
}

/// What a database file holds, as far as mc-index is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    /// Nothing yet: ours to fill.
    Empty,
    /// An mc-index database of this schema version.
    Ours(i64),
    /// Someone else's.
    Foreign {
        application_id: i64,
        tables: Vec<String>,
    },
}

fn identify(conn: &Connection) -> rusqlite::Result<Identity> {
    let application_id: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'files_trigram_%' ORDER BY name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match (application_id, version) {
        (APPLICATION_ID, version) => Identity::Ours(version),
        (0, 0) if tables.is_empty() => Identity::Empty,
        (0, 1) if tables == VERSION_1_TABLES => Identity::Ours(1),
        _ => Identity::Foreign {
            application_id,
            tables,
        },
    })
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
    /// The ids of file names written lately (writers only).
    names: HashMap<String, i64>,
}

impl Store {
    /// Opens (creating or upgrading if needed) the database at `path` for writing. Refuses a
    /// database of another program.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self::connect(path, OpenFlags::default())?;
        let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
        store
            .conn
            .create_scalar_function("mc_file_name", 1, flags, |ctx| {
                Ok(file_name(ctx.get_raw(0).as_str().unwrap_or_default()).to_owned())
            })
            .and_then(|()| {
                store
                    .conn
                    .create_scalar_function("mc_reverse", 1, flags, |ctx| {
                        Ok(reversed(ctx.get_raw(0).as_str().unwrap_or_default()))
                    })
            })
            .map_err(|e| store.error(e))?;
        store.prepare_for_writing()?;
        Ok(store)
    }

    /// Opens an existing database for reading only. Where SQLite cannot create the `-shm` file
    /// a WAL database needs to be read (a read-only folder) and no `-wal` file holds
    /// uncheckpointed pages, the file is opened as immutable: it is then complete by itself.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened =
            Self::connect(path, flags).and_then(|store| store.check_readable().map(|()| store));
        match opened {
            Err(StoreError::Sqlite { source, .. })
                if matches!(
                    source.sqlite_error_code(),
                    Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
                ) && !wal_file(path).exists() =>
            {
                let immutable = Self::connect_immutable(path)?;
                immutable.check_readable()?;
                Ok(immutable)
            }
            opened => opened,
        }
    }

    fn connect_immutable(path: &Path) -> Result<Self, StoreError> {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let uri = format!("file:{}?immutable=1", uri_path(&absolute.to_string_lossy()));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn =
            Connection::open_with_flags(uri, flags).map_err(|source| StoreError::Sqlite {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            names: HashMap::new(),
        })
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
            names: HashMap::new(),
        };
        // WAL lets queries and the duplicate check read while packages are being written;
        // NORMAL sync is still crash-safe in WAL mode (a power cut may lose the last commits,
        // never consistency).
        store
            .conn
            .execute_batch(&format!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; \
                 PRAGMA synchronous = NORMAL;"
            ))
            .map_err(|e| store.error(e))?;
        Ok(store)
    }

    /// A reader needs a database of this very schema version.
    fn check_readable(&self) -> Result<(), StoreError> {
        match identify(&self.conn).map_err(|e| self.error(e))? {
            Identity::Ours(SCHEMA_VERSION) => Ok(()),
            Identity::Ours(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
            }),
            Identity::Ours(found) => Err(StoreError::OlderSchema {
                path: self.path.clone(),
                found,
            }),
            Identity::Empty => Err(self.not_ours(0, &[])),
            Identity::Foreign {
                application_id,
                tables,
            } => Err(self.not_ours(application_id, &tables)),
        }
    }

    /// Creates the schema in an empty database, upgrades an older one, refuses a foreign one.
    fn prepare_for_writing(&self) -> Result<(), StoreError> {
        let wrap = |e| self.error(e);
        if identify(&self.conn).map_err(wrap)? == Identity::Ours(SCHEMA_VERSION) {
            return Ok(());
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(wrap)?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(wrap)?;
        }
        // IMMEDIATE: take the write lock (waiting for it) before reading, so a writer that
        // commits meanwhile cannot invalidate what was read (SQLITE_BUSY without a wait).
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let upgrade = match identify(&tx).map_err(wrap)? {
            Identity::Ours(SCHEMA_VERSION) => return Ok(()),
            Identity::Ours(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: self.path.clone(),
                    found,
                });
            }
            Identity::Ours(1 | 2) => (UPGRADE_BEFORE, UPGRADE_AFTER),
            Identity::Ours(3) => (UPGRADE_3_BEFORE, UPGRADE_3_AFTER),
            Identity::Ours(4) => (UPGRADE_4_BEFORE, ""),
            Identity::Ours(found) => {
                return Err(StoreError::OlderSchema {
                    path: self.path.clone(),
                    found,
                });
            }
            Identity::Empty => ("", ""),
            Identity::Foreign {
                application_id,
                tables,
            } => return Err(self.not_ours(application_id, &tables)),
        };
        let (before, after) = upgrade;
        tx.execute_batch(&format!(
            "{before} {SCHEMA} {after} PRAGMA application_id = {APPLICATION_ID}; \
             PRAGMA user_version = {SCHEMA_VERSION};"
        ))
        .map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    fn not_ours(&self, application_id: i64, tables: &[String]) -> StoreError {
        StoreError::NotOurs {
            path: self.path.clone(),
            application_id,
            tables: if tables.is_empty() {
                "none".to_owned()
            } else {
                tables.join(", ")
            },
        }
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
        existing(&self.conn, repo, name).map_err(|e| self.error(e))
    }

    /// The full records of the indexed packages `ids`, in that order (ids the index does not
    /// hold are left out). Three statements in all, whatever the number of packages: one
    /// statement per package made writing 3,500 answers take longer than finding them.
    pub fn packages(&self, ids: &[i64]) -> Result<Vec<PackageRecord>, StoreError> {
        let wrap = |e| self.error(e);
        let list = id_list(ids);
        let mut found: HashMap<i64, PackageRecord> = HashMap::with_capacity(ids.len());
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT id, repo, name, base, version, arch, filename, url, path, sha256, csize, \
                 isize, builddate, packager, description, url_upstream, indexed_from, \
                 file_count FROM packages WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .map_err(wrap)?;
        let mut rows = statement.query([&list]).map_err(wrap)?;
        while let Some(row) = rows.next().map_err(wrap)? {
            let (id, record) = package_row(row).map_err(wrap)?;
            found.insert(id, record);
        }
        self.each_pair(
            "SELECT package_id, kind, spec FROM relations \
             WHERE package_id IN (SELECT value FROM json_each(?1)) ORDER BY package_id, rowid",
            &list,
            |id, kind, spec| {
                let Some(record) = found.get_mut(&id) else {
                    return;
                };
                let relations = match kind.as_str() {
                    "depends" => &mut record.depends,
                    "makedepends" => &mut record.makedepends,
                    "checkdepends" => &mut record.checkdepends,
                    "optdepends" => &mut record.optdepends,
                    "provides" => &mut record.provides,
                    "conflicts" => &mut record.conflicts,
                    "replaces" => &mut record.replaces,
                    _ => return,
                };
                relations.push(spec);
            },
        )?;
        self.each_pair(
            "SELECT package_id, key, value FROM metadata WHERE source = 'package' \
             AND package_id IN (SELECT value FROM json_each(?1)) ORDER BY package_id, rowid",
            &list,
            |id, key, value| {
                let Some(record) = found.get_mut(&id) else {
                    return;
                };
                match key.as_str() {
                    "group" => record.groups.push(value),
                    "license" => record.licenses.push(value),
                    _ => {}
                }
            },
        )?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Runs `sql` (package id and two text columns, for the packages of `list`) and hands each
    /// row to `visit`.
    fn each_pair(
        &self,
        sql: &str,
        list: &str,
        mut visit: impl FnMut(i64, String, String),
    ) -> Result<(), StoreError> {
        let wrap = |e| self.error(e);
        let mut statement = self.conn.prepare_cached(sql).map_err(wrap)?;
        let mut rows = statement.query([list]).map_err(wrap)?;
        while let Some(row) = rows.next().map_err(wrap)? {
            visit(
                row.get(0).map_err(wrap)?,
                row.get(1).map_err(wrap)?,
                row.get(2).map_err(wrap)?,
            );
        }
        Ok(())
    }

    /// Starts a transaction that writes whole packages: all of them or none.
    pub fn batch(&mut self) -> Result<Batch<'_>, StoreError> {
        let path = self.path.as_path();
        // IMMEDIATE, so the wait for another writer happens here, under the busy timeout,
        // rather than failing at the first write (see `prepare_for_writing`).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite {
                path: path.to_owned(),
                source,
            })?;
        Ok(Batch {
            tx,
            path,
            names: &mut self.names,
            new_names: HashMap::new(),
        })
    }
}

/// A `packages` row, the columns [`Store::packages`] selects, as its id and record.
fn package_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, PackageRecord)> {
    let record = PackageRecord {
        repo: row.get(1)?,
        name: row.get(2)?,
        base: row.get(3)?,
        version: row.get(4)?,
        arch: row.get(5)?,
        filename: row.get(6)?,
        url: row.get(7)?,
        path: row.get(8)?,
        sha256: row.get(9)?,
        csize: row.get(10)?,
        isize: row.get(11)?,
        builddate: row.get(12)?,
        packager: row.get(13)?,
        desc: row.get(14)?,
        url_upstream: row.get(15)?,
        indexed_from: IndexSource::from_name(&row.get::<_, String>(16)?),
        file_count: row.get(17)?,
        ..PackageRecord::default()
    };
    Ok((row.get(0)?, record))
}

/// Ids as the JSON array `json_each(?)` reads: one parameter for any number of them.
pub fn id_list(ids: &[i64]) -> String {
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push('[');
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list.push(']');
    list
}

/// The path of the write-ahead log beside `db`.
fn wal_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// `path` as the path part of a SQLite `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' | '?' | '#' => {
                let _ = write!(uri, "%{:02X}", c as u32);
            }
            c => uri.push(c),
        }
    }
    uri
}

fn existing(conn: &Connection, repo: &str, name: &str) -> rusqlite::Result<Option<Existing>> {
    conn.prepare_cached(
        "SELECT sha256, indexed_from, file_count FROM packages WHERE repo = ?1 AND name = ?2",
    )?
    .query_row(params![repo, name], |row| {
        let source: String = row.get(1)?;
        Ok(Existing {
            sha256: row.get(0)?,
            source: IndexSource::from_name(&source).unwrap_or(IndexSource::FilesDb),
            file_count: row.get(2)?,
        })
    })
    .optional()
}

/// Packages being written in one transaction; dropped without [`Batch::commit`], none are.
pub struct Batch<'s> {
    tx: Transaction<'s>,
    path: &'s Path,
    /// Ids of names committed earlier.
    names: &'s mut HashMap<String, i64>,
    /// Ids of names this transaction added: true only once it commits.
    new_names: HashMap<String, i64>,
}

impl Batch<'_> {
    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_owned(),
            source,
        }
    }

    /// What the index holds for `repo`/`name`, this transaction's writes included.
    pub fn existing(&self, repo: &str, name: &str) -> Result<Option<Existing>, StoreError> {
        existing(&self.tx, repo, name).map_err(|e| self.error(e))
    }

    /// Writes one package, replacing whatever the index held for its name.
    pub fn write(&mut self, package: &IndexedPackage) -> Result<IndexStatus, StoreError> {
        self.write_package(package).map_err(|e| self.error(e))
    }

    /// Makes every package written so far permanent.
    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx.commit().map_err(|source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        })?;
        if self.names.len() + self.new_names.len() > NAME_CACHE_ENTRIES {
            self.names.clear();
        }
        self.names.extend(self.new_names);
        Ok(())
    }
}

impl Batch<'_> {
    fn write_package(&mut self, package: &IndexedPackage) -> rusqlite::Result<IndexStatus> {
        let record = &package.record;
        let repo = record.repo.as_deref().unwrap_or("local");
        let removed = self
            .tx
            .prepare_cached("DELETE FROM packages WHERE repo = ?1 AND name = ?2")?
            .execute(params![repo, record.name])?;
        let source = package.files.source().as_str();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let rows = package.files.rows();
        self.tx
            .prepare_cached(
                "INSERT INTO packages (repo, name, base, version, arch, filename, url, path, \
                 sha256, csize, isize, builddate, packager, description, url_upstream, \
                 indexed_from, indexed_at, file_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                 ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?
            .execute(params![
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
                rows.len(),
            ])?;
        let id = self.tx.last_insert_rowid();
        write_relations(&self.tx, id, record)?;
        write_metadata(&self.tx, id, package)?;
        self.write_files(id, &rows)?;
        Ok(if removed > 0 {
            IndexStatus::Replaced
        } else {
            IndexStatus::Indexed
        })
    }

    fn write_files(&mut self, id: i64, rows: &[FileRow<'_>]) -> rusqlite::Result<()> {
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO files (package_id, name_id, path, kind, size, mode, link_target, \
             sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut names = NameIds {
            tx: &self.tx,
            committed: self.names,
            new: &mut self.new_names,
        };
        for row in rows {
            insert.execute(params![
                id,
                names.id(file_name(row.path))?,
                row.path,
                row.kind,
                row.size,
                row.mode,
                row.link_target,
                row.sha256,
            ])?;
        }
        Ok(())
    }
}

/// The ids of file names, from the writer's memory or from `names`.
struct NameIds<'b> {
    tx: &'b Transaction<'b>,
    /// Ids of names committed earlier.
    committed: &'b HashMap<String, i64>,
    /// Ids this transaction looked up or added.
    new: &'b mut HashMap<String, i64>,
}

impl NameIds<'_> {
    /// The id of `name`, added to `names` when new.
    fn id(&mut self, name: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.committed.get(name).or_else(|| self.new.get(name)) {
            return Ok(id);
        }
        let found = self
            .tx
            .prepare_cached("SELECT id FROM names WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                self.tx
                    .prepare_cached("INSERT INTO names (name, reversed) VALUES (?1, ?2)")?
                    .execute([name, &reversed(name)])?;
                self.tx.last_insert_rowid()
            }
        };
        self.new.insert(name.to_owned(), id);
        Ok(id)
    }
}

/// The last component of `path`, a directory's with its `/`: what `names` holds.
pub fn file_name(path: &str) -> &str {
    let inner = path.strip_suffix('/').unwrap_or(path);
    inner.rfind('/').map_or(path, |slash| &path[slash + 1..])
}

/// `text` spelt backwards, character by character: what `names.reversed` holds, so that the
/// names ending in a suffix are one range of its index.
pub fn reversed(text: &str) -> String {
    text.chars().rev().collect()
}

/// One row of `files`, from either kind of file list.
struct FileRow<'a> {
    path: &'a str,
    kind: Option<&'static str>,
    size: Option<u64>,
    mode: Option<u32>,
    link_target: Option<&'a str>,
    sha256: Option<[u8; 32]>,
}

impl FileList {
    /// The rows to write: each path once, its last occurrence winning.
    fn rows(&self) -> Vec<FileRow<'_>> {
        match self {
            Self::Members(entries) => last_of_each_path(entries, |entry| &entry.path)
                .map(|entry| FileRow {
                    path: &entry.path,
                    kind: Some(entry.kind.as_str()),
                    size: Some(entry.size),
                    mode: Some(entry.mode),
                    link_target: entry.link_target.as_deref(),
                    sha256: entry.sha256.as_deref().and_then(digest_bytes),
                })
                .collect(),
            Self::Paths(paths) => last_of_each_path(paths, String::as_str)
                .map(|path| FileRow {
                    path,
                    kind: None,
                    size: None,
                    mode: None,
                    link_target: None,
                    sha256: None,
                })
                .collect(),
        }
    }
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

/// The items in order, each path only at its last occurrence: a tar may hold a path twice (a
/// file overwritten by a later member), and the last one wins, as it would on disk.
fn last_of_each_path<'a, T>(
    items: &'a [T],
    path: impl Fn(&'a T) -> &'a str,
) -> impl Iterator<Item = &'a T> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        last.insert(path(item), index);
    }
    items
        .iter()
        .enumerate()
        .filter(move |(index, item)| last.get(path(item)) == Some(index))
        .map(|(_, item)| item)
}

/// A lower-case hex sha256 as its 32 bytes; `None` for anything else.
fn digest_bytes(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(bytes)
}

/// 32 digest bytes back to the lower-case hex the records carry.
pub fn digest_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
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
        let mut write = |package: &IndexedPackage| {
            let mut batch = store.batch().expect("begins");
            let status = batch.write(package).expect("writes");
            batch.commit().expect("commits");
            status
        };
        let first = write(&package("1-1", &["usr/", "usr/lib/a", "usr/lib/a"]));
        let second = write(&package("2-1", &["usr/"]));
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
            count("SELECT file_count FROM packages"),
            1,
            "each path counted once"
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM files JOIN names ON names.id = name_id WHERE name = 'usr/'"
            ),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM relations WHERE name IN ('glibc', 'python')"),
            2
        );
        let existing = store.existing("core", "zlib").expect("reads");
        assert_eq!(existing.map(|e| e.source), Some(IndexSource::FilesDb));
    }

    #[test]
    fn a_file_name_is_the_last_component() {
        let names = ["usr/lib/libz.so.1", "usr/lib/", "usr/", "README", "a/b//"];
        assert_eq!(
            names.map(file_name),
            ["libz.so.1", "lib/", "usr/", "README", "/"]
        );
    }
}
