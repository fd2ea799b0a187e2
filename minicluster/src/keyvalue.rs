//! The `key = value` lines of `.PKGINFO` and `.BUILDINFO`.
//!
//! Both files are lists of `key = value` lines where a key may repeat (`depend`, `license`, ...)
//! and `#` starts a comment. The ALPM crates (`alpm-pkginfo`, `alpm-buildinfo`) read them into
//! strict typed structs that refuse unknown keys and values pacman itself installs without
//! complaint (older makepkg versions wrote such keys), so an index of what real packages contain
//! reads the lines as they are and keeps every key.

/// The `(key, value)` pairs of a `key = value` file, in file order.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// The values of `key`, in file order.
pub fn values<'a>(pairs: &'a [(String, String)], key: &str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// The value of a key that should appear once: the last one when it repeats, as repo-add
/// (which assigns each line to a shell variable) and pacman (which overwrites) read it.
pub fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    values(pairs, key).last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_comments_and_equals_in_values() {
        let pairs = parse("# generated\npkgname = a\ndepend = b>=1\ndepend = c\npkgdesc = x = y\n");
        assert_eq!(last(&pairs, "pkgname"), Some("a"));
        assert_eq!(values(&pairs, "depend").collect::<Vec<_>>(), ["b>=1", "c"]);
        assert_eq!(last(&pairs, "pkgdesc"), Some("x = y"));
        assert_eq!(last(&pairs, "url"), None);
    }
}
