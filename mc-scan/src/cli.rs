//! The command line of `mc-scan`.

use std::path::PathBuf;

use clap::{
    Parser,
    builder::{PossibleValuesParser, TypedValueParser},
};
use minicluster::{cli::JobsArgs, record::Severity, size::Size};

/// `--clamd-max-stream-size` when not given: clamd's own default StreamMaxLength.
pub const DEFAULT_CLAMD_MAX_STREAM: Size = Size::mib(25);
/// `--max-member-size` when not given.
pub const DEFAULT_MAX_MEMBER: Size = Size::mib(1024);

/// `--fail-on`: the least severity that makes the run exit 1; `None` for `never`. (An alias, so
/// that clap takes the whole `Option` from the value parser rather than making the flag optional.)
pub type Threshold = Option<Severity>;

/// Reads `--fail-on`: a severity, or `never`.
fn threshold() -> impl TypedValueParser<Value = Threshold> {
    let words = Severity::ALL.iter().map(|severity| severity.as_str());
    PossibleValuesParser::new(words.chain(["never"])).map(|word| Severity::from_name(&word))
}

/// `--jobs` as mc-scan counts it.
const JOBS_HELP: &str = "Packages scanned at once, each on its own thread with its own clamd \
session; the output keeps the input's order [default: two per core, as much of a scan waits \
for clamd]";

/// The exit-status paragraph of the other tools, with what --fail-on adds.
const EXIT_HELP: &str = "Exit status: 0 when every package was scanned and no finding reached \
--fail-on, 1 when some package could not be scanned (each failure is an \"error\" record on \
stdout) or a finding reached --fail-on, 2 for bad usage or a fatal error.";

/// Scan built packages for malware and packaging defects, straight from the compressed stream.
///
/// Every member of each package (`.INSTALL` and the other metadata files included) goes
/// through YARA rules run in-process (YARA-X: a built-in set for EICAR, reverse shells, miners
/// and obfuscated shell, plus --rules folders), through ClamAV when asked (--clamd, or the
/// slower --clamscan), and through packaging checks: Python bytecode for the wrong Python or
/// without its source, setuid and setgid files, world-writable files, files in /usr/local,
/// /home, /tmp or /var/tmp, ELF RPATH/RUNPATH into the build folder or /tmp, the build folder
/// embedded in files, and `.MTREE` entries that disagree with the members. The `.INSTALL`
/// scriptlet is read as shell with its simple obfuscations undone (split strings, quotes inside
/// words, printf/echo -e escapes, eval, base64): downloads or decoded payloads that are run,
/// reverse shells, persistence (systemd units, cron, shell rc files, autostart,
/// ld.so.preload), npm/pip installs (all errors) and other network use (a warning), the same
/// checks mc-verify runs on the `.install` before the build. Nothing is unpacked to disk.
/// Check names are kebab-case in every tool (`--explain all` lists them).
///
/// Packages come as PKG arguments and as `package` records (with a `path`) or `build` records
/// on stdin (read unless it is a terminal). Records read are forwarded unchanged, each package
/// record after the `finding` records of its package, so `mc-build | mc-scan | mc-repo add
/// --refuse-findings error` publishes only what passed. One `finding` record per problem
/// (see mc-records(7)), `error` records for packages that could not be scanned (corrupt,
/// truncated, clamd down), and a `summary` record.
///
/// ClamAV signatures: run `freshclam` (Debian: clamav-freshclam; Arch: clamav) so that clamd
/// and clamscan have the official databases; without them ClamAV finds only what local
/// signature files (`.hdb`, `.ndb` in its database folder) describe.
///
/// Example: `mc-scan --clamd /run/clamav/clamd.ctl ~/build/*.pkg.tar.zst | jq -c 'select(.type == "finding")'`
#[derive(Debug, Parser)]
#[command(
    name = "mc-scan",
    version,
    after_help = EXIT_HELP,
    mut_arg("jobs", |arg| arg.help(JOBS_HELP))
)]
pub struct Cli {
    /// Package files to scan (besides the records on stdin).
    #[arg(value_name = "PKG")]
    pub packages: Vec<PathBuf>,
    /// A folder of YARA rules (`*.yar`, `*.yara`, searched recursively) to run besides the
    /// built-in ones; repeat for more. Each folder gets its own namespace: its rules are named
    /// `rulesN.RULE` (N counting the folders from 1). A rule's `severity` and `description`
    /// metadata become its findings' severity and explanation.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Scan with clamd over this Unix socket (e.g. /run/clamav/clamd.ctl): members go in
    /// batches, each a small tar streamed with INSTREAM; a batch that matches is sent again
    /// member by member, so findings name their member.
    #[arg(
        long,
        value_name = "SOCKET",
        env = "MC_SCAN_CLAMD",
        conflicts_with = "clamscan"
    )]
    pub clamd: Option<PathBuf>,
    /// Without clamd: pipe each package's files to `clamscan -` (slower: clamscan loads its
    /// databases for every package, and its findings name the package, not the member).
    #[arg(long)]
    pub clamscan: bool,
    /// The database folder clamscan reads (its --database) [default: clamscan's own].
    #[arg(
        long,
        value_name = "DIR",
        env = "MC_SCAN_CLAMAV_DATABASE",
        requires = "clamscan"
    )]
    pub clamav_database: Option<PathBuf>,
    /// Seconds to wait for clamd (each read and write on its socket) and for YARA on one
    /// member; a clamscan run, which loads its whole database first, may take ten times as long.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        env = "MC_SCAN_TIMEOUT"
    )]
    pub timeout: u64,
    /// Members larger than this are not sent to clamd (match clamd's StreamMaxLength); each
    /// gets an `info` finding `clamav-not-scanned` instead. SIZE is bytes, or a number with K,
    /// M, G or T (powers of 1024). [default: 25M]
    #[arg(long, value_name = "SIZE")]
    pub clamd_max_stream_size: Option<Size>,
    /// The old spelling of --clamd-max-stream-size, in MiB.
    #[arg(long, value_name = "MIB", hide = true)]
    pub clamd_max_stream_mib: Option<u64>,
    /// The largest member mc-scan reads, and the memory all jobs together hold for members
    /// (a job whose member does not fit waits; each also holds a batch for clamd up to its
    /// stream limit). A larger member is not scanned: an `error` record `member_too_large`
    /// about its package (which `mc-repo add --refuse-findings` then refuses), and the
    /// members after it are scanned. SIZE as for --clamd-max-stream-size. [default: 1G]
    #[arg(long, value_name = "SIZE")]
    pub max_member_size: Option<Size>,
    /// The old spelling of --max-member-size, in MiB.
    #[arg(long, value_name = "MIB", hide = true)]
    pub max_member_mib: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub jobs: JobsArgs,
    /// Exit with status 1 when a finding is at least this severe: info, warning, error, or
    /// never.
    #[arg(long, value_name = "SEVERITY", default_value = "error", value_parser = threshold())]
    pub fail_on: Threshold,
    /// Turn a check off: a packaging or scriptlet check (`setuid`, `install-network`), a YARA
    /// rule by its kebab-case name (`reverse-shell`, `rules1.my-rule` for `my_rule`), or a
    /// whole engine (`yara`, `clamav`, `lint`); repeat for more.
    #[arg(long, value_name = "CHECK")]
    pub disable: Vec<String>,
    /// Describe a check (packaging check or YARA rule, --rules included) and exit; `all` lists
    /// every check.
    #[arg(long, value_name = "CHECK")]
    pub explain: Option<String>,
}
