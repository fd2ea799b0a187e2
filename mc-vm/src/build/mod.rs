//! `mc-vm image build`: a root disk (qcow2), a data disk, a kernel and an initramfs from a
//! [`Recipe`], without loop mounts: the distribution is bootstrapped into a plain folder
//! ([`base`]), the recipe's files, users and services are written into it ([`customize`]), and
//! `mkfs.ext4 -d` turns the folder into a file system image, which `qemu-img convert` makes
//! qcow2.
//!
//! The output folder is a cache keyed by the recipe's hash: `manifest.json`, written last,
//! names the hash, and a build whose folder already holds a manifest of the same hash is done at
//! once. A lock on the folder makes two builders of it take turns (the second then finds the
//! first one's image). A build that is interrupted leaves its work folder (`DIR/.work`): the
//! next build of the same recipe goes on from the bootstrapped root in it (the bootstrap is
//! most of the time), a build of another recipe removes it.

mod base;
mod customize;
mod guest;
pub mod recipe;

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use minicluster::record::VmImageRecord;
use serde::{Deserialize, Serialize};

pub use self::recipe::{Base, Recipe, RecipeError};
use crate::power::millis;

/// The files of a built image, in its folder.
pub const ROOT_DISK: &str = "root.qcow2";
/// The data disk, when the recipe has one.
pub const DATA_DISK: &str = "data.qcow2";
/// The kernel.
pub const KERNEL: &str = "vmlinuz";
/// The initramfs.
pub const INITRD: &str = "initrd.img";
/// What was built from what.
pub const MANIFEST: &str = "manifest.json";

/// What went wrong while building an image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The recipe.
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    /// A file operation.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A program the build runs failed or is missing.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What it said (the end of its standard error).
        message: String,
    },
    /// The image is not what the recipe asked for.
    #[error("the built image {0}")]
    Mismatch(String),
    /// A folder holds no complete image.
    #[error("{}: no built image (no {MANIFEST}; run mc-vm image build)", .0.display())]
    NotBuilt(PathBuf),
}

fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_owned();
    move |source| BuildError::Io {
        context,
        path,
        source,
    }
}

/// `manifest.json`: what the image was built from and what it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The recipe's hash ([`Recipe::hash`]).
    pub recipe_hash: String,
    /// The recipe itself.
    pub recipe: Recipe,
    /// The kernel's release (`uname -r` in the guest).
    pub kernel_release: String,
    /// The kernel command line to boot it with.
    pub append: String,
    /// Every installed package and its version.
    pub packages: BTreeMap<String, String>,
    /// When it was built.
    pub built: minicluster::time::Timestamp,
    /// How long the build took, in milliseconds.
    pub build_ms: u64,
}

/// A built image: its folder and manifest.
#[derive(Clone, Debug)]
pub struct Image {
    /// The folder.
    pub dir: PathBuf,
    /// What it holds.
    pub manifest: Manifest,
}

impl Image {
    /// The image built in `dir`.
    pub fn open(dir: &Path) -> Result<Self, BuildError> {
        let path = dir.join(MANIFEST);
        let text = match fs::read_to_string(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(BuildError::NotBuilt(dir.to_owned()));
            }
            other => other.map_err(io("reading", &path))?,
        };
        let manifest = serde_json::from_str(&text).map_err(|error| {
            BuildError::Mismatch(format!("{}: not a manifest: {error}", path.display()))
        })?;
        let image = Self {
            dir: std::path::absolute(dir).map_err(io("resolving", dir))?,
            manifest,
        };
        for file in [image.root_disk(), image.kernel(), image.initrd()]
            .into_iter()
            .chain(image.data_disk())
        {
            if !file.is_file() {
                return Err(BuildError::NotBuilt(dir.to_owned()));
            }
        }
        Ok(image)
    }

    /// The root disk.
    pub fn root_disk(&self) -> PathBuf {
        self.dir.join(ROOT_DISK)
    }

    /// The data disk, when the recipe has one.
    pub fn data_disk(&self) -> Option<PathBuf> {
        self.manifest
            .recipe
            .data
            .as_ref()
            .map(|_| self.dir.join(DATA_DISK))
    }

    /// The kernel.
    pub fn kernel(&self) -> PathBuf {
        self.dir.join(KERNEL)
    }

    /// The initramfs.
    pub fn initrd(&self) -> PathBuf {
        self.dir.join(INITRD)
    }

    /// The record describing it.
    fn record(&self, recipe: &Path, cached: bool, elapsed_ms: u64) -> VmImageRecord {
        let show = |path: PathBuf| path.display().to_string();
        let size = |path: &Path| fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        VmImageRecord {
            recipe: show(recipe.to_owned()),
            recipe_hash: self.manifest.recipe_hash.clone(),
            dir: show(self.dir.clone()),
            cached,
            root_disk: show(self.root_disk()),
            root_disk_bytes: size(&self.root_disk()),
            data_disk: self.data_disk().map(show),
            kernel: show(self.kernel()),
            initrd: show(self.initrd()),
            append: self.manifest.append.clone(),
            kernel_release: self.manifest.kernel_release.clone(),
            packages: self.manifest.packages.len() as u64,
            manifest: show(self.dir.join(MANIFEST)),
            built_at: self.manifest.built,
            elapsed_ms,
        }
    }
}

/// Builds the image of the recipe at `recipe` into `out`, or finds it built there already.
pub fn build(recipe_path: &Path, out: &Path) -> Result<VmImageRecord, BuildError> {
    let started = Instant::now();
    fs::create_dir_all(out).map_err(io("creating", out))?;
    // Canonical: useradd and systemctl take --root only as an absolute path, and systemctl
    // fails to enable units under a root whose path holds `..` (`tests/../target`).
    let out = &fs::canonicalize(out).map_err(io("resolving", out))?;
    let recipe = Recipe::read(recipe_path)?;
    let hash = recipe.hash();
    let lock_path = out.join(".lock");
    let lock = fs::File::create(&lock_path).map_err(io("creating", &lock_path))?;
    // Blocking: the other builder of this folder finishes its image, which is then ours too.
    lock.lock().map_err(io("locking", &lock_path))?;
    if let Ok(image) = Image::open(out)
        && image.manifest.recipe_hash == hash
    {
        return Ok(image.record(recipe_path, true, millis(started.elapsed())));
    }
    // The old image goes first: a half-replaced folder must not pass for the old one.
    let _ = fs::remove_file(out.join(MANIFEST));
    let work = out.join(".work");
    let marker = work.join("recipe-hash");
    if fs::read_to_string(&marker).ok().as_deref() != Some(hash.as_str()) {
        remove_dir(&work)?;
        fs::create_dir_all(&work).map_err(io("creating", &work))?;
        fs::write(&marker, &hash).map_err(io("writing", &marker))?;
    }
    let manifest = make(&recipe, &hash, &work, out, started)?;
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    let partial = out.join(format!("{MANIFEST}.partial"));
    fs::write(&partial, text + "\n").map_err(io("writing", &partial))?;
    fs::rename(&partial, out.join(MANIFEST)).map_err(io("renaming", &partial))?;
    remove_dir(&work)?;
    let image = Image::open(out)?;
    Ok(image.record(recipe_path, false, manifest.build_ms))
}

/// Bootstraps, customizes and packs the image in `work`, then moves its files into `out`.
fn make(
    recipe: &Recipe,
    hash: &str,
    work: &Path,
    out: &Path,
    started: Instant,
) -> Result<Manifest, BuildError> {
    let root = work.join("root");
    if !root.is_dir() {
        let partial = work.join("root.partial");
        remove_dir(&partial)?;
        let (program, args) = base::bootstrap(recipe, &partial);
        run(program, &args)?;
        fs::rename(&partial, &root).map_err(io("renaming", &partial))?;
    }
    customize::apply(recipe, &root)?;
    let packages = installed(recipe.base, &root)?;
    for (name, version) in recipe.pins() {
        match packages.get(name) {
            Some(installed) if installed == version => {}
            other => {
                return Err(BuildError::Mismatch(format!(
                    "has {name} {}, the recipe pins {version}",
                    other.map_or("missing", String::as_str)
                )));
            }
        }
    }
    downloaded(recipe, &root)?;
    let release = kernel_release(&root)?;
    let (kernel, initrd) = base::boot_files(recipe.base, &release);
    copy(&root.join("boot").join(kernel), &work.join(KERNEL))?;
    copy(&root.join("boot").join(initrd), &work.join(INITRD))?;
    if let Some(data) = &recipe.data {
        let folder = customize::take_out(&root, &data.mount, &work.join("data"))?;
        pack(
            &folder,
            guest::DATA_LABEL,
            data.size_mib,
            &work.join(DATA_DISK),
        )?;
    }
    let root_mib = du_mib(&root)? + recipe.root_free_mib;
    pack(&root, guest::ROOT_LABEL, root_mib, &work.join(ROOT_DISK))?;
    for name in [ROOT_DISK, KERNEL, INITRD]
        .into_iter()
        .chain(recipe.data.as_ref().map(|_| DATA_DISK))
    {
        let from = work.join(name);
        fs::rename(&from, out.join(name)).map_err(io("renaming", &from))?;
    }
    Ok(Manifest {
        recipe_hash: hash.to_owned(),
        recipe: recipe.clone(),
        kernel_release: release,
        append: guest::APPEND.to_owned(),
        packages,
        built: minicluster::time::Timestamp::now(),
        build_ms: millis(started.elapsed()),
    })
}

/// Makes `disk` (qcow2) holding an ext4 file system of `size_mib` with `folder`'s contents.
fn pack(folder: &Path, label: &str, size_mib: u64, disk: &Path) -> Result<(), BuildError> {
    use std::os::unix::fs::MetadataExt;
    let raw = disk.with_extension("raw");
    // mkfs.ext4 -d copies the files' owners but gives the file system's root to root: the
    // folder's own owner (postgres for /var/lib/postgresql) must go on explicitly.
    let meta = fs::metadata(folder).map_err(io("reading", folder))?;
    let root_owner = format!("root_owner={}:{}", meta.uid(), meta.gid());
    let file = fs::File::create(&raw).map_err(io("creating", &raw))?;
    file.set_len(size_mib << 20).map_err(io("sizing", &raw))?;
    drop(file);
    run(
        "mkfs.ext4",
        &[
            "-q".into(),
            "-F".into(),
            "-L".into(),
            label.into(),
            "-E".into(),
            root_owner.into(),
            "-d".into(),
            folder.into(),
            raw.clone().into(),
        ],
    )?;
    run(
        crate::image::QEMU_IMG,
        &[
            "convert".into(),
            "-q".into(),
            "-f".into(),
            "raw".into(),
            "-O".into(),
            "qcow2".into(),
            raw.clone().into(),
            disk.into(),
        ],
    )?;
    fs::remove_file(&raw).map_err(io("removing", &raw))
}

/// The packages installed in `root` and their versions.
fn installed(base: Base, root: &Path) -> Result<BTreeMap<String, String>, BuildError> {
    let (program, args) = base::list_installed(base, root);
    let out = run(program, &args)?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, version)| (name.to_owned(), version.trim().to_owned()))
        .collect())
}

/// Checks that every one of the recipe's downloads is in the image, at its pinned version
/// (apt names the file `NAME_VERSION_ARCH.deb`, an epoch's colon written `%3a`).
fn downloaded(recipe: &Recipe, root: &Path) -> Result<(), BuildError> {
    let dir = root.join(recipe::DOWNLOADS_DIR.trim_start_matches('/'));
    let files: Vec<String> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    for package in &recipe.downloads {
        let prefix = match package.version() {
            Some(version) => format!("{}_{}_", package.name(), version.replace(':', "%3a")),
            None => format!("{}_", package.name()),
        };
        if !files
            .iter()
            .any(|f| f.starts_with(&prefix) && f.ends_with(".deb"))
        {
            return Err(BuildError::Mismatch(format!(
                "lacks the download {prefix}*.deb in {}",
                recipe::DOWNLOADS_DIR
            )));
        }
    }
    Ok(())
}

/// The one kernel release in `root/lib/modules` (`usr/lib/modules` on Arch, the same folder
/// through the `/lib` link).
fn kernel_release(root: &Path) -> Result<String, BuildError> {
    let modules = root.join("usr/lib/modules");
    let mut releases: Vec<String> = fs::read_dir(&modules)
        .map_err(io("reading", &modules))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("modules.dep").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    releases.sort();
    match releases.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(BuildError::Mismatch(format!(
            "has {} kernels in {} ({other:?}): want exactly one",
            other.len(),
            modules.display()
        ))),
    }
}

/// The MiB the files below `root` take (`du`), rounded up, with room for the file system's
/// own tables (a tenth more).
fn du_mib(root: &Path) -> Result<u64, BuildError> {
    let out = run("du", &["-s".into(), "--block-size=1M".into(), root.into()])?;
    let mib: u64 = out
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| BuildError::Command {
            command: format!("du -s {}", root.display()),
            message: format!("unexpected output {out:?}"),
        })?;
    Ok(mib + mib / 10)
}

fn copy(from: &Path, to: &Path) -> Result<(), BuildError> {
    fs::copy(from, to).map(drop).map_err(io("copying", from))
}

fn remove_dir(dir: &Path) -> Result<(), BuildError> {
    match fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io("removing", dir)(error))
        }
        _ => Ok(()),
    }
}

/// Runs `program` with `args`; its standard output, or its standard error as the error.
fn run(program: &str, args: &[OsString]) -> Result<String, BuildError> {
    let command_line = || {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("{program} {}", args.join(" "))
    };
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| BuildError::Command {
            command: command_line(),
            message: error.to_string(),
        })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The end says why; mmdebstrap's whole log would drown it.
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(BuildError::Command {
        command: command_line(),
        message: format!(
            "{}: {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    })
}
