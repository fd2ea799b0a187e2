//! A package file as downloaded: the compression is sniffed from its first bytes (gzip, zstd,
//! xz, bzip2, lz4 or none), so this reaches every decompressor with corrupt input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::package::{Expectations, read_package};

fuzz_target!(|data: &[u8]| {
    let expect = Expectations {
        max_member_bytes: 16 << 20,
        ..Expectations::default()
    };
    let _ = read_package(data, &expect);
});
