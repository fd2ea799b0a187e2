//! minicluster's generators, as a library the tests share: man pages ([`man`]), a sample mirror
//! of real packages ([`sample`]), an `extra`-sized `.files` database ([`files_db`]), a loopback mirror server with faults on demand ([`serve`]), and
//! a QEMU test guest built from Debian packages ([`guest`]).

pub mod files_db;
pub mod guest;
#[cfg(feature = "man")]
pub mod man;
pub mod sample;
pub mod serve;
