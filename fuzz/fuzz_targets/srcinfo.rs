//! `.SRCINFO` from an AUR git repository.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = minicluster::srcinfo::parse(&String::from_utf8_lossy(data), "fuzz");
});
