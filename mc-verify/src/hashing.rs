//! Every declared checksum of a source computed in one pass over its bytes.

use std::{collections::BTreeMap, io};

use digest::DynDigest;

/// The algorithms `.SRCINFO` declares, by makepkg's names (`md5sums` → `md5`, `b2sums` → `b2`).
pub const ALGORITHMS: [&str; 7] = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "b2"];

/// Hashes with several algorithms at once, and counts the bytes.
pub struct MultiHasher {
    hashers: Vec<(&'static str, Box<dyn DynDigest + Send>)>,
    bytes: u64,
}

impl MultiHasher {
    /// A hasher for `algorithms` (names from [`ALGORITHMS`]; others are ignored, and each one
    /// runs once however often it is named).
    pub fn new<'a>(algorithms: impl IntoIterator<Item = &'a str>) -> Self {
        let wanted: Vec<&str> = algorithms.into_iter().collect();
        let hashers = ALGORITHMS
            .into_iter()
            .filter(|name| wanted.contains(name))
            .filter_map(|name| Some((name, new_digest(name)?)))
            .collect();
        Self { hashers, bytes: 0 }
    }

    /// Bytes hashed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The lower-case hex digests, by algorithm.
    pub fn finish(self) -> BTreeMap<String, String> {
        self.hashers
            .into_iter()
            .map(|(name, hasher)| (name.to_owned(), hex::encode(hasher.finalize())))
            .collect()
    }
}

impl io::Write for MultiHasher {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        for (_, hasher) in &mut self.hashers {
            hasher.update(bytes);
        }
        self.bytes += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn new_digest(name: &str) -> Option<Box<dyn DynDigest + Send>> {
    Some(match name {
        "md5" => Box::new(md5::Md5::default()),
        "sha1" => Box::new(sha1::Sha1::default()),
        "sha224" => Box::new(sha2_next::Sha224::default()),
        "sha256" => Box::new(sha2_next::Sha256::default()),
        "sha384" => Box::new(sha2_next::Sha384::default()),
        "sha512" => Box::new(sha2_next::Sha512::default()),
        "b2" => Box::new(blake2::Blake2b512::default()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn known_digests_of_abc() {
        let mut hasher = MultiHasher::new(ALGORITHMS);
        hasher.write_all(b"abc").expect("hashes");
        let digests = hasher.finish();
        assert_eq!(digests["md5"], "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(digests["sha1"], "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            digests["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digests["b2"].starts_with("ba80a53f981c4d0d6a2797b69f12f6e9"));
        assert_eq!(digests.len(), 7);
    }

    #[test]
    fn an_algorithm_named_twice_runs_once() {
        let hasher = MultiHasher::new(["sha256", "b2", "sha256", "crc"]);
        let names: Vec<&str> = hasher.hashers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["sha256", "b2"]);
    }
}
