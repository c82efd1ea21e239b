//! The `liaison` binary: the node daemon, the PKI tools and the officer CLI.
//!
//! `main` stays thin: parse the command line, run the chosen command (only `node run` gets
//! an async runtime: a multi-thread tokio runtime built here), and turn any error into
//! `error: …` plus a hint on stderr and a non-zero exit status (see `liaison --help`).
#![forbid(unsafe_code)]
// Doc comments in this binary are clap's help text, where `<placeholder>` is the convention.
#![allow(rustdoc::invalid_html_tags)]

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Node(cli::run::NodeCommand::Run(run)) => {
            node_run(args.api.config.as_deref(), &run)
        }
        _ => cli::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => cli::report(&err),
    }
}

fn node_run(
    config: Option<&std::path::Path>,
    args: &cli::run::RunArgs,
) -> anyhow::Result<ExitCode> {
    let cfg = cli::run::prepare(config, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("liaison")
        .build()?;
    runtime.block_on(cli::run::run(cfg, args))?;
    Ok(ExitCode::SUCCESS)
}
