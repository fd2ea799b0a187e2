//! Sizes on command lines, one convention for every tool: `--max-...-size SIZE`, where SIZE is a
//! number of bytes or a number with a unit, `K`, `M`, `G` or `T` (powers of 1024, so `512M` is
//! 512 MiB; `KiB`, `MiB`, ... and a trailing `B` are read too, in either case).
//!
//! Flags that used to take MiB (`--max-db-mib 2048`) keep their old spelling as a hidden twin
//! ([`Size::pick`]), so scripts written against it go on working.

use std::{fmt, str::FromStr};

/// The units a size may carry, largest first, with their bytes.
const UNITS: [(char, u64); 4] = [
    ('T', 1 << 40),
    ('G', 1 << 30),
    ('M', 1 << 20),
    ('K', 1 << 10),
];

/// A size in bytes, as a command line gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(u64);

impl Size {
    /// `bytes` bytes.
    pub const fn bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    /// `mib` MiB, saturating.
    pub const fn mib(mib: u64) -> Self {
        Self(mib.saturating_mul(1 << 20))
    }

    /// The size in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The bytes a size flag asks for: the flag (or its environment variable) when given, else
    /// its old MiB spelling when that is, else `default`. The new spelling wins, so an old
    /// variable left in an environment cannot clash with a flag given on the command line.
    pub fn pick(new: Option<Self>, old_mib: Option<u64>, default: Self) -> u64 {
        new.or(old_mib.map(Self::mib)).unwrap_or(default).0
    }
}

/// Why a size could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not a whole number followed by a known unit.
    #[error("{0:?} is not a size: give bytes, or a number with K, M, G or T (512M, 2G)")]
    Invalid(String),
    /// More than 2^64 - 1 bytes.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

impl FromStr for Size {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || SizeError::Invalid(text.to_owned());
        let trimmed = text.trim();
        let digits_end = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(digits_end);
        if digits.is_empty() {
            return Err(invalid());
        }
        let number: u64 = digits
            .parse()
            .map_err(|_| SizeError::TooLarge(text.to_owned()))?;
        let factor = unit_factor(unit.trim_start()).ok_or_else(invalid)?;
        number
            .checked_mul(factor)
            .map(Self)
            .ok_or_else(|| SizeError::TooLarge(text.to_owned()))
    }
}

/// The bytes of one `unit`: empty or `B` is 1, `K`/`KiB`/`KB` 1024, and so on.
fn unit_factor(unit: &str) -> Option<u64> {
    let upper = unit.to_ascii_uppercase();
    let prefix = upper
        .strip_suffix("IB")
        .filter(|prefix| !prefix.is_empty())
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let mut chars = prefix.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Some(1),
        (Some(letter), None) => UNITS
            .iter()
            .find(|(unit, _)| *unit == letter)
            .map(|(_, bytes)| *bytes),
        _ => None,
    }
}

/// In the largest unit that divides the size exactly (`64 GiB`, `25 MiB`, `100 B`), so defaults
/// in `--help` and limits in messages read as a person would write them; it parses back.
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exact = UNITS
            .iter()
            .find(|(_, bytes)| self.0 != 0 && self.0.is_multiple_of(*bytes));
        match exact {
            Some((unit, bytes)) => write!(f, "{} {unit}iB", self.0 / bytes),
            None => write!(f, "{} B", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Result<u64, SizeError> {
        text.parse::<Size>().map(Size::get)
    }

    #[test]
    fn bare_numbers_are_bytes_and_units_are_powers_of_1024() {
        assert_eq!(size("100"), Ok(100));
        assert_eq!(size("512M"), Ok(512 << 20));
        assert_eq!(size("2G"), Ok(2 << 30));
        assert_eq!(size("2g"), Ok(2 << 30));
        assert_eq!(size("8GiB"), Ok(8 << 30));
        assert_eq!(size("4 KB"), Ok(4 << 10));
        assert_eq!(size("1T"), Ok(1 << 40));
        assert_eq!(size("7B"), Ok(7));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "M", "1.5G", "-1", "12X", "1GG", "G1", "3iB"] {
            assert!(
                matches!(size(bad), Err(SizeError::Invalid(_))),
                "{bad:?} must be refused"
            );
        }
        assert!(matches!(size("16777216T"), Err(SizeError::TooLarge(_))));
        assert!(matches!(
            size("99999999999999999999"),
            Err(SizeError::TooLarge(_))
        ));
    }

    #[test]
    fn shown_in_the_largest_exact_unit_and_read_back() {
        for (bytes, shown) in [
            (64 << 30, "64 GiB"),
            (25 << 20, "25 MiB"),
            (100, "100 B"),
            (0, "0 B"),
        ] {
            let size = Size::bytes(bytes);
            assert_eq!(size.to_string(), shown);
            assert_eq!(shown.parse(), Ok(size));
        }
    }

    #[test]
    fn the_new_spelling_wins_then_the_old_then_the_default() {
        let (new, default) = (Some(Size::bytes(5)), Size::bytes(9));
        assert_eq!(Size::pick(new, Some(2), default), 5);
        assert_eq!(Size::pick(None, Some(2), default), 2 << 20);
        assert_eq!(Size::pick(None, None, default), 9);
    }
}
