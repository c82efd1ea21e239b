//! Command-line interface: one subcommand group per concern, each in its own module.
//!
//! * [`certs`]: the PKI (`liaison certs …`).
//! * [`run`](mod@run): the daemon (`liaison node run`).
//! * [`officer`]: officers' commands, clients of the node's local API (`liaison send`,
//!   `inbox`, `show`, `ack`, `trail`, `status`, `peers`, `log`, `checkpoint`).
//!
//! To add a command group, add a variant to [`Command`] and a module beside these.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` for command output, except that a reader that went away (`liaison inbox | head`)
/// ends the command quietly with status 0 instead of a panic; any other failure to write
/// stdout ends it with status 1 and says so on stderr. Every command prints through it.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::cli::stdout_failed(e);
        }
    }};
}

/// What `out!` does when stdout cannot be written.
pub(crate) fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}

pub mod audit;
pub mod case;
pub mod certs;
pub mod demo;
pub mod officer;
pub mod run;

/// Exit status described in `liaison --help`.
const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  error: the node is not running, the token or certificate was refused, an unknown id,
     a bad file; the message says what to do
  2  usage error (unknown option, missing argument)
  3  the node refused the message (handling rules, no route, invalid message); the
     reason code is printed as `refused: <reason-code>: <detail>`
  4  `liaison store scrub` found damaged stored data
  5  the node cannot take the message now (`outbox-full`: too much waits for a peer);
     nothing was sent: send it again after the time printed

Finding the node: officer commands read api.listen and api.token_file from --config
<node.toml> (or LIAISON_CONFIG), or take --api <addr> --token-file <path>.";

/// Liaison: secure criminal-intelligence exchange between law-enforcement centres.
#[derive(Debug, Parser)]
#[command(name = "liaison", version, about, after_long_help = EXIT_STATUS, propagate_version = true)]
pub struct Cli {
    /// How to reach the node.
    #[command(flatten)]
    pub api: officer::ApiArgs,
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
    /// Run the node daemon.
    #[command(subcommand)]
    Node(run::NodeCommand),
    /// Auditors' offline tools: verify a data dir, prove a message is logged, check a proof,
    /// check two checkpoints are consistent, export the log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// A local federation on loopback that shows the whole flow (PKI, real node processes,
    /// alert, request/reply, refusal, trails, log verification), then exits.
    Demo(demo::DemoArgs),
    /// Officer commands (talk to the running node's local API).
    #[command(flatten)]
    Officer(officer::OfficerCommand),
}

/// Runs a parsed command line that needs no async runtime; the exit code says whether the
/// command's answer was "yes". (`node run` is started by `main`, which owns the runtime.)
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Certs(cmd) => certs::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Officer(cmd) => officer::run(&cli.api, cmd),
        Command::Node(run::NodeCommand::Restore(args)) => {
            run::restore(cli.api.config.as_deref(), &args)
        }
        Command::Node(run::NodeCommand::Run(_)) => {
            Err(anyhow::anyhow!("`liaison node run` is run by main"))
        }
    }
}

/// Prints an error as `error: <message>` (or `refused: …` for a refused message) and, when
/// one is known, a hint on how to fix it; returns the exit status.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(e) = err.downcast_ref::<officer::ClientError>() {
        match e {
            officer::ClientError::Refused { .. } | officer::ClientError::Busy { .. } => {
                eprintln!("{e}")
            }
            _ => eprintln!("error: {e}"),
        }
        return ExitCode::from(e.exit_code());
    }
    eprintln!("error: {err:#}");
    if let Some(hint) = certs::hint(err) {
        eprintln!("hint: {hint}");
    }
    ExitCode::FAILURE
}
