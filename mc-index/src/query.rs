//! Questions to the index: which files match a regular expression, and in which packages.
//!
//! Paths are matched as pacman's `.files` databases write them (no leading `/`, directories end
//! with `/`), by the whole path: `(^|/)__pycache__/$` finds `__pycache__` directories anywhere.
//! The same question in plain SQL, with the `REGEXP` operator the `sqlite3` shell provides:
//!
//! ```sql
//! SELECT DISTINCT p.repo, p.name, p.version FROM packages p JOIN files f ON f.package_id = p.id
//! WHERE f.path REGEXP '(^|/)__pycache__/$' ORDER BY p.repo, p.name;
//! ```

use std::io::Write;

use minicluster::{
    jsonl::RecordWriter,
    record::{FileRecord, Record},
};
use regex::{Regex, RegexBuilder};
use rusqlite::{Row, functions::FunctionFlags, params};

use crate::store::{Store, StoreError};

/// A file query.
#[derive(Clone, Debug)]
pub struct Query {
    /// The regular expression paths must match (Rust `regex` syntax, unanchored).
    pub pattern: String,
    /// Answer with one package record per matching package instead of file records.
    pub packages: bool,
    /// Only this repository.
    pub repo: Option<String>,
    /// Match without regard to case, as `pacman -F` does.
    pub ignore_case: bool,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The pattern is not a valid regular expression.
    #[error("invalid regular expression: {0}")]
    Pattern(#[from] regex::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the answer failed.
    #[error("writing results: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs `query`, writing one record per match; returns how many records were written.
pub fn run(
    store: &Store,
    query: &Query,
    out: &mut RecordWriter<impl Write>,
) -> Result<u64, QueryError> {
    let regex = RegexBuilder::new(&query.pattern)
        .case_insensitive(query.ignore_case)
        .build()?;
    register_regexp(store, regex)?;
    let repo_filter = "(?2 IS NULL OR p.repo = ?2)";
    let sql = if query.packages {
        format!(
            "SELECT p.id, p.repo, p.name, p.version FROM packages p \
             WHERE {repo_filter} AND EXISTS (SELECT 1 FROM files f \
             WHERE f.package_id = p.id AND mc_regexp(?1, f.path)) ORDER BY p.repo, p.name"
        )
    } else {
        format!(
            "SELECT p.id, p.repo, p.name, p.version, f.path, f.kind, f.size, f.mode, \
             f.link_target, f.sha256 FROM files f JOIN packages p ON p.id = f.package_id \
             WHERE {repo_filter} AND mc_regexp(?1, f.path) ORDER BY p.repo, p.name, f.path"
        )
    };
    let conn = store.connection();
    let mut statement = conn.prepare(&sql).map_err(|e| store.error(e))?;
    let mut rows = statement
        .query(params![query.pattern, query.repo])
        .map_err(|e| store.error(e))?;
    let mut written = 0;
    while let Some(row) = rows.next().map_err(|e| store.error(e))? {
        let record = if query.packages {
            let id: i64 = row.get(0).map_err(|e| store.error(e))?;
            Record::Package(Box::new(store.package(id)?))
        } else {
            Record::File(file_record(row).map_err(|e| store.error(e))?)
        };
        out.write(&record)?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

/// Makes `mc_regexp(pattern, text)` available; the pattern argument is ignored in favour of the
/// compiled `regex`, so it is compiled once, not once per row.
fn register_regexp(store: &Store, regex: Regex) -> Result<(), StoreError> {
    store
        .connection()
        .create_scalar_function(
            "mc_regexp",
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| Ok(regex.is_match(ctx.get_raw(1).as_str().unwrap_or_default())),
        )
        .map_err(|e| store.error(e))
}

fn file_record(row: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        repo: row.get(1)?,
        name: row.get(2)?,
        version: row.get(3)?,
        path: row.get(4)?,
        kind: row.get(5)?,
        size_bytes: row.get(6)?,
        mode: row
            .get::<_, Option<u32>>(7)?
            .map(|mode| format!("{mode:o}")),
        link_target: row.get(8)?,
        sha256: row.get(9)?,
    })
}
