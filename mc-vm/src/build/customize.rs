//! Writes the recipe's files, users and services into the bootstrapped folder, with the host's
//! tools pointed at it (`useradd --root`, `systemctl --root`): nothing runs inside the guest's
//! file system, nothing is mounted.

use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use super::{BuildError, guest, io, recipe, run};
use crate::build::recipe::Recipe;

/// Applies `recipe` to the bootstrapped `root`.
pub fn apply(recipe: &Recipe, root: &Path) -> Result<(), BuildError> {
    write(root, "/etc/fstab", &guest::fstab(recipe), 0o644)?;
    write(root, "/etc/hostname", "mc\n", 0o644)?;
    write(
        root,
        "/etc/systemd/network/95-mc-dhcp.network",
        guest::DHCP_NETWORK,
        0o644,
    )?;
    for file in &recipe.files {
        let mode = recipe::mode(&file.mode).unwrap_or(0o644);
        write(
            root,
            &file.path,
            file.content.as_deref().unwrap_or(""),
            mode,
        )?;
    }
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    // A resumed build has made some users already.
    let made = |name: &str| {
        passwd
            .lines()
            .any(|line| line.starts_with(&format!("{name}:")))
    };
    for user in recipe.users.iter().filter(|user| !made(&user.name)) {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--root".into(),
            root.into(),
            "--create-home".into(),
            "--shell".into(),
            user.shell.clone().into(),
        ];
        if !user.groups.is_empty() {
            args.push("--groups".into());
            args.push(user.groups.join(",").into());
        }
        args.push(user.name.clone().into());
        run("useradd", &args)?;
    }
    let units = |verb: &str, units: Vec<String>| -> Result<(), BuildError> {
        if units.is_empty() {
            return Ok(());
        }
        let mut args: Vec<std::ffi::OsString> = vec!["--root".into(), root.into(), verb.into()];
        args.extend(units.into_iter().map(Into::into));
        run("systemctl", &args).map(drop)
    };
    let enabled = guest::ENABLED.iter().map(|&u| u.to_owned());
    units(
        "enable",
        enabled.chain(recipe.services.iter().cloned()).collect(),
    )?;
    units(
        "mask",
        guest::MASKED.iter().map(|&u| u.to_owned()).collect(),
    )
}

/// Writes `text` to `path` below `root` with `mode`, creating folders (`0755`) on the way.
fn write(root: &Path, path: &str, text: &str, mode: u32) -> Result<(), BuildError> {
    let parts = recipe::guest_path(path).map_err(BuildError::Mismatch)?;
    let target: PathBuf = parts
        .iter()
        .fold(root.to_owned(), |dir, part| dir.join(part));
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    // A package's symbolic link at the path would write through it, perhaps out of the root.
    if target.is_symlink() {
        fs::remove_file(&target).map_err(io("replacing", &target))?;
    }
    fs::write(&target, text).map_err(io("writing", &target))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(io("chmod", &target))
}

/// Moves what `root` holds at `mount` into the new folder `to` (its owner and mode kept on
/// both), leaving an empty mount point: the data disk is made from `to`. A resumed build
/// finds `to` made already.
pub fn take_out(root: &Path, mount: &str, to: &Path) -> Result<PathBuf, BuildError> {
    let parts = recipe::guest_path(mount).map_err(BuildError::Mismatch)?;
    let from: PathBuf = parts
        .iter()
        .fold(root.to_owned(), |dir, part| dir.join(part));
    if !from.is_dir() {
        fs::create_dir_all(&from).map_err(io("creating", &from))?;
    }
    if to.is_dir() && from.is_dir() {
        return Ok(to.to_owned());
    }
    let meta = fs::metadata(&from).map_err(io("reading", &from))?;
    fs::rename(&from, to).map_err(io("moving", &from))?;
    fs::create_dir(&from).map_err(io("creating", &from))?;
    fs::set_permissions(&from, meta.permissions()).map_err(io("chmod", &from))?;
    std::os::unix::fs::chown(&from, Some(meta.uid()), Some(meta.gid()))
        .map_err(io("chown", &from))?;
    Ok(to.to_owned())
}
