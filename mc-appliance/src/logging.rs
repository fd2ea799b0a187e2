//! `--logging syslog`: every `appliance_step` and `appliance` record of an appliance's commands
//! also goes to a syslog receiver, one RFC 5424 message per record over UDP (RFC 5426: one
//! datagram a message, so no stream framing to agree on). The message is the record's JSON
//! line; its structured data (`mc@32473`) names the appliance, command, step and outcome, and
//! the HOSTNAME field is the machine the step ran on (`mc-appliance` for the host's own).
//!
//! Logging is a copy of what stdout shows: a receiver that is gone costs a warning on stderr,
//! never the command.

use std::collections::BTreeMap;

use minicluster::record::Record;
use serde::{Deserialize, Serialize};
use syslog::{Facility, Formatter5424, Logger, LoggerBackend};

/// The structured data's ID: ours, under the enterprise number RFC 5612 sets aside for
/// documentation and examples (minicluster has none of its own).
const SD_ID: &str = "mc@32473";

/// Where an appliance's records are logged besides stdout (chosen at `define`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Logging {
    /// RFC 5424 over UDP to `address` (`HOST:PORT`).
    Syslog {
        /// The receiver.
        address: String,
    },
}

/// What went wrong reaching the receiver.
#[derive(Debug, thiserror::Error)]
#[error("syslog {address}: {message}")]
pub struct LoggingError {
    /// The receiver.
    pub address: String,
    /// What failed.
    pub message: String,
}

/// A connected syslog sender.
pub struct Syslog {
    logger: Logger<LoggerBackend, Formatter5424>,
    address: String,
}

impl Syslog {
    /// A sender to `address` (`HOST:PORT`, resolved now).
    pub fn connect(address: &str) -> Result<Self, LoggingError> {
        let formatter = Formatter5424 {
            facility: Facility::LOG_DAEMON,
            hostname: None,
            process: crate::TOOL.to_owned(),
            pid: std::process::id(),
        };
        let logger =
            syslog::udp(formatter, "0.0.0.0:0", address).map_err(|error| LoggingError {
                address: address.to_owned(),
                message: error.to_string(),
            })?;
        Ok(Self {
            logger,
            address: address.to_owned(),
        })
    }

    /// Sends `record` when it is an appliance's step or result (others are not logged).
    pub fn send(&mut self, record: &Record) -> Result<(), LoggingError> {
        let Some((ok, host, data)) = fields(record) else {
            return Ok(());
        };
        let line = match record {
            // The endpoints' URLs carry the password: a log is no place for it.
            Record::Appliance(result) => {
                let mut result = result.clone();
                for url in result.endpoints.values_mut() {
                    *url = without_password(url);
                }
                serde_json::to_string(&Record::Appliance(result))
            }
            other => serde_json::to_string(other),
        }
        .unwrap_or_default();
        self.logger.formatter.hostname = Some(host);
        let message = (1, BTreeMap::from([(SD_ID.to_owned(), data)]), line);
        let sent = if ok {
            self.logger.info(message)
        } else {
            self.logger.err(message)
        };
        sent.map_err(|error| LoggingError {
            address: self.address.clone(),
            message: error.to_string(),
        })
    }
}

/// `SCHEME://USER:PASSWORD@REST` as `SCHEME://USER@REST`; other URLs as they are.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// Whether the record tells of success, the host it happened on, and its structured data.
fn fields(record: &Record) -> Option<(bool, String, BTreeMap<String, String>)> {
    let mut data = BTreeMap::new();
    let (ok, host) = match record {
        Record::ApplianceStep(step) => {
            data.insert("appliance".to_owned(), step.appliance.clone());
            data.insert("command".to_owned(), step.command.clone());
            data.insert("step".to_owned(), step.step.clone());
            data.insert("elapsed_ms".to_owned(), step.elapsed_ms.to_string());
            if let Some(code) = step.exit_code {
                data.insert("exit_code".to_owned(), code.to_string());
            }
            (step.ok, step.machine.clone())
        }
        Record::Appliance(result) => {
            data.insert("appliance".to_owned(), result.name.clone());
            data.insert("command".to_owned(), result.command.clone());
            data.insert("state".to_owned(), result.state.clone());
            data.insert("elapsed_ms".to_owned(), result.elapsed_ms.to_string());
            (result.ok, None)
        }
        _ => return None,
    };
    data.insert("ok".to_owned(), ok.to_string());
    Some((ok, host.unwrap_or_else(|| crate::TOOL.to_owned()), data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicluster::record::ApplianceStepRecord;

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(
            without_password("postgresql://postgres:s3cret@127.0.0.1:5432/postgres"),
            "postgresql://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            without_password("http://127.0.0.1:80/"),
            "http://127.0.0.1:80/"
        );
    }

    #[test]
    fn a_step_is_one_rfc5424_datagram_with_its_fields_as_structured_data() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        let address = receiver.local_addr().expect("bound").to_string();
        let mut syslog = Syslog::connect(&address).expect("connects");
        let step = Record::ApplianceStep(ApplianceStepRecord {
            appliance: "db".into(),
            command: "up".into(),
            step: "base-backup".into(),
            machine: Some("db-1".into()),
            exit_code: Some(1),
            elapsed_ms: 12,
            ..ApplianceStepRecord::default()
        });
        syslog.send(&step).expect("sends");
        let mut buffer = [0u8; 4096];
        let n = receiver.recv(&mut buffer).expect("a datagram");
        let text = String::from_utf8_lossy(&buffer[..n]);
        // <PRI>: facility daemon (3) * 8 + severity err (3).
        assert!(text.starts_with("<27>1 "), "{text}");
        assert!(
            text.contains(" db-1 mc-appliance ")
                && text.contains("[mc@32473 appliance=\"db\" command=\"up\" elapsed_ms=\"12\" exit_code=\"1\" ok=\"false\" step=\"base-backup\"]")
                && text.ends_with(&serde_json::to_string(&step).expect("JSON")),
            "{text}"
        );
    }
}
