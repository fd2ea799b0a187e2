-- The mc-index database, schema version 5.
--
-- It is recognisable as ours by `PRAGMA application_id` (0x6D634958, "mcIX") and its version by
-- `PRAGMA user_version`; mc-index refuses a database that is neither empty nor its own, and
-- upgrades an older one in place the first time it writes to it (from 1 or 2: files.sha256 from
-- hex text to blobs, `names` filled from the paths, version 2's trigram index dropped; from 3:
-- `names.reversed` filled, `files_name` rebuilt with the package; from 3 and 4: `files_package`
-- rebuilt with the path).
--
-- One row in `packages` per (repo, name): indexing a new version replaces the old row, and the
-- rows that hang off it go with it (ON DELETE CASCADE). Packages are written in transactions of
-- whole packages, so an interrupted run leaves whole packages or none.

CREATE TABLE IF NOT EXISTS packages (
    id            INTEGER PRIMARY KEY,
    repo          TEXT NOT NULL,            -- 'core', 'extra', ...; 'local' for files given by path
    name          TEXT NOT NULL,
    base          TEXT,
    version       TEXT NOT NULL,            -- [epoch:]pkgver-pkgrel
    arch          TEXT,
    filename      TEXT,                     -- file name in the repository
    url           TEXT,                     -- where it was downloaded from
    path          TEXT,                     -- or the local file it was read from
    sha256        TEXT,                     -- of the package file, lower-case hex
    csize         INTEGER,                  -- package file size, bytes
    isize         INTEGER,                  -- installed size, bytes
    builddate     INTEGER,                  -- seconds since the Unix epoch
    packager      TEXT,
    description   TEXT,
    url_upstream  TEXT,
    indexed_from  TEXT NOT NULL CHECK (indexed_from IN ('package', 'files_db')),
    indexed_at    INTEGER NOT NULL,         -- seconds since the Unix epoch
    file_count    INTEGER NOT NULL DEFAULT 0, -- rows in `files`
    UNIQUE (repo, name)
);
CREATE INDEX IF NOT EXISTS packages_name ON packages (name);

-- depends, makedepends, checkdepends, optdepends, provides, conflicts, replaces.
CREATE TABLE IF NOT EXISTS relations (
    package_id  INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,              -- the package or soname part: 'glibc', 'libc.so'
    spec        TEXT NOT NULL               -- as written: 'glibc>=2.38', 'python: for scripts'
);
CREATE INDEX IF NOT EXISTS relations_name ON relations (name, kind);
CREATE INDEX IF NOT EXISTS relations_package ON relations (package_id);

-- Multi-valued fields ('group', 'license') and every line of .PKGINFO and .BUILDINFO
-- (source 'pkginfo' or 'buildinfo'), in file order.
CREATE TABLE IF NOT EXISTS metadata (
    package_id  INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,              -- 'pkginfo', 'buildinfo' or 'package' (groups, licenses)
    key         TEXT NOT NULL,
    value       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metadata_package ON metadata (package_id);

-- Every file name any package has, once: the last component of a path, a directory's with its
-- '/' ('usr/lib/libz.so.1' → 'libz.so.1', 'usr/lib/' → 'lib/', 'usr/' → 'usr/'). A query runs
-- its regular expression over these few distinct names first (Arch's extra: 4.6 M paths, far
-- fewer names) and reads only the paths whose name can match; the regex on the path then
-- decides. Names no package uses any more stay: they cost a row and match nothing.
-- `reversed` is the name spelt backwards, so the names that end in a pattern's literal
-- (`__pycache__/`) are one range of `names_reversed`, found without reading the others.
CREATE TABLE IF NOT EXISTS names (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    reversed  TEXT NOT NULL                 -- '__pycache__/' → '/__ehcacyp__'
);
CREATE INDEX IF NOT EXISTS names_reversed ON names (reversed);

-- Every path of every package, as pacman's .files databases write it: no leading '/', and
-- directories end with '/'. kind, size, mode, link_target and sha256 are NULL for packages
-- indexed from a .files database. A path appears once per package (a tar member written twice:
-- the last one wins, as it would on disk). `files_name` holds the package too, so a question
-- about packages ("which packages have a path of this name that matches") reads, per package,
-- only its paths of that name, and stops at the first that matches. `files_package` holds the
-- path, so the paths of a package that start with a pattern's prefix (`^usr/bin/`) are one
-- range of it. In SQL, the paths of
-- `__pycache__` directories:
--   SELECT f.path FROM names n CROSS JOIN files f ON f.name_id = n.id
--   WHERE n.name = '__pycache__/';
CREATE TABLE IF NOT EXISTS files (
    id           INTEGER PRIMARY KEY,
    package_id   INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    name_id      INTEGER NOT NULL REFERENCES names (id),
    path         TEXT NOT NULL,
    kind         TEXT,                      -- 'file', 'dir', 'link', 'hardlink', 'other'
    size         INTEGER,                   -- bytes, as the tar header declares
    mode         INTEGER,                   -- permission bits
    link_target  TEXT,
    sha256       BLOB                       -- of the content (32 bytes), computed as it streams by
);
CREATE INDEX IF NOT EXISTS files_package ON files (package_id, path);
CREATE INDEX IF NOT EXISTS files_name ON files (name_id, package_id);
