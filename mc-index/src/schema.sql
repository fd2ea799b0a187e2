-- The mc-index database, schema version 1.
--
-- One row in `packages` per (repo, name): indexing a new version replaces the old row, and the
-- rows that hang off it go with it (ON DELETE CASCADE). Every package is written in one
-- transaction, so an interrupted run leaves whole packages or none.

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
-- indexed from a .files database.
CREATE TABLE IF NOT EXISTS files (
    package_id   INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    kind         TEXT,                      -- 'file', 'dir', 'link', 'hardlink', 'other'
    size         INTEGER,                   -- bytes, as the tar header declares
    mode         INTEGER,                   -- permission bits
    link_target  TEXT,
    sha256       TEXT,                      -- of the content, computed as it streams by
    PRIMARY KEY (package_id, path)
) WITHOUT ROWID;
