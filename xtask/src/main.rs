//! `cargo xtask`: generators for development, the demo and the benchmarks.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use xtask::sample::{Compression, Spec};

/// minicluster's development tasks.
#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Regenerate the man pages under man/ from the clap definitions.
    #[cfg(feature = "man")]
    Man {
        /// Only check that the checked-in pages are current; exit 1 when not.
        #[arg(long)]
        check: bool,
    },
    /// Write a sample mirror of real packages and sync databases.
    SampleMirror {
        /// Where to write it (`DIR/REPO/os/x86_64/`).
        #[arg(long)]
        out: PathBuf,
        /// Packages per repository.
        #[arg(long, default_value_t = 24)]
        packages: usize,
        /// Payload files per package.
        #[arg(long, default_value_t = 6)]
        files_per_package: usize,
        /// Repositories.
        #[arg(long, value_delimiter = ',', default_value = "core,extra")]
        repos: Vec<String>,
        /// Package compressions used in turn (zst, xz, gz).
        #[arg(long, value_delimiter = ',', default_value = "zst,zst,xz,gz")]
        compression: Vec<Compression>,
        /// Give the first package of each repository one extra file of this many bytes
        /// (text that zstd compresses about 5:1), generated as it is written.
        #[arg(long, value_name = "BYTES", default_value_t = 0)]
        big_file_bytes: u64,
    },
    /// Write a `.files` sync database (and its `.db`) at the scale of Arch's extra, paths only.
    SampleFilesDb {
        /// Where to write it (`DIR/REPO/os/x86_64/`).
        #[arg(long)]
        out: PathBuf,
        /// The repository's name.
        #[arg(long, default_value = "extra")]
        repo: String,
        /// Packages.
        #[arg(long, default_value_t = 14_000)]
        packages: usize,
        /// About how many paths over all packages.
        #[arg(long, default_value_t = 4_600_000)]
        paths: usize,
    },
    /// Build mc-vm's test guest from Debian packages: `OUT/vmlinuz`, `OUT/initrd.img` (busybox,
    /// qemu-ga, virtio modules); the kernel package is cached in `OUT/cache`.
    Guest {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve a folder over HTTP on loopback until killed; prints the base URL first.
    Serve {
        /// The folder to serve.
        dir: PathBuf,
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// Also write the base URL into this file (for scripts).
        #[arg(long)]
        url_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.task {
        #[cfg(feature = "man")]
        Task::Man { check } => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../man");
            let stale = xtask::man::generate(&dir, check)?;
            for name in &stale {
                eprintln!("{} man/{name}", if check { "stale:" } else { "wrote" });
            }
            Ok(u8::from(check && !stale.is_empty()))
        }
        Task::SampleMirror {
            out,
            packages,
            files_per_package,
            repos,
            compression,
            big_file_bytes,
        } => {
            let spec = Spec {
                repos,
                packages,
                files_per_package,
                compressions: compression,
                big_file_bytes,
                ..Spec::default()
            };
            let summary = xtask::sample::write_mirror(&out, &spec)?;
            eprintln!(
                "xtask: {} packages, {} paths, {:.1} MB in {}; {} ship __pycache__",
                summary.packages,
                summary.paths,
                summary.package_bytes as f64 / 1e6,
                out.display(),
                summary.pycache_packages.len()
            );
            Ok(0)
        }
        Task::SampleFilesDb {
            out,
            repo,
            packages,
            paths,
        } => {
            let spec = xtask::files_db::FilesSpec {
                repo,
                packages,
                paths,
                seed: 1,
            };
            let summary = xtask::files_db::write_files_db(&out, &spec)?;
            eprintln!(
                "xtask: {} packages, {} paths in {}; {} ship __pycache__",
                summary.packages,
                summary.paths,
                out.display(),
                summary.pycache_packages
            );
            Ok(0)
        }
        Task::Guest { out } => {
            let guest = xtask::guest::build(&out)?;
            eprintln!(
                "xtask: guest kernel {} in {}, initramfs {}",
                guest.release,
                guest.kernel.display(),
                guest.initrd.display()
            );
            Ok(0)
        }
        Task::Serve {
            dir,
            addr,
            url_file,
        } => {
            let server = xtask::serve::MirrorServer::start(&dir, &addr)?;
            println!("{}", server.url());
            if let Some(file) = url_file {
                xtask::sample::write_atomically(&file, server.url().as_bytes())
                    .with_context(|| format!("writing {}", file.display()))?;
            }
            server.wait();
            Ok(0)
        }
    }
}
