//! `.PKGINFO` and `.BUILDINFO` text (`key = value` lines), and what mc-repo and mc-scan read
//! from them: the required fields and the values pacman takes but the format does not allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::{keyvalue, pkginfo};

fuzz_target!(|data: &[u8]| {
    let pairs = keyvalue::parse(&String::from_utf8_lossy(data));
    let _ = pkginfo::required(&pairs);
    for unusual in pkginfo::unusual(&pairs) {
        let _ = unusual.finding("fuzz", "fuzz", "1-1", "fuzz.pkg.tar.zst");
    }
});
