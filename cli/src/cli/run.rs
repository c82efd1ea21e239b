//! `liaison node run`: the daemon, as a thin shell (STYLE 12): load and validate the
//! configuration → tracing with `EnvFilter` → the open-file limit raised
//! ([`liaison_node::fd_limit`]) → the ring crypto provider → [`Node::start`] →
//! wait for SIGTERM or Ctrl-C → [`Node::shutdown`] → exit 0. And `liaison node restore`, which
//! puts a backup back as the data dir of a stopped node.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use liaison_node::config::{Config, LogFormat};
use liaison_node::node::{Node, StartOptions};
use tracing_subscriber::EnvFilter;

/// The `node` subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Run the node daemon until SIGTERM or Ctrl-C (needs --config <node.toml>).
    Run(RunArgs),
    /// Put a backup (`liaison backup --out DIR`) back as the node's data dir, the node
    /// stopped (needs --config <node.toml>). The copy is verified first; a data dir that
    /// logged more than the copy holds is refused, since its witnesses would see the log
    /// rolled back. What was there is moved aside, never deleted.
    Restore(RestoreArgs),
}

/// `liaison node restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup's directory.
    #[arg(long)]
    pub from: PathBuf,
    /// Restore even over a data dir that logged more than the copy holds (or whose log
    /// cannot be read): its witnesses will raise `inconsistent-checkpoint`, by design.
    #[arg(long)]
    pub accept_rollback: bool,
}

/// `liaison node restore`: checks the backup (its node, its log, its place against the data
/// dir) and puts it in place of the data dir.
pub fn restore(config: Option<&Path>, args: &RestoreArgs) -> Result<ExitCode> {
    use liaison_store::backup::{compare, read_manifest, Against};
    let path = config.ok_or_else(|| {
        anyhow!("liaison node restore needs --config <node.toml> (or LIAISON_CONFIG)")
    })?;
    let cfg = Config::load(path)?;
    let manifest = read_manifest(&args.from)?;
    if manifest.node != cfg.node_id.as_str() {
        bail!(
            "{} is a backup of {}, not of {} (the node of {})",
            args.from.display(),
            manifest.node,
            cfg.node_id,
            path.display()
        );
    }
    let trust = liaison_certs::load::load_trust_sources(cfg.trust.iter().map(|t| t.source()))
        .context("the configuration's trust cannot be loaded")?;
    let report = liaison_audit::verify(
        &args.from,
        &trust,
        liaison_audit::Uncovered::Refuse,
        |_, _, _| {},
    )?;
    if !report.ok() {
        let problems: Vec<String> = report.problems.iter().map(|p| p.what.clone()).collect();
        bail!(
            "the backup in {} does not verify ({}); it is not restored",
            args.from.display(),
            problems.join("; ")
        );
    }
    let data = &cfg.data_dir;
    let against = compare(&manifest, data);
    let refusal = match &against {
        Against::Empty | Against::NotAhead { .. } => None,
        Against::Ahead { size, cosigners } => Some(format!(
            "the data dir {} signed a checkpoint over {size} log entries and the backup holds {}: \
             restoring would roll its log back{}; those witnesses would raise \
             inconsistent-checkpoint",
            data.display(),
            manifest.log_size,
            if cosigners.is_empty() {
                String::new()
            } else {
                format!(" below what {} cosigned", cosigners.join(", "))
            }
        )),
        Against::Diverged { size } => Some(format!(
            "the data dir {} holds another log of the same size ({size} entries, another root)",
            data.display()
        )),
        Against::Unknown => Some(format!(
            "the data dir {} has a log but no readable checkpoint: what it held cannot be told",
            data.display()
        )),
    };
    if let Some(why) = refusal {
        if !args.accept_rollback {
            bail!("not restored: {why}; pass --accept-rollback to restore anyway (docs/OPERATIONS.md §6)");
        }
        eprintln!("warning: {why}; restoring as --accept-rollback asks");
    }
    let aside = liaison_store::backup::restore(&args.from, data)?;
    println!(
        "restored {} from {}: {} log entries under the checkpoint of size {}",
        manifest.node,
        args.from.display(),
        report.entries,
        report.checkpoint_size
    );
    if let Some(aside) = aside {
        println!("the former data dir is kept in {}", aside.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `liaison node run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Structured logs as one JSON object per line (overrides log_format).
    #[arg(long)]
    pub log_json: bool,
    /// Start although neither checkpoint.note nor checkpoints.jsonl exists beside a
    /// non-empty log (normally refused: without them a rolled-back store cannot be told
    /// apart). Use it only once you know why they are gone; the node records in its log
    /// that it was started this way, and signs a new checkpoint at once.
    #[arg(long)]
    pub accept_missing_checkpoints: bool,
}

/// Loads the configuration and sets up logging; errors name the file or key at fault.
/// Runs before the async runtime exists.
pub fn prepare(config: Option<&Path>, args: &RunArgs) -> Result<Config> {
    let path = config.ok_or_else(|| {
        anyhow!("liaison node run needs --config <node.toml> (or LIAISON_CONFIG); see deploy/node.example.toml")
    })?;
    let cfg = Config::load(path)?;
    // RUST_LOG, when set, overrides log_level for a one-off debugging session.
    let filter = match std::env::var("RUST_LOG") {
        Ok(directive) if !directive.is_empty() => EnvFilter::try_new(&directive)
            .with_context(|| format!("RUST_LOG: invalid filter {directive:?}"))?,
        _ => EnvFilter::try_new(&cfg.log_level).with_context(|| {
            format!(
                "log_level: invalid filter {:?} in {}",
                cfg.log_level,
                path.display()
            )
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = if args.log_json || cfg.log_format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| anyhow!("cannot set up logging: {e}"))?;
    // Descriptors for the store, QUIC and the officer API (which sizes its connection cap
    // from what this leaves): as many as the hard limit allows.
    match liaison_node::fd_limit::raise() {
        Ok(r) if r.after != r.before => {
            tracing::info!(from = ?r.before, to = ?r.after, "raised the open-file limit")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit; keeping it"),
    }
    // The process-wide default, for any library that asks for one; Liaison's own TLS
    // configurations name the ring provider explicitly. Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(cfg)
}

/// Runs the node until SIGTERM or Ctrl-C, then shuts it down in order.
pub async fn run(cfg: Config, args: &RunArgs) -> Result<()> {
    let opts = StartOptions {
        accept_missing_checkpoints: args.accept_missing_checkpoints,
        ..Default::default()
    };
    let node = Node::start_with(cfg, opts).await?;
    let signal = wait_for_signal().await;
    match &signal {
        Ok(name) => tracing::info!(signal = name, "stopping"),
        Err(e) => tracing::error!(error = %e, "cannot wait for signals; stopping"),
    }
    node.shutdown().await?;
    tracing::info!("stopped");
    signal.map(|_| ())
}

async fn wait_for_signal() -> Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = term.recv() => Ok("SIGTERM"),
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").context("cannot listen for Ctrl-C"),
    }
}
