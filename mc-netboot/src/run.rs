//! The command line's edge: options into the library, records to stdout, the exit status.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use minicluster::{
    cli::{EXIT_FATAL, EXIT_ITEM_FAILED, EXIT_OK},
    jsonl::RecordWriter,
    record::Record,
};

use crate::{
    NetbootError,
    cli::{Cli, Command},
    dnsmasq, enroll,
    events::Events,
    layout::{Layout, Mac},
    serve::{self, ServeOptions},
};

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve(args) => {
            let listen = match (args.listen, &args.interface) {
                (Some(listen), _) => listen,
                (None, interface) => {
                    let interface = interface.as_deref().context("--listen or --interface")?;
                    SocketAddr::new(serve::address_of(interface)?.into(), args.port)
                }
            };
            let options = ServeOptions {
                listen,
                interface: args.interface,
                proxy_dhcp: args.proxy_dhcp,
                tftp: !args.no_tftp,
                until_installed: args.until_installed,
                timeout: Duration::from_secs(args.timeout),
            };
            let finished = serve::serve(Layout::new(args.dir.dir), &options, Events::stdout())?;
            Ok(if finished.failed > 0 {
                EXIT_ITEM_FAILED
            } else {
                EXIT_OK
            })
        }
        Command::Enroll(args) => {
            let enrolled = Mac::parse(&args.mac)
                .and_then(|mac| enroll::enroll(&Layout::new(args.dir.dir), mac, &args.profile));
            match enrolled {
                Ok(record) => {
                    let mut out = RecordWriter::stdout();
                    out.write(&Record::Netboot(Box::new(record)))?;
                    out.flush()?;
                    Ok(EXIT_OK)
                }
                // A bad profile or MAC is bad usage: nothing was enrolled.
                Err(error @ (NetbootError::Profile { .. } | NetbootError::BadMac(_))) => {
                    eprintln!("{}: error: {error}", crate::TOOL);
                    Ok(EXIT_FATAL)
                }
                Err(error) => Err(error).context("enrolling"),
            }
        }
        Command::DnsmasqConf(args) => {
            let layout = Layout::new(&args.dir.dir);
            print!(
                "{}",
                dnsmasq::config(args.listen, args.interface.as_deref(), &layout.tftp())
            );
            Ok(EXIT_OK)
        }
    }
}
