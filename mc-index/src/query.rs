//! Questions to the index: which files match a regular expression, and in which packages.
//!
//! Paths are matched as pacman's `.files` databases write them (no leading `/`, directories end
//! with `/`), and as `pacman -Fx` matches them (see [`Target`]): a pattern with a `/` against the
//! whole path, so `(^|/)__pycache__/$` finds `__pycache__` directories anywhere, any other against
//! file names, so `^libz\.so` finds `usr/lib/libz.so.1`.
//! The file names narrow the paths the regex reads (see [`crate::plan`]), and a question about
//! packages stops reading a package's paths at its first match. The same question in
//! plain SQL, with the `REGEXP` operator the `sqlite3` shell provides (it reads every path):
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
use rusqlite::{Row, ToSql, functions::FunctionFlags};

use crate::{
    plan::{self, Plan},
    store::{Store, StoreError, digest_hex, id_list, reversed},
};

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
    let target = Target::of(&query.pattern);
    let regex = RegexBuilder::new(target.pattern)
        .case_insensitive(query.ignore_case)
        .build()?;
    let plan = Plan::new(target.pattern, target.basename);
    let reads = match (&plan, query.ignore_case) {
        // Ranges of paths compare bytes: no use for a match without regard to case.
        (Plan::PathPrefixes(prefixes), false) => Reads::Prefixes(
            prefixes
                .iter()
                .map(|prefix| (prefix.clone(), format!("{prefix}{}", char::MAX)))
                .collect(),
        ),
        _ => match candidates(store, target, &plan, &regex, query.ignore_case)? {
            Some(names) => Reads::Names {
                ids: id_list(&names.ids),
                count: names.ids.len(),
                decided: names.decided,
            },
            None => Reads::Every,
        },
    };
    register_regexp(store, regex, target.basename)?;
    let sql = sql(query.packages, &reads);
    let conn = store.connection();
    let mut statement = conn.prepare(&sql).map_err(|e| store.error(e))?;
    let mut bound: Vec<&dyn ToSql> = vec![&query.pattern, &query.repo];
    match &reads {
        Reads::Every => {}
        Reads::Names { ids, .. } => bound.push(ids),
        Reads::Prefixes(ranges) => {
            for (start, end) in ranges {
                bound.extend([start as &dyn ToSql, end]);
            }
        }
    }
    let mut rows = statement
        .query(bound.as_slice())
        .map_err(|e| store.error(e))?;
    let mut written = 0;
    if query.packages {
        let mut ids = Vec::new();
        while let Some(row) = rows.next().map_err(|e| store.error(e))? {
            ids.push(row.get(0).map_err(|e| store.error(e))?);
        }
        for package in store.packages(&ids)? {
            out.write(&Record::Package(Box::new(package)))?;
            written += 1;
        }
    } else {
        while let Some(row) = rows.next().map_err(|e| store.error(e))? {
            out.write(&Record::File(file_record(row).map_err(|e| store.error(e))?))?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// Up to this many candidate names, a question about packages reads each package's paths of
/// those names until one matches, one index seek per name and package; past it, one pass over
/// every path of the names costs less (`[0-9]{5}` lets 98,526 of 293,110 names through at
/// extra's size, and the seeks took minutes where pacman -Fx takes seconds).
const MAX_NAMES_PER_PACKAGE: usize = 64;

/// Which paths a query reads.
enum Reads {
    /// All of them.
    Every,
    /// Those of the `count` names `ids` (a JSON array); when the names `decided`, every path
    /// of them matches.
    Names {
        ids: String,
        count: usize,
        decided: bool,
    },
    /// Those in these ranges (start, end): the paths that start with a prefix.
    Prefixes(Vec<(String, String)>),
}

/// The statement for a query: `?1` the pattern, `?2` the repository or NULL, then what `reads`
/// needs: `?3` the names, or from `?3` on the start and end of each range.
///
/// By name, only the paths of those names are read, through `files_name`; by prefix, only each
/// package's paths in the ranges, through `files_package`; else every path. For packages,
/// a package's paths are read only until one matches (EXISTS), by name only for the packages
/// that have such a name; when the names decide, no path is read.
fn sql(packages: bool, reads: &Reads) -> String {
    let repo_filter = "(?2 IS NULL OR p.repo = ?2)";
    let names = "(SELECT value FROM json_each(?3))";
    let ranges = |column: &str, count: usize| -> String {
        let each: Vec<String> = (0..count)
            .map(|i| format!("({column} >= ?{} AND {column} < ?{})", 3 + 2 * i, 4 + 2 * i))
            .collect();
        format!("({})", each.join(" OR "))
    };
    match (packages, reads) {
        (true, Reads::Names { decided: true, .. }) => format!(
            "SELECT p.id FROM packages p WHERE {repo_filter} AND p.id IN \
             (SELECT f.package_id FROM files f WHERE f.name_id IN {names}) \
             ORDER BY p.repo, p.name"
        ),
        // One pass over the names' paths: the per-package reading below seeks once per name
        // and package.
        (true, Reads::Names { count, .. }) if *count > MAX_NAMES_PER_PACKAGE => format!(
            "SELECT p.id FROM packages p WHERE {repo_filter} AND p.id IN \
             (SELECT f.package_id FROM json_each(?3) n CROSS JOIN files f \
             ON f.name_id = n.value WHERE mc_regexp(?1, f.path)) ORDER BY p.repo, p.name"
        ),
        (true, Reads::Names { .. }) => format!(
            "SELECT p.id FROM packages p WHERE {repo_filter} AND p.id IN \
             (SELECT f.package_id FROM files f WHERE f.name_id IN {names}) AND EXISTS \
             (SELECT 1 FROM files g WHERE g.name_id IN {names} AND g.package_id = p.id \
             AND mc_regexp(?1, g.path)) ORDER BY p.repo, p.name"
        ),
        (true, Reads::Prefixes(list)) => format!(
            "SELECT p.id FROM packages p WHERE {repo_filter} AND EXISTS \
             (SELECT 1 FROM files g WHERE g.package_id = p.id AND {} \
             AND mc_regexp(?1, g.path)) ORDER BY p.repo, p.name",
            ranges("g.path", list.len())
        ),
        // Reading every path in table order beats reading each package's until one matches.
        (true, Reads::Every) => format!(
            "SELECT p.id FROM packages p WHERE {repo_filter} AND p.id IN \
             (SELECT f.package_id FROM files f WHERE mc_regexp(?1, f.path)) \
             ORDER BY p.repo, p.name"
        ),
        (false, reads) => {
            let (files, only) = match reads {
                Reads::Names { .. } => (
                    "json_each(?3) n CROSS JOIN files f ON f.name_id = n.value \
                     JOIN packages p ON p.id = f.package_id"
                        .to_owned(),
                    String::new(),
                ),
                Reads::Prefixes(list) => (
                    "packages p CROSS JOIN files f ON f.package_id = p.id".to_owned(),
                    format!(" AND {}", ranges("f.path", list.len())),
                ),
                Reads::Every => (
                    "files f JOIN packages p ON p.id = f.package_id".to_owned(),
                    String::new(),
                ),
            };
            format!(
                "SELECT p.id, p.repo, p.name, p.version, f.path, f.kind, f.size, f.mode, \
                 f.link_target, f.sha256 FROM {files} WHERE {repo_filter}{only} \
                 AND mc_regexp(?1, f.path) ORDER BY p.repo, p.name, f.path"
            )
        }
    }
}

/// The names whose paths can match.
struct Candidates {
    /// Their ids.
    ids: Vec<i64>,
    /// Whether every path of these names matches: the names decide, paths need not be read.
    decided: bool,
}

/// The names whose paths can match `target`, by `plan`; `None` when any path can.
fn candidates(
    store: &Store,
    target: Target<'_>,
    plan: &Plan,
    regex: &Regex,
    ignore_case: bool,
) -> Result<Option<Candidates>, QueryError> {
    let filter = match plan {
        Plan::Scan | Plan::PathPrefixes(_) => return Ok(None),
        // Exact suffixes are ranges of the reversed names: only those names are read.
        Plan::NameSuffixes(suffixes) if !ignore_case => {
            let names = names_ending_in(store, suffixes)?;
            let decided = plan::decided_by_name(target.pattern);
            let ids = names
                .into_iter()
                .filter(|(_, name)| !decided || regex.is_match(&format!("/{name}")))
                .map(|(id, _)| id)
                .collect();
            return Ok(Some(Candidates { ids, decided }));
        }
        Plan::NameSuffixes(suffixes) => {
            let alternatives: Vec<String> = suffixes.iter().map(|s| regex::escape(s)).collect();
            let ends = RegexBuilder::new(&format!("(?:{})$", alternatives.join("|")))
                .case_insensitive(true)
                .build()?;
            NameFilter::Ends(ends)
        }
        Plan::FileNames => NameFilter::FileNames(regex.clone()),
    };
    // Filtered inside SQLite: a row handed out to Rust costs more than the filter (20 ms of
    // 75 over the 293,000 names of an extra-sized index).
    register_name_filter(store, filter)?;
    let ids = store
        .connection()
        .prepare("SELECT id FROM names WHERE mc_name(name)")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| store.error(e))?;
    // Not even a file-name pattern's names decide: a path without a `/` (a file at the top)
    // has a name but never matches one (pacman's rule).
    Ok(Some(Candidates {
        ids,
        decided: false,
    }))
}

/// The ids and names of the names that end in one of `suffixes`, exactly.
fn names_ending_in(store: &Store, suffixes: &[String]) -> Result<Vec<(i64, String)>, StoreError> {
    let wrap = |e| store.error(e);
    let mut statement = store
        .connection()
        .prepare("SELECT id, name FROM names WHERE reversed >= ?1 AND reversed < ?2")
        .map_err(wrap)?;
    let mut ids = Vec::new();
    for suffix in suffixes {
        let start = reversed(suffix);
        // Every text that starts with `start` sorts before `start` and the largest character.
        let end = format!("{start}{}", char::MAX);
        let found = statement
            .query_map([&start, &end], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(wrap)?;
        ids.extend(found);
    }
    Ok(ids)
}

/// Which file names can hold a match.
enum NameFilter {
    /// Names the pattern matches, directories' left out (the pattern is for file names).
    FileNames(Regex),
    /// Names this regex (the name ends of the pattern's literals, `$`-anchored) matches.
    Ends(Regex),
}

impl NameFilter {
    fn accepts(&self, name: &str) -> bool {
        match self {
            Self::FileNames(regex) => !name.ends_with('/') && regex.is_match(name),
            Self::Ends(regex) => regex.is_match(name),
        }
    }
}

/// Makes `mc_name(name)` available: whether paths of that file name can match.
fn register_name_filter(store: &Store, filter: NameFilter) -> Result<(), StoreError> {
    store
        .connection()
        .create_scalar_function(
            "mc_name",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| Ok(filter.accepts(ctx.get_raw(0).as_str().unwrap_or_default())),
        )
        .map_err(|e| store.error(e))
}

/// What a pattern is matched against, by pacman's rule (`pacman -F`): a pattern holding a `/` is
/// matched against the whole path (leading `/`s dropped, as paths have none); any other against
/// the file name, the part after the last `/`, so directories (whose paths end in `/`) and
/// top-level paths never match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'p> {
    /// The regular expression to compile.
    pub pattern: &'p str,
    /// Whether it is matched against file names rather than whole paths.
    pub basename: bool,
}

impl<'p> Target<'p> {
    /// The target of `pattern`.
    pub fn of(pattern: &'p str) -> Self {
        if !pattern.contains('/') {
            return Self {
                pattern,
                basename: true,
            };
        }
        let mut pattern = pattern;
        while pattern.len() > 1 && pattern.starts_with('/') {
            pattern = &pattern[1..];
        }
        Self {
            pattern,
            basename: false,
        }
    }
}

/// The part of `path` a file-name pattern is matched against; `None` for a directory or a
/// path without a `/`.
fn file_name(path: &str) -> Option<&str> {
    path.rfind('/')
        .map(|slash| &path[slash + 1..])
        .filter(|name| !name.is_empty())
}

/// Makes `mc_regexp(pattern, text)` available; the pattern argument is ignored in favour of the
/// compiled `regex`, so it is compiled once, not once per row.
fn register_regexp(store: &Store, regex: Regex, basename: bool) -> Result<(), StoreError> {
    store
        .connection()
        .create_scalar_function(
            "mc_regexp",
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let path = ctx.get_raw(1).as_str().unwrap_or_default();
                let text = if basename {
                    file_name(path)
                } else {
                    Some(path)
                };
                Ok(text.is_some_and(|text| regex.is_match(text)))
            },
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
        sha256: row
            .get::<_, Option<Vec<u8>>>(9)?
            .map(|digest| digest_hex(&digest)),
    })
}
