//! An answer of the AUR's RPC (`/rpc/v5/info`, `/rpc/v5/search`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mc_fetch::aur::parse_answer(data, "multiinfo");
    let _ = mc_fetch::aur::parse_answer(data, "search");
});
