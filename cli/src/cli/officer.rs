//! The officer commands: `send`, `inbox`, `show`, `ack`, `trail`, `status`, `peers`, `log`,
//! `checkpoint` — thin clients of the node's local API (`docs/openapi.yaml`) over plain
//! HTTP on loopback, authenticated with the node's API token.
//!
//! Finding the node: `--config <node.toml>` (or `LIAISON_CONFIG`) reads `api.listen` and
//! `api.token_file` from the node's configuration; `--api <addr> --token-file <path>` names
//! them directly and overrides it. Every read command takes `--json` to print the API's
//! JSON instead of the human table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use liaison_node::api::{ConsentRequestAnswer, NodesRequest, PurgeRequest};
use liaison_node::views::{
    Acked, AlarmView, Cleared, EventView, Facts, InboxPage, LogEntryView, LogPage, MessageView,
    PeerView, Peers, PurgeReport, ScrubView, SentView, StatusView, Trail,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// Exit status of a command that ran but whose answer was "no" or that failed.
pub const EXIT_ERROR: u8 = 1;
/// Exit status of a message the node refused (handling rules, no route, invalid).
pub const EXIT_REFUSED: u8 = 3;
/// Exit status of a message the node cannot take now (`outbox-full`): send it again later.
pub const EXIT_BUSY: u8 = 5;

/// How to reach the node's API; global options.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The node's configuration file: api.listen and api.token_file are read from it
    /// (also `liaison node run` takes it).
    #[arg(
        long,
        global = true,
        env = "LIAISON_CONFIG",
        value_name = "NODE.TOML",
        help_heading = "Finding the node"
    )]
    pub config: Option<PathBuf>,
    /// The API address (overrides api.listen from --config), e.g. 127.0.0.1:7443.
    #[arg(
        long,
        global = true,
        env = "LIAISON_API",
        value_name = "ADDR",
        help_heading = "Finding the node"
    )]
    pub api: Option<SocketAddr>,
    /// The API token file (overrides api.token_file from --config).
    #[arg(
        long,
        global = true,
        env = "LIAISON_TOKEN_FILE",
        value_name = "PATH",
        help_heading = "Finding the node"
    )]
    pub token_file: Option<PathBuf>,
}

/// `--json`, on every read command.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// Print the API's JSON instead of the human view.
    #[arg(long)]
    pub json: bool,
}

/// `liaison consent …`.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Ask the originator of a message you received for consent to share it with `--to`.
    Request {
        /// Message id (64 hex digits, or a unique prefix of an inbox message's id).
        id: String,
        /// Node to share it with (repeat for several).
        #[arg(long, required = true)]
        to: Vec<String>,
        /// Why (shown to the originator's officer; sealed to the originator like any content).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Grant a consent request about a message this centre originated.
    Grant {
        /// The consent request's id (from the inbox).
        id: String,
        /// The grant expires this many seconds from now (default: no expiry).
        #[arg(long)]
        expires_in: Option<u64>,
        /// A note to the requester (not sealed: gateways and later recipients check grants,
        /// so they read it too; no case content here).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Deny a consent request.
    Deny {
        /// The consent request's id (from the inbox).
        id: String,
        /// A note to the requester (not sealed: the gateways on the way read it; no case
        /// content here).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
}

/// The officer commands.
#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Send a message; prints its id.
    Send(Box<SendArgs>),
    /// List delivered messages: unread first, TLP label first on each line.
    Inbox {
        /// Only messages not yet acknowledged.
        #[arg(long)]
        unread: bool,
        /// Most messages to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// First inbox position to list.
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[command(flatten)]
        out: Output,
    },
    /// Show a message: handling, content and state.
    Show {
        /// Message id (64 hex digits, or a unique prefix of an inbox message's id).
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Acknowledge (mark read) a delivered message; logged with who did it.
    Ack {
        /// Message id (64 hex digits, or a unique prefix of an inbox message's id).
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Third-party consent (H2): ask an originator, or answer a request as the originator.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Shared cases: open, invite, accept or decline, post updates and tasks, close; show
    /// and list what this centre takes part in.
    #[command(subcommand)]
    Case(super::case::CaseCommand),
    /// Share a message you received with further nodes, under its originator's consent
    /// (an originator-controlled message needs a grant; the originator re-seals the content).
    Share {
        /// Message id (64 hex digits, or a unique prefix of an inbox message's id).
        id: String,
        /// Node to share it with (repeat for several).
        #[arg(long, required = true)]
        to: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Show a message's delivery trail: every log entry about it and every hop's receipt.
    Trail {
        /// Message id (64 hex digits, or a unique prefix of an inbox message's id).
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Node status: peers up/down, outbox depth per peer, log size, last checkpoint.
    Status {
        #[command(flatten)]
        out: Output,
    },
    /// Peer sessions and their outboxes.
    Peers {
        #[command(flatten)]
        out: Output,
    },
    /// Read the event log (auditors and supervisors).
    Log {
        /// First log index.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        out: Output,
    },
    /// Print the node's latest signed checkpoint (C2SP signed note).
    Checkpoint,
    /// The node's alarms (supervisor role to clear them).
    #[command(subcommand)]
    Alarms(AlarmsCommand),
    /// The node's store (supervisor role).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Copy the running node's whole data dir into a new directory (supervisor role): a
    /// consistent copy under a checkpoint signed for it, which `liaison audit verify` checks
    /// and `liaison node restore` puts back. It holds the node's sealing key: keep it as the
    /// data dir is kept.
    Backup {
        /// The directory to create for the copy (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete the message bodies the retention policy says are due (supervisor role). Each
    /// gets a `purged` log entry; every log entry and proof stays.
    Purge {
        /// Only list what is due.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// `liaison alarms …`.
#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// List the alarms (as `liaison status` shows them).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Clear every alarm once dealt with; the node logs who cleared what.
    Clear {
        #[command(flatten)]
        out: Output,
    },
}

/// `liaison store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check every stored message against its id, signature and the journal's checksums now
    /// (the node also does this once after every start); damaged messages are marked and
    /// alarmed. Exit status 4 if anything is damaged.
    Scrub {
        #[command(flatten)]
        out: Output,
    },
}

/// The kinds an officer sends with `liaison send`: those the node lets officers compose
/// ([`liaison_node::kinds::composed_by_officers`]).
fn officer_kinds() -> clap::builder::PossibleValuesParser {
    use liaison_protocol::message::ContentKind;
    clap::builder::PossibleValuesParser::new(
        ContentKind::ALL
            .into_iter()
            .filter(|k| liaison_node::kinds::composed_by_officers(*k))
            .map(|k| clap::builder::PossibleValue::new(k.as_str())),
    )
}

/// `liaison send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Recipients: node ids (caricc.central-asia) or network:NAME, comma-separated.
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    pub to: Vec<String>,
    /// Kind of message.
    #[arg(long, default_value = "alert", value_parser = officer_kinds())]
    pub kind: String,
    /// TLP level: CLEAR, GREEN, AMBER, AMBER+STRICT or RED.
    #[arg(long)]
    pub tlp: String,
    /// Who may receive it: network:NAME, centre:NAME or node ids, comma-separated
    /// (default: the recipients).
    #[arg(long, value_delimiter = ',')]
    pub release: Vec<String>,
    /// 4x4 evaluation: source A/B/C/X, information 1-4, e.g. B2.
    #[arg(long)]
    pub eval: String,
    /// The text (`-` reads it from standard input).
    #[arg(long)]
    pub text: String,
    /// Language of the text (BCP 47), e.g. en, ru, ar.
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// An entity as type=value (phone, email, container, passport, document, person,
    /// organisation, plate, vin, imo, mmsi, flight, wallet, location); repeatable.
    #[arg(long = "entity", value_name = "TYPE=VALUE", value_parser = check_entity)]
    pub entities: Vec<String>,
    /// Case id, e.g. CARICC-2026-0042.
    #[arg(long)]
    pub case: Option<String>,
    /// The message this replies to or retracts (64 hex digits).
    #[arg(long)]
    pub in_reply_to: Option<String>,
    /// Urgency of a request (reply deadline 8 hours, 3 days or 7 days).
    #[arg(long, value_parser = ["urgent", "three-days", "seven-days"])]
    pub urgency: Option<String>,
    /// Originator control (EU H2): no onward sharing without consent.
    #[arg(long)]
    pub originator_control: bool,
    /// EU H0: use only to prevent and combat crime.
    #[arg(long)]
    pub h0: bool,
    /// EU H1: not for judicial proceedings without permission.
    #[arg(long)]
    pub h1: bool,
    /// EU H3: other restrictions, free text.
    #[arg(long, value_name = "TEXT")]
    pub h3: Option<String>,
    /// Expiry, in seconds after now: relays refuse to forward it later.
    #[arg(long, value_name = "SECS")]
    pub expires_in: Option<u64>,
    #[command(flatten)]
    pub out: Output,
}

fn check_entity(s: &str) -> Result<String, String> {
    liaison_node::compose::parse_entity(s).map(|_| s.to_owned())
}

/// A failure talking to the node, with what to do about it in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing listens at the API address.
    #[error("node not running at {addr} — start it with `liaison node run --config {}`", config.as_deref().map_or("<node.toml>".into(), |p| p.display().to_string()))]
    NotRunning {
        /// The API address tried.
        addr: SocketAddr,
        /// The configuration file, if known.
        config: Option<PathBuf>,
    },
    /// The node did not accept the token (401).
    #[error("the node refused the API token from {}: {detail} — use this node's token file (--config <node.toml> or --token-file <path>)", token_file.display())]
    Unauthenticated {
        /// The token file used.
        token_file: PathBuf,
        /// The node's explanation.
        detail: String,
    },
    /// The caller's role may not do this (403).
    #[error("not allowed: {detail}")]
    Forbidden {
        /// The node's explanation.
        detail: String,
    },
    /// The node cannot take the message now (503 `outbox-full`): nothing was sent.
    #[error("refused for now: {reason_code}: {detail}{}", .retry_after.map(|s| format!(" (try again in {s} s)")).unwrap_or_default())]
    Busy {
        /// The reason code.
        reason_code: String,
        /// The node's explanation: what waits, for whom, since when.
        detail: String,
        /// Seconds to wait (`Retry-After`).
        retry_after: Option<u64>,
    },
    /// The node refused the message (422).
    #[error("refused: {reason_code}: {}", without_code(reason_code, detail))]
    Refused {
        /// The refusal's reason code.
        reason_code: String,
        /// The node's explanation.
        detail: String,
    },
    /// Any other error answer.
    #[error("{reason_code}: {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The reason code.
        reason_code: String,
        /// The node's explanation.
        detail: String,
    },
}

impl ClientError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused { .. } => EXIT_REFUSED,
            Self::Busy { .. } => EXIT_BUSY,
            _ => EXIT_ERROR,
        }
    }
}

/// `detail` without the words that restate `code` (`invalid handling: …` after
/// `invalid-handling`), which the node's explanation starts with after any context.
fn without_code<'a>(code: &str, detail: &'a str) -> std::borrow::Cow<'a, str> {
    let words = format!("{}: ", code.replace('-', " "));
    match detail.find(&words) {
        Some(at) => format!("{}{}", &detail[..at], &detail[at + words.len()..]).into(),
        None => detail.into(),
    }
}

/// A client of a node's local API (token listener), used by the officer commands and by
/// `liaison demo`. Paths are relative to `/v1` (e.g. `/status`).
pub struct Client {
    agent: ureq::Agent,
    addr: SocketAddr,
    token: Zeroizing<String>,
    token_file: PathBuf,
    config: Option<PathBuf>,
}

/// `api.listen` and `api.token_file` from a node configuration, resolved as the node
/// resolves them (`data_dir` against the file's directory, `token_file` against `data_dir`).
/// Only these keys are read, so an officer who may not read the node's key can still use it.
fn api_from_config(path: &Path) -> Result<(SocketAddr, PathBuf)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the node configuration {}", path.display()))?;
    let doc: toml::Table = toml::from_str(&text)
        .with_context(|| format!("invalid configuration in {}", path.display()))?;
    let key = |k: &str| anyhow!("{}: missing or invalid key {k}", path.display());
    let base = path.parent().unwrap_or(Path::new("."));
    let data_dir = base.join(
        doc.get("data_dir")
            .and_then(|v| v.as_str())
            .ok_or_else(|| key("data_dir"))?,
    );
    let api = doc
        .get("api")
        .and_then(|v| v.as_table())
        .ok_or_else(|| key("[api]"))?;
    let listen: SocketAddr = api
        .get("listen")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| key("api.listen"))?;
    let token_file = match api.get("token_file") {
        Some(v) => data_dir.join(v.as_str().ok_or_else(|| key("api.token_file"))?),
        None => data_dir.join("api.token"),
    };
    Ok((listen, token_file))
}

/// Whether something accepts TCP connections at `addr`.
fn listening(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

impl Client {
    /// A client of the API at `addr`, authenticating with the token in `token_file`.
    #[allow(dead_code)] // for `liaison demo` (cli/demo.rs), wired into the CLI separately
    pub fn connect(addr: SocketAddr, token_file: &Path) -> Result<Self> {
        Self::new(&ApiArgs {
            config: None,
            api: Some(addr),
            token_file: Some(token_file.to_owned()),
        })
    }

    fn new(args: &ApiArgs) -> Result<Self> {
        let from_config = args.config.as_deref().map(api_from_config).transpose()?;
        let addr = args
            .api
            .or(from_config.as_ref().map(|c| c.0))
            .ok_or_else(|| {
                anyhow!(
                "which node? pass --config <node.toml> (or set LIAISON_CONFIG), or --api <addr> \
                 --token-file <path>"
            )
            })?;
        let token_file = args
            .token_file
            .clone()
            .or(from_config.map(|c| c.1))
            .ok_or_else(|| {
                anyhow!("--api needs --token-file <path> (the node's api.token_file)")
            })?;
        let token = match std::fs::read_to_string(&token_file) {
            Ok(t) => Zeroizing::new(t.trim().to_owned()),
            // A node that never ran has no token file yet: say that it is not running.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !listening(addr) => {
                return Err(ClientError::NotRunning {
                    addr,
                    config: args.config.clone(),
                }
                .into())
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot read the API token file {} — the node creates it at start-up; run \
                         as the node's user or pass --token-file",
                        token_file.display()
                    )
                })
            }
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Self {
            agent,
            addr,
            token,
            token_file,
            config: args.config.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/v1{path}", self.addr)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token.as_str())
    }

    fn transport(&self, e: ureq::Error) -> anyhow::Error {
        let refused = match &e {
            ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
            ureq::Error::ConnectionFailed => true,
            _ => false,
        };
        if refused {
            ClientError::NotRunning {
                addr: self.addr,
                config: self.config.clone(),
            }
            .into()
        } else {
            anyhow!("cannot talk to the node at {}: {e}", self.addr)
        }
    }

    /// Turns an answer into its body text, or its JSON error into a [`ClientError`].
    fn answer(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String> {
        let mut resp = resp.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.transport(e))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let err = serde_json::from_str::<liaison_node::views::ErrorBody>(&text).ok();
        let reason_code = err
            .as_ref()
            .map_or_else(|| "http-error".to_owned(), |e| e.error.clone());
        let detail = err
            .map(|e| e.detail)
            .unwrap_or_else(|| format!("HTTP {status}: {}", text.trim()));
        Err(match status {
            401 => ClientError::Unauthenticated {
                token_file: self.token_file.clone(),
                detail,
            },
            403 => ClientError::Forbidden { detail },
            // 503 `outbox-full`: refused for now, with the outbox's state in the detail.
            503 if reason_code == "outbox-full" => ClientError::Busy {
                reason_code,
                detail,
                retry_after,
            },
            422 => ClientError::Refused {
                reason_code,
                detail,
            },
            _ => ClientError::Api {
                status,
                reason_code,
                detail,
            },
        }
        .into())
    }

    /// `GET /v1{path}`: the answer's text, or its JSON error as a [`ClientError`].
    pub fn get_text(&self, path: &str) -> Result<String> {
        self.answer(
            self.agent
                .get(self.url(path))
                .header("Authorization", self.auth())
                .call(),
        )
    }

    /// `GET /v1{path}` for a long stream: its body to read (no overall time limit), or its
    /// JSON error as a [`ClientError`].
    pub fn get_stream(&self, path: &str) -> Result<ureq::Body> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build()
            .into();
        let resp = agent
            .get(self.url(path))
            .header("Authorization", self.auth())
            .call()
            .map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp.into_body());
        }
        Err(self
            .answer(Ok(resp))
            .err()
            .unwrap_or_else(|| anyhow!("the node answered without a body")))
    }

    /// `GET /v1{path}`: the answer's JSON, or its JSON error as a [`ClientError`].
    pub fn get(&self, path: &str) -> Result<Value> {
        let text = self.get_text(path)?;
        serde_json::from_str(&text).context("the node's answer is not JSON")
    }

    /// `POST /v1{path}` with a JSON body (a request type of the node's API, so a renamed
    /// field fails to compile): the answer's JSON, or a [`ClientError`].
    pub fn post(&self, path: &str, body: &(impl Serialize + ?Sized)) -> Result<Value> {
        let text = self.answer(
            self.agent
                .post(self.url(path))
                .header("Authorization", self.auth())
                .send_json(body),
        )?;
        serde_json::from_str(&text).context("the node's answer is not JSON")
    }

    /// `GET /v1{path}` read into its view.
    pub fn get_view<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        view(self.get(path)?)
    }

    /// `POST /v1{path}` with a JSON body, the answer read into its view.
    pub fn post_view<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        view(self.post(path, body)?)
    }

    /// A full message id from a full id or a unique prefix of an inbox message's id.
    fn resolve(&self, id: &str) -> Result<String> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() == 64 || id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id);
        }
        if id.len() < 6 {
            bail!("message id prefix {id:?} is too short: give at least 6 hex digits");
        }
        let mut found = Vec::new();
        let mut from = 0u64;
        loop {
            let page: InboxPage = view(self.get(&format!("/inbox?from={from}&limit=1000"))?)?;
            found.extend(
                page.items
                    .into_iter()
                    .map(|item| item.id)
                    .filter(|full| full.starts_with(&id)),
            );
            match page.next_from {
                Some(n) => from = n,
                None => break,
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!(
                "no inbox message id starts with {id}; give the full 64-digit id (as `liaison send` \
                 printed it) for messages sent from this node"
            ),
            n => bail!("{n} inbox messages start with {id}; give more digits"),
        }
    }
}

pub(crate) fn print_json(v: &Value) {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// An answer of the node read into its view.
pub(crate) fn view<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_json::from_value(v).context("the node's answer does not have the expected shape")
}

/// `2026-01-03T10:22:33.123Z` → `2026-01-03 10:22Z`.
pub(crate) fn short_time(t: &str) -> String {
    if t.len() >= 16 {
        format!("{} {}Z", &t[..10], &t[11..16])
    } else {
        t.to_owned()
    }
}

/// [`short_time`] of a time that may be absent (`-`).
pub(crate) fn short_time_or(t: Option<&str>) -> String {
    t.map_or_else(|| "-".into(), short_time)
}

/// The first 16 hex digits of an id.
pub(crate) fn short_id(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// A comma-separated list, `-` when empty.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs an officer command.
pub fn run(api: &ApiArgs, cmd: OfficerCommand) -> Result<ExitCode> {
    let client = Client::new(api)?;
    match cmd {
        OfficerCommand::Send(args) => send(&client, *args),
        OfficerCommand::Inbox {
            unread,
            limit,
            from,
            out,
        } => {
            let v = client.get(&format!("/inbox?from={from}&limit={limit}&unread={unread}"))?;
            if out.json {
                print_json(&v);
            } else {
                print_inbox(&view(v)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Show { id, out } => {
            let id = client.resolve(&id)?;
            let v = client.get(&format!("/messages/{id}"))?;
            if out.json {
                print_json(&v);
            } else {
                print_message(&view(v)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Ack { id, out } => {
            let id = client.resolve(&id)?;
            // The endpoint reads no body: there is no request type to send.
            let v = client.post(&format!("/messages/{id}/ack"), &json!({}))?;
            if out.json {
                print_json(&v);
            } else if view::<Acked>(v)?.already {
                out!("already acknowledged {id}");
            } else {
                out!("acknowledged {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Consent(c) => {
            let (path, body, out) = match c {
                ConsentCommand::Request {
                    id,
                    to,
                    reason,
                    out,
                } => {
                    let id = client.resolve(&id)?;
                    (
                        format!("/messages/{id}/consent-request"),
                        serde_json::to_value(NodesRequest { to, reason })?,
                        out,
                    )
                }
                ConsentCommand::Grant {
                    id,
                    expires_in,
                    reason,
                    out,
                } => {
                    let id = client.resolve(&id)?;
                    (
                        format!("/messages/{id}/consent"),
                        serde_json::to_value(ConsentRequestAnswer {
                            grant: true,
                            expires_in_secs: expires_in,
                            reason,
                        })?,
                        out,
                    )
                }
                ConsentCommand::Deny { id, reason, out } => {
                    let id = client.resolve(&id)?;
                    (
                        format!("/messages/{id}/consent"),
                        serde_json::to_value(ConsentRequestAnswer {
                            grant: false,
                            expires_in_secs: None,
                            reason,
                        })?,
                        out,
                    )
                }
            };
            let v = client.post(&path, &body)?;
            print_sent(v, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Case(c) => super::case::run(&client, c),
        OfficerCommand::Share { id, to, out } => {
            let id = client.resolve(&id)?;
            let body = NodesRequest {
                to,
                reason: String::new(),
            };
            let v = client.post(&format!("/messages/{id}/share"), &body)?;
            print_sent(v, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Trail { id, out } => {
            let id = client.resolve(&id)?;
            let v = client.get(&format!("/messages/{id}/trail"))?;
            if out.json {
                print_json(&v);
            } else {
                print_trail(&view(v)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Status { out } => {
            let v = client.get("/status")?;
            if out.json {
                print_json(&v);
            } else {
                print_status(&view(v)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Peers { out } => {
            let v = client.get("/peers")?;
            if out.json {
                print_json(&v);
            } else {
                print_peers(&view::<Peers>(v)?.peers);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Log { from, limit, out } => {
            let v = client.get(&format!("/log?from={from}&limit={limit}"))?;
            if out.json {
                print_json(&v);
            } else {
                let page: LogPage = view(v)?;
                for e in &page.entries {
                    out!("{}", entry_line(e));
                }
                if let Some(next) = page.next_from {
                    out!("… more: liaison log --from {next}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Backup { out } => {
            let m = backup(&client, &out)?;
            out!(
                "backed up {}: {} log entries, {} journal bytes, under the checkpoint of size {}, in {}",
                m.node,
                m.log_size,
                m.journal_bytes,
                m.checkpoint
                    .as_deref()
                    .and_then(liaison_store::checkpoint::size_of)
                    .unwrap_or(m.log_size),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Purge { dry_run, out } => {
            let v = client.post("/purge", &PurgeRequest { dry_run })?;
            if out.json {
                print_json(&v);
            } else {
                let report: PurgeReport = view(v)?;
                let due = report.due.len();
                let purged = report.purged.len();
                if dry_run {
                    out!("{due} message bodies are due for purging under the retention policy");
                    for d in &report.due {
                        out!("  {} ({})", d.id, d.rule);
                    }
                } else {
                    out!("purged {purged} of {due} message bodies due; their log entries remain");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Alarms(AlarmsCommand::List { out }) => {
            let status: StatusView = client.get_view("/status")?;
            if out.json {
                print_json(&serde_json::to_value(&status.alarms)?);
            } else {
                print_alarms(&status.alarms);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Alarms(AlarmsCommand::Clear { out }) => {
            // The endpoint reads no body: there is no request type to send.
            let v = client.post("/alarms/clear", &json!({}))?;
            if out.json {
                print_json(&v);
            } else {
                let cleared: Cleared = view(v)?;
                let n = cleared.cleared.len();
                match cleared.leaf {
                    Some(leaf) => out!("cleared {n} alarms (log entry {leaf})"),
                    None => out!("no alarms to clear"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficerCommand::Store(StoreCommand::Scrub { out }) => {
            // The endpoint reads no body: there is no request type to send.
            let v = client.post("/store/scrub", &json!({}))?;
            let report: ScrubView = view(v.clone())?;
            let damaged =
                report.damaged.len() + report.damaged_answers.len() + report.unexplained.len();
            if out.json {
                print_json(&v);
            } else {
                out!(
                    "checked {} batches ({} whole by checksum, {} bodies one by one)",
                    report.batches,
                    report.batches_intact,
                    report.bodies_checked
                );
                for id in &report.damaged {
                    out!("DAMAGED message {id}");
                }
                for leaf in &report.damaged_answers {
                    out!("DAMAGED signed answer kept for log entry {leaf}");
                }
                for at in &report.unexplained {
                    out!("DAMAGED batch at byte {at} (no message in it could be named)");
                }
                if damaged == 0 {
                    out!("every stored body is intact");
                }
            }
            Ok(ExitCode::from(if damaged == 0 { 0 } else { 4 }))
        }
        OfficerCommand::Checkpoint => {
            let note = client.get_text("/checkpoint")?;
            // The note as served, ending with exactly one newline of its own or ours.
            out!("{}", note.strip_suffix('\n').unwrap_or(&note));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn send(client: &Client, a: SendArgs) -> Result<ExitCode> {
    let text = if a.text == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("cannot read the text from standard input")?
    } else {
        a.text
    };
    let req = liaison_node::compose::SendRequest {
        kind: a.kind,
        to: a.to,
        tlp: a.tlp,
        release: a.release,
        originator_control: a.originator_control,
        h0: a.h0,
        h1: a.h1,
        h3: a.h3,
        eval: a.eval,
        text,
        lang: a.lang,
        entities: a.entities,
        case: a.case,
        in_reply_to: a.in_reply_to,
        urgency: a.urgency,
        expires_in_secs: a.expires_in,
    };
    let v = client.post("/messages", &req)?;
    print_sent(v, &a.out)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the id of a message just sent (or the API's JSON).
pub(crate) fn print_sent(v: Value, out: &Output) -> Result<()> {
    if out.json {
        print_json(&v);
    } else {
        out!("{}", view::<SentView>(v)?.id);
    }
    Ok(())
}

fn print_inbox(page: &InboxPage) {
    let mut items: Vec<_> = page.items.iter().collect();
    if items.is_empty() {
        out!("inbox is empty");
        return;
    }
    // Unread first, each group in delivery order.
    items.sort_by_key(|i| i.acked);
    for i in &items {
        let mut flags = String::new();
        if i.is_overdue() {
            flags.push_str(" OVERDUE");
        }
        if i.answered == Some(true) {
            flags.push_str(" answered");
        }
        if let Some(by) = &i.reply_by {
            flags.push_str(&format!(" reply-by {}", short_time(by)));
        }
        out!(
            "{} {:<16} {:<10} {:<3} {:<28} {} {}{}  {}",
            if i.acked { " " } else { "*" },
            i.tlp,
            i.kind,
            i.eval,
            i.originator,
            short_time(&i.received_at),
            short_id(&i.id),
            flags,
            i.first_line().unwrap_or(""),
        );
    }
    let unread = items.iter().filter(|i| !i.acked).count();
    out!("{} messages, {unread} unread (* = unread)", items.len());
    if let Some(next) = page.next_from {
        out!("… more: liaison inbox --from {next}");
    }
}

fn print_message(v: &MessageView) {
    let h = &v.header;
    let hd = &v.handling;
    let st = &v.state;
    out!("{}  {}  {}", hd.tlp, v.kind, v.id);
    out!("originator   {}", h.originator);
    if let Some(from) = &st.from {
        out!("from         {from}");
    }
    out!("created      {}", short_time(&h.created_at));
    out!("to           {}", list(&h.recipients));
    out!("release      {}", list(&hd.releasability));
    out!("evaluation   {}", hd.eval);
    if !hd.h_codes.is_empty() {
        out!("handling     {}", list(&hd.h_codes));
    }
    if let Some(h3) = &hd.h3_restrictions {
        out!("H3           {h3}");
    }
    if let Some(case) = &h.case {
        out!("case         {case}");
    }
    if let Some(r) = &h.in_reply_to {
        out!("in reply to  {r}");
    }
    if let Some(exp) = &h.expires_at {
        out!("expires      {}", short_time(exp));
    }
    if let Some(r) = &v.request {
        out!(
            "request      {}, reply by {}{}",
            r.urgency,
            short_time(&r.reply_by),
            if r.answered {
                "  answered"
            } else if r.overdue {
                "  OVERDUE"
            } else {
                ""
            }
        );
    }
    let state = match (st.role.as_str(), st.acked) {
        ("delivered", true) => "delivered here, acknowledged",
        ("delivered", false) => "delivered here, unread",
        (r, _) => r,
    };
    out!("state        {state}");
    if !st.pending.is_empty() {
        out!("awaiting     receipts from {}", list(&st.pending));
    }
    if let Some(reason) = &v.reason {
        out!("\n{reason}");
    }
    if let Some(p) = v.payload() {
        out!("language     {}", p.language);
        out!("\n{}\n", p.text);
        if !p.entities.is_empty() {
            out!("entities:");
            for e in &p.entities {
                out!("  {:<13} {}", e.kind, e.value);
            }
        }
        for a in &p.attachments {
            out!(
                "attachment   {} ({}, {} bytes)",
                a.name,
                a.media_type,
                a.size
            );
        }
    }
}

/// One human line for a log entry.
fn entry_line(e: &LogEntryView) -> String {
    format!(
        "#{:<7} {}  {}",
        e.index,
        short_time(&e.at),
        event_line(&e.event)
    )
}

/// One human line for a log event (as the API renders it).
fn event_line(e: &EventView) -> String {
    use liaison_node::views::Covered;
    let msg = |m: &Facts| format!("{} {} {} {}", m.tlp, m.kind, short_id(&m.id), m.originator);
    let ids = |c: &Covered| match c {
        Covered::Count(n) => format!("{n} message(s)"),
        Covered::Ids(a) => format!("{} message(s)", a.len()),
    };
    match e {
        EventView::Sent { message, to } => format!("sent      {} → {}", msg(message), list(to)),
        EventView::Received { message, from, .. } => {
            format!("received  {} from {from}", msg(message))
        }
        EventView::Relayed { message, from, to } => {
            format!("relayed   {} from {from} → {}", msg(message), list(to))
        }
        EventView::Refused {
            id,
            peer,
            reason_code,
            ..
        } => format!(
            "refused   {} ({reason_code}) peer {peer}",
            id.as_deref().map_or("-", short_id)
        ),
        EventView::ReceiptSent {
            receipt,
            to,
            status,
            ids: covered,
        } => format!(
            "receipt   sent to {to}: {status} {} (receipt {})",
            ids(covered),
            short_id(receipt)
        ),
        EventView::ReceiptReceived {
            receipt,
            from,
            status,
            ids: covered,
        } => format!(
            "receipt   from {from}: {status} {} (receipt {})",
            ids(covered),
            short_id(receipt)
        ),
        EventView::RefusalReceived {
            refusal,
            from,
            reason_code,
            ..
        } => format!(
            "REFUSED   by {from}: {reason_code} (refusal {})",
            short_id(refusal)
        ),
        EventView::Acknowledged { id, by } => format!("ack       {} by {by}", short_id(id)),
        EventView::Admin { act, detail } => format!("admin     {act}: {detail}"),
        EventView::Purged { id, rule } => format!("purged    {} ({rule})", short_id(id)),
    }
}

fn print_trail(v: &Trail) {
    let m = &v.message;
    out!("{}  {}  {}  ({} here)", m.tlp, m.kind, v.id, v.role);
    out!("log:");
    for e in &v.entries {
        out!("  {}", entry_line(e));
    }
    if !v.hops.is_empty() {
        out!("hops:");
        for h in &v.hops {
            out!(
                "  {:<28} {:<24} {}  leaf {}  proof {}",
                h.peer,
                h.outcome,
                short_time(&h.at),
                h.leaf,
                short_id(&h.proof)
            );
        }
    }
    if !v.pending.is_empty() {
        out!("awaiting receipts from: {}", list(&v.pending));
    }
}

fn print_peers(peers: &[PeerView]) {
    if peers.is_empty() {
        out!("no peers configured");
    }
    for p in peers {
        let mut line = format!(
            "  {:<28} {:<21} {:<4} outbox {:<6}",
            p.node,
            p.address,
            if p.connected { "up" } else { "down" },
            p.outbox
        );
        if let Some(ms) = p.since {
            line.push_str(&format!(" since {}", liaison_protocol::Timestamp(ms)));
        }
        if p.outbox_full {
            line.push_str(&format!(
                "  OUTBOX FULL ({} bytes; limit {} messages, {} bytes): bulk sends refused",
                p.outbox_bytes, p.outbox_max_messages, p.outbox_max_bytes
            ));
        }
        if p.outbox_refused > 0 {
            line.push_str(&format!("  {} sends refused", p.outbox_refused));
        }
        if let Some(err) = &p.last_error {
            line.push_str(&format!("  last error: {err}"));
        }
        out!("{line}");
    }
}

fn print_status(v: &StatusView) {
    out!("node         {}  (QUIC {})", v.node, v.listen);
    out!(
        "log          {} entries, root {}",
        v.log_size,
        v.log_root.get(..16).unwrap_or(&v.log_root)
    );
    let checkpoint = v
        .last_checkpoint
        .as_deref()
        .and_then(|note| note.lines().nth(1))
        .map_or("none yet".to_owned(), |size| {
            format!("covers {size} entries")
        });
    out!("checkpoint   {checkpoint}");
    out!("unread       {}", v.unread);
    out!(
        "disk         {:.1} MiB",
        v.disk_bytes as f64 / (1024.0 * 1024.0)
    );
    out!("peers:");
    print_peers(&v.peers);
    if !v.expiries.is_empty() {
        out!("certificates and CRLs (days left):");
        for e in &v.expiries {
            let left = if e.days_left < 0 {
                "ENDED".to_owned()
            } else {
                e.days_left.to_string()
            };
            out!("  {left:>6}  {}  {}", short_time(&e.at), e.what);
        }
    }
    if v.damaged_messages > 0 {
        out!(
            "DAMAGED      {} stored messages (see the alarms)",
            v.damaged_messages
        );
    }
    if !v.alarms.is_empty() {
        out!("ALARMS (clear them with `liaison alarms clear` once dealt with):");
        print_alarms(&v.alarms);
    }
    if !v.case_gaps.is_empty() {
        out!("CASE MESSAGES NOT YET RECEIVED (`liaison case show <case>`):");
        for g in &v.case_gaps {
            out!(
                "  {}  {}  {}  waiting for {}",
                g.case,
                short_time(&g.at),
                short_id(&g.id),
                g.waiting.join(", ")
            );
        }
    }
}

fn print_alarms(alarms: &[AlarmView]) {
    if alarms.is_empty() {
        out!("no alarms");
    }
    for a in alarms {
        let times = if a.count > 1 {
            format!(" (x{}, last {})", a.count, short_time(&a.last_at))
        } else {
            String::new()
        };
        out!("  {}{times}: {}", a.code, a.text);
    }
}

/// Streams the node's backup into `out` (created, mode 0700; files 0600) and checks that it is
/// whole: the manifest is there and the journal has the length it gives.
fn backup(client: &Client, out: &Path) -> Result<liaison_store::backup::Manifest> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(out)
        .with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    let body = client.get_stream("/backup")?;
    let mut archive = tar::Archive::new(body.into_with_config().reader());
    let incomplete = |e: &dyn std::fmt::Display| {
        anyhow!(
            "the backup stream ended early ({e}): {} is incomplete; delete it and try again",
            out.display()
        )
    };
    for entry in archive.entries().map_err(|e| incomplete(&e))? {
        let mut entry = entry.map_err(|e| incomplete(&e))?;
        // `unpack_in` refuses paths that leave `out` (absolute, `..`).
        if !entry.unpack_in(out).map_err(|e| incomplete(&e))? {
            bail!(
                "the backup holds a path outside the copy: {:?}",
                entry.path()
            );
        }
    }
    for e in walk_files(out)? {
        std::fs::set_permissions(&e, std::fs::Permissions::from_mode(0o600))?;
    }
    let manifest = liaison_store::backup::read_manifest(out).map_err(|e| incomplete(&e))?;
    let journal = out.join("store").join(liaison_store::journal::FILE);
    let len = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    if len != manifest.journal_bytes {
        return Err(incomplete(&format!(
            "the journal has {len} of {} bytes",
            manifest.journal_bytes
        )));
    }
    Ok(manifest)
}

/// Every regular file under `dir`.
fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk_files(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_address_and_token_file_come_from_the_node_config() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("node.toml");
        std::fs::write(
            &cfg,
            "data_dir = \"data\"\n[api]\nlisten = \"127.0.0.1:7443\"\n",
        )
        .unwrap();
        let (addr, token) = api_from_config(&cfg).unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:7443");
        assert_eq!(token, dir.path().join("data").join("api.token"));
        std::fs::write(&cfg, "data_dir = \"/var/lib/liaison\"\n[api]\nlisten = \"127.0.0.1:7443\"\ntoken_file = \"/etc/liaison/t\"\n").unwrap();
        assert_eq!(
            api_from_config(&cfg).unwrap().1,
            PathBuf::from("/etc/liaison/t")
        );
        std::fs::write(&cfg, "data_dir = \"d\"\n").unwrap();
        assert!(api_from_config(&cfg)
            .unwrap_err()
            .to_string()
            .contains("[api]"));
    }

    #[test]
    fn short_forms() {
        assert_eq!(short_time("2026-01-03T10:22:33.123Z"), "2026-01-03 10:22Z");
        assert_eq!(short_time_or(None), "-");
        assert_eq!(short_id("0123456789abcdef0123"), "0123456789abcdef");
        assert_eq!(list(&["a", "b"]), "a, b");
        assert_eq!(list::<&str>(&[]), "-");
    }
}
