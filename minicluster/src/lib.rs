//! The shared library of the minicluster tools.
//!
//! Every tool speaks JSON lines ([`record`], [`jsonl`]); this crate holds those record types and
//! the pieces several tools need to read pacman's formats straight from a stream: sniffing
//! decompression ([`compress`]), sync-database entries ([`desc`], [`syncdb`]), packages
//! ([`package`]), an HTTP client with mirror failover ([`http`]), and what several tools know about
//! the AUR ([`aur`]).

pub mod aur;
pub mod cli;
pub mod compress;
pub mod desc;
pub mod file;
pub mod git;
pub mod http;
pub mod jsonl;
pub mod keyvalue;
pub mod mirror;
pub mod openpgp;
pub mod package;
pub mod pkginfo;
pub mod quote;
pub mod record;
pub mod report;
pub mod scriptlet;
pub mod shell;
pub mod size;
pub mod srcinfo;
pub mod syncdb;
pub mod time;
pub mod vercmp;
