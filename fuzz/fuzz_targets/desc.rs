//! One `desc` or `files` entry of a sync database, as text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::desc;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = desc::package("fuzz", &text);
    let _ = desc::files(&text);
    let _ = desc::first_value(&text, "NAME");
});
