//! The command line's edge: options from flags, environment and `[__config__]`; stdin records;
//! records and the summary on stdout; the exit status.

use std::{
    collections::BTreeMap,
    io::{self, IsTerminal},
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use minicluster::{
    jsonl::{self, RecordWriter},
    record::{Record, SummaryRecord, UpstreamEvent},
};

use super::{
    Options,
    check::{self, Known},
    config, http,
    source::{AlpmBatch, AurBatch, Context},
    versionfile,
};
use crate::{
    TOOL,
    cli::{TakeArgs, UpstreamArgs, UpstreamCommand},
};

/// Exit status when some entry is outdated (with --exit-status), as pkgctl's.
pub const EXIT_OUTDATED: u8 = 2;
/// Exit status when some check failed, as pkgctl's.
pub const EXIT_CHECK_FAILED: u8 = 3;

/// nvchecker's default request timeout, in seconds.
const DEFAULT_HTTP_TIMEOUT: u64 = 20;

/// The API sources `--api` and `MC_UPSTREAM_API_<SOURCE>` can point elsewhere.
const API_SOURCES: &[&str] = &[
    "github",
    "gitlab",
    "gitea",
    "bitbucket",
    "pypi",
    "npm",
    "cratesio",
    "aur",
    "archpkg",
    "cpan",
    "go",
];

/// Runs `mc-fetch upstream`; returns the exit status.
pub fn run(args: &UpstreamArgs) -> anyhow::Result<u8> {
    if let Some(UpstreamCommand::Take(take)) = &args.command {
        return run_take(take);
    }
    let mut out = RecordWriter::stdout();
    let mut options = options(args)?;
    let mut known = Known::default();
    // Without --config this is PKGDIR mode: records on stdin name folders and versions.
    if args.config.is_none() && !io::stdin().is_terminal() {
        read_stdin(&mut out, &mut options.dirs, &mut known)?;
    }
    let loaded = if args.guess {
        super::Loaded {
            entries: super::guess::entries(&options.dirs),
            ..super::Loaded::default()
        }
    } else {
        super::load(&options)?
    };
    if args.plan {
        for plan in super::plan(&loaded.entries, args.allow_cmd) {
            out.write(&Record::UpstreamPlan(plan))?;
        }
        out.flush()?;
        return Ok(minicluster::cli::EXIT_OK);
    }
    let settings = &loaded.settings;
    if let Some(path) = &settings.oldver {
        known.oldver = versionfile::read(path)?;
    }
    if let Some(path) = &settings.newver {
        known.previous = versionfile::read(path)?;
    }
    let timeout = Duration::from_secs(settings.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT));
    let keys = match &settings.keyfile {
        Some(path) => config::read_keyfile(path)?,
        None => serde_json::Map::new(),
    };
    let http = http::Http::new(http::HttpOptions {
        timeout,
        attempts: options.attempts,
        first_backoff: Duration::from_millis(500),
        per_host: options.per_host,
        max_rate_limit_wait: options.max_rate_limit_wait,
        cache_dir: options.cache_dir.clone(),
        max_age: options.max_age,
        proxy: settings.proxy.clone(),
    })?;
    // --api and the environment win over the config's own source settings.
    let mut bases = settings.bases.clone();
    bases.extend(options.bases.clone());
    let mut ctx = Context {
        http,
        bases,
        keys,
        allow_cmd: options.allow_cmd,
        command_timeout: check::command_timeout(timeout),
        aur: AurBatch::default(),
        alpm: AlpmBatch::default(),
    };
    let started = Instant::now();
    let runtime = check::runtime().context("starting the runtime of the checks")?;
    runtime.block_on(check::prefetch_aur(&mut ctx, &loaded.entries));
    check::prefetch_alpm(&mut ctx, &loaded.entries);
    let workers = settings
        .max_concurrency
        .unwrap_or(check::DEFAULT_CONCURRENCY);
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let total = loaded.entries.len();
    let progress = !args.quiet && io::stderr().is_terminal();
    let mut write_error = None;
    let checks = check::run(&ctx, &loaded.entries, &known, workers, |record| {
        *counts.entry(event_key(record.event)).or_default() += 1;
        if progress {
            let done: u64 = counts.values().sum();
            eprint!("\r{TOOL}: upstream: {done}/{total} checked");
        }
        if write_error.is_none()
            && let Err(error) = out.write(&Record::Upstream(Box::new(record.clone())))
        {
            write_error = Some(error);
        }
    });
    let outcome = runtime.block_on(checks);
    if progress {
        eprintln!();
    }
    if let Some(error) = write_error {
        return Err(error.into());
    }
    if let Some(path) = &settings.newver {
        versionfile::write(path, &outcome.newver)?;
    }
    if let Err(error) = ctx.http.save_cache() {
        eprintln!("{TOOL}: upstream: writing the cache: {error} (the next run asks again)");
    }
    let counter =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let http = &ctx.http.counters;
    let mut summary: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    summary.extend([
        ("requests", counter(&http.requests)),
        ("not_modified", counter(&http.not_modified)),
        ("fresh_from_cache", counter(&http.fresh)),
    ]);
    out.write(&Record::Summary(SummaryRecord::new(TOOL, started, summary)))?;
    out.flush()?;
    Ok(if counts.contains_key("error") {
        EXIT_CHECK_FAILED
    } else if args.exit_status && counts.contains_key("updated") {
        EXIT_OUTDATED
    } else {
        minicluster::cli::EXIT_OK
    })
}

/// The summary's key for an event (snake_case, as every record key).
fn event_key(event: UpstreamEvent) -> &'static str {
    match event {
        UpstreamEvent::Updated => "updated",
        UpstreamEvent::UpToDate => "up_to_date",
        UpstreamEvent::NoResult => "no_result",
        UpstreamEvent::Error => "error",
    }
}

fn options(args: &UpstreamArgs) -> anyhow::Result<Options> {
    let mut bases = BTreeMap::new();
    for source in API_SOURCES {
        let var = format!("MC_UPSTREAM_API_{}", source.to_uppercase());
        if let Some(url) = std::env::var_os(&var) {
            bases.insert((*source).to_owned(), url.to_string_lossy().into_owned());
        }
    }
    for api in &args.apis {
        let (source, url) = api
            .split_once('=')
            .with_context(|| format!("--api {api:?} is not SOURCE=URL"))?;
        anyhow::ensure!(
            API_SOURCES.contains(&source),
            "--api {source}: not one of {}",
            API_SOURCES.join(", ")
        );
        bases.insert(source.to_owned(), url.to_owned());
    }
    let cache_dir: Option<PathBuf> = if args.no_cache {
        None
    } else {
        args.cache
            .clone()
            .or_else(|| minicluster::cli::cache_dir("upstream"))
    };
    Ok(Options {
        config: args.config.clone(),
        dirs: args.dirs.clone(),
        only: args.entries.clone(),
        allow_cmd: args.allow_cmd,
        bases,
        per_host: args.per_host,
        attempts: args.retries.max(1),
        max_rate_limit_wait: Duration::from_secs(args.max_rate_limit_wait),
        cache_dir,
        lilac_aliases: args.lilac_aliases.clone(),
        max_age: if args.refresh {
            Duration::ZERO
        } else {
            Duration::from_secs(args.max_age)
        },
    })
}

/// Reads stdin: `package` records give the versions the user has (pkgver, by name and base),
/// `pkgbuild` records add their folders; every other line is forwarded unchanged.
fn read_stdin(
    out: &mut RecordWriter<io::Stdout>,
    dirs: &mut Vec<PathBuf>,
    known: &mut Known,
) -> anyhow::Result<()> {
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            Ok(line) => match &line.record {
                Record::Package(package) => {
                    let pkgver = pkgver(&package.version);
                    if let Some(base) = &package.base {
                        known.packages.insert(base.clone(), pkgver.clone());
                    }
                    known.packages.insert(package.name.clone(), pkgver);
                }
                Record::Pkgbuild(pkgbuild) => dirs.push(PathBuf::from(&pkgbuild.path)),
                _ => out.write_raw(&line.raw)?,
            },
            Err(error) => out.write(&Record::Error(error.error_record(TOOL)))?,
        }
    }
    Ok(())
}

/// The upstream part of a pacman version: without epoch and pkgrel.
fn pkgver(version: &str) -> String {
    let without_epoch = version.split_once(':').map_or(version, |(_, rest)| rest);
    without_epoch
        .rsplit_once('-')
        .map_or(without_epoch, |(pkgver, _)| pkgver)
        .to_owned()
}

/// `take`: newver's versions of the named entries (or all) into the oldver file.
fn run_take(args: &TakeArgs) -> anyhow::Result<u8> {
    let file = config::read_toml(&args.config)?;
    let oldver = file
        .settings
        .oldver
        .with_context(|| format!("{}: no oldver in [__config__]", args.config.display()))?;
    let newver = file
        .settings
        .newver
        .with_context(|| format!("{}: no newver in [__config__]", args.config.display()))?;
    let new = versionfile::read(&newver)?;
    let mut old = versionfile::read(&oldver)?;
    let mut failed = false;
    if args.all {
        old.extend(new);
    } else {
        for name in &args.names {
            match new.get(name) {
                Some(fields) => {
                    old.insert(name.clone(), fields.clone());
                }
                None => {
                    eprintln!("{TOOL}: {name} is not in {}", newver.display());
                    failed = true;
                }
            }
        }
    }
    versionfile::write(&oldver, &old)?;
    Ok(minicluster::cli::status(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkgver_of_pacman_versions() {
        assert_eq!(pkgver("1:2.3.4-1"), "2.3.4");
        assert_eq!(pkgver("2.3-2"), "2.3");
        assert_eq!(pkgver("r12.abc"), "r12.abc");
    }
}
