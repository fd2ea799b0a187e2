//! A sample pacman mirror, made on the spot: real packages that pacman accepts, and sync
//! databases written with the ALPM project's own `alpm-repo-db` types.
//!
//! Packages are laid out as makepkg lays them out: `.BUILDINFO`, `.MTREE` (gzip'd mtree with a
//! sha256 per file), `.PKGINFO`, then every directory and file in sorted order. Some packages
//! ship Python bytecode in `__pycache__/` directories and some ship decoys (`not__pycache__/`),
//! so the main job's question has a known answer. Everything derives from a seed, so two runs
//! make the same bytes.
//!
//! Packages are compressed as they are written; a large file ([`Spec::big_file_bytes`], for
//! memory benchmarks) is generated chunk by chunk, so only the compressed package is ever held
//! in memory.

use std::{
    fmt::Write as _,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    str::FromStr,
};

use alpm_repo_db::{
    desc::RepoDescFileV2,
    files::{RepoFiles, RepoFilesV1},
};
use anyhow::Context;
pub use minicluster::compress::Compression;
use sha2::{Digest, Sha256};

/// Build time written into every sample package (2023-11-14).
const BUILD_DATE: i64 = 1_700_000_000;
const PACKAGER: &str = "Minicluster Sample <sample@minicluster.invalid>";

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Repositories, each with `packages` packages.
    pub repos: Vec<String>,
    /// Packages per repository.
    pub packages: usize,
    /// Payload files per package (directories and metadata come on top).
    pub files_per_package: usize,
    /// Package compressions, used in turn; `zst` alone for benchmarks.
    pub compressions: Vec<Compression>,
    /// Seed of all content.
    pub seed: u64,
    /// Added to every pkgrel: a mirror with `release: 1` holds newer builds of the same packages.
    pub release: usize,
    /// Size of one extra file in the first package of each repository; 0 for none.
    pub big_file_bytes: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            repos: vec!["core".into(), "extra".into()],
            packages: 24,
            files_per_package: 6,
            compressions: vec![
                Compression::Zstd,
                Compression::Zstd,
                Compression::Xz,
                Compression::Gzip,
            ],
            seed: 1,
            release: 0,
            big_file_bytes: 0,
        }
    }
}

/// One member of a package's payload.
#[derive(Clone, Debug)]
enum Member {
    Dir(String),
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    /// A file too large to hold in memory: its content comes from [`Filler`].
    Big {
        path: String,
        size: u64,
        seed: u64,
    },
    Link {
        path: String,
        target: String,
    },
}

impl Member {
    fn path(&self) -> &str {
        match self {
            Self::Dir(path)
            | Self::File { path, .. }
            | Self::Big { path, .. }
            | Self::Link { path, .. } => path,
        }
    }
}

/// A package before it is written.
struct SamplePackage {
    name: String,
    version: String,
    arch: &'static str,
    desc: String,
    depends: Vec<String>,
    optdepends: Vec<String>,
    provides: Vec<String>,
    members: Vec<Member>,
}

/// What was written.
#[derive(Debug, Default)]
pub struct Summary {
    /// Packages written, over all repositories.
    pub packages: usize,
    /// Payload paths (directories included), as `.files` counts them.
    pub paths: usize,
    /// Bytes of package files.
    pub package_bytes: u64,
    /// Packages that ship a `__pycache__` directory, as `repo/name`.
    pub pycache_packages: Vec<String>,
}

/// Writes a mirror under `out`: `out/REPO/os/x86_64/` holds the packages, `REPO.db.tar.gz`,
/// `REPO.files.tar.gz` and the `REPO.db`/`REPO.files` links, as repo-add leaves them.
pub fn write_mirror(out: &Path, spec: &Spec) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for (repo_index, repo) in spec.repos.iter().enumerate() {
        let dir = out.join(repo).join("os").join("x86_64");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut db = tar::Builder::new(Vec::new());
        let mut files_db = tar::Builder::new(Vec::new());
        for index in 0..spec.packages {
            let number = repo_index * spec.packages + index;
            let package = sample_package(repo, index, number, spec);
            let compression = spec.compressions[number % spec.compressions.len().max(1)];
            let file_name = format!(
                "{}-{}-{}.pkg.tar.{}",
                package.name,
                package.version,
                package.arch,
                compression.extension()
            );
            let bytes = compression.compress(|out| write_package(&package, out))?;
            write_atomically(&dir.join(&file_name), &bytes)?;
            let desc = desc_entry(&package, &file_name, &bytes)?;
            let paths = files_entry(&package)?;
            let folder = format!("{}-{}", package.name, package.version);
            append(&mut db, &format!("{folder}/desc"), desc.as_bytes())?;
            append(&mut files_db, &format!("{folder}/desc"), desc.as_bytes())?;
            append(&mut files_db, &format!("{folder}/files"), paths.as_bytes())?;
            summary.packages += 1;
            summary.paths += package.members.len();
            summary.package_bytes += bytes.len() as u64;
            if package
                .members
                .iter()
                .any(|m| m.path().ends_with("/__pycache__/"))
            {
                summary
                    .pycache_packages
                    .push(format!("{repo}/{}", package.name));
            }
        }
        for (kind, builder) in [("db", db), ("files", files_db)] {
            let archive = gzip(&builder.into_inner()?)?;
            let name = format!("{repo}.{kind}.tar.gz");
            write_atomically(&dir.join(&name), &archive)?;
            let link = dir.join(format!("{repo}.{kind}"));
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&name, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(summary)
}

/// A deterministic pseudo-random number stream (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// The content of a [`Member::Big`] file, generated as it is read: [`content`] in chunks.
struct Filler {
    rng: Rng,
    remaining: u64,
    chunk: Vec<u8>,
    offset: usize,
}

impl Filler {
    const CHUNK_BYTES: u64 = 1 << 16;

    fn new(size: u64, seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            remaining: size,
            chunk: Vec::new(),
            offset: 0,
        }
    }
}

impl io::Read for Filler {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset == self.chunk.len() {
            let size = self.remaining.min(Self::CHUNK_BYTES);
            self.remaining -= size;
            self.chunk = content(&mut self.rng, size as usize);
            self.offset = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.offset);
        buf[..n].copy_from_slice(&self.chunk[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Text that compresses like real program data does: words from a small vocabulary.
fn content(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "pacman", "mirror", "package", "sync", "database", "zstd", "tar", "index", "file", "path",
        "version", "epoch", "depends", "provides", "arch", "linux",
    ];
    let mut text = String::with_capacity(bytes + 16);
    while text.len() < bytes {
        text.push_str(WORDS[rng.below(16) as usize]);
        text.push(if rng.below(12) == 0 { '\n' } else { ' ' });
    }
    text.truncate(bytes);
    text.into_bytes()
}

/// Package `index` of `repo`, numbered `number` over the whole mirror.
fn sample_package(repo: &str, index: usize, number: usize, spec: &Spec) -> SamplePackage {
    let mut rng = Rng::new(spec.seed ^ (number as u64 + 1));
    let python = number % 5 == 1;
    let name = if python {
        format!("python-sample{number:04}")
    } else {
        format!("sample{number:04}")
    };
    // Some epochs, so file names carry the `:` that pacman puts there.
    let version = if number % 11 == 3 {
        format!(
            "1:{}.{}-{}",
            number % 7,
            number,
            1 + number % 3 + spec.release
        )
    } else {
        format!(
            "{}.{}-{}",
            number % 7,
            number,
            1 + number % 3 + spec.release
        )
    };
    let mut members = vec![
        Member::Dir("usr/".into()),
        Member::Dir("usr/bin/".into()),
        Member::File {
            path: format!("usr/bin/{name}"),
            mode: 0o755,
            data: format!("#!/bin/sh\necho {name} {version}\n").into_bytes(),
        },
        Member::Link {
            path: format!("usr/bin/{name}-alias"),
            target: name.clone(),
        },
        Member::Dir("usr/share/".into()),
        Member::Dir(format!("usr/share/{name}/")),
    ];
    for file in 0..spec.files_per_package {
        let size = 256 + rng.below(4096) as usize;
        members.push(Member::File {
            path: format!("usr/share/{name}/data{file:03}.txt"),
            mode: 0o644,
            data: content(&mut rng, size),
        });
    }
    if python {
        let site = format!("usr/lib/python3.12/site-packages/sample{number:04}/");
        members.extend([
            Member::Dir("usr/lib/".into()),
            Member::Dir("usr/lib/python3.12/".into()),
            Member::Dir("usr/lib/python3.12/site-packages/".into()),
            Member::Dir(site.clone()),
            Member::File {
                path: format!("{site}__init__.py"),
                mode: 0o644,
                data: b"VERSION = 1\n".to_vec(),
            },
            Member::Dir(format!("{site}__pycache__/")),
            Member::File {
                path: format!("{site}__pycache__/__init__.cpython-312.pyc"),
                mode: 0o644,
                data: content(&mut rng, 200),
            },
        ]);
    }
    if number % 7 == 2 {
        // Decoys: a name that merely ends in __pycache__, and a file named like the directory.
        members.extend([
            Member::Dir(format!("usr/share/{name}/not__pycache__/")),
            Member::File {
                path: format!("usr/share/{name}/__pycache__"),
                mode: 0o644,
                data: b"decoy\n".to_vec(),
            },
        ]);
    }
    if index == 0 && spec.big_file_bytes > 0 {
        members.push(Member::Big {
            path: format!("usr/share/{name}/big.txt"),
            size: spec.big_file_bytes,
            seed: rng.next(),
        });
    }
    members.sort_by(|a, b| a.path().cmp(b.path()));
    let depends = if number.is_multiple_of(3) {
        vec!["glibc".to_owned()]
    } else {
        vec![format!("sample{:04}", number - 1), "bash>=5".to_owned()]
    };
    SamplePackage {
        desc: format!("Sample package {number} of the {repo} repository"),
        arch: if number.is_multiple_of(4) {
            "any"
        } else {
            "x86_64"
        },
        optdepends: if python {
            vec!["python: to run the module".to_owned()]
        } else {
            Vec::new()
        },
        provides: vec![format!("sample-virtual{}={version}", number % 3)],
        depends,
        members,
        name,
        version,
    }
}

fn installed_size(package: &SamplePackage) -> u64 {
    package
        .members
        .iter()
        .map(|member| match member {
            Member::File { data, .. } => data.len() as u64,
            Member::Big { size, .. } => *size,
            _ => 0,
        })
        .sum()
}

fn pkginfo(package: &SamplePackage) -> String {
    let mut text = String::from("# Generated by minicluster's sample mirror\n");
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(text, "{key} = {value}");
    };
    line("pkgname", &package.name);
    line("pkgbase", &package.name);
    line("xdata", "pkgtype=pkg");
    line("pkgver", &package.version);
    line("pkgdesc", &package.desc);
    line("url", "https://minicluster.invalid/");
    line("builddate", &BUILD_DATE.to_string());
    line("packager", PACKAGER);
    line("size", &installed_size(package).to_string());
    line("arch", package.arch);
    line("license", "MIT");
    package.provides.iter().for_each(|v| line("provides", v));
    package.depends.iter().for_each(|v| line("depend", v));
    package.optdepends.iter().for_each(|v| line("optdepend", v));
    text
}

fn buildinfo(package: &SamplePackage) -> String {
    let pkgbuild = hex::encode(Sha256::digest(package.name.as_bytes()));
    format!(
        "format = 2\npkgname = {name}\npkgbase = {name}\npkgver = {version}\npkgarch = {arch}\n\
         pkgbuild_sha256sum = {pkgbuild}\npackager = {PACKAGER}\nbuilddate = {BUILD_DATE}\n\
         builddir = /build\nstartdir = /startdir\nbuildtool = makepkg\nbuildtoolver = 6.0.2\n\
         buildenv = !distcc\noptions = strip\ninstalled = glibc-2.38-1-x86_64\n",
        name = package.name,
        version = package.version,
        arch = package.arch,
    )
}

/// The `.MTREE` makepkg would write, gzip-compressed.
fn mtree(package: &SamplePackage, metadata: &[(&str, &[u8])]) -> io::Result<Vec<u8>> {
    let mut text = String::from("#mtree\n/set type=file uid=0 gid=0 mode=644\n");
    let time = format!("time={BUILD_DATE}.0");
    for (path, data) in metadata {
        let _ = writeln!(
            text,
            "./{path} {time} size={} {}",
            data.len(),
            digests(data)
        );
    }
    for member in &package.members {
        let _ = match member {
            Member::Dir(path) => {
                writeln!(
                    text,
                    "./{} {time} mode=755 type=dir",
                    path.trim_end_matches('/')
                )
            }
            Member::File { path, mode, data } => {
                let (size, digests) = (data.len(), digests(data));
                writeln!(text, "./{path} {time} mode={mode:o} size={size} {digests}")
            }
            Member::Big { path, size, seed } => {
                let md5 =
                    alpm_types::Md5Checksum::calculate_from_reader(Filler::new(*size, *seed))?;
                let sha256 =
                    alpm_types::Sha256Checksum::calculate_from_reader(Filler::new(*size, *seed))?;
                writeln!(
                    text,
                    "./{path} {time} mode=644 size={size} md5digest={md5} sha256digest={sha256}"
                )
            }
            Member::Link { path, target } => {
                writeln!(text, "./{path} {time} mode=777 type=link link={target}")
            }
        };
    }
    gzip(text.as_bytes())
}

/// The digests makepkg writes: pacman -Qkk checks the md5, alpm-mtree wants the sha256.
fn digests(data: &[u8]) -> String {
    let md5 = alpm_types::Md5Checksum::calculate_from(data);
    let sha256 = alpm_types::Sha256Checksum::calculate_from(data);
    format!("md5digest={md5} sha256digest={sha256}")
}

/// Writes the package's tar (uncompressed) to `out`.
fn write_package(package: &SamplePackage, out: &mut dyn Write) -> io::Result<()> {
    let pkginfo = pkginfo(package);
    let buildinfo = buildinfo(package);
    let metadata: [(&str, &[u8]); 2] = [
        (".BUILDINFO", buildinfo.as_bytes()),
        (".PKGINFO", pkginfo.as_bytes()),
    ];
    let mtree = mtree(package, &metadata)?;
    let mut tar = tar::Builder::new(out);
    append(&mut tar, ".BUILDINFO", buildinfo.as_bytes())?;
    append(&mut tar, ".MTREE", &mtree)?;
    append(&mut tar, ".PKGINFO", pkginfo.as_bytes())?;
    for member in &package.members {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(BUILD_DATE as u64);
        header.set_uid(0);
        header.set_gid(0);
        match member {
            Member::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, path, io::empty())?;
            }
            Member::File { path, mode, data } => {
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())?;
            }
            Member::Big { path, size, seed } => {
                header.set_mode(0o644);
                header.set_size(*size);
                tar.append_data(&mut header, path, Filler::new(*size, *seed))?;
            }
            Member::Link { path, target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)?;
            }
        }
    }
    tar.finish()
}

/// The package's `desc` entry, in alpm-repo-descv2 form as `alpm-repo-db` writes it.
fn desc_entry(package: &SamplePackage, file_name: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let desc = RepoDescFileV2 {
        file_name: file_name.parse()?,
        name: package.name.parse()?,
        base: package.name.parse()?,
        version: package.version.parse()?,
        description: package.desc.as_str().into(),
        groups: Vec::new(),
        compressed_size: bytes.len() as u64,
        installed_size: installed_size(package),
        sha256_checksum: alpm_types::Sha256Checksum::calculate_from(bytes),
        pgp_signature: None,
        url: Some("https://minicluster.invalid/".parse()?),
        license: vec!["MIT".parse()?],
        arch: package.arch.parse()?,
        build_date: BUILD_DATE,
        packager: PACKAGER.parse()?,
        replaces: Vec::new(),
        conflicts: Vec::new(),
        provides: parse_all(&package.provides)?,
        dependencies: parse_all(&package.depends)?,
        optional_dependencies: parse_all(&package.optdepends)?,
        make_dependencies: Vec::new(),
        check_dependencies: Vec::new(),
    };
    Ok(desc.to_string())
}

fn parse_all<T: FromStr>(values: &[String]) -> Result<Vec<T>, T::Err> {
    values.iter().map(|value| value.parse()).collect()
}

/// The package's `files` entry.
fn files_entry(package: &SamplePackage) -> anyhow::Result<String> {
    let paths: Vec<PathBuf> = package
        .members
        .iter()
        .map(|m| PathBuf::from(m.path()))
        .collect();
    Ok(RepoFiles::V1(RepoFilesV1::try_from(paths)?).to_string())
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(BUILD_DATE as u64);
    tar.append_data(&mut header, path, data)
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    Compression::Gzip.compress(|out| out.write_all(data))
}

/// Writes `path` through a temporary file and a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
