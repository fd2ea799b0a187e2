//! SIGINT and SIGTERM: a writer deletes its temporary files before it exits.
//!
//! A download or a copy in progress is a temporary file in the repository folder (an endless
//! download grows one by hundreds of MiB a second). Killed by SIGKILL, the run leaves it for the
//! next run to delete; on SIGINT (Ctrl-C) and SIGTERM (systemd, `kill`) it deletes it itself.
//! The exit status then follows the shells' convention, 128 + the signal's number (130, 143),
//! with no `summary` record: the run did not finish. The repository is the old one or, when the
//! signal came after the commit point, the new one.

use std::io;

use signal_hook::{
    consts::{SIGINT, SIGTERM},
    iterator::Signals,
};

use crate::repository::Temporaries;

/// Watches for SIGINT and SIGTERM on a thread of its own; on the first one, deletes
/// `temporaries` and exits with 128 + the signal's number.
pub fn remove_temporaries_on_signals(temporaries: Temporaries) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            temporaries.remove_for_good();
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}
