//! `mc-appliance` as a library: service appliances (PostgreSQL first) in mc-vm machines, all
//! answering one command set.
//!
//! [`catalog`] reads appliance definitions (TOML data: image recipe, roles, ports, each phase's
//! steps); [`state`] keeps each appliance's state under the XDG folders; [`steps`] runs a
//! phase's steps through the guest agent; [`ops`] has the commands, [`upgrade`] the version changes, [`monitor`] monitoring and cleanup; [`logging`] sends the records to syslog; [`run`] is the
//! command line.

pub mod catalog;
pub mod cli;
pub mod logging;
pub mod monitor;
pub mod ops;
mod run;
pub mod state;
pub mod steps;
pub mod upgrade;

pub use run::run;

/// The tool's name in error records.
pub const TOOL: &str = "mc-appliance";

/// What stops a command before it can report on the appliance.
#[derive(Debug, thiserror::Error)]
pub enum ApplianceError {
    /// The catalogue.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// The appliance's state.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// A machine.
    #[error(transparent)]
    Vm(#[from] mc_vm::VmError),
    /// The image.
    #[error(transparent)]
    Image(#[from] mc_vm::build::BuildError),
    /// A backup that cannot be restored.
    #[error("backup: {0}")]
    Backup(String),
    /// A command that does not apply.
    #[error("{0}")]
    Usage(String),
}
