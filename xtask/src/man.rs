//! Man pages from the tools' clap definitions, so `--help` and `man` never disagree.

use std::{fs, path::Path};

use anyhow::Context;
use clap::CommandFactory;

/// Every generated page: (file name, roff text). A subcommand gets its own page, `TOOL-SUB.1`,
/// and so does a subcommand of a subcommand, `TOOL-SUB-SUBSUB.1`.
pub fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    for command in [
        mc_appliance::cli::Cli::command(),
        mc_build::cli::Cli::command(),
        mc_fetch::cli::Cli::command(),
        mc_gen::cli::Cli::command(),
        mc_index::cli::Cli::command(),
        mc_netboot::cli::Cli::command(),
        mc_repo::cli::Cli::command(),
        mc_scan::cli::Cli::command(),
        mc_verify::cli::Cli::command(),
        mc_vm::cli::Cli::command(),
    ] {
        let name = command.get_name().to_owned();
        add_pages(&mut pages, name, command)?;
    }
    Ok(pages)
}

/// Adds the pages of `command`'s subcommands, recursively (`NAME-SUB.1`, `NAME-SUB-SUBSUB.1`),
/// then its own page, `NAME.1`.
fn add_pages(
    pages: &mut Vec<(String, Vec<u8>)>,
    name: String,
    command: clap::Command,
) -> anyhow::Result<()> {
    for sub in command.get_subcommands() {
        let sub_name = format!("{name}-{}", sub.get_name());
        add_pages(pages, sub_name, sub.clone())?;
    }
    let command = command
        .name(name.clone())
        .version(env!("CARGO_PKG_VERSION"));
    pages.push((format!("{name}.1"), render(command)?));
    Ok(())
}

fn render(command: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command).render(&mut roff)?;
    Ok(roff)
}

/// Writes the pages into `dir`, or with `check` only reports the stale ones.
///
/// Returns the names of pages that differ from what is on disk.
pub fn generate(dir: &Path, check: bool) -> anyhow::Result<Vec<String>> {
    let mut stale = Vec::new();
    for (name, roff) in pages()? {
        let path = dir.join(&name);
        if fs::read(&path).ok().as_deref() != Some(roff.as_slice()) {
            stale.push(name);
            if !check {
                fs::create_dir_all(dir)?;
                fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_man_pages_are_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../man");
        let stale = generate(&dir, true).expect("pages render");
        assert!(
            stale.is_empty(),
            "stale man pages {stale:?}: run `cargo xtask man`"
        );
    }
}
