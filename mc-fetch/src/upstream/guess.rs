//! `--guess`: an nvchecker entry derived from a package's `.SRCINFO` sources, as
//! `pkgctl version setup` does: a forge's releases or tags, PyPI, npm, crates.io, CPAN, a git
//! source's tags, or else the folder listing of a tarball's URL.

use std::path::Path;

use serde_json::{Map, Value};

use super::config::Entry;

/// One guessed entry per folder whose `.SRCINFO` has a source it recognises.
pub fn entries(dirs: &[std::path::PathBuf]) -> Vec<Entry> {
    dirs.iter().filter_map(|dir| guess(dir)).collect()
}

fn guess(dir: &Path) -> Option<Entry> {
    let path = dir.join(".SRCINFO");
    let text = std::fs::read_to_string(&path).ok()?;
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| line.trim().split_once(" = "))
        .collect();
    // `source_x86_64` and the like count as sources too.
    let field = |key: &'static str| {
        pairs
            .iter()
            .filter(move |(k, _)| {
                *k == key || k.strip_prefix(key).is_some_and(|r| r.starts_with('_'))
            })
            .map(|(_, v)| *v)
    };
    let base = field("pkgbase").next()?.to_owned();
    let pkgver = field("pkgver").next().unwrap_or("").to_owned();
    let options = field("source").find_map(|source| from_source(source, &pkgver))?;
    Some(Entry {
        name: base,
        config: path,
        role: None,
        options: options.into(),
    })
}

/// The entry one `source=` item suggests.
fn from_source(source: &str, pkgver: &str) -> Option<Map<String, Value>> {
    // `name::url` renames the download; `#fragment` pins a ref.
    let url = source.split_once("::").map_or(source, |(_, url)| url);
    let url = url.split('#').next().unwrap_or(url);
    let mut options = Map::new();
    let mut set = |key: &str, value: Value| {
        options.insert(key.to_owned(), value);
    };
    if let Some(git) = url.strip_prefix("git+") {
        set("source", "git".into());
        set("git", git.into());
        prefix_v(&mut set, url, pkgver);
        return Some(options);
    }
    let (host, path) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?
        .split_once('/')?;
    let parts: Vec<&str> = path.split('/').collect();
    let repo = || Some(format!("{}/{}", parts.first()?, parts.get(1)?));
    match host {
        "github.com" => {
            set("source", "github".into());
            set("github", repo()?.into());
            let releases = parts.get(2) == Some(&"releases");
            set(
                if releases {
                    "use_latest_release"
                } else {
                    "use_max_tag"
                },
                true.into(),
            );
            prefix_v(&mut set, url, pkgver);
        }
        "gitlab.com" => {
            set("source", "gitlab".into());
            set("gitlab", repo()?.into());
            set("use_max_tag", true.into());
            prefix_v(&mut set, url, pkgver);
        }
        "codeberg.org" | "gitea.com" => {
            set("source", "gitea".into());
            set("gitea", repo()?.into());
            set("host", host.into());
            set("use_max_tag", true.into());
            prefix_v(&mut set, url, pkgver);
        }
        "files.pythonhosted.org" | "pypi.io" | "pypi.python.org" | "pypi.org" => {
            // .../packages/source/f/foo/foo-1.0.tar.gz
            let name = parts
                .iter()
                .position(|p| *p == "source")
                .and_then(|i| parts.get(i + 2))?;
            set("source", "pypi".into());
            set("pypi", (*name).into());
        }
        "registry.npmjs.org" => {
            let end = parts.iter().position(|p| *p == "-")?;
            set("source", "npm".into());
            set("npm", parts[..end].join("/").into());
        }
        "crates.io" | "static.crates.io" => {
            let index = parts.iter().position(|p| *p == "crates")?;
            set("source", "cratesio".into());
            set("cratesio", (*parts.get(index + 1)?).into());
        }
        host if host.ends_with("cpan.org") => {
            let file = parts.last()?;
            let dist = file.rsplit_once('-')?.0;
            set("source", "cpan".into());
            set("cpan", dist.into());
        }
        _ => {
            // A tarball named NAME-VERSION.EXT: look for newer names in its folder's listing.
            let (folder, file) = url.rsplit_once('/')?;
            let (stem, _) = file.split_once(pkgver).filter(|_| !pkgver.is_empty())?;
            let ext = &file[stem.len() + pkgver.len()..];
            set("source", "regex".into());
            set("url", format!("{folder}/").into());
            set(
                "regex",
                format!(r"{}([\d.]+){}", regex::escape(stem), regex::escape(ext)).into(),
            );
        }
    }
    Some(options)
}

/// Tags written `v1.2` for pkgver 1.2 get `prefix = "v"`.
fn prefix_v(set: &mut impl FnMut(&str, Value), url: &str, pkgver: &str) {
    if !pkgver.is_empty() && url.contains(&format!("v{pkgver}")) {
        set("prefix", "v".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses() {
        let github = from_source(
            "foo-1.2.tar.gz::https://github.com/o/foo/archive/refs/tags/v1.2.tar.gz",
            "1.2",
        )
        .expect("github");
        assert_eq!(github["github"], "o/foo");
        assert_eq!(github["prefix"], "v");
        let pypi = from_source(
            "https://files.pythonhosted.org/packages/source/r/requests/requests-2.0.tar.gz",
            "2.0",
        )
        .expect("pypi");
        assert_eq!(pypi["pypi"], "requests");
        let listing = from_source("https://example.org/pub/tool-3.1.tar.xz", "3.1").expect("regex");
        assert_eq!(listing["url"], "https://example.org/pub/");
        assert_eq!(listing["regex"], r"tool\-([\d.]+)\.tar\.xz");
    }
}
