//! Command-line interface: one subcommand group per concern, each in its own module.
//!
//! To add a command group, add a variant to [`Command`] and a module beside `certs`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod certs;

/// Liaison: secure criminal-intelligence exchange between law-enforcement centres.
#[derive(Debug, Parser)]
#[command(name = "liaison", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the PKI: network CAs, node and officer certificates, revocation, trust bundles.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
}

/// Runs a parsed command line; the exit code says whether the command's answer was "yes".
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Certs(cmd) => certs::run(cmd),
    }
}

/// Prints an error as `error: <message>` and, when one is known, a hint on how to fix it.
pub fn report(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
    if let Some(hint) = certs::hint(err) {
        eprintln!("hint: {hint}");
    }
}
