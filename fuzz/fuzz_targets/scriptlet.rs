//! An install scriptlet or PKGBUILD, read as shell after de-obfuscation (`.INSTALL` comes
//! inside packages from mirrors; PKGBUILDs from the AUR).
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::scriptlet::{self, Script};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = scriptlet::detect(&text, Script::Scriptlet);
    let _ = scriptlet::detect(&text, Script::Pkgbuild);
});
