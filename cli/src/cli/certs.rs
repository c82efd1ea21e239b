//! `liaison certs …`: the network PKI.
//!
//! A network operator runs `new-network` once, keeps the CA directory (and its `ca.key`)
//! offline, issues one certificate per node and per officer, revokes them when needed and
//! hands out the trust bundle (CA + CRL) to other networks' gateways. Rolling a network's CA
//! over is `new-network` again, for the same network into a new directory, and a
//! `trust-bundle` of both CAs (docs/OPERATIONS.md, "Rolling a network CA over"). File names:
//! nodes get `<centre>.<network>.crt/.key`, officers `<name>@<centre>.<network>.crt/.key`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use liaison_certs::ca::{self, DEFAULT_CA_DAYS, DEFAULT_CERT_DAYS};
use liaison_certs::console::{self, ConsoleHost};
use liaison_certs::revocation::{self, Reason};
use liaison_certs::{CertError, OfficerKey, Role, Validity};
use liaison_protocol::trust::CaFingerprint;
use time::{Duration, OffsetDateTime};

/// Default number of days a CRL stays current.
const DEFAULT_CRL_DAYS: u32 = revocation::CRL_VALIDITY.whole_days() as u32;

/// The `certs` subcommands.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create a network CA in <out>: ca.crt, ca.key (mode 0600) and an empty crl.pem.
    NewNetwork {
        /// Network name: 1-63 of a-z, 0-9 and '-' (e.g. central-asia).
        #[arg(long)]
        network: String,
        /// Directory for the CA (created with mode 0700 if missing).
        #[arg(long)]
        out: PathBuf,
        /// Days the CA certificate is valid.
        #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
        days: u32,
        /// Days the initial CRL stays current.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS)]
        crl_days: u32,
    },
    /// Issue a node certificate <centre>.<network>.crt/.key for TLS and message signing.
    IssueNode {
        /// The network CA directory (holding ca.crt and ca.key).
        #[arg(long)]
        ca: PathBuf,
        /// The centre running the node (e.g. caricc), or <centre>.<network>.
        #[arg(long)]
        node: String,
        /// Directory for the certificate and key (created with mode 0700 if missing).
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = DEFAULT_CERT_DAYS)]
        days: u32,
    },
    /// Renew a node or officer certificate this CA issued (expired or not, never a revoked
    /// one) in place: same subject, role and key; the old certificate is kept beside it as
    /// <cert>.<serial>.old and the key file is not touched. Restart the node to present it.
    Renew {
        /// The network CA directory (holding ca.crt, ca.key and crl.pem).
        #[arg(long)]
        ca: PathBuf,
        /// The certificate to renew (PEM), replaced by the new one.
        #[arg(long)]
        cert: PathBuf,
        /// Days the new certificate is valid.
        #[arg(long, default_value_t = DEFAULT_CERT_DAYS)]
        days: u32,
    },
    /// Issue an officer's client certificate <name>@<centre>.<network>.crt/.key for the local API.
    IssueOfficer {
        /// The network CA directory (holding ca.crt and ca.key).
        #[arg(long)]
        ca: PathBuf,
        /// The officer's centre (e.g. caricc), or <centre>.<network>.
        #[arg(long)]
        node: String,
        /// Officer name: 1-64 of a-z, 0-9, '.', '_' and '-' (e.g. a.karimova).
        #[arg(long)]
        officer: String,
        /// officer, supervisor or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Key type: p256 (ECDSA P-256, usable in browsers) or ed25519 (scripts only).
        #[arg(long, value_parser = parse_officer_key, default_value = "p256")]
        key: OfficerKey,
        /// Directory for the certificate and key (created with mode 0700 if missing).
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = DEFAULT_CERT_DAYS)]
        days: u32,
    },
    /// Create the console's HTTPS certificate (api.tls_cert/api.tls_key), which browsers
    /// accept: <node>.console.crt/.key (ECDSA P-256) and <node>.console-ca.crt, the CA that
    /// signed it, for officers' browsers to trust. The CA's key is used once and never written.
    ConsoleTls {
        /// The node whose console it is (<centre>.<network>).
        #[arg(long)]
        node: String,
        /// A host name or IP address officers open the console at (repeat for several;
        /// the certificate and its CA are valid for these only).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Directory for the files (created with mode 0700 if missing).
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = DEFAULT_CERT_DAYS)]
        days: u32,
    },
    /// Revoke a certificate issued by the CA: add it to the CA's crl.pem.
    Revoke {
        /// The network CA directory.
        #[arg(long)]
        ca: PathBuf,
        /// The certificate to revoke (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// unspecified, keyCompromise, caCompromise, affiliationChanged, superseded,
        /// cessationOfOperation or privilegeWithdrawn (kebab-case works too).
        #[arg(long, value_parser = parse_reason, default_value = "unspecified")]
        reason: Reason,
        /// Days the new CRL stays current.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS)]
        crl_days: u32,
    },
    /// Re-sign the CA's crl.pem with fresh dates, keeping its entries (do this before it goes stale).
    RefreshCrl {
        /// The network CA directory.
        #[arg(long)]
        ca: PathBuf,
        /// Days the new CRL stays current.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS)]
        crl_days: u32,
    },
    /// Check a node or officer certificate against a CA: chain, validity, revocation.
    /// Exits 0 only if it is valid now.
    Verify {
        /// The network CA directory (ca.crt and crl.pem; the key is not needed).
        #[arg(long)]
        ca: PathBuf,
        /// The certificate to check (PEM).
        #[arg(long)]
        cert: PathBuf,
    },
    /// Export the network's CA certificate and CRL as one PEM file for other networks' gateways.
    /// During a CA rollover give --ca twice (the old CA's directory and the new one's): the
    /// bundle then carries both, each with its CRL, for every node to trust both.
    TrustBundle {
        /// The network CA directory (repeat for each CA of the network to carry).
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        /// The bundle file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a federation's deconfliction key (32 random bytes as hex, mode 0600). Give it,
    /// out of band, to every centre that submits selectors (`deconfliction.key_file`), never
    /// to the node that runs the deconfliction service.
    DeconflictionKey {
        /// The key file to create (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: CertError| e.to_string())
}

fn parse_officer_key(s: &str) -> Result<OfficerKey, String> {
    s.parse().map_err(|e: CertError| e.to_string())
}

fn parse_reason(s: &str) -> Result<Reason, String> {
    s.parse().map_err(|e: CertError| e.to_string())
}

fn crl_validity(days: u32) -> anyhow::Result<Duration> {
    anyhow::ensure!(days >= 1, "--crl-days must be at least 1");
    Ok(Duration::days(i64::from(days)))
}

fn when(t: OffsetDateTime) -> String {
    liaison_certs::timestamp(t).to_string()
}

/// Runs one `certs` subcommand.
pub fn run(cmd: CertsCommand) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        CertsCommand::NewNetwork {
            network,
            out,
            days,
            crl_days,
        } => new_network(&network, &out, days, crl_days, now),
        CertsCommand::IssueNode {
            ca,
            node,
            out,
            days,
        } => {
            let validity = Validity::days_from(now, days)?;
            let files = ca::issue_node_files(&ca, &node, &out, validity)
                .with_context(|| format!("cannot issue a node certificate for {node:?}"))?;
            out!(
                "issued node certificate for {} (serial {}, expires {})",
                files.subject,
                files.serial,
                when(files.not_after)
            );
            print_files(&files.cert_path, &files.key_path);
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Renew { ca, cert, days } => {
            let validity = Validity::days_from(now, days)?;
            let renewed = ca::renew_file(&ca, &cert, validity)
                .with_context(|| format!("cannot renew {}", cert.display()))?;
            out!(
                "renewed the certificate of {} (serial {} replaces {}, expires {}); the key is \
                 unchanged: restart the node (or officer's client) to present it",
                renewed.subject,
                renewed.serial,
                renewed.replaced_serial,
                when(renewed.validity.not_after())
            );
            out!("  {}", cert.display());
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::IssueOfficer {
            ca,
            node,
            officer,
            role,
            key,
            out,
            days,
        } => {
            let validity = Validity::days_from(now, days)?;
            let files = ca::issue_officer_files(&ca, &node, &officer, role, key, &out, validity)
                .with_context(|| format!("cannot issue an officer certificate for {officer:?}"))?;
            out!(
                "issued {role} certificate for {} ({} key, serial {}, expires {})",
                files.subject,
                key.as_str(),
                files.serial,
                when(files.not_after)
            );
            print_files(&files.cert_path, &files.key_path);
            if key == OfficerKey::P256 {
                out!(
                    "  for a browser: openssl pkcs12 -export -in {} -inkey {} -out officer.p12",
                    files.cert_path.display(),
                    files.key_path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::ConsoleTls {
            node,
            hosts,
            out,
            days,
        } => {
            let node: liaison_protocol::NodeId = node.parse().map_err(|e| {
                anyhow::anyhow!("--node {node:?}: {e} (expected <centre>.<network>)")
            })?;
            let hosts = hosts
                .iter()
                .map(|h| h.parse::<ConsoleHost>())
                .collect::<Result<Vec<_>, _>>()?;
            let validity = Validity::days_from(now, days)?;
            let files = console::create_files(&node, &hosts, &out, validity)
                .with_context(|| format!("cannot create the console certificate of {node}"))?;
            let names: Vec<String> = files.hosts.iter().map(ToString::to_string).collect();
            out!(
                "created the console certificate of {node} for {} (ECDSA P-256, expires {})",
                names.join(", "),
                when(files.not_after)
            );
            print_files(&files.cert_path, &files.key_path);
            out!("  console CA   {}", files.ca_path.display());
            out!("  CA fingerprint (SHA-256): {}", files.ca_fingerprint);
            out!("  set api.tls_cert and api.tls_key to the certificate and key; officers' browsers trust the console CA (its key is gone: it certifies nothing else)");
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Revoke {
            ca,
            cert,
            reason,
            crl_days,
        } => {
            let r = revocation::revoke(&ca, &cert, reason, now, crl_validity(crl_days)?)
                .with_context(|| format!("cannot revoke {}", cert.display()))?;
            out!(
                "revoked {} (serial {}, reason {}); {} is now CRL number {}",
                r.subject,
                r.serial,
                r.reason,
                r.crl_path.display(),
                r.crl_number
            );
            out!("  distribute the new crl.pem (or a new trust bundle) to every node");
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::RefreshCrl { ca, crl_days } => {
            let validity = crl_validity(crl_days)?;
            let crl = revocation::refresh(&ca, now, validity)
                .with_context(|| format!("cannot refresh the CRL in {}", ca.display()))?;
            out!(
                "re-signed {} as CRL number {}, current until {}",
                ca.join(ca::CRL_FILE).display(),
                crl.number,
                when(now + validity)
            );
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Verify { ca, cert } => verify(&ca, &cert, now),
        CertsCommand::DeconflictionKey { out } => {
            use ring::rand::{SecureRandom, SystemRandom};
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            SystemRandom::new()
                .fill(&mut key[..])
                .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
            let hex =
                zeroize::Zeroizing::new(format!("{}\n", liaison_protocol::ids::hex(&key[..])));
            liaison_certs::load::write_new_files(&[liaison_certs::load::NewFile {
                path: out.clone(),
                contents: hex.as_bytes().to_vec().into(),
                secret: true,
            }])
            .with_context(|| format!("cannot write {}", out.display()))?;
            out!("wrote a deconfliction key to {} (mode 0600)", out.display());
            out!("  give it out of band to every centre that submits selectors; never to the service node");
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::TrustBundle { cas, out } => {
            let dirs: Vec<&Path> = cas.iter().map(PathBuf::as_path).collect();
            let names: Vec<String> = cas.iter().map(|c| c.display().to_string()).collect();
            let bundle = liaison_certs::write_trust_bundle(&dirs, &out).with_context(|| {
                format!("cannot write the trust bundle of {}", names.join(" and "))
            })?;
            let count = match bundle.cas.len() {
                1 => String::new(),
                n => format!(" ({n} CAs)"),
            };
            out!(
                "wrote trust bundle of network {}{count} to {}",
                bundle.network,
                out.display()
            );
            for fingerprint in bundle.ca_fingerprints() {
                out!("  CA fingerprint (SHA-256): {fingerprint}");
            }
            out!("  importers should confirm the fingerprints with you out of band");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_files(cert: &Path, key: &Path) {
    out!("  certificate  {}", cert.display());
    out!("  private key  {} (mode 0600)", key.display());
}

fn new_network(
    network: &str,
    out: &Path,
    days: u32,
    crl_days: u32,
    now: OffsetDateTime,
) -> anyhow::Result<ExitCode> {
    let network = ca::parse_network(network).context("cannot create the network CA")?;
    let validity = Validity::days_from(now, days)?;
    let files = ca::create_network(&network, out, validity, now, crl_validity(crl_days)?)
        .with_context(|| format!("cannot create the network CA in {}", out.display()))?;
    let fingerprint = CaFingerprint::of(&liaison_certs::load::read_cert(&files.cert_path)?);
    out!(
        "created network CA for {} (serial {}, expires {})",
        files.network,
        files.serial,
        when(files.not_after)
    );
    out!("  certificate  {}", files.cert_path.display());
    out!(
        "  private key  {} (mode 0600: keep it offline and backed up)",
        files.key_path.display()
    );
    out!("  CRL          {} (empty)", files.crl_path.display());
    out!("  CA fingerprint (SHA-256): {fingerprint}");
    out!(
        "next: liaison certs issue-node --ca {} --node <centre> --out <dir>",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(ca_dir: &Path, cert_path: &Path, now: OffsetDateTime) -> anyhow::Result<ExitCode> {
    let trust = liaison_certs::load_trust([(
        ca_dir.join(ca::CA_CERT_FILE).as_path(),
        Some(ca_dir.join(ca::CRL_FILE).as_path()),
    )])
    .with_context(|| format!("cannot load the CA and CRL from {}", ca_dir.display()))?;
    warn_if_crl_stale(&trust, now);
    let cert = liaison_certs::load::read_cert(cert_path).context("cannot read the certificate")?;
    match liaison_certs::check_cert(&trust, &cert, liaison_certs::timestamp(now)) {
        Ok(identity) => {
            out!("valid: {identity}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            out!("invalid: {}: {e}", e.reason_code());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Warns when a CRL is past its `nextUpdate`: OpenSSL-based relying parties then refuse
/// every certificate of the network, although Liaison itself still uses the CRL.
fn warn_if_crl_stale(trust: &liaison_protocol::TrustStore, now: OffsetDateTime) {
    for ca in trust.cas() {
        let (network, Some(crl)) = (ca.network(), ca.crl_der()) else {
            continue;
        };
        if let Ok(contents) = revocation::read_crl(ca.ca_der(), crl) {
            if let Some(next) = contents.next_update.filter(|next| *next < now) {
                eprintln!(
                    "warning: the {network} CRL was due to be re-issued at {}; \
                     run `liaison certs refresh-crl` and distribute it",
                    when(next)
                );
            }
        }
    }
}

/// A hint on how to fix the first PKI error in `err`'s chain, if there is one.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let cert_err = err.chain().find_map(|e| e.downcast_ref::<CertError>())?;
    Some(match cert_err.reason_code() {
        "file-exists" => {
            "liaison never overwrites certificates or keys: move the existing file away or \
             choose another --out"
        }
        "missing-file" => {
            "check the path; --ca takes the directory made by `liaison certs new-network` \
             (holding ca.crt, ca.key and crl.pem)"
        }
        "missing-key" => {
            "issuing and revoking need the CA's private key ca.key: run this where the CA key \
             is kept, with --ca pointing at that directory"
        }
        "malformed-pem" => "the file must be PEM as written by `liaison certs` (-----BEGIN …-----)",
        "key-mismatch" => {
            "ca.key must be the key of ca.crt in the same directory: restore the matching pair \
             from backup"
        }
        "not-network-ca" => {
            "--ca must be a network CA directory made by `liaison certs new-network`"
        }
        "wrong-ca" => "use the CA directory of the network that issued the certificate",
        "already-revoked" => "nothing to do: the certificate is already on the CA's crl.pem",
        "invalid-name" => {
            "network and centre names are 1-63 characters of a-z, 0-9 and '-', not starting or \
             ending with '-'; officer names may also contain '.' and '_'"
        }
        "wrong-network" => {
            "--node takes the centre alone (e.g. caricc) or <centre>.<network> in the CA's network"
        }
        "invalid-validity" if cert_err.to_string().contains("at least 1") => {
            "give --days a whole number of days of 1 or more"
        }
        "invalid-validity" => {
            "a certificate cannot outlive its CA: choose a smaller --days, or create a new CA"
        }
        "duplicate-ca" => {
            "give each CA once; during a CA rollover the old CA and the new one are two \
             different CAs, each given once"
        }
        "malformed-bundle" => {
            "a trust bundle holds one network's CAs, each followed by its CRL, as \
             `liaison certs trust-bundle` writes it"
        }
        "bad-crl" => {
            "crl.pem does not verify with this CA: restore it from backup (never edit it by hand)"
        }
        "bad-key" => "the key must be the PKCS#8 PEM key issued together with the certificate",
        "revoked-certificate" => {
            "a revoked certificate is never renewed: its key may be compromised; issue a new \
             certificate (with a new key) with `liaison certs issue-node` or `issue-officer`"
        }
        "io" => "check that the directory exists and that you may write to it",
        _ => return None,
    })
}
