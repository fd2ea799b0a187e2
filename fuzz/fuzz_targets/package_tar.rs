//! The tar inside a package, behind each compression pacman reads: the first byte picks the
//! compression, the rest is the tar, compressed here so the fuzzer works on the tar itself.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use minicluster::{
    compress::Compression,
    package::{Expectations, read_package},
};

const FORMATS: [Compression; 6] = [
    Compression::None,
    Compression::Gzip,
    Compression::Zstd,
    Compression::Xz,
    Compression::Bzip2,
    Compression::Lz4,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, tar)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let Ok(compressed) = format.compress(|out| out.write_all(tar)) else {
        return;
    };
    let expect = Expectations {
        max_member_bytes: 16 << 20,
        ..Expectations::default()
    };
    let _ = read_package(compressed.as_slice(), &expect);
});
