//! A reply of clamd to INSTREAM.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mc_scan::clamav::parse_reply(&String::from_utf8_lossy(data));
});
