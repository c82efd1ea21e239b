//! `liaison case …`: shared cases, through the node's local API (`/v1/cases`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::officer::{
    print_json, print_sent, short_id, short_time, short_time_or, view, Client, Output,
};
use liaison_node::case::{AttachmentRequest, CaseRequest};
use liaison_node::views::{CaseHistory, CaseList, CaseSent, CaseView};

/// Text, language and entities of a case message.
#[derive(Debug, Clone, Args)]
pub struct Content {
    /// The text: summary (open), note (invite), content (update), note (task).
    #[arg(long, default_value = "")]
    pub text: String,
    /// Language of the text (BCP 47), e.g. en, ru, ar; needed when there is text.
    #[arg(long)]
    pub lang: Option<String>,
    /// An entity as type=value (phone, passport, container, imo, wallet, plate, vin…);
    /// repeatable. Selectors among them are deconflicted with other centres.
    #[arg(long = "entity", value_name = "TYPE=VALUE")]
    pub entities: Vec<String>,
    /// A file to attach (at most 256 KiB), as PATH or PATH:MEDIA/TYPE; repeatable.
    #[arg(long = "attach", value_name = "PATH[:TYPE]")]
    pub attach: Vec<String>,
}

/// `liaison case …`.
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case (this centre leads unless --lead says otherwise); prints the case id.
    Open {
        /// The title.
        #[arg(long)]
        title: String,
        /// Case id (default: <CENTRE>-<year>-<4 hex digits>).
        #[arg(long)]
        id: Option<String>,
        /// The lead centre's node (default: this node).
        #[arg(long)]
        lead: Option<String>,
        /// Nodes invited at once, comma-separated.
        #[arg(long, value_delimiter = ',')]
        invite: Vec<String>,
        /// TLP of the case: every update is this or stricter.
        #[arg(long)]
        tlp: String,
        /// Who may receive the case's messages (default: the networks of the nodes named).
        #[arg(long, value_delimiter = ',')]
        release: Vec<String>,
        /// 4x4 evaluation, e.g. B2.
        #[arg(long)]
        eval: String,
        /// Originator control (EU H2).
        #[arg(long)]
        originator_control: bool,
        /// EU H0: use only to prevent and combat crime.
        #[arg(long)]
        h0: bool,
        /// EU H1: not for judicial proceedings without permission.
        #[arg(long)]
        h1: bool,
        #[command(flatten)]
        content: Content,
        #[command(flatten)]
        out: Output,
    },
    /// Invite nodes (lead only); each gets the case's title, summary and members.
    Invite {
        /// Case id.
        case: String,
        /// Nodes to invite, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        node: Vec<String>,
        #[command(flatten)]
        content: Content,
        #[command(flatten)]
        out: Output,
    },
    /// Accept this centre's invitation.
    Accept {
        /// Case id.
        case: String,
        #[command(flatten)]
        out: Output,
    },
    /// Decline this centre's invitation.
    Decline {
        /// Case id.
        case: String,
        #[command(flatten)]
        out: Output,
    },
    /// Post an update to every participant, or to --to only, with the case's handling or
    /// narrower (e.g. --tlp RED --to a,b).
    Update {
        /// Case id.
        case: String,
        /// Only these participants, comma-separated.
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        /// A stricter TLP than the case's.
        #[arg(long)]
        tlp: Option<String>,
        /// Narrower releasability, comma-separated.
        #[arg(long, value_delimiter = ',')]
        release: Vec<String>,
        /// Another evaluation for this update.
        #[arg(long)]
        eval: Option<String>,
        #[command(flatten)]
        content: Content,
        #[command(flatten)]
        out: Output,
    },
    /// Create a task (--title, --assignee) or change one (--task <id>).
    Task {
        /// Case id.
        case: String,
        /// The task to change (its id or a unique prefix); omit to create one.
        #[arg(long)]
        task: Option<String>,
        /// What is to be done.
        #[arg(long)]
        title: Option<String>,
        /// The participant who does it.
        #[arg(long)]
        assignee: Option<String>,
        /// Due date: YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        due: Option<String>,
        /// Status.
        #[arg(long, value_parser = ["open", "in-progress", "done", "cancelled"])]
        status: Option<String>,
        /// A note on this change.
        #[arg(long, default_value = "")]
        note: String,
        /// Language of the note.
        #[arg(long)]
        lang: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Close the case (lead only; final).
    Close {
        /// Case id.
        case: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Suspend the case (lead only): only the lead posts until it is resumed.
    Suspend {
        /// Case id.
        case: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Resume a suspended case (lead only).
    Resume {
        /// Case id.
        case: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Remove a participant (lead only); it stops receiving the case's messages.
    Remove {
        /// Case id.
        case: String,
        /// The node removed.
        #[arg(long)]
        node: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Leave the case (not the lead).
    Leave {
        /// Case id.
        case: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Share this centre's updates and tasks written before a participant joined with it. By
    /// default a participant receives only what is written after it joined; earlier messages
    /// stay with the participants of their time unless their originator shares them. Each is
    /// re-sealed for the participant under this centre's grant and checked against its
    /// handling; updates sent to only some participants are not shared. `case show` lists
    /// what each participant has not received.
    History {
        /// Case id.
        case: String,
        /// The participant to share with; repeatable.
        #[arg(long = "node", required = true)]
        node: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Show a case: status, members, tasks, updates and the timeline.
    Show {
        /// Case id.
        case: String,
        #[command(flatten)]
        out: Output,
    },
    /// List the cases this centre knows.
    List {
        #[command(flatten)]
        out: Output,
    },
}

fn with(c: &Content) -> Result<CaseRequest> {
    let attachments = c
        .attach
        .iter()
        .map(|a| {
            use base64::Engine as _;
            let (path, media_type) = match a.rsplit_once(':') {
                Some((p, t)) if t.contains('/') => (p, t.to_owned()),
                _ => (a.as_str(), "application/octet-stream".to_owned()),
            };
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
            let name = std::path::Path::new(path)
                .file_name()
                .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned());
            Ok(AttachmentRequest {
                name,
                media_type,
                content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            })
        })
        .collect::<Result<_>>()?;
    Ok(CaseRequest {
        text: c.text.clone(),
        lang: c.lang.clone(),
        entities: c.entities.clone(),
        attachments,
        ..Default::default()
    })
}

fn reason(r: String) -> CaseRequest {
    CaseRequest {
        text: r,
        lang: Some("und".into()),
        ..Default::default()
    }
}

/// Runs a `liaison case` command.
pub fn run(client: &Client, cmd: CaseCommand) -> Result<ExitCode> {
    let (path, req, out) = match cmd {
        CaseCommand::List { out } => {
            let v = client.get("/cases")?;
            if out.json {
                print_json(&v);
            } else {
                print_list(&view(v)?);
            }
            return Ok(ExitCode::SUCCESS);
        }
        CaseCommand::Show { case, out } => {
            let v = client.get(&format!("/cases/{case}"))?;
            if out.json {
                print_json(&v);
            } else {
                print_case(&view(v)?);
            }
            return Ok(ExitCode::SUCCESS);
        }
        CaseCommand::History { case, node, out } => {
            let v = client.post(
                &format!("/cases/{case}/history"),
                &CaseRequest {
                    nodes: node,
                    ..Default::default()
                },
            )?;
            if out.json {
                print_json(&v);
                return Ok(ExitCode::SUCCESS);
            }
            let h: CaseHistory = view(v)?;
            if h.messages.is_empty() {
                out!("nothing to share: every participant named has received this centre's messages of its time");
                return Ok(ExitCode::SUCCESS);
            }
            let mut failed = false;
            for m in &h.messages {
                match (&m.share, &m.refused) {
                    (Some(share), _) => out!(
                        "{}  shared with {} ({})",
                        short_id(&m.id),
                        m.to.join(", "),
                        short_id(share)
                    ),
                    (None, r) => {
                        failed = true;
                        out!(
                            "{}  NOT shared with {}: {}",
                            short_id(&m.id),
                            m.to.join(", "),
                            r.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
            return Ok(if failed {
                ExitCode::from(super::officer::EXIT_REFUSED)
            } else {
                ExitCode::SUCCESS
            });
        }
        CaseCommand::Open {
            title,
            id,
            lead,
            invite,
            tlp,
            release,
            eval,
            originator_control,
            h0,
            h1,
            content,
            out,
        } => {
            let req = CaseRequest {
                id,
                title: Some(title),
                lead,
                nodes: invite,
                tlp: Some(tlp),
                release,
                eval: Some(eval),
                originator_control,
                h0,
                h1,
                ..with(&content)?
            };
            let v = client.post("/cases", &req)?;
            if out.json {
                print_json(&v);
            } else {
                out!("{}", view::<CaseSent>(v)?.case);
            }
            return Ok(ExitCode::SUCCESS);
        }
        CaseCommand::Invite {
            case,
            node,
            content,
            out,
        } => (
            format!("/cases/{case}/invite"),
            CaseRequest {
                nodes: node,
                ..with(&content)?
            },
            out,
        ),
        CaseCommand::Accept { case, out } => {
            (format!("/cases/{case}/accept"), CaseRequest::default(), out)
        }
        CaseCommand::Decline { case, out } => (
            format!("/cases/{case}/decline"),
            CaseRequest::default(),
            out,
        ),
        CaseCommand::Update {
            case,
            to,
            tlp,
            release,
            eval,
            content,
            out,
        } => (
            format!("/cases/{case}/update"),
            CaseRequest {
                to,
                tlp,
                release,
                eval,
                ..with(&content)?
            },
            out,
        ),
        CaseCommand::Task {
            case,
            task,
            title,
            assignee,
            due,
            status,
            note,
            lang,
            out,
        } => (
            format!("/cases/{case}/task"),
            CaseRequest {
                task,
                title,
                assignee,
                due,
                status,
                lang: lang.or_else(|| Some("und".into())),
                text: note,
                ..Default::default()
            },
            out,
        ),
        CaseCommand::Close {
            case,
            reason: r,
            out,
        } => (format!("/cases/{case}/close"), reason(r), out),
        CaseCommand::Suspend {
            case,
            reason: r,
            out,
        } => (format!("/cases/{case}/suspend"), reason(r), out),
        CaseCommand::Resume {
            case,
            reason: r,
            out,
        } => (format!("/cases/{case}/resume"), reason(r), out),
        CaseCommand::Remove {
            case,
            node,
            reason: r,
            out,
        } => (
            format!("/cases/{case}/remove"),
            CaseRequest {
                nodes: vec![node],
                ..reason(r)
            },
            out,
        ),
        CaseCommand::Leave {
            case,
            reason: r,
            out,
        } => (format!("/cases/{case}/leave"), reason(r), out),
    };
    let v = client.post(&path, &req)?;
    print_sent(v, &out)?;
    Ok(ExitCode::SUCCESS)
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn print_list(v: &CaseList) {
    if v.cases.is_empty() {
        out!("no cases");
        return;
    }
    for c in &v.cases {
        out!(
            "{:<24} {:<9} {:<11} {:>2} participants  {:>3} updates  {:>2} open tasks  last {}  {}",
            c.case,
            c.status,
            c.standing,
            c.participants,
            c.updates,
            c.open_tasks,
            short_time_or(c.last_activity.as_deref()),
            or_dash(&c.title),
        );
    }
}

fn print_case(v: &CaseView) {
    let json = |list: &[String]| serde_json::to_string(list).unwrap_or_default();
    out!("case     {}  ({})", v.case, v.status);
    out!("title    {}", or_dash(&v.title));
    out!("lead     {}", or_dash(&v.lead));
    if let Some(h) = &v.handling {
        out!(
            "handling {}  release {}  {}  eval {}",
            h.tlp,
            json(&h.releasability),
            json(&h.handling_codes),
            h.evaluation
        );
    }
    if let Some(r) = &v.status_reason {
        out!("reason   {r}");
    }
    out!(
        "summary  [{}] {}",
        v.summary.as_ref().map_or("-", |p| p.language.as_str()),
        v.summary.as_ref().map_or("-", |p| p.text.as_str())
    );
    out!("\nmembers");
    for m in &v.members {
        out!(
            "  {:<32} {:<12} since {}",
            m.node,
            m.standing,
            short_time(&m.since)
        );
    }
    out!("\nearlier  a participant receives what is written after it joined; each originator may share its earlier messages (`liaison case history`)");
    for e in &v.earlier {
        out!(
            "  {:<32} has not received {} earlier message(s) of this centre",
            e.node,
            e.messages.len()
        );
    }
    out!("\ntasks");
    for t in &v.tasks {
        out!(
            "  {}  {:<12} {:<28} due {}  {}",
            short_id(&t.id),
            t.status,
            t.assignee,
            short_time_or(t.due.as_deref()),
            t.title
        );
    }
    out!("\nupdates");
    for u in &v.updates {
        out!(
            "  {}  {}  {:<28} {} [{}] {}",
            short_time(&u.at),
            u.tlp,
            u.from,
            short_id(&u.id),
            u.payload.language,
            u.payload.text
        );
    }
    if !v.deliveries.is_empty() {
        out!("\nreceived (this node's messages)");
        for d in &v.deliveries {
            let answers: Vec<String> = d
                .recipients
                .iter()
                .map(|r| format!("{} {}", r.node, r.state))
                .collect();
            out!("  {}  {}", short_id(&d.id), answers.join(", "));
        }
    }
    out!("\ntimeline");
    for e in &v.timeline {
        let what = match &e.refused {
            Some(r) => format!("NO EFFECT {}: {}", r.code, r.detail),
            None => e.summary.clone(),
        };
        out!(
            "  {}  {:<28} {:<12} {}",
            short_time(&e.at),
            e.from,
            e.kind,
            what
        );
    }
}
