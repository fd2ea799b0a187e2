//! minicluster's generators, as a library the tests share: man pages ([`man`]), a sample mirror
//! of real packages ([`sample`]), and a loopback mirror server with faults on demand ([`serve`]).

pub mod man;
pub mod sample;
pub mod serve;
