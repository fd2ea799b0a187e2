//! pacman `Server` URLs: `https://host/path/$repo/os/$arch`, and mirrorlist files.

use std::{fs, io, path::Path};

/// The mirror used when none is given: Arch's own geo-balanced mirror.
pub const DEFAULT_MIRROR: &str = "https://geo.mirror.pkgbuild.com/$repo/os/$arch";

/// A `Server` URL with `$repo` and `$arch` filled in, without a trailing slash.
pub fn repo_url(server: &str, repo: &str, arch: &str) -> String {
    server
        .replace("$repo", repo)
        .replace("$arch", arch)
        .trim_end_matches('/')
        .to_owned()
}

/// The URL of `file_name` in a repository folder URL.
///
/// Characters that are not safe in a URL path are percent-encoded; pacman's `:` (epochs) and
/// `+` stay as they are, which is how mirrors serve them.
pub fn file_url(repo_url: &str, file_name: &str) -> String {
    let mut url = String::with_capacity(repo_url.len() + file_name.len() + 1);
    url.push_str(repo_url);
    url.push('/');
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:+@=,".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// The `Server = URL` lines of a pacman mirrorlist, in order; commented-out servers are skipped.
pub fn read_mirrorlist(path: &Path) -> io::Result<Vec<String>> {
    Ok(parse_mirrorlist(&fs::read_to_string(path)?))
}

fn parse_mirrorlist(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.trim() == "Server")
        .map(|(_, url)| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_server_templates() {
        let url = repo_url("http://127.0.0.1:8080/$repo/os/$arch/", "core", "x86_64");
        assert_eq!(url, "http://127.0.0.1:8080/core/os/x86_64");
        assert_eq!(
            file_url(&url, "zlib-1:1.3-1-x86_64.pkg.tar.zst"),
            "http://127.0.0.1:8080/core/os/x86_64/zlib-1:1.3-1-x86_64.pkg.tar.zst"
        );
        assert_eq!(file_url("http://h", "a b#c"), "http://h/a%20b%23c");
    }

    #[test]
    fn reads_mirrorlists() {
        let list = "## Germany\n#Server = http://off/$repo\nServer = http://a/$repo/os/$arch\n\
                    Server=http://b/$repo/os/$arch\n[options]\n";
        assert_eq!(
            parse_mirrorlist(list),
            ["http://a/$repo/os/$arch", "http://b/$repo/os/$arch"]
        );
    }
}
