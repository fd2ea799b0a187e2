//! Outside input quoted in messages: short, and escaped.
//!
//! An error about a file that is not what it should be (a package that is really
//! `/etc/passwd`, a binary blob) must say what went wrong without copying the file into the
//! record: a few characters, with control characters escaped, are enough to recognise it.

/// The most characters of outside input a message quotes.
pub const EXCERPT_CHARS: usize = 48;

/// `text` escaped (`\n`, `\u{1b}`, ...) and cut to [`EXCERPT_CHARS`], with `…` when cut.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_control_characters_escaped() {
        assert_eq!(excerpt("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let cut = excerpt(&"x".repeat(500));
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
    }
}
