//! What more than one tool knows about the AUR: where it is, and which names can be package
//! bases (`mc-fetch aur clone` makes folders of them, `mc-verify report --post` URLs).

/// The AUR, as `--aur-url` defaults to it.
pub const DEFAULT_AUR: &str = "https://aur.archlinux.org";

/// Whether `name` can be a package base: what pacman allows in a package name. Such a name
/// is safe as a folder name and as a URL path segment (no `/`, never `.` or `..`).
pub fn is_valid_base(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._+-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_cannot_leave_a_folder_or_a_path() {
        for good in ["yay", "python-foo", "libc++", "font@2x", "a.b_c"] {
            assert!(is_valid_base(good), "{good}");
        }
        for bad in [
            "", "..", "../x", "a/b", ".hidden", "-rf", "a b", "a\nb", "é", "a?b", "a#b",
        ] {
            assert!(!is_valid_base(bad), "{bad:?}");
        }
    }
}
