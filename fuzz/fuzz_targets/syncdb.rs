//! A sync database as a mirror serves it: any compression, a tar of `desc`/`files` entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minicluster::syncdb::{self, Limits};

fuzz_target!(|data: &[u8]| {
    // Small bounds, so a bomb costs the fuzzer milliseconds, not gigabytes.
    let limits = Limits::from_mib(1, 16);
    let _ = syncdb::read_served(data, |db| {
        syncdb::stream_entries(db, limits, |entry| {
            if let Ok(entry) = entry {
                let _ = entry.package("fuzz");
            }
            Ok(())
        })
    });
});
