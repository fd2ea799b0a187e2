//! `.MTREE`, gzip'd or plain, as mc-scan reads it to compare with a package's members.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mc_scan::mtree::read(data);
    let _ = mc_scan::mtree::parse(&String::from_utf8_lossy(data));
});
