//! Version order, as nvchecker's `sort_version_key` chooses it: `parse_version` (the order of
//! Python's `packaging` before it dropped legacy versions: PEP 440 versions, and every other
//! string below them in setuptools' old scheme) or `vercmp` (pacman's, from alpm-types).

use std::{cmp::Ordering, str::FromStr, sync::LazyLock};

use regex::Regex;

/// The orders nvchecker offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// `packaging.version.parse`, nvchecker's default.
    #[default]
    ParseVersion,
    /// pacman's `vercmp`.
    Vercmp,
}

impl SortKey {
    /// The order named by an entry's `sort_version_key`; `None` for one mc-fetch lacks.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "parse_version" => Some(Self::ParseVersion),
            "vercmp" => Some(Self::Vercmp),
            _ => None,
        }
    }

    /// Compares two versions in this order.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::ParseVersion => parse_version(a).cmp(&parse_version(b)),
            Self::Vercmp => vercmp(a, b),
        }
    }
}

/// pacman's vercmp; a string alpm-types rejects sorts below every one it accepts.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    match (
        alpm_types::Version::from_str(a),
        alpm_types::Version::from_str(b),
    ) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A version's place in `packaging`'s order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VersionKey {
    /// Not PEP 440: setuptools' legacy parts. Declared first, so it sorts below every PEP 440
    /// version (packaging gives legacy versions epoch -1).
    Legacy(Vec<String>),
    /// A PEP 440 version.
    Pep440(Pep440Key),
}

/// PEP 440's comparison key: epoch, release without trailing zeros, pre, post, dev, local.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pep440Key {
    epoch: u64,
    release: Vec<u64>,
    pre: Bound<(u8, u64)>,
    post: Bound<u64>,
    dev: Bound<u64>,
    local: Bound<Vec<LocalPart>>,
}

impl Pep440Key {
    /// packaging's `is_prerelease`: a pre-release or a dev release.
    pub fn is_prerelease(&self) -> bool {
        matches!(self.pre, Bound::Value(_)) || matches!(self.dev, Bound::Value(_))
    }
}

/// A value with infinities around it, as packaging's `Infinity`/`NegativeInfinity`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    Below,
    Value(T),
    Above,
}

/// A part of a local version: strings sort below numbers.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Text(String),
    Number(u64),
}

static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?:(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("the PEP 440 pattern compiles")
});

static LEGACY_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+|[a-z]+|\.|-").expect("the legacy pattern compiles"));

/// The key `packaging.version.parse` (as nvchecker vendors it) sorts `version` by.
pub fn parse_version(version: &str) -> VersionKey {
    match pep440(version) {
        Some(key) => VersionKey::Pep440(key),
        None => VersionKey::Legacy(legacy(version)),
    }
}

fn number(text: Option<regex::Match<'_>>) -> Option<u64> {
    // Numbers too big for u64 are not versions anyone sorts; they count as absent.
    text.and_then(|m| m.as_str().parse().ok())
}

fn pep440(version: &str) -> Option<Pep440Key> {
    let caps = PEP440.captures(version)?;
    let mut release = caps
        .name("release")?
        .as_str()
        .split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    while release.last() == Some(&0) {
        release.pop();
    }
    let pre = caps.name("pre_l").map(|letter| {
        let rank = match letter.as_str().to_ascii_lowercase().as_str() {
            "a" | "alpha" => 0,
            "b" | "beta" => 1,
            _ => 2,
        };
        (rank, number(caps.name("pre_n")).unwrap_or(0))
    });
    let post = if caps.name("post_n1").is_some() || caps.name("post_l").is_some() {
        Some(
            number(caps.name("post_n1"))
                .or(number(caps.name("post_n2")))
                .unwrap_or(0),
        )
    } else {
        None
    };
    let dev = caps
        .name("dev_l")
        .map(|_| number(caps.name("dev_n")).unwrap_or(0));
    let local = caps.name("local").map(|local| {
        local
            .as_str()
            .split(['-', '_', '.'])
            .map(|part| match part.parse() {
                Ok(n) => LocalPart::Number(n),
                Err(_) => LocalPart::Text(part.to_ascii_lowercase()),
            })
            .collect()
    });
    Some(Pep440Key {
        epoch: number(caps.name("epoch")).unwrap_or(0),
        release,
        // A dev release without pre or post sorts before the pre-releases of its version.
        pre: match (pre, post, dev) {
            (None, None, Some(_)) => Bound::Below,
            (None, _, _) => Bound::Above,
            (Some(pre), _, _) => Bound::Value(pre),
        },
        post: post.map_or(Bound::Below, Bound::Value),
        dev: dev.map_or(Bound::Above, Bound::Value),
        local: local.map_or(Bound::Below, Bound::Value),
    })
}

/// setuptools' old key: numbers padded to 8 digits, words marked with `*`, pre-release words
/// before `*final`, trailing zeros of each numeric run dropped.
fn legacy(version: &str) -> Vec<String> {
    let lower = version.to_lowercase();
    let mut raw = Vec::new();
    // packaging splits with a capturing pattern, so the text between matches is kept too.
    let mut last = 0;
    for found in LEGACY_PART.find_iter(&lower) {
        raw.push(&lower[last..found.start()]);
        raw.push(found.as_str());
        last = found.end();
    }
    raw.push(&lower[last..]);
    let mut parts: Vec<String> = Vec::new();
    let words = raw.into_iter().filter_map(|part| {
        let part = match part {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        };
        match part {
            "" | "." => None,
            digits if digits.starts_with(|c: char| c.is_ascii_digit()) => {
                Some(format!("{digits:0>8}"))
            }
            word => Some(format!("*{word}")),
        }
    });
    for part in words.chain(std::iter::once("*final".to_owned())) {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|last| last == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|last| last == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}

/// The highest of `versions` in `key`'s order (the last after a stable sort, as nvchecker).
pub fn highest(versions: &[String], key: SortKey) -> Option<&String> {
    versions
        .iter()
        .reduce(|best, next| match key.compare(next, best) {
            Ordering::Less => best,
            _ => next,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut versions: Vec<&str>) -> Vec<&str> {
        versions.sort_by(|a, b| SortKey::ParseVersion.compare(a, b));
        versions
    }

    #[test]
    fn pep440_order() {
        assert_eq!(
            sorted(vec![
                "1.0",
                "1.0.post1",
                "1.0rc1",
                "1.0.dev1",
                "0.9",
                "1.0a1",
                "1!0.1",
                "1.0+local"
            ]),
            [
                "0.9",
                "1.0.dev1",
                "1.0a1",
                "1.0rc1",
                "1.0",
                "1.0+local",
                "1.0.post1",
                "1!0.1"
            ]
        );
        assert_eq!(parse_version("1.0.0"), parse_version("1"));
        assert_eq!(parse_version("v2.1"), parse_version("2.1"));
    }

    #[test]
    fn legacy_below_pep440() {
        assert_eq!(
            sorted(vec!["1.0", "2024-01-02_snapshot", "0.1"]),
            ["2024-01-02_snapshot", "0.1", "1.0"]
        );
        assert_eq!(
            SortKey::ParseVersion.compare("1.2.3-arch1", "1.2.10-arch1"),
            Ordering::Less
        );
    }

    #[test]
    fn vercmp_as_pacman() {
        assert_eq!(vercmp("1.0a", "1.0"), Ordering::Less);
        assert_eq!(vercmp("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(vercmp("1.10", "1.9"), Ordering::Greater);
    }
}
