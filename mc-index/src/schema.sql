-- The mc-index database, schema version 2.
--
-- It is recognisable as ours by `PRAGMA application_id` (0x6D634958, "mcIX") and its version by
-- `PRAGMA user_version`; mc-index refuses a database that is neither empty nor its own, and
-- upgrades a version 1 database in place (files.sha256 from hex text to blobs, the trigram index
-- built from the paths) the first time it writes to it.
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

-- Every path of every package, as pacman's .files databases write it: no leading '/', and
-- directories end with '/'. kind, size, mode, link_target and sha256 are NULL for packages
-- indexed from a .files database. A path appears once per package (a tar member written twice:
-- the last one wins, as it would on disk).
CREATE TABLE IF NOT EXISTS files (
    id           INTEGER PRIMARY KEY,       -- the rowid of the path in files_trigram
    package_id   INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    kind         TEXT,                      -- 'file', 'dir', 'link', 'hardlink', 'other'
    size         INTEGER,                   -- bytes, as the tar header declares
    mode         INTEGER,                   -- permission bits
    link_target  TEXT,
    sha256       BLOB                       -- of the content (32 bytes), computed as it streams by
);
CREATE INDEX IF NOT EXISTS files_package ON files (package_id);

-- A trigram index of every path, so a regular expression reads only the paths that hold the
-- literals any match must contain. Each path is indexed as char(2) || path || char(3), so an
-- anchored literal ('^usr/', '__pycache__/$') is a literal too. Contentless (the paths live in
-- `files`) and without positions: a query ANDs the trigrams of a literal, and the regular
-- expression decides every candidate. In SQL, the paths that contain 'cache':
--   SELECT path FROM files WHERE id IN (SELECT rowid FROM files_trigram
--       WHERE files_trigram MATCH '"cac" AND "ach" AND "che"') AND path LIKE '%cache%';
CREATE VIRTUAL TABLE IF NOT EXISTS files_trigram USING fts5 (
    path, content = '', contentless_delete = 1, tokenize = 'trigram', detail = 'none'
);
CREATE TRIGGER IF NOT EXISTS files_trigram_insert AFTER INSERT ON files BEGIN
    INSERT INTO files_trigram (rowid, path) VALUES (new.id, char(2) || new.path || char(3));
END;
CREATE TRIGGER IF NOT EXISTS files_trigram_delete AFTER DELETE ON files BEGIN
    DELETE FROM files_trigram WHERE rowid = old.id;
END;
