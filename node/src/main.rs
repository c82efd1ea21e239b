//! The `liaison` binary: the node daemon and its operator CLI.
//!
//! `main` stays thin: parse the command line, run the chosen command, and turn any error
//! into `error: …` plus a hint on stderr and a non-zero exit status.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            cli::report(&err);
            ExitCode::FAILURE
        }
    }
}
