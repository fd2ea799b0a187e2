//! pacman's version order (`vercmp`, libalpm's `alpm_pkg_vercmp`), on any string.
//!
//! alpm-types' `FullVersion` refuses versions pacman compares without complaint (an empty epoch,
//! a `pkgver` holding characters makepkg would not write, no `-pkgrel`); ordering those "below
//! everything" picks an older package over a newer one. This follows pacman's algorithm instead,
//! so every pair of strings has pacman's answer.

use std::cmp::Ordering;

/// Compares two versions `[epoch:]pkgver[-pkgrel]` as pacman's `vercmp` does.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (split(a.as_bytes()), split(b.as_bytes()));
    compare(a.epoch, b.epoch)
        .then_with(|| compare(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            // A release counts only when both have one: `1.0` equals `1.0-2`.
            (Some(x), Some(y)) => compare(x, y),
            _ => Ordering::Equal,
        })
}

struct Evr<'a> {
    epoch: &'a [u8],
    version: &'a [u8],
    release: Option<&'a [u8]>,
}

/// libalpm's `parseEVR`: the epoch is the leading digits before a `:` (empty means 0), the
/// release what follows the last `-` after them.
fn split(evr: &[u8]) -> Evr<'_> {
    let digits = evr.iter().take_while(|b| b.is_ascii_digit()).count();
    let (epoch, rest) = match evr.get(digits) {
        Some(b':') => (&evr[..digits], &evr[digits + 1..]),
        _ => (&b"0"[..], evr),
    };
    let epoch = if epoch.is_empty() { &b"0"[..] } else { epoch };
    // The last `-` after the epoch's digits (the `:` itself is no `-`).
    let (version, release) = match rest.iter().rposition(|&b| b == b'-') {
        Some(dash) => (&rest[..dash], Some(&rest[dash + 1..])),
        None => (rest, None),
    };
    Evr {
        epoch,
        version,
        release,
    }
}

/// libalpm's `rpmvercmp`: alternating runs of digits and letters, separated by anything else.
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a, b);
    while !one.is_empty() && !two.is_empty() {
        let skip_one = one
            .iter()
            .take_while(|b| !b.is_ascii_alphanumeric())
            .count();
        let skip_two = two
            .iter()
            .take_while(|b| !b.is_ascii_alphanumeric())
            .count();
        one = &one[skip_one..];
        two = &two[skip_two..];
        if one.is_empty() || two.is_empty() {
            break;
        }
        // Separators of different lengths decide: `1.0` < `1..0`.
        if skip_one != skip_two {
            return skip_one.cmp(&skip_two);
        }
        let numeric = one[0].is_ascii_digit();
        let class = |b: &u8| {
            if numeric {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphabetic()
            }
        };
        let length_one = one.iter().take_while(|b| class(b)).count();
        let length_two = two.iter().take_while(|b| class(b)).count();
        let (mut segment_one, mut segment_two) = (&one[..length_one], &two[..length_two]);
        if segment_two.is_empty() {
            // A number beats letters; letters lose to a number.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if numeric {
            let zeros = |s: &[u8]| s.iter().take_while(|&&b| b == b'0').count();
            segment_one = &segment_one[zeros(segment_one)..];
            segment_two = &segment_two[zeros(segment_two)..];
            let longer = segment_one.len().cmp(&segment_two.len());
            if longer != Ordering::Equal {
                return longer;
            }
        }
        let order = segment_one.cmp(segment_two);
        if order != Ordering::Equal {
            return order;
        }
        one = &one[length_one..];
        two = &two[length_two..];
    }
    match (one.first(), two.first()) {
        (None, None) => Ordering::Equal,
        // What is left decides; a letter never beats an empty string: `1.0a` < `1.0`.
        (None, Some(b)) if !b.is_ascii_alphabetic() => Ordering::Less,
        (Some(a), _) if a.is_ascii_alphabetic() => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pacman's own test vectors (`../shared/realdata/fixtures/pacman-tests/vercmp-vectors.tsv`,
    /// from pacman's test suite), each pair both ways.
    #[test]
    fn pacmans_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/realdata/fixtures/pacman-tests/vercmp-vectors.tsv"
        );
        let text = std::fs::read_to_string(path).expect("the vectors");
        let mut count = 0;
        for line in text.lines().skip(1).filter(|line| !line.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            let [a, b, expected] = fields[..] else {
                panic!("three fields: {line:?}");
            };
            let expected: i32 = expected.trim().parse().expect("-1, 0 or 1");
            let expected = expected.cmp(&0);
            assert_eq!(vercmp(a, b), expected, "vercmp {a} {b}");
            assert_eq!(vercmp(b, a), expected.reverse(), "vercmp {b} {a}");
            count += 1;
        }
        assert_eq!(count, 46);
    }

    #[test]
    fn an_empty_epoch_is_zero_and_odd_versions_compare() {
        assert_eq!(vercmp(":r16.a95ec3a", "0:r16.a95ec3a"), Ordering::Equal);
        assert_eq!(
            vercmp("20260630-60888387-1", "20260630-1"),
            Ordering::Greater
        );
        assert_eq!(vercmp("1.0", "1.0-2"), Ordering::Equal);
    }
}
