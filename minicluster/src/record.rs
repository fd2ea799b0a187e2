//! The JSON-lines records that flow between the tools.
//!
//! One object per line, tagged by its `"type"` field, which always comes first. Every field a
//! record type defines is always written (as `null` when unknown), so `jq` filters never have to
//! guess. Readers accept missing fields and unknown record types: a tool forwards records it does
//! not handle unchanged (see [`crate::jsonl::Line`]). `man 7 mc-records` describes every field.
//!
//! Closed sets of words are enums ([`Severity`], [`Verdict`], [`BuildStatus`], [`ChangeAction`],
//! [`IndexStatus`], [`VmAction`], [`UpstreamEvent`], ...); times are [`Timestamp`]s, RFC 3339 UTC, in fields named `*_at`; durations are
//! milliseconds in fields named `elapsed_ms` (or `*_ms`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::time::Timestamp;

/// `as_str`, `ALL` and `Display` for an enum of words, each variant with the word serde writes
/// for it (a unit test checks that they agree).
macro_rules! words {
    ($name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word records use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(Severity { Info => "info", Warning => "warning", Error => "error" });
words!(Verdict {
    Ok => "ok",
    Mismatch => "mismatch",
    Skipped => "skipped",
    Unverified => "unverified",
    Unreachable => "unreachable",
    SignatureOk => "signature_ok",
    SignatureBad => "signature_bad",
});
words!(BuildStatus { Built => "built", Failed => "failed", Skipped => "skipped" });
words!(ChangeAction {
    Added => "added",
    Replaced => "replaced",
    Removed => "removed",
    Unchanged => "unchanged",
});
words!(IndexStatus { Indexed => "indexed", Replaced => "replaced", Unchanged => "unchanged" });
words!(IndexSource { Package => "package", FilesDb => "files_db" });
words!(ScanEngine { Yara => "yara", Clamav => "clamav", Lint => "lint" });
words!(VmAction {
    Define => "define",
    Show => "show",
    Up => "up",
    Status => "status",
    Exec => "exec",
    Push => "push",
    Pull => "pull",
    Down => "down",
});
words!(SnapshotAction { Create => "create", List => "list", Revert => "revert", Delete => "delete" });
words!(TryVerdict { Passed => "passed", Failed => "failed" });
words!(TryStepKind { Run => "run", Check => "check", Sync => "sync" });
words!(UpstreamEvent {
    Updated => "updated",
    UpToDate => "up-to-date",
    NoResult => "no-result",
    Error => "error",
});
words!(UpstreamRole { Version => "version", Trigger => "trigger" });
words!(GeneratedAction {
    Created => "created",
    Updated => "updated",
    Merged => "merged",
    Unchanged => "unchanged",
    Conflict => "conflict",
    Removed => "removed",
    Kept => "kept",
});
words!(NetbootEvent {
    Listening => "listening",
    Enrolled => "enrolled",
    Dhcp => "dhcp",
    Tftp => "tftp",
    Http => "http",
    Step => "step",
    Done => "done",
    Failed => "failed",
});

/// One JSON-lines record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A pacman package: from a sync database, a local file, or the index.
    Package(Box<PackageRecord>),
    /// One file path of a package, as an index query answers it.
    File(FileRecord),
    /// An item that failed; the stream goes on.
    Error(ErrorRecord),
    /// Counts at the end of a run.
    Summary(SummaryRecord),
    /// A change made to a repository.
    Change(ChangeRecord),
    /// A package as the AUR's RPC describes it.
    AurPackage(Box<AurPackageRecord>),
    /// A PKGBUILD folder fetched from git.
    Pkgbuild(PkgbuildRecord),
    /// One source of a PKGBUILD, downloaded and checked.
    Source(SourceRecord),
    /// A problem a check found.
    Finding(FindingRecord),
    /// A comment for a package's maintainers, in Markdown.
    Comment(CommentRecord),
    /// The outcome of building one package base.
    Build(BuildRecord),
    /// A QEMU machine, and what `mc-vm` just did with it.
    Vm(Box<VmRecord>),
    /// What a package's upstream offers now (`mc-fetch upstream`).
    Upstream(Box<UpstreamRecord>),
    /// How `mc-fetch upstream --plan` would check an entry, or why it cannot.
    UpstreamPlan(UpstreamPlanRecord),
    /// An internal snapshot of a machine's disks, after `mc-vm snapshot`.
    VmSnapshot(VmSnapshotRecord),
    /// The verdict of `mc-vm try` on a throwaway copy of a machine.
    VmTry(VmTryRecord),
    /// A disk image `mc-vm image build` made (or found made) from a recipe.
    VmImage(VmImageRecord),
    /// One event of a network installation (`mc-netboot`): a DHCP answer, a file served, an
    /// installer step, the end.
    Netboot(Box<NetbootRecord>),
    /// One step of an `mc-appliance` command, run in a guest (or on the host).
    ApplianceStep(ApplianceStepRecord),
    /// An appliance after an `mc-appliance` command: its state, endpoints and outcome.
    Appliance(Box<ApplianceRecord>),
    /// One machine's metrics at one moment (`mc-appliance monitor`).
    ApplianceMetrics(ApplianceMetricsRecord),
    /// A machine that did not answer or a metric past its limit (`mc-appliance monitor`).
    ApplianceAlert(ApplianceAlertRecord),
    /// A file of a generated project, and what `mc-gen` did with it.
    Generated(GeneratedRecord),
    /// A template `mc-gen` can generate from, with its questions.
    Template(TemplateRecord),
    /// A record type this tool does not know: forwarded as it came.
    #[serde(other)]
    Other,
}

/// A package, described by a sync database (`mc-fetch repo`), by a local path given on input,
/// or by `mc-index` after indexing it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageRecord {
    /// Repository name (`core`, `extra`, ...); `local` for packages given by path.
    pub repo: Option<String>,
    /// Package name.
    pub name: String,
    /// Package base (the PKGBUILD it was built from).
    pub base: Option<String>,
    /// Full version: `[epoch:]pkgver-pkgrel`.
    pub version: String,
    /// Architecture (`x86_64`, `any`, ...).
    pub arch: Option<String>,
    /// Package file name in the repository.
    pub filename: Option<String>,
    /// Download URL on the first mirror.
    pub url: Option<String>,
    /// Download URLs on the other mirrors, in failover order.
    pub mirror_urls: Vec<String>,
    /// Local path of the package file, instead of a URL.
    pub path: Option<String>,
    /// SHA-256 of the package file, lower-case hex.
    pub sha256: Option<String>,
    /// Size of the package file in bytes.
    pub csize: Option<u64>,
    /// Installed size in bytes.
    pub isize: Option<u64>,
    /// Build time, seconds since the Unix epoch: pacman's own `BUILDDATE`, kept as `.PKGINFO`
    /// and the sync database write it (not a `*_at` time), so it goes back into a repository
    /// database unchanged and compares with `SOURCE_DATE_EPOCH`.
    pub builddate: Option<i64>,
    /// Who built the package.
    pub packager: Option<String>,
    /// Run-time dependencies.
    pub depends: Vec<String>,
    /// Build-time dependencies.
    pub makedepends: Vec<String>,
    /// Test dependencies.
    pub checkdepends: Vec<String>,
    /// Optional dependencies (`name: why`).
    pub optdepends: Vec<String>,
    /// Virtual packages and sonames this package provides.
    pub provides: Vec<String>,
    /// Packages this one conflicts with.
    pub conflicts: Vec<String>,
    /// Packages this one replaces.
    pub replaces: Vec<String>,
    /// Package groups.
    pub groups: Vec<String>,
    /// Licenses.
    pub licenses: Vec<String>,
    /// One-line description.
    pub desc: Option<String>,
    /// The upstream project's URL.
    pub url_upstream: Option<String>,
    /// File paths as in a `.files` database, when read from one (`mc-fetch repo --files`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// Set by `mc-index`: `indexed`, `replaced` (an older version was dropped) or `unchanged`.
    pub index_status: Option<IndexStatus>,
    /// Set by `mc-index`: where the file list came from.
    pub indexed_from: Option<IndexSource>,
    /// Set by `mc-index`: how many paths the package holds.
    pub file_count: Option<u64>,
}

/// What `mc-index` did with a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexStatus {
    /// Newly indexed.
    Indexed,
    /// Indexed, and another version of the same package was removed.
    Replaced,
    /// Already in the index with the same sha256: nothing was downloaded.
    Unchanged,
}

/// Where an indexed package's file list came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    /// The package file itself, streamed: types, sizes, modes and checksums are known.
    Package,
    /// The `.files` sync database: paths only.
    FilesDb,
}

impl IndexSource {
    /// The source named `name` (as [`IndexSource::as_str`] writes it in records and in the
    /// index database).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|source| source.as_str() == name)
    }
}

impl PackageRecord {
    /// Every download location of the package, the first mirror first.
    pub fn download_urls(&self) -> Vec<String> {
        self.url.iter().chain(&self.mirror_urls).cloned().collect()
    }

    /// A short JSON object naming the package, for the `subject` of error records.
    pub fn subject(&self) -> serde_json::Value {
        serde_json::json!({
            "repo": self.repo,
            "name": self.name,
            "version": self.version,
            "url": self.url,
            "path": self.path,
        })
    }
}

/// One file path of a package.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileRecord {
    /// Repository of the package.
    pub repo: String,
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Path as in `.files`: no leading `/`, directories end with `/`.
    pub path: String,
    /// `file`, `dir`, `link`, `hardlink` or `other`; `null` when indexed from a `.files` db.
    pub kind: Option<String>,
    /// Size in bytes (files only).
    pub size_bytes: Option<u64>,
    /// Permission bits, octal as a string (`"755"`).
    pub mode: Option<String>,
    /// Target of a symbolic or hard link.
    pub link_target: Option<String>,
    /// SHA-256 of the content (regular files only).
    pub sha256: Option<String>,
}

/// An item that failed. The stream goes on after it; the exit status will be 1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorRecord {
    /// The tool that failed (`mc-fetch`, `mc-index`, ...).
    pub tool: String,
    /// A stable snake_case identifier of what went wrong.
    pub kind: String,
    /// What went wrong, for people.
    pub message: String,
    /// What the error is about (package, URL, input line); shape depends on `kind`.
    pub subject: serde_json::Value,
}

/// A change `mc-repo` made (or, with `--dry-run`, would make) to a repository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeRecord {
    /// What happened to the package.
    pub action: ChangeAction,
    /// The repository name.
    pub repo: String,
    /// The package name.
    pub name: String,
    /// The version now in the repository (`null` once removed).
    pub version: Option<String>,
    /// The version it replaced or removed.
    pub old_version: Option<String>,
    /// The package file in the repository folder.
    pub path: Option<String>,
}

/// What `mc-repo` did to one package of a repository.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// It was not there before.
    #[default]
    Added,
    /// Another version of it was there.
    Replaced,
    /// It is gone.
    Removed,
    /// It was there already, the very same package.
    Unchanged,
}

/// A package of the AUR, as its RPC (v5 `info`/`search`) describes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AurPackageRecord {
    /// Package name.
    pub name: String,
    /// Package base (the git repository).
    pub base: String,
    /// Full version.
    pub version: String,
    /// One-line description.
    pub desc: Option<String>,
    /// The upstream project's URL.
    pub url_upstream: Option<String>,
    /// Current maintainer; `null` for an orphan.
    pub maintainer: Option<String>,
    /// Who first submitted it.
    pub submitter: Option<String>,
    /// Co-maintainers (`info` only).
    pub co_maintainers: Vec<String>,
    /// Votes.
    pub votes: u64,
    /// Popularity score.
    pub popularity: f64,
    /// When it was flagged out of date, if it is.
    pub out_of_date_at: Option<Timestamp>,
    /// When it was first submitted.
    pub first_submitted_at: Option<Timestamp>,
    /// When it was last modified.
    pub last_modified_at: Option<Timestamp>,
    /// Snapshot path on the AUR (`/cgit/aur.git/snapshot/BASE.tar.gz`).
    pub url_path: Option<String>,
    /// Run-time dependencies (`info` only, as all lists below).
    pub depends: Vec<String>,
    /// Build-time dependencies.
    pub makedepends: Vec<String>,
    /// Test dependencies.
    pub checkdepends: Vec<String>,
    /// Optional dependencies.
    pub optdepends: Vec<String>,
    /// Provided names.
    pub provides: Vec<String>,
    /// Conflicting packages.
    pub conflicts: Vec<String>,
    /// Replaced packages.
    pub replaces: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Licenses.
    pub licenses: Vec<String>,
    /// Keywords.
    pub keywords: Vec<String>,
}

/// A package base's git repository, cloned or updated into a work folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PkgbuildRecord {
    /// Package base.
    pub base: String,
    /// The work folder holding `PKGBUILD` and `.SRCINFO`.
    pub path: String,
    /// The git URL it came from.
    pub git_url: Option<String>,
    /// The commit now checked out.
    pub commit: Option<String>,
    /// The commit checked out before this fetch; `null` on the first fetch.
    pub previous_commit: Option<String>,
    /// Files changed since `previous_commit`.
    pub files_changed: Vec<String>,
    /// Lines added since `previous_commit`.
    pub insertions: u64,
    /// Lines removed since `previous_commit`.
    pub deletions: u64,
    /// The AUR maintainer now (`null` for an orphan or when unknown).
    pub maintainer: Option<String>,
    /// The maintainer at the previous fetch (`null` on the first fetch or for an orphan).
    pub previous_maintainer: Option<String>,
    /// Whether there was a previous fetch to compare with.
    pub fetched_before: bool,
    /// Who first submitted the package base.
    pub submitter: Option<String>,
    /// When the AUR last changed it.
    pub last_modified_at: Option<Timestamp>,
}

/// One source of a package base, downloaded into the source cache and checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceRecord {
    /// Package base.
    pub base: String,
    /// The source's file name in the cache (`name::` prefix applied).
    pub file: String,
    /// Where it comes from, as `.SRCINFO` writes it (without `name::`).
    pub url: String,
    /// `http`, `https`, `ftp`, `file` (shipped beside the PKGBUILD), `git`, ...
    pub kind: String,
    /// Its path in the source cache, when downloaded.
    pub path: Option<String>,
    /// Size in bytes.
    pub size_bytes: Option<u64>,
    /// Checksums computed while streaming it, by algorithm (`sha256`, `b2`, ...), lower-case hex;
    /// for a git source, `commit`: the commit its fragment resolved to.
    pub checksums: BTreeMap<String, String>,
    /// What the checks of this source concluded.
    pub verdict: Verdict,
    /// For signatures and `?signed` git sources: the fingerprint of the key that made it.
    pub signer: Option<String>,
}

/// What `mc-verify` concluded about one source.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every declared checksum matched.
    Ok,
    /// A declared checksum did not match (for a git source: a forged tag).
    Mismatch,
    /// Every checksum is `SKIP`.
    Skipped,
    /// Nothing was declared to check, or a VCS or ftp source was not fetched.
    #[default]
    Unverified,
    /// It could not be fetched (for a git source also: its revision is missing).
    Unreachable,
    /// A signature made by a key of `validpgpkeys`.
    SignatureOk,
    /// A signature that does not verify (also of a `?signed` git source's tag or commit).
    SignatureBad,
}

/// A problem found by a check (`mc-verify` on PKGBUILDs, `mc-scan` in built packages).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FindingRecord {
    /// Package base (or package) it is about.
    pub base: String,
    /// Stable identifier of the check (`checksum-mismatch`, `skip-non-vcs`, ...); for `mc-scan`
    /// the YARA rule, the ClamAV signature or the packaging check that matched.
    pub check: String,
    /// How much it weighs.
    pub severity: Severity,
    /// The explanation, for people.
    pub message: String,
    /// The source, file or URL it concerns, if one; for `mc-scan` the member path, as `member`.
    pub subject: Option<String>,
    /// `mc-scan`: the package's name (`null` from `mc-verify`).
    pub package: Option<String>,
    /// `mc-scan`: the package's full version.
    pub version: Option<String>,
    /// `mc-scan`: the package file scanned.
    pub path: Option<String>,
    /// `mc-scan`: the member of the package (`usr/bin/foo`, `.INSTALL`); `null` when the
    /// finding is about the whole package.
    pub member: Option<String>,
    /// `mc-scan`: what found it.
    pub engine: Option<ScanEngine>,
}

/// The engine of `mc-scan` that found something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanEngine {
    /// A YARA rule, run in-process by YARA-X.
    Yara,
    /// A ClamAV signature, through clamd or clamscan.
    Clamav,
    /// A packaging check of mc-scan's own.
    Lint,
}

/// How much a finding weighs, least severe first: the order compares them, and clap reads
/// them as option values (`--fail-on warning`). A finding read without a severity weighs as an
/// error: a check that says something unexpected is not ignored.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// Worth a look: often harmless, sometimes not.
    Warning,
    /// A problem: refuse the package.
    #[default]
    Error,
}

impl Severity {
    /// The severity a word names (`info`, `warning`, `error`), as a YARA rule's metadata says it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|severity| severity.as_str() == name)
    }
}

impl FindingRecord {
    /// Whether this finding is at least as severe as `threshold`.
    pub fn at_least(&self, threshold: Severity) -> bool {
        self.severity >= threshold
    }
}

/// A short Markdown comment telling a package's maintainers what checks found
/// (`mc-verify report`), ready to post on the package's AUR page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommentRecord {
    /// Package base the comment is for.
    pub base: String,
    /// How many findings it reports.
    pub findings: u64,
    /// The comment.
    pub markdown: String,
}

/// What `mc-build` did with one package base.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildRecord {
    /// Package base.
    pub base: String,
    /// Its full version as `.SRCINFO` declares it; `null` when `.SRCINFO` could not be read.
    pub version: Option<String>,
    /// What became of it.
    pub status: BuildStatus,
    /// Why it failed or was skipped, or `already built`; `null` for a fresh build.
    pub reason: Option<String>,
    /// Wall time spent on it in milliseconds (installing dependencies and makepkg).
    pub elapsed_ms: u64,
    /// The build log, kept after the run.
    pub log_path: Option<String>,
    /// The packages it made, as they sit in the repository.
    pub packages: Vec<PackageRecord>,
    /// With `--check-reproducible`: whether a second build made bit-identical packages;
    /// `null` when not checked.
    pub reproducible: Option<bool>,
    /// When not reproducible: `FILE: MEMBER`, the first tar member that differs.
    pub first_difference: Option<String>,
    /// The buildbot worker that built it (`--engine buildbot`); `null` on this machine.
    pub worker: Option<String>,
    /// Workers that vanished while building it, before it was retried on another, in order.
    pub lost_workers: Vec<String>,
}

/// What became of a package base in `mc-build`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    /// Its packages are in the repository (built now, or already there).
    Built,
    /// Its build failed, or it was refused.
    #[default]
    Failed,
    /// It was not built: a dependency was not built, or an earlier build failed.
    Skipped,
}

/// A QEMU machine as `mc-vm` describes it after an action: its definition, its run state and,
/// for `exec`, the command's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmRecord {
    /// The machine's name.
    pub name: String,
    /// What `mc-vm` did (`show` also for each machine of `list`).
    pub action: VmAction,
    /// `stopped`, or while QEMU runs its QMP run state (`running`, `paused`, `shutdown`, ...).
    pub state: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub cpus: u32,
    /// The kernel booted directly, if any.
    pub kernel: Option<String>,
    /// Its initramfs.
    pub initrd: Option<String>,
    /// Its command line.
    pub append: Option<String>,
    /// Disk images, in attachment order.
    pub disks: Vec<String>,
    /// Whether the machine has a guest-agent channel.
    pub agent: bool,
    /// Whether the machine has a network card on QEMU's user-mode network.
    pub net: bool,
    /// Host loopback TCP ports forwarded into the guest, `tcp:HOST_PORT:GUEST_PORT`.
    pub forwards: Vec<String>,
    /// Cards on private networks of machines, `NETWORK:ADDRESS/PREFIX`.
    pub nics: Vec<String>,
    /// QEMU's process id while it runs.
    pub pid: Option<u32>,
    /// The accelerator QEMU runs with (`kvm`, `tcg`); `null` when stopped.
    pub accel: Option<String>,
    /// The QEMU version QMP reports (`status`).
    pub qemu_version: Option<String>,
    /// `up --wait agent`: milliseconds from starting QEMU until the guest agent answered.
    pub agent_ready_ms: Option<u64>,
    /// `exec`: the program and its arguments.
    pub command: Option<Vec<String>>,
    /// `exec`: the command's exit code (128 + N when killed by signal N).
    pub exit_code: Option<i64>,
    /// `exec`: its standard output, as UTF-8 (lossy).
    pub stdout: Option<String>,
    /// `exec`: its standard error, as UTF-8 (lossy).
    pub stderr: Option<String>,
    /// `exec`: whether the agent cut the output at its cap (16 MiB in QEMU 7.2).
    pub output_truncated: Option<bool>,
    /// `push`, `pull`: the file on the host.
    pub local_path: Option<String>,
    /// `push`, `pull`: the file in the guest.
    pub guest_path: Option<String>,
    /// `push`, `pull`: the bytes copied.
    pub size_bytes: Option<u64>,
    /// Wall time of the action in milliseconds.
    pub elapsed_ms: u64,
}

/// What `mc-vm` did with a machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmAction {
    /// Defined (or redefined) it.
    Define,
    /// Described it (`show`, and each machine of `list`).
    #[default]
    Show,
    /// Started it.
    Up,
    /// Asked a running QEMU how it is.
    Status,
    /// Ran a command in the guest.
    Exec,
    /// Copied a file into the guest.
    Push,
    /// Copied a file out of the guest.
    Pull,
    /// Stopped it.
    Down,
}

/// What `mc-vm snapshot` did with a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotAction {
    /// Taken.
    #[default]
    Create,
    /// Listed (`snapshot list`).
    List,
    /// The disks (and a running guest) put back to it.
    Revert,
    /// Deleted.
    Delete,
}

/// A snapshot, after `mc-vm snapshot create|revert|delete` or for each of `snapshot list`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmSnapshotRecord {
    /// The machine.
    pub machine: String,
    /// The snapshot's name.
    pub snapshot: String,
    /// What was done.
    pub action: SnapshotAction,
    /// `create`, `revert`, `delete`: whether the machine ran, so QMP did it with memory and
    /// device state; else `qemu-img` did, for the disks only. `list`: whether the snapshot holds
    /// memory and device state (it was taken while the machine ran).
    pub live: bool,
    /// Bytes of saved memory and device state (0 for a disk-only snapshot); `null` after delete.
    pub vm_state_bytes: Option<u64>,
    /// When the snapshot was taken; `null` after delete.
    pub created_at: Option<Timestamp>,
    /// The disks holding the snapshot.
    pub disks: Vec<String>,
    /// Wall time of the action in milliseconds.
    pub elapsed_ms: u64,
}

/// The verdict of `mc-vm try`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TryVerdict {
    /// The run step and every check exited 0.
    Passed,
    /// A step exited non-zero or did not finish.
    #[default]
    Failed,
}

/// What `mc-vm try` did on a throwaway copy of a machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmTryRecord {
    /// The machine.
    pub machine: String,
    /// `passed` when the run step and every check exited 0, else `failed`.
    pub verdict: TryVerdict,
    /// Whether the copy's disks were committed into the machine's (`--keep` and passed).
    pub kept: bool,
    /// Milliseconds from starting QEMU until the copy's guest agent answered.
    pub agent_ready_ms: Option<u64>,
    /// The steps in the order they ran: the `--run` command, then each `--check`.
    pub steps: Vec<TryStep>,
    /// Wall time in milliseconds, boot and clean-up included.
    pub elapsed_ms: u64,
}

/// Which command of `mc-vm try` a step ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TryStepKind {
    /// The `--run` command: the change under test.
    #[default]
    Run,
    /// A `--check` command.
    Check,
    /// The `sync` before a passing copy is kept.
    Sync,
}

/// One command of `mc-vm try`, run in the guest as `sh -c COMMAND`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TryStep {
    /// `run` or `check`.
    pub step: TryStepKind,
    /// The shell command.
    pub command: String,
    /// Its exit code (128 + N when killed by signal N); `null` when it did not finish.
    pub exit_code: Option<i64>,
    /// Its standard output, as UTF-8 (lossy).
    pub stdout: String,
    /// Its standard error, as UTF-8 (lossy).
    pub stderr: String,
    /// Why it did not finish (a timeout, the guest gone); else `null`.
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl TryStep {
    /// Whether the step exited 0.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// An image `mc-vm image build` made from a recipe, or found already made in its folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmImageRecord {
    /// The recipe file.
    pub recipe: String,
    /// The sha256 of the recipe's contents, which names the build.
    pub recipe_hash: String,
    /// The image's folder.
    pub dir: String,
    /// Whether the folder held this recipe's image already (nothing was built).
    pub cached: bool,
    /// The root disk (qcow2).
    pub root_disk: String,
    /// Its size on the host in bytes.
    pub root_disk_bytes: u64,
    /// The data disk (qcow2), when the recipe has one.
    pub data_disk: Option<String>,
    /// The kernel.
    pub kernel: String,
    /// The initramfs.
    pub initrd: String,
    /// The kernel command line to boot it with.
    pub append: String,
    /// The kernel's release.
    pub kernel_release: String,
    /// How many packages are installed (their versions are in the manifest).
    pub packages: u64,
    /// `manifest.json`: the recipe, and every installed package's version.
    pub manifest: String,
    /// When the image was built.
    pub built_at: Timestamp,
    /// Wall time in milliseconds: of the build, or of finding it cached.
    pub elapsed_ms: u64,
}

/// One step of an `mc-appliance` command.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplianceStepRecord {
    /// The appliance.
    pub appliance: String,
    /// The command (`up`, `check-health`, `backup`, ...).
    pub command: String,
    /// The step's name (`base-backup`, `accepts-queries`, ...).
    pub step: String,
    /// The machine it ran on; `null` for a step on the host.
    pub machine: Option<String>,
    /// The machine's role when it ran (`primary`, `replica`).
    pub role: Option<String>,
    /// The shell command run in the guest (`sh -c`); `null` for a step on the host.
    pub guest_command: Option<String>,
    /// Its exit code; `null` when it did not finish or ran on the host.
    pub exit_code: Option<i64>,
    /// Whether the step succeeded.
    pub ok: bool,
    /// What it printed (standard output, trimmed), or what went wrong.
    pub output: String,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// An appliance after an `mc-appliance` command.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplianceRecord {
    /// The appliance.
    pub name: String,
    /// Its application (`postgresql`).
    pub app: String,
    /// The command that ran.
    pub command: String,
    /// The appliance's state afterwards: `defined`, `running`, `stopped`, or the named state a
    /// failed command left (`up-failed`, `fail-over-failed`, ...).
    pub state: String,
    /// Whether the command did what it was asked.
    pub ok: bool,
    /// For a named failure state: the command that recovers from it.
    pub recover: Option<String>,
    /// Each role (`primary`, `replica`, `replica-2`, ...) and its client URL on the host.
    pub endpoints: BTreeMap<String, String>,
    /// The machines, with role and address.
    pub machines: Vec<ApplianceMachine>,
    /// `backup`: the backup file's path; `restore`: the backup restored.
    pub backup: Option<String>,
    /// `check-health`: `healthy` or `unhealthy`.
    pub verdict: Option<String>,
    /// `upgrade`, `downgrade`: the app's package version afterwards (after a rollback, the
    /// version it rolled back to).
    pub version: Option<String>,
    /// `upgrade`, `downgrade`: whether a failure rolled the machines back to the snapshot taken
    /// before.
    pub rolled_back: Option<bool>,
    /// What went wrong, for people; `null` when nothing did.
    pub message: Option<String>,
    /// Wall time of the command in milliseconds.
    pub elapsed_ms: u64,
}

/// One machine's metrics at one moment, from `mc-appliance monitor`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplianceMetricsRecord {
    /// The appliance.
    pub appliance: String,
    /// The machine.
    pub machine: String,
    /// Its role then.
    pub role: String,
    /// When the sample was taken.
    pub sampled_at: Timestamp,
    /// The app's metrics, units in their names (PostgreSQL: `connections`, `lag_bytes`,
    /// `transactions_total`, `disk_used_percent`); each counter `X_total` also gets its rate
    /// `X_per_s` from the sample before.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
}

/// Something `mc-appliance monitor` saw go wrong.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplianceAlertRecord {
    /// The appliance.
    pub appliance: String,
    /// The machine.
    pub machine: String,
    /// Its role then.
    pub role: String,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// The alert's name (`no-answer`, or the app's: `replication-lag`, `disk-full`, ...).
    pub alert: String,
    /// What was seen, for people.
    pub message: String,
}

/// One machine of an appliance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplianceMachine {
    /// The mc-vm machine's name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its address on the appliance's private network.
    pub address: String,
    /// The host port forwarded to the application's port.
    pub host_port: u16,
    /// `running` or `stopped`.
    pub state: String,
}

/// One event of `mc-netboot`: what the server answered, or what an installer phoned home.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetbootRecord {
    /// What happened.
    pub event: NetbootEvent,
    /// The machine's MAC address (`52:54:00:12:34:56`); `null` for a server event.
    pub mac: Option<String>,
    /// The enrolled machine's host name; `null` for a machine not enrolled.
    pub machine: Option<String>,
    /// The client's IP address (or the server's, for `listening`).
    pub address: Option<String>,
    /// The firmware the client says it runs (`bios`, `uefi`, `ipxe`), from DHCP option 93/77.
    pub firmware: Option<String>,
    /// The file asked for, or for `dhcp` the boot file answered; for `listening` the HTTP URL.
    pub path: Option<String>,
    /// `step`: the installer step's name (`network`, `answer`, `disk`, `write-disk`, `configure`, `boot-loader`).
    pub step: Option<String>,
    /// Whether it went well (a file not found, a failed step: `false`).
    pub ok: bool,
    /// Bytes sent (`tftp`, `http`).
    pub size_bytes: Option<u64>,
    /// `failed` (and `done`): the installer's log, or its last lines after a timeout.
    pub log: Option<String>,
    /// What happened, for people.
    pub message: String,
    /// When it happened.
    pub at: Timestamp,
}

/// What a `netboot` record reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetbootEvent {
    /// The server listens (`address`, and the HTTP URL in `path`).
    #[default]
    Listening,
    /// A machine was enrolled (`enroll`).
    Enrolled,
    /// A proxy-DHCP answer was sent.
    Dhcp,
    /// A file was sent over TFTP.
    Tftp,
    /// A file was sent over HTTP.
    Http,
    /// The installer finished a step.
    Step,
    /// The installer finished; the machine boots from its disk next.
    Done,
    /// The installation failed (or timed out); `log` says why.
    Failed,
}

/// Counts at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryRecord {
    /// The tool that ran.
    pub tool: String,
    /// Wall time of the run in milliseconds.
    pub elapsed_ms: u64,
    /// Items per outcome (`indexed`, `unchanged`, `failed`, ...).
    #[serde(flatten)]
    pub counts: BTreeMap<String, u64>,
}

impl SummaryRecord {
    /// The summary of `tool`'s run that began at `started`, with a count per outcome.
    pub fn new<'a>(
        tool: &str,
        started: std::time::Instant,
        counts: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Self {
        Self {
            tool: tool.to_owned(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            counts: counts
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        }
    }
}

impl ErrorRecord {
    /// An error record for `tool`.
    pub fn new(
        tool: &str,
        kind: &str,
        message: impl Into<String>,
        subject: serde_json::Value,
    ) -> Self {
        Self {
            tool: tool.to_owned(),
            kind: kind.to_owned(),
            message: message.into(),
            subject,
        }
    }
}

/// A file of a project `mc-gen` generated: written by `new`, or what `update` and `add slice`
/// did with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratedRecord {
    /// The template's name.
    pub template: String,
    /// The template version the file now comes from.
    pub version: String,
    /// The file, relative to the project folder.
    pub path: String,
    /// What happened to it.
    pub action: GeneratedAction,
    /// Its size after the run (`null` once removed, or when the user's deletion was kept).
    pub size_bytes: Option<u64>,
    /// Conflicting hunks left inline (git-style markers) for the user to resolve.
    pub conflicts: u64,
}

/// What `mc-gen` did with one file of a project.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratedAction {
    /// Written new.
    #[default]
    Created,
    /// The user had not changed it: the template's new version replaced it.
    Updated,
    /// The user's changes and the template's merged cleanly.
    Merged,
    /// Nothing to do: the template did not change it, or the user already has its new text.
    Unchanged,
    /// Both changed the same lines: written with conflict markers.
    Conflict,
    /// The template dropped it and the user had not changed it: deleted.
    Removed,
    /// The template changed or dropped it, but the user's version (or deletion) stays.
    Kept,
}

/// A template `mc-gen` offers (`mc-gen list`, `mc-gen show`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateRecord {
    /// Its name, as `mc-gen new` takes it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it generates.
    pub description: String,
    /// Its questions, in the order they are asked.
    pub questions: Vec<TemplateQuestion>,
}

/// One question of a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateQuestion {
    /// The key in answers files.
    pub name: String,
    /// The question as asked.
    pub prompt: String,
    /// The default, as a template over earlier answers (`null`: the question must be answered).
    pub default: Option<String>,
    /// The allowed answers of a choice; empty for free text.
    pub choices: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_comes_first_and_missing_fields_are_null() {
        let record = Record::Package(Box::new(PackageRecord {
            name: "zlib".into(),
            version: "1:1.3-1".into(),
            ..Default::default()
        }));
        let line = serde_json::to_string(&record).expect("records serialize");
        assert!(
            line.starts_with(r#"{"type":"package","repo":null,"name":"zlib""#),
            "{line}"
        );
        assert!(
            !line.contains("\"files\""),
            "files only appear when known: {line}"
        );
    }

    #[test]
    fn minimal_input_records_parse() {
        let record: Record =
            serde_json::from_str(r#"{"type":"package","path":"/tmp/x.pkg.tar.zst"}"#)
                .expect("a path-only package record is valid input");
        let Record::Package(package) = record else {
            panic!("not a package: {record:?}");
        };
        assert_eq!(package.path.as_deref(), Some("/tmp/x.pkg.tar.zst"));
    }

    #[test]
    fn unknown_types_are_other() {
        let record: Record = serde_json::from_str(r#"{"type":"no_such_record","name":"a"}"#)
            .expect("unknown types parse");
        assert_eq!(record, Record::Other);
    }

    #[test]
    fn vm_records_write_every_field_and_read_partial_ones() {
        let record: Record =
            serde_json::from_str(r#"{"type":"vm","name":"a","state":"running"}"#).expect("parses");
        let Record::Vm(vm) = &record else {
            panic!("not a vm record: {record:?}")
        };
        assert_eq!((vm.name.as_str(), vm.state.as_str()), ("a", "running"));
        let line = serde_json::to_string(&record).expect("serializes");
        assert!(
            line.starts_with(r#"{"type":"vm","name":"a","action":"show","#),
            "{line}"
        );
        assert!(line.contains(r#""exit_code":null"#), "{line}");
    }

    /// The words of `as_str` are the words serde reads and writes.
    fn words_agree<T>(all: &[T])
    where
        T: Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Display
            + PartialEq
            + std::fmt::Debug,
    {
        for value in all {
            let json = serde_json::to_string(value).expect("serializes");
            assert_eq!(json, format!("\"{value}\""));
            assert_eq!(
                &serde_json::from_str::<T>(&json).expect("reads back"),
                value
            );
        }
    }

    #[test]
    fn closed_sets_write_their_words() {
        words_agree(Severity::ALL);
        words_agree(Verdict::ALL);
        words_agree(BuildStatus::ALL);
        words_agree(ChangeAction::ALL);
        words_agree(IndexStatus::ALL);
        words_agree(IndexSource::ALL);
        words_agree(ScanEngine::ALL);
        words_agree(VmAction::ALL);
        words_agree(SnapshotAction::ALL);
        words_agree(TryVerdict::ALL);
        words_agree(TryStepKind::ALL);
        words_agree(UpstreamEvent::ALL);
        words_agree(UpstreamRole::ALL);
        words_agree(NetbootEvent::ALL);
        words_agree(GeneratedAction::ALL);
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
        let finding: FindingRecord =
            serde_json::from_str(r#"{"check":"x"}"#).expect("a finding without severity");
        assert_eq!(
            finding.severity,
            Severity::Error,
            "unknown weight counts as error"
        );
    }

    #[test]
    fn summary_counts_are_flat() {
        let summary = SummaryRecord {
            tool: "mc-index".into(),
            elapsed_ms: 5,
            counts: BTreeMap::from([("indexed".to_owned(), 3)]),
        };
        let line = serde_json::to_string(&Record::Summary(summary)).expect("serializes");
        assert_eq!(
            line,
            r#"{"type":"summary","tool":"mc-index","elapsed_ms":5,"indexed":3}"#
        );
    }
}

/// The newest upstream version of one nvchecker entry, and how it compares with the version the
/// user has (`old_version`, from the oldver file or a `package` record on input).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpstreamRecord {
    /// The entry's name (the table name in nvchecker's TOML).
    pub name: String,
    /// The nvchecker source kind (`github`, `git`, `regex`, ...).
    pub source: String,
    /// The newest version found; after an error, the last good one (see `kept_last_good`).
    pub version: Option<String>,
    /// The version the user has, when known.
    pub old_version: Option<String>,
    /// nvchecker's event name.
    pub event: UpstreamEvent,
    /// A page about this version, when the source knows one.
    pub url: Option<String>,
    /// The release notes, when the source knows them.
    pub changelog_url: Option<String>,
    /// The commit the version points at, when the source knows it.
    pub revision: Option<String>,
    /// The git ref (`refs/tags/v1.2`) the version came from.
    pub gitref: Option<String>,
    /// When the check ended.
    pub checked_at: Option<Timestamp>,
    /// The file the entry was read from.
    pub config: Option<String>,
    /// For a `lilac.yaml` entry: `version` (the first, the package's own) or `trigger`.
    pub role: Option<UpstreamRole>,
    /// What went wrong, for an `error` event.
    pub error: Option<String>,
    /// Whether `version` is the last good one, kept in the newver file after this check failed.
    pub kept_last_good: bool,
    /// When a rate limit that stopped the check ends.
    pub rate_limit_reset_at: Option<Timestamp>,
    /// The entry's keys that no source reads, passed through for the tools that put them there.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// nvchecker's name for the outcome of checking one entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamEvent {
    /// The upstream version differs from the old one.
    Updated,
    /// The upstream version is the old one.
    UpToDate,
    /// The source answered, but no version matched.
    NoResult,
    /// The check failed.
    #[default]
    Error,
}

/// What a `lilac.yaml` `update_on` entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamRole {
    /// The first entry: the package's own version.
    Version,
    /// Any later entry: a change there rebuilds the package.
    Trigger,
}

/// How one entry will be checked (`supported`), or why it cannot be (`reason`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpstreamPlanRecord {
    /// The entry's name.
    pub name: String,
    /// The source kind (`alias`, `vcs` for lilac's own kinds).
    pub source: String,
    /// The file the entry was read from.
    pub config: String,
    /// For a `lilac.yaml` entry: `version` or `trigger`.
    pub role: Option<UpstreamRole>,
    /// Whether a check will run.
    pub supported: bool,
    /// What will be asked (the URL or command), or why the entry cannot be checked.
    pub reason: String,
}
