//! What QEMU's QMP socket says: the greeting, then the answer to `query-status`.
#![no_main]

use std::{io::Write, os::unix::net::UnixStream, time::Duration};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((ours, mut theirs)) = UnixStream::pair() else {
        return;
    };
    // Everything QEMU would say is written up front and the socket closed: a reader that
    // waits for more gets end-of-file, never a hang.
    let _ = ours.set_read_timeout(Some(Duration::from_secs(1)));
    // Within the socket's buffer, so writing it all before reading never blocks.
    let data = &data[..data.len().min(60_000)];
    if theirs.write_all(data).is_err() {
        return;
    }
    let _ = theirs.shutdown(std::net::Shutdown::Write);
    if let Ok(mut qmp) = mc_vm::qmp::Qmp::over(ours) {
        let _ = qmp.status();
    }
});
