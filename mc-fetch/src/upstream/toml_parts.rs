//! A large nvchecker config read a few tables at a time. The `toml` crate lexes the whole text
//! into tokens and builds the whole document before it hands out a value: several times the
//! file's size at once (a 5,000-entry config: ~14 MB, more than the rest of a run). Top-level
//! table headers, found with the TOML lexer itself (so a `[` inside a string or a multi-line
//! array is not taken for one), cut the text into parts of about [`TABLES_PER_PART`] tables;
//! each part is parsed and handed over before the next one is.

use toml_parser::{Source, lexer::TokenKind};

/// Tables per part: small enough that a part's parse is a few hundred KiB, large enough that
/// a config of a few entries is one part.
const TABLES_PER_PART: usize = 256;

/// The text cut before top-level table headers into parts of about [`TABLES_PER_PART`] tables;
/// the first part also holds what comes before the first header. A cut is only made where the
/// header's first key differs from the one before, so `[a]`, `[a.b]` and `[[a]]` runs stay in
/// one part (what stays apart is merged by [`merge`]).
pub fn parts(text: &str) -> Vec<&str> {
    let mut cuts = vec![0];
    let mut tables = 0;
    // Open `[` and `{` of values: a `[` at a line's start inside an array is not a header.
    let mut depth = 0usize;
    let mut line_start = true;
    // Inside a header: `[` just seen, its first key not yet.
    let mut header_key: Option<usize> = None;
    let mut in_header = false;
    let mut last_key = "";
    for token in Source::new(text).lex() {
        let kind = token.kind();
        match kind {
            TokenKind::Newline => {
                line_start = true;
                in_header = false;
                continue;
            }
            TokenKind::Whitespace | TokenKind::Comment => continue,
            _ => {}
        }
        let span = token.span();
        if in_header {
            if let Some(start) = header_key
                .take()
                .filter(|_| kind != TokenKind::LeftSquareBracket)
            {
                let key = text.get(span.start()..span.end()).unwrap_or("");
                if tables >= TABLES_PER_PART && key != last_key {
                    cuts.push(start);
                    tables = 0;
                }
                tables += 1;
                last_key = key;
            }
        } else if kind == TokenKind::LeftSquareBracket && line_start && depth == 0 {
            in_header = true;
            header_key = Some(span.start());
        } else if matches!(
            kind,
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket
        ) {
            depth += 1;
        } else if matches!(
            kind,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket
        ) {
            depth = depth.saturating_sub(1);
        }
        line_start = false;
    }
    cuts.push(text.len());
    cuts.windows(2)
        .filter_map(|cut| text.get(cut[0]..cut[1]))
        .collect()
}

/// Merges a later part's table into what the parts before gave: tables that both define are
/// merged key by key (`[a]` in one part, `[a.b]` in a later one); any other key defined twice
/// is refused, as TOML refuses it. `Err` names the key.
pub fn merge(into: &mut toml::Table, part: toml::Table) -> Result<(), String> {
    for (key, value) in part {
        match (into.get_mut(&key), value) {
            (None, value) => {
                into.insert(key, value);
            }
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => {
                merge(old, new).map_err(|inner| format!("{key}.{inner}"))?;
            }
            (Some(_), _) => return Err(key),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config of `n` entries with the traps a naive cut falls into: a `[` at a line's start
    /// inside a multi-line array and inside a multi-line string, and a subtable.
    fn config(n: usize) -> String {
        let mut text = String::from("[__config__]\noldver = \"old.json\"\n\n");
        for i in 0..n {
            text.push_str(&format!(
                "[e{i}]\nsource = \"regex\"\nignored = [\n[1, 2],\n]\nnote = '''\n[x{i}]\n'''\n\n[e{i}.sub]\nk = {i}\n\n"
            ));
        }
        text
    }

    #[test]
    fn parts_parse_to_what_the_whole_text_does() {
        let text = config(TABLES_PER_PART * 2 + 7);
        let parts = parts(&text);
        assert!(parts.len() > 2, "{} parts", parts.len());
        assert_eq!(parts.concat(), text);
        let mut merged = toml::Table::new();
        for part in &parts {
            merge(&mut merged, toml::from_str(part).expect("a part parses")).expect("merges");
        }
        let whole: toml::Table = toml::from_str(&text).expect("the whole parses");
        assert_eq!(merged, whole);
    }

    #[test]
    fn a_key_defined_twice_is_refused() {
        let mut into: toml::Table = toml::from_str("[a]\nx = 1\n").expect("parses");
        let again: toml::Table = toml::from_str("[a]\nx = 2\n").expect("parses");
        assert_eq!(merge(&mut into, again), Err("a.x".to_owned()));
    }
}
