//! `liaison audit …`: the auditor's offline tools over a copy of a node's data dir (or a
//! proof file), with only network CA certificates as trust input. Formats: `docs/AUDIT.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use liaison_node::audit::{self, ExportFilter, ProofFile};
use liaison_protocol::{MessageId, Timestamp, TrustStore};

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify everything in a data dir: every leaf, every checkpoint signature, every stored
    /// message's signature and chain, and that the node's checkpoints cover the whole log.
    /// Exit 0 only when everything holds.
    #[command(after_long_help = VERIFY_OUTCOMES)]
    Verify {
        /// The data dir (a copy, or that of a stopped node).
        #[arg(long)]
        data: PathBuf,
        /// A trusted network CA certificate (repeat for each network, and for each CA a
        /// network has had: a data dir keeps what was signed under a retired CA).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Accept log entries that no checkpoint signed by the node covers, and a
        /// checkpoint.note missing or behind the history, as a copy of a running node or a
        /// crashed node's data dir has them: print each as a warning instead of failing.
        /// What those entries say is then anchored to nothing the node signed.
        #[arg(long)]
        allow_uncovered: bool,
    },
    /// Write an inclusion proof of every log entry about a message, against the node's last
    /// checkpoint, to a small JSON file.
    Prove {
        /// The data dir.
        #[arg(long)]
        data: PathBuf,
        /// A trusted network CA certificate (repeat for each network, and for each CA a
        /// network has had: a data dir keeps what was signed under a retired CA).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// The message id (64 hex digits).
        #[arg(long)]
        id: String,
        /// Where to write the proof (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof file from `audit prove` without the log.
    CheckProof {
        /// The proof file.
        file: PathBuf,
        /// A trusted network CA certificate (repeat for each network, and for each CA a
        /// network has had: a data dir keeps what was signed under a retired CA).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// Print what the proof shows as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that the newer of two checkpoints extends the older one (nothing rewritten).
    Consistency {
        /// The older checkpoint note.
        #[arg(long)]
        old: PathBuf,
        /// The newer checkpoint note.
        #[arg(long)]
        new: PathBuf,
        /// The data dir whose log both sign.
        #[arg(long)]
        data: PathBuf,
        /// A trusted network CA certificate (repeat for each network, and for each CA a
        /// network has had: a data dir keeps what was signed under a retired CA).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// Also write the proof to this file (JSON: both notes, the node's certificates and
        /// the proof's hashes; docs/AUDIT.md §8), for a verifier without the data dir. Never
        /// overwrites a file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Export the log entries the last checkpoint covers, one record per event (no content),
    /// anchored to that checkpoint.
    Export {
        /// The data dir.
        #[arg(long)]
        data: PathBuf,
        /// A trusted network CA certificate (repeat for each network, and for each CA a
        /// network has had: a data dir keeps what was signed under a retired CA).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// From this time (RFC 3339, inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Until this time (RFC 3339, inclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only entries about messages of this case.
        #[arg(long)]
        case: Option<String>,
        /// Only entries naming this peer node.
        #[arg(long)]
        peer: Option<String>,
        /// Where to write (default: stdout for jsonl; required for csv, whose anchoring
        /// checkpoint goes to <out>.checkpoint).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// What `audit verify`'s outcomes mean, in `liaison audit verify --help`.
const VERIFY_OUTCOMES: &str = "\
Outcomes:
  OK: everything holds (exit 0)
      Every leaf decodes and states its position, every checkpoint opens with the node's
      key and matches the log, every stored message and kept receipt verifies, and the
      newest checkpoint the node signed covers every log entry. A node signs a checkpoint
      every interval and when it stops, so this is what a stopped node's data dir shows.
  OK: everything holds but the <n> warning(s) above (exit 0, only with --allow-uncovered)
      As above, except what a running or crashed node leaves: entries logged after its
      newest checkpoint, no checkpoint files at all, or checkpoint.note missing or older
      than the newest checkpoint in the history. No checkpoint signs the uncovered
      entries: they could have been added, altered or removed without a trace.
  FAILED: <n> problem(s); first: ... (exit 1)
      Something does not hold; the problems are listed (checkpoint files first, then by
      log entry). Without --allow-uncovered, each warning above is a problem, including
      'no checkpoint: checkpoint.note and checkpoints.jsonl are both missing'. A
      checkpoint.note newer than every checkpoint in the history (or with no history) is
      always a problem: the node writes the history first, so the history lost checkpoints.
  error: ... (exit 1)
      The data dir cannot be audited: no node certificate chaining to a given CA, or a
      journal damaged before its end.";

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line; the first line is the anchoring checkpoint.
    Jsonl,
    /// Comma-separated, with a header row; the checkpoint is written beside it.
    Csv,
}

fn trust(cas: &[PathBuf]) -> Result<TrustStore> {
    liaison_certs::load_trust(cas.iter().map(|c| (c.as_path(), None)))
        .context("--ca: cannot load the CA certificates")
}

fn time_arg(name: &str, s: Option<String>) -> Result<Option<Timestamp>> {
    s.map(|s| {
        let t = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                anyhow!("--{name} {s:?}: not an RFC 3339 time ({e}), e.g. 2026-11-29T08:00:00Z")
            })?;
        Ok(Timestamp(
            u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
        ))
    })
    .transpose()
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("cannot write {}", p.display()))
        }
        None => {
            std::io::stdout().write_all(bytes)?;
            Ok(())
        }
    }
}

/// Runs an `audit` subcommand; exit 1 when what was checked does not hold.
pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            data,
            cas,
            json,
            allow_uncovered,
        } => {
            let trust = trust(&cas)?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg:20} {bar:40} {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            // indicatif draws only on a terminal (stderr); elsewhere this is silent. Two
            // phases: reading the log (journal bytes), then verifying messages (count).
            let uncovered = if allow_uncovered {
                audit::Uncovered::Allow
            } else {
                audit::Uncovered::Refuse
            };
            let report = audit::verify(&data, &trust, uncovered, |phase, done, total| {
                bar.set_message(phase);
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            if json {
                let v = serde_json::json!({
                    "ok": report.ok(),
                    "node": report.node.as_ref().map(|n| n.to_string()),
                    "entries": report.entries,
                    "by_type": report.by_type,
                    "root": liaison_protocol::ids::hex(&report.root),
                    "checkpoints": report.checkpoints,
                    "checkpoint_size": report.checkpoint_size,
                    "cosignatures": report.cosignatures,
                    "unknown_signatures": report.unknown_signatures,
                    "messages_verified": report.messages_verified,
                    "answers_verified": report.answers_verified,
                    "purged": report.purged,
                    "torn_bytes": report.torn_bytes,
                    "uncovered_entries": report.uncovered_entries,
                    "warnings": report.warnings,
                    "problems": report.problems.iter().map(|p| serde_json::json!({"leaf": p.leaf, "what": p.what})).collect::<Vec<_>>(),
                });
                out!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let node = report
                    .node
                    .as_ref()
                    .map_or("?".to_owned(), |n| n.to_string());
                out!(
                    "log of {node}: {} entries, root {}",
                    report.entries,
                    liaison_protocol::ids::hex(&report.root)
                );
                let types: Vec<String> = report
                    .by_type
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                out!("  events: {}", types.join(", "));
                out!(
                    "  checkpoints: {} checked, newest covers {} entries; cosignatures verified: {}{}",
                    report.checkpoints,
                    report.checkpoint_size,
                    report.cosignatures,
                    if report.unknown_signatures > 0 {
                        format!(", {} by keys without a certificate here (not checked)", report.unknown_signatures)
                    } else {
                        String::new()
                    }
                );
                out!(
                    "  messages: {} verified (signature and certificate chain), {} purged; \
                     signed receipts and refusals: {} verified",
                    report.messages_verified,
                    report.purged,
                    report.answers_verified
                );
                if report.torn_bytes > 0 {
                    out!(
                        "  note: the last {} bytes of the journal are an incomplete batch (a write a crash \
                         interrupted; never acknowledged, not part of the log)",
                        report.torn_bytes
                    );
                }
                for w in &report.warnings {
                    out!("warning: {w}");
                }
                if let Some(first) = report.problems.first() {
                    out!(
                        "FAILED: {} problem(s); first: {first}",
                        report.problems.len()
                    );
                    for p in report.problems.iter().skip(1).take(19) {
                        out!("  also: {p}");
                    }
                } else if report.warnings.is_empty() {
                    out!("OK: everything holds");
                } else {
                    out!(
                        "OK: everything holds but the {} warning(s) above (accepted with --allow-uncovered)",
                        report.warnings.len()
                    );
                }
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Prove { data, cas, id, out } => {
            let id: MessageId = id.parse().map_err(|e| anyhow!("--id: {e}"))?;
            let proof = audit::prove(&data, &trust(&cas)?, &id)?;
            let mut text = serde_json::to_string_pretty(&proof)?;
            text.push('\n');
            write_out(out.as_deref(), text.as_bytes())?;
            if let Some(p) = out {
                eprintln!(
                    "wrote {} ({} bytes): {} entries about {id} against a checkpoint of {} entries",
                    p.display(),
                    text.len(),
                    proof.entries.len(),
                    liaison_node::store::checkpoint::size_of(&proof.checkpoint).unwrap_or(0)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::CheckProof { file, cas, json } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let proof: ProofFile = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{}: not a proof file: {e}", file.display()))?;
            let checked = audit::check_proof(&proof, &trust(&cas)?)?;
            if json {
                let v = serde_json::json!({
                    "ok": true,
                    "node": checked.node.to_string(),
                    "checkpoint_size": checked.size,
                    "entries": checked.entries.iter().map(|e| liaison_node::views::LogEntryView::of(e.index, e, None)).collect::<Vec<_>>(),
                });
                out!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                out!(
                    "OK: {} entries about message {} are in the log of {} (checkpoint of {} entries, signed by the node)",
                    checked.entries.len(),
                    proof.message,
                    checked.node,
                    checked.size
                );
                for e in &checked.entries {
                    out!("  entry {}: {} at {}", e.index, e.event.name(), e.at);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Consistency {
            old,
            new,
            data,
            cas,
            out,
        } => {
            let read = |p: &Path| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            };
            let proof = audit::consistency_file(&data, &trust(&cas)?, &read(&old)?, &read(&new)?)?;
            if let Some(path) = &out {
                let json = serde_json::to_string_pretty(&proof)?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .and_then(|mut f| {
                        use std::io::Write as _;
                        f.write_all(json.as_bytes())?;
                        f.write_all(b"\n")
                    })
                    .with_context(|| format!("cannot write the proof to {}", path.display()))?;
            }
            out!(
                "OK: {} extends {} (consistency proof of {} hashes{})",
                new.display(),
                old.display(),
                proof.hashes.len(),
                out.as_ref()
                    .map(|p| format!(", written to {}", p.display()))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            data,
            cas,
            format,
            from,
            to,
            case,
            peer,
            out,
        } => {
            let filter = ExportFilter {
                from: time_arg("from", from)?,
                to: time_arg("to", to)?,
                case: case
                    .map(|c| c.parse().map_err(|e| anyhow!("--case: {e}")))
                    .transpose()?,
                peer: peer
                    .map(|p| p.parse().map_err(|e| anyhow!("--peer: {e}")))
                    .transpose()?,
            };
            let (anchor, records) = audit::export(&data, &trust(&cas)?, &filter)?;
            let mut buf = Vec::new();
            match format {
                Format::Jsonl => {
                    serde_json::to_writer(&mut buf, &anchor)?;
                    buf.push(b'\n');
                    for r in &records {
                        serde_json::to_writer(&mut buf, r)?;
                        buf.push(b'\n');
                    }
                    write_out(out.as_deref(), &buf)?;
                }
                Format::Csv => {
                    let Some(out) = out else {
                        bail!("--format csv needs --out <file> (the anchoring checkpoint is written to <file>.checkpoint)");
                    };
                    let mut w = csv::Writer::from_writer(&mut buf);
                    for r in &records {
                        w.serialize(r)?;
                    }
                    w.flush()?;
                    drop(w);
                    write_out(Some(&out), &buf)?;
                    let cp = PathBuf::from(format!("{}.checkpoint", out.display()));
                    write_out(Some(&cp), anchor.note.as_bytes())?;
                }
            }
            eprintln!(
                "exported {} of {} entries (anchored to the checkpoint of {} entries)",
                records.len(),
                anchor.size,
                anchor.size
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
