//! Man pages from the tools' clap definitions, so `--help` and `man` never disagree.

use std::{fs, path::Path};

use anyhow::Context;
use clap::CommandFactory;

/// Every generated page: (file name, roff text). A subcommand gets its own page, `TOOL-SUB.1`.
pub fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    for command in [
        mc_fetch::cli::Cli::command(),
        mc_index::cli::Cli::command(),
        mc_repo::cli::Cli::command(),
    ] {
        let command = command.version(env!("CARGO_PKG_VERSION"));
        for sub in command.get_subcommands() {
            let name = format!("{}-{}", command.get_name(), sub.get_name());
            let sub = sub
                .clone()
                .name(name.clone())
                .version(env!("CARGO_PKG_VERSION"));
            pages.push((format!("{name}.1"), render(sub)?));
        }
        pages.push((format!("{}.1", command.get_name()), render(command)?));
    }
    Ok(pages)
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
