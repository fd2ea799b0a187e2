//! A `.files` sync database at the scale of Arch's `extra` (14,000 packages, 4.6 M paths), made
//! on the spot with the path shapes a real one has: Python packages with `__pycache__/`
//! directories holding two `.pyc` files per module, libraries with headers, man pages and
//! pkg-config files, applications with icons and a hundred locales, a few huge data packages,
//! and decoys (`not__pycache__/`, a file named `__pycache__`). Paths only: there are no
//! package files, so it is for `mc-index --files-db` and `pacman -F`. Deterministic from a seed.

use std::{
    collections::BTreeSet,
    fs::{self, File},
    io::{self, BufWriter},
    path::Path,
};

use anyhow::Context;
use flate2::{Compression as Level, write::GzEncoder};

use crate::sample::Rng;

/// What to generate.
#[derive(Clone, Debug)]
pub struct FilesSpec {
    /// The repository's name.
    pub repo: String,
    /// Packages in it.
    pub packages: usize,
    /// About how many paths over all packages (directories included).
    pub paths: usize,
    /// Seed of everything.
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Default)]
pub struct FilesSummary {
    /// Packages written.
    pub packages: usize,
    /// Paths over all packages.
    pub paths: usize,
    /// Packages that ship a `__pycache__/` directory, as `repo/name`.
    pub pycache_packages: usize,
}

const LOCALES: [&str; 12] = [
    "de", "fr", "es", "it", "ja", "ko", "pt_BR", "ru", "zh_CN", "zh_TW", "pl", "nl",
];
const WORDS: [&str; 24] = [
    "core", "util", "net", "io", "gtk", "qt", "xml", "json", "http", "crypto", "image", "audio",
    "video", "font", "config", "parser", "client", "server", "test", "data", "codec", "widget",
    "plugin", "backend",
];

/// Writes `out/REPO/os/x86_64/REPO.files.tar.gz` and `REPO.db.tar.gz`, with the `REPO.files` and
/// `REPO.db` links repo-add leaves.
pub fn write_files_db(out: &Path, spec: &FilesSpec) -> anyhow::Result<FilesSummary> {
    let dir = out.join(&spec.repo).join("os").join("x86_64");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files_tar = tar_writer(&dir.join(format!("{}.files.tar.gz", spec.repo)))?;
    let mut db_tar = tar_writer(&dir.join(format!("{}.db.tar.gz", spec.repo)))?;
    let mut rng = Rng::new(spec.seed);
    let mut summary = FilesSummary::default();
    // The shapes below make about 228 paths per package at scale 1 (measured: 14,000 packages,
    // 3.19 M paths); they scale their counts by this.
    let scale = spec.paths as f64 / spec.packages.max(1) as f64 / 228.0;
    for number in 0..spec.packages {
        let (name, paths) = package_paths(number, scale, &mut rng);
        let version = format!("{}.{}-{}", 1 + number % 9, number % 97, 1 + number % 3);
        let folder = format!("{name}-{version}");
        let desc = desc(&name, &version, number, paths.len());
        append(&mut db_tar, &format!("{folder}/desc"), desc.as_bytes())?;
        append(&mut files_tar, &format!("{folder}/desc"), desc.as_bytes())?;
        let mut files = String::from("%FILES%\n");
        for path in &paths {
            files.push_str(path);
            files.push('\n');
        }
        append(&mut files_tar, &format!("{folder}/files"), files.as_bytes())?;
        summary.packages += 1;
        summary.paths += paths.len();
        summary.pycache_packages += usize::from(paths.iter().any(|p| p.ends_with("/__pycache__/")));
    }
    for (kind, tar) in [("files", files_tar), ("db", db_tar)] {
        tar.into_inner()?
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        let link = dir.join(format!("{}.{kind}", spec.repo));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("{}.{kind}.tar.gz", spec.repo), &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(summary)
}

type TarWriter = tar::Builder<GzEncoder<BufWriter<File>>>;

fn tar_writer(path: &Path) -> anyhow::Result<TarWriter> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(tar::Builder::new(GzEncoder::new(
        BufWriter::new(file),
        Level::fast(),
    )))
}

fn append(tar: &mut TarWriter, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    tar.append_data(&mut header, path, data)
}

/// A desc entry with the fields pacman and mc-fetch read; the checksum is made up, as there is
/// no package file.
fn desc(name: &str, version: &str, number: usize, paths: usize) -> String {
    let mut text = String::new();
    let mut field = |key: &str, value: &str| {
        text.push_str(&format!("%{key}%\n{value}\n\n"));
    };
    field("FILENAME", &format!("{name}-{version}-x86_64.pkg.tar.zst"));
    field("NAME", name);
    field("BASE", name);
    field("VERSION", version);
    field(
        "DESC",
        &format!("Generated package {number} of an extra-sized repository"),
    );
    field("CSIZE", &(paths * 900 + 4096).to_string());
    field("ISIZE", &(paths * 3000 + 8192).to_string());
    field(
        "SHA256SUM",
        &format!("{:064x}", number as u128 * 0x9e37_79b9_7f4a_7c15),
    );
    field("URL", "https://minicluster.invalid/");
    field("LICENSE", "MIT");
    field("ARCH", "x86_64");
    field("BUILDDATE", "1700000000");
    field(
        "PACKAGER",
        "Minicluster Sample <sample@minicluster.invalid>",
    );
    field("DEPENDS", "glibc");
    text
}

/// Package `number`'s name and sorted paths, every parent directory listed.
fn package_paths(number: usize, scale: f64, rng: &mut Rng) -> (String, Vec<String>) {
    let word = WORDS[number % WORDS.len()];
    let count = |rng: &mut Rng, low: u64, high: u64| -> usize {
        ((low + rng.below(high - low + 1)) as f64 * scale)
            .round()
            .max(1.0) as usize
    };
    let mut files: Vec<String> = Vec::new();
    let name;
    match number % 20 {
        // Python: a quarter of the repository, a module tree with bytecode beside every file.
        0..=4 => {
            name = format!("python-{word}{number}");
            let site = format!("usr/lib/python3.13/site-packages/{word}{number}");
            let modules = count(rng, 3, 40);
            for module in 0..modules {
                let package = if module % 6 == 0 {
                    site.clone()
                } else {
                    format!("{site}/{}{}", WORDS[module % WORDS.len()], module / 6)
                };
                let stem = format!("{}_{module}", WORDS[(module * 7) % WORDS.len()]);
                files.push(format!("{package}/{stem}.py"));
                files.push(format!("{package}/__pycache__/{stem}.cpython-313.pyc"));
                files.push(format!(
                    "{package}/__pycache__/{stem}.cpython-313.opt-1.pyc"
                ));
            }
            files.push(format!("{site}-{number}.0.dist-info/METADATA"));
            files.push(format!("{site}-{number}.0.dist-info/RECORD"));
            files.push(format!("usr/share/licenses/{name}/LICENSE"));
        }
        // Libraries: headers, the shared object and its links, pkg-config, man pages.
        5..=10 => {
            name = format!("lib{word}{number}");
            for header in 0..count(rng, 5, 120) {
                files.push(format!(
                    "usr/include/{word}{number}/{}{header}.h",
                    WORDS[header % 24]
                ));
            }
            for suffix in ["", ".1", ".1.2.3"] {
                files.push(format!("usr/lib/lib{word}{number}.so{suffix}"));
            }
            files.push(format!("usr/lib/pkgconfig/{word}{number}.pc"));
            for page in 0..count(rng, 2, 60) {
                files.push(format!("usr/share/man/man3/{word}{number}_{page}.3.gz"));
            }
        }
        // Applications: a binary, a desktop file, icons, translations in many locales.
        11..=17 => {
            name = format!("{word}-app{number}");
            files.push(format!("usr/bin/{name}"));
            files.push(format!("usr/share/applications/{name}.desktop"));
            for size in ["16x16", "32x32", "48x48", "128x128", "scalable"] {
                files.push(format!("usr/share/icons/hicolor/{size}/apps/{name}.png"));
            }
            let locales = count(rng, 0, LOCALES.len() as u64 * 2).min(LOCALES.len() * 8);
            for locale in 0..locales {
                let region = LOCALES[locale % LOCALES.len()];
                let variant = locale / LOCALES.len();
                files.push(format!(
                    "usr/share/locale/{region}{variant}/LC_MESSAGES/{name}.mo"
                ));
            }
            for doc in 0..count(rng, 1, 30) {
                files.push(format!(
                    "usr/share/doc/{name}/{}-{doc}.html",
                    WORDS[doc % 24]
                ));
            }
            files.push(format!("usr/share/man/man1/{name}.1.gz"));
        }
        // Data packages, a few of them huge (TeX Live, icon themes, firmware).
        _ => {
            name = format!("{word}-data{number}");
            let huge = number % 200 == 19;
            let entries = if huge {
                count(rng, 8_000, 30_000)
            } else {
                count(rng, 10, 400)
            };
            for entry in 0..entries {
                files.push(format!(
                    "usr/share/{name}/{}/{}/{entry}.dat",
                    WORDS[entry % 24],
                    WORDS[(entry / 24) % 24]
                ));
            }
        }
    }
    if number % 37 == 5 {
        // Decoys: a directory whose name merely ends in __pycache__, a file named like one.
        files.push(format!("usr/share/{name}/not__pycache__/readme"));
        files.push(format!("usr/share/{name}/__pycache__"));
    }
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for file in files {
        let mut end = 0;
        while let Some(slash) = file[end..].find('/') {
            end += slash + 1;
            paths.insert(file[..end].to_owned());
        }
        paths.insert(file);
    }
    (name, paths.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_list_their_parent_directories_in_order() {
        let (name, paths) = package_paths(0, 1.0, &mut Rng::new(7));
        assert!(name.starts_with("python-"));
        assert!(paths.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(paths.iter().any(|p| p.ends_with("/__pycache__/")));
        for path in &paths {
            if let Some(parent) = path.trim_end_matches('/').rsplit_once('/') {
                assert!(paths.contains(&format!("{}/", parent.0)), "{path}");
            }
        }
    }
}
