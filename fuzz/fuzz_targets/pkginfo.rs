//! `.PKGINFO` and `.BUILDINFO` text (`key = value` lines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::keyvalue;

fuzz_target!(|data: &[u8]| {
    let pairs = keyvalue::parse(&String::from_utf8_lossy(data));
    let _ = keyvalue::first(&pairs, "pkgname");
});
