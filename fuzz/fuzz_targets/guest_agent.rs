//! What the QEMU guest agent answers: `guest-sync`, then `guest-exec-status`, decoded by the
//! `qapi` crate as mc-vm's agent decodes them.
#![no_main]

use std::{
    io::{BufReader, Write},
    os::unix::net::UnixStream,
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use qapi::qga;

fuzz_target!(|data: &[u8]| {
    let Ok((ours, mut theirs)) = UnixStream::pair() else {
        return;
    };
    let _ = ours.set_read_timeout(Some(Duration::from_secs(1)));
    // Within the socket's buffer, so writing it all before reading never blocks.
    let data = &data[..data.len().min(60_000)];
    if theirs.write_all(data).is_err() {
        return;
    }
    let _ = theirs.shutdown(std::net::Shutdown::Write);
    let Ok(reader) = ours.try_clone() else {
        return;
    };
    let mut agent = qapi::Qga::new(qapi::Stream::new(BufReader::new(reader), ours));
    if agent.write_command(&qga::guest_sync { id: 7 }).is_err() {
        return;
    }
    // As mc-vm's agent does: answers to other ids are skipped.
    for _ in 0..64 {
        match agent.read_response::<qga::guest_sync>() {
            Ok(7) => {
                let _ = agent.execute(&qga::guest_exec_status { pid: 1 });
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
});
