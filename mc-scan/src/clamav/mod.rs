//! ClamAV: `clamd` over its socket (INSTREAM, one session per package), or `clamscan` as the
//! slower fallback.
//!
//! clamd pays a few milliseconds per INSTREAM command (a thread, a spool file), which for the
//! small files most packages hold costs more than the scan. So members are sent in batches: a
//! small in-memory tar of consecutive members, up to clamd's stream limit, which clamd unpacks
//! and scans as one stream. A batch that matches is sent again member by member, so a finding
//! still names its member; clean batches, nearly all of them, cost one command each. clamscan
//! has no such protocol: the package's files go to its stdin as one tar, and a match names the
//! package only. Every read and write on the socket, and every clamscan run, has a timeout: a
//! clamd that is down or does not answer becomes an error, never a hang.

mod clamd;
mod clamscan;

use std::{io, path::PathBuf};

pub use clamd::{Clamd, Session, Verdict, parse_reply};
pub use clamscan::{Clamscan, ClamscanRun};

/// Why ClamAV could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ClamError {
    /// The socket could not be reached (clamd not running, wrong path).
    #[error("cannot reach clamd at {socket}: {source}")]
    Unreachable {
        /// The socket.
        socket: PathBuf,
        /// What connecting said.
        source: io::Error,
    },
    /// clamd did not answer within the timeout.
    #[error("clamd at {socket} did not answer within {seconds} s")]
    Timeout {
        /// The socket.
        socket: PathBuf,
        /// The timeout in force.
        seconds: u64,
    },
    /// The conversation broke off.
    #[error("talking to clamd at {socket}: {source}")]
    Io {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// clamd answered something that is not a verdict.
    #[error("clamd answered {0:?}")]
    Reply(String),
    /// clamscan could not be run, or failed.
    #[error("clamscan: {0}")]
    Clamscan(String),
}

impl ClamError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "clamd_unreachable",
            Self::Timeout { .. } => "clamd_timeout",
            Self::Io { .. } | Self::Reply(_) => "clamd_failed",
            Self::Clamscan(_) => "clamscan_failed",
        }
    }
}

/// Something ClamAV reported about a package's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A signature matched `member` (`None`: somewhere in the package, as clamscan reports).
    Found {
        /// The member, when known.
        member: Option<String>,
        /// The signature's name.
        signature: String,
    },
    /// The member is larger than clamd takes: not scanned.
    TooLarge(String),
}

/// How ClamAV is reached, if at all.
#[derive(Clone, Debug)]
pub enum ClamAv {
    /// Not used.
    Off,
    /// clamd, member by member.
    Clamd(Clamd),
    /// clamscan, package by package.
    Clamscan(Clamscan),
}

/// ClamAV's state within one package.
pub(crate) enum Clam<'c> {
    Off,
    /// Not connected yet (connecting is left to the first file).
    Clamd(&'c Clamd),
    Session(Session<'c>),
    Clamscan(&'c Clamscan),
    Run(ClamscanRun),
    /// Failed once in this package: not asked again.
    Failed,
}

impl<'c> Clam<'c> {
    pub(crate) fn new(clamav: &'c ClamAv) -> Self {
        match clamav {
            ClamAv::Off => Self::Off,
            ClamAv::Clamd(clamd) => Self::Clamd(clamd),
            ClamAv::Clamscan(clamscan) => Self::Clamscan(clamscan),
        }
    }

    /// Hands one member to ClamAV; returns what it reported so far (clamd answers a batch at a
    /// time, clamscan only at the end).
    pub(crate) fn scan(&mut self, member: &str, data: &[u8]) -> Result<Vec<Hit>, ClamError> {
        let state = std::mem::replace(self, Self::Failed);
        let (next, hits) = match state {
            Self::Off => (Self::Off, Ok(Vec::new())),
            Self::Failed => (Self::Failed, Ok(Vec::new())),
            Self::Clamd(clamd) => match clamd.session() {
                Ok(mut session) => {
                    let hits = session.add(member, data);
                    (Self::Session(session), hits)
                }
                Err(error) => (Self::Failed, Err(error)),
            },
            Self::Session(mut session) => {
                let hits = session.add(member, data);
                (Self::Session(session), hits)
            }
            Self::Clamscan(clamscan) => match clamscan.start() {
                Ok(mut run) => {
                    run.add(member, data);
                    (Self::Run(run), Ok(Vec::new()))
                }
                Err(error) => (Self::Failed, Err(error)),
            },
            Self::Run(mut run) => {
                run.add(member, data);
                (Self::Run(run), Ok(Vec::new()))
            }
        };
        *self = if hits.is_err() { Self::Failed } else { next };
        hits
    }

    /// Ends the package: the last batch, or clamscan's verdicts.
    pub(crate) fn finish(self) -> Result<Vec<Hit>, ClamError> {
        match self {
            Self::Session(session) => session.finish(),
            Self::Run(run) => run.finish(),
            _ => Ok(Vec::new()),
        }
    }
}
