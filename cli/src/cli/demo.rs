//! `liaison demo`: a local federation on loopback that shows the whole flow in under a
//! minute — two regional networks with their own PKIs joined through their centres (CARICC
//! and GCC-CIC, gateways), real node processes, a sealed alert crossing both gateways with
//! every hop's signed receipt in the trail, a request and its reply, a TLP:RED message a
//! gateway refuses, a consent request granted and the message shared onward, clean
//! shutdown, and an offline audit of every node's log.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use liaison_certs::{create_network, issue_node_files, Validity};
use liaison_node::api::{ConsentRequestAnswer, NodesRequest};
use liaison_node::case::CaseRequest;
use liaison_node::compose::SendRequest;
use liaison_node::config::{
    ApiConfig, CheckpointConfig, Config, DeconflictionConfig, IdentityConfig, Limits, LogFormat,
    PeerConfig, RelayRule, RouteConfig, TrustConfig,
};
use liaison_protocol::NodeId;

use super::officer::Client;
use liaison_node::views::{
    CaseSent, CaseView, InboxPage, MessageView, SentView, StatusView, Trail,
};

/// `liaison demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the federation (PKI, configs, data, logs); a temporary one by default.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the directory afterwards (always kept with --dir).
    #[arg(long)]
    pub keep: bool,
}

/// The two regional networks and their nodes (centre, network).
const NODES: &[(&str, &str)] = &[
    ("caricc", "central-asia"),
    ("kz-dcu", "central-asia"),
    ("gcc-cic", "gulf"),
    ("om-dcu", "gulf"),
];

struct DemoNode {
    id: NodeId,
    config: PathBuf,
    cfg: Config,
    child: Option<Child>,
    client: Option<Client>,
}

impl Drop for DemoNode {
    fn drop(&mut self) {
        // Never leave a node process behind, whatever happened.
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_udp() -> Result<SocketAddr> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?)
}

fn free_tcp() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn step(n: usize, text: &str) {
    out!("\n[{n}] {text}");
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            if std::fs::read_dir(d)?.next().is_some() {
                bail!(
                    "{} is not empty; give the demo an empty or new directory",
                    d.display()
                );
            }
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("liaison-demo-").tempdir()?;
            if args.keep {
                tmp.keep()
            } else {
                tmp.path().to_owned()
            }
        }
    };
    let kept = args.keep || args.dir.is_some();
    out!(
        "Liaison demo — a local federation on loopback, in {}{}",
        dir.display(),
        if kept {
            ""
        } else {
            " (a temporary directory, deleted at the end: --keep keeps it)"
        }
    );

    step(
        1,
        "PKI: two regional networks, each with its own CA, and a certificate per node",
    );
    let pki = dir.join("pki");
    for net in ["central-asia", "gulf"] {
        let now = time::OffsetDateTime::now_utc();
        create_network(
            &net.parse()?,
            &pki.join(net),
            Validity::days_from(now, 3650)?,
            now,
            liaison_certs::revocation::CRL_VALIDITY,
        )
        .with_context(|| format!("creating the {net} CA"))?;
        out!(
            "    network {net:<13} CA {}",
            pki.join(net).join("ca.crt").display()
        );
    }
    // The federation's deconfliction key, for every centre but the service (gcc-cic).
    std::fs::write(
        dir.join("deconfliction.key"),
        format!("{}\n", liaison_protocol::ids::hex(&random_key()?)),
    )?;
    std::fs::set_permissions(
        dir.join("deconfliction.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let mut nodes = Vec::new();
    let mut addrs = Vec::new();
    for (centre, net) in NODES {
        let id: NodeId = format!("{centre}.{net}").parse()?;
        issue_node_files(
            &pki.join(net),
            centre,
            &pki.join("nodes"),
            Validity::days_from(time::OffsetDateTime::now_utc(), 365)?,
        )
        .with_context(|| format!("issuing the certificate of {id}"))?;
        out!("    node    {id:<22} certificate issued by the {net} CA");
        addrs.push((id, free_udp()?, free_tcp()?));
    }
    // Each network is a star around its regional centre; the two centres are each other's
    // peers across the boundary, and relay between their networks.
    let centre = |net: &str| if net == "gulf" { "gcc-cic" } else { "caricc" };
    for (id, quic, api) in &addrs {
        let net = id.network_str();
        let is_centre = id.centre_str() == centre(net);
        let other = if net == "gulf" {
            "central-asia"
        } else {
            "gulf"
        };
        let peers: Vec<PeerConfig> = addrs
            .iter()
            .filter(|(p, _, _)| {
                p != id
                    && (p.network_str() == net
                        || (is_centre && p.centre_str() == centre(p.network_str())))
            })
            .map(|(p, a, _)| PeerConfig {
                node_id: p.clone(),
                address: *a,
                max_outbox_messages: None,
                max_outbox_bytes: None,
            })
            .collect();
        let via: NodeId = if is_centre {
            format!("{}.{other}", centre(other)).parse()?
        } else {
            format!("{}.{net}", centre(net)).parse()?
        };
        let routes = vec![RouteConfig {
            to: format!("network:{other}"),
            via,
            distance: u8::from(!is_centre),
        }];
        let relay = if is_centre {
            vec![
                RelayRule {
                    from: net.parse()?,
                    to: vec![net.parse()?, other.parse()?],
                },
                RelayRule {
                    from: other.parse()?,
                    to: vec![net.parse()?],
                },
            ]
        } else {
            vec![]
        };
        let home = dir.join("nodes").join(id.as_str());
        std::fs::create_dir_all(&home)?;
        let cfg = Config {
            node_id: id.clone(),
            data_dir: home.join("data"),
            listen: *quic,
            log_level: "info".into(),
            log_format: LogFormat::Human,
            identity: IdentityConfig {
                cert: pki.join("nodes").join(format!("{id}.crt")),
                key: pki.join("nodes").join(format!("{id}.key")),
            },
            trust: ["central-asia", "gulf"]
                .iter()
                .map(|n| TrustConfig {
                    ca: Some(pki.join(n).join("ca.crt")),
                    crl: Some(pki.join(n).join("crl.pem")),
                    bundle: None,
                })
                .collect(),
            peers,
            identities: vec![],
            routes,
            relay,
            api: api_config(*api)?,
            limits: Limits::default(),
            checkpoints: CheckpointConfig { interval_secs: 1 },
            retention: Default::default(),
            deconfliction: demo_deconfliction(id, &dir)?,
            cases: Default::default(),
            outbox: Default::default(),
        };
        let config = home.join("node.toml");
        std::fs::write(&config, toml::to_string(&cfg)?)?;
        nodes.push(DemoNode {
            id: id.clone(),
            config,
            cfg,
            child: None,
            client: None,
        });
    }

    step(
        2,
        "Starting the nodes as real processes (mutually authenticated QUIC on loopback)",
    );
    let exe = std::env::current_exe().context("cannot find the liaison binary")?;
    for n in &mut nodes {
        let log = std::fs::File::create(n.config.with_file_name("node.log"))?;
        let child = Command::new(&exe)
            .args(["node", "run", "--config"])
            .arg(&n.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", n.id))?;
        n.child = Some(child);
    }
    for n in &mut nodes {
        n.client = Some(wait_api(n)?);
        out!(
            "    {:<22} up: QUIC {}, officer API {}",
            n.id.as_str(),
            n.cfg.listen,
            n.cfg.api.listen
        );
    }
    for n in &nodes {
        wait_until(
            &format!("{} to connect to its peers", n.id),
            Duration::from_secs(20),
            || {
                let s: StatusView = client(n)?.get_view("/status")?;
                Ok(s.peers.iter().all(|p| p.connected))
            },
        )?;
    }
    out!("    every node is connected to its peers");

    let by = |id: &str| {
        nodes
            .iter()
            .find(|n| n.id.as_str() == id)
            .ok_or_else(|| anyhow!("no node {id}"))
    };
    step(
        3,
        "kz-dcu.central-asia sends an AMBER alert (Russian) to om-dcu.gulf, released to both networks",
    );
    let kz = by("kz-dcu.central-asia")?;
    let caricc = by("caricc.central-asia")?;
    let om = by("om-dcu.gulf")?;
    let gcc = by("gcc-cic.gulf")?;
    let alert: SentView = client(kz)?.post_view(
        "/messages",
        &SendRequest {
            kind: "alert".into(),
            to: strings(&["om-dcu.gulf"]),
            tlp: "AMBER".into(),
            release: strings(&["network:central-asia", "network:gulf"]),
            eval: "B2".into(),
            h0: true,
            lang: "ru".into(),
            text: "Партия героина (18 кг) в контейнере MSCU1234565, судно AL NOOR, прибытие в Сохар 3 декабря.".into(),
            entities: strings(&["container=MSCU1234565", "phone=+77011234567", "imo=9074729"]),
            ..Default::default()
        },
    )?;
    let alert_id = alert.id;
    out!(
        "    sent {}  (TLP:AMBER, H0, evaluation B2, 3 entities), sealed to om-dcu.gulf",
        short(&alert_id)
    );
    let got = wait_inbox(om, &alert_id)?;
    out!(
        "    om-dcu.gulf opens it: \"{}…\"",
        text(&got).chars().take(48).collect::<String>()
    );
    out!(
        "    route: {} → {} → {}; the original signature verified at every hop",
        kz.id,
        got.state.route.join(" → "),
        om.id
    );
    let at_gateway: MessageView = client(caricc)?.get_view(&format!("/messages/{alert_id}"))?;
    out!(
        "    caricc.central-asia relayed it and cannot read it: {}",
        if at_gateway.payload().is_none() {
            "its copy holds only the sealed content"
        } else {
            "IT CAN (this is a bug)"
        }
    );
    if at_gateway.payload().is_some() {
        bail!("a gateway could read what it relayed");
    }
    wait_until(
        "every hop's receipt at kz-dcu",
        Duration::from_secs(20),
        || {
            let t: Trail = client(kz)?.get_view(&format!("/messages/{alert_id}/trail"))?;
            Ok(t.hops.len() >= 3)
        },
    )?;
    let trail: Trail = client(kz)?.get_view(&format!("/messages/{alert_id}/trail"))?;
    out!("    delivery trail at the originator, one signed answer per hop:");
    print_trail(&trail);

    step(
        4,
        "om-dcu.gulf sends an urgent request (Arabic) to gcc-cic.gulf, which replies",
    );
    let request: SentView = client(om)?.post_view(
        "/messages",
        &SendRequest {
            kind: "request".into(),
            urgency: Some("urgent".into()),
            to: strings(&["gcc-cic.gulf"]),
            tlp: "AMBER".into(),
            release: strings(&["network:gulf"]),
            eval: "A2".into(),
            lang: "ar".into(),
            text: "نرجو التحقق من السفينة AL NOOR (IMO 9074729) المتجهة إلى صحار.".into(),
            entities: strings(&["imo=9074729"]),
            ..Default::default()
        },
    )?;
    let request_id = request.id;
    out!(
        "    request {} (urgent: reply due within 8 hours)",
        short(&request_id)
    );
    wait_inbox(gcc, &request_id)?;
    let reply: SentView = client(gcc)?.post_view(
        "/messages",
        &SendRequest {
            kind: "reply".into(),
            in_reply_to: Some(request_id),
            to: strings(&["om-dcu.gulf"]),
            tlp: "AMBER".into(),
            release: strings(&["network:gulf"]),
            eval: "B1".into(),
            lang: "en".into(),
            text: "AL NOOR berthed at Sohar on 2 December; crew list attached to case file.".into(),
            ..Default::default()
        },
    )?;
    let reply_id = reply.id;
    wait_inbox(om, &reply_id)?;
    out!("    reply {} delivered to om-dcu.gulf", short(&reply_id));

    step(
        5,
        "Handling rules at every hop: a TLP:RED message to caricc.central-asia and om-dcu.gulf stops at the gateway",
    );
    let red: SentView = client(kz)?.post_view(
        "/messages",
        &SendRequest {
            kind: "alert".into(),
            to: strings(&["caricc.central-asia", "om-dcu.gulf"]),
            tlp: "RED".into(),
            release: strings(&["network:central-asia", "network:gulf"]),
            eval: "A1".into(),
            lang: "en".into(),
            text: "identity of the informant in Aktau".into(),
            ..Default::default()
        },
    )?;
    let red_id = red.id;
    wait_inbox(caricc, &red_id)?;
    let mut refusal = None;
    wait_until(
        "the gateway's refusal at kz-dcu",
        Duration::from_secs(20),
        || {
            let t: Trail = client(kz)?.get_view(&format!("/messages/{red_id}/trail"))?;
            refusal = t
                .hops
                .into_iter()
                .find(|h| h.outcome.starts_with("refused"));
            Ok(refusal.is_some())
        },
    )?;
    out!(
        "    caricc.central-asia received it (a named recipient) but refused to pass it on:\n    {} (its signed refusal is in kz-dcu.central-asia's trail of the message)",
        refusal.map(|h| h.outcome).unwrap_or_default()
    );
    match client(kz)?.post(
        "/messages",
        &SendRequest {
            kind: "alert".into(),
            to: strings(&["network:central-asia"]),
            tlp: "RED".into(),
            eval: "A1".into(),
            lang: "en".into(),
            text: "names of informants".into(),
            ..Default::default()
        },
    ) {
        Ok(v) => bail!("a TLP:RED message to a whole network was accepted: {v}"),
        Err(e) => out!(
            "    and a TLP:RED message to a whole network is refused before it leaves:\n    {e}"
        ),
    }

    step(
        6,
        "Third-party rule (H2): caricc.central-asia asks kz-dcu.central-asia's consent to share an alert with om-dcu.gulf",
    );
    let h2: SentView = client(kz)?.post_view(
        "/messages",
        &SendRequest {
            kind: "alert".into(),
            to: strings(&["caricc.central-asia"]),
            tlp: "AMBER".into(),
            release: strings(&["network:central-asia", "network:gulf"]),
            originator_control: true,
            eval: "B2".into(),
            lang: "ru".into(),
            text: "Курьер вылетает из Алматы в Маскат 5 декабря, рейс WY 4120.".into(),
            ..Default::default()
        },
    )?;
    let h2_id = h2.id;
    wait_inbox(caricc, &h2_id)?;
    let share_with_oman = NodesRequest {
        to: strings(&["om-dcu.gulf"]),
        reason: String::new(),
    };
    match client(caricc)?.post(&format!("/messages/{h2_id}/share"), &share_with_oman) {
        Ok(v) => bail!("an originator-controlled message was shared without consent: {v}"),
        Err(e) => out!("    without consent: {e}"),
    }
    let asked: SentView = client(caricc)?.post_view(
        &format!("/messages/{h2_id}/consent-request"),
        &NodesRequest {
            to: strings(&["om-dcu.gulf"]),
            reason: "joint operation with Oman".into(),
        },
    )?;
    let asked_id = asked.id;
    wait_inbox(kz, &asked_id)?;
    client(kz)?.post(
        &format!("/messages/{asked_id}/consent"),
        &ConsentRequestAnswer {
            grant: true,
            expires_in_secs: Some(86400),
            reason: "granted for the operation".into(),
        },
    )?;
    out!(
        "    kz-dcu.central-asia's officer grants it for 24 h; the grant carries the content re-sealed for om-dcu.gulf"
    );
    let mut shared_id = String::new();
    wait_until(
        "the grant at caricc",
        Duration::from_secs(20),
        || match client(caricc)?
            .post_view::<SentView>(&format!("/messages/{h2_id}/share"), &share_with_oman)
        {
            Ok(v) => {
                shared_id = v.id;
                Ok(true)
            }
            Err(_) => Ok(false),
        },
    )?;
    let got = wait_inbox(om, &shared_id)?;
    out!(
        "    shared {}; om-dcu.gulf reads it: \"{}…\"",
        short(&shared_id),
        text(&got).chars().take(40).collect::<String>()
    );

    step(
        7,
        "A shared case across both networks: caricc.central-asia leads, three centres join; deconfliction",
    );
    let opened: CaseSent = client(caricc)?.post_view(
        "/cases",
        &CaseRequest {
            title: Some("Операция «Караван» / عملية القافلة".into()),
            tlp: Some("AMBER".into()),
            eval: Some("B2".into()),
            h0: true,
            release: strings(&["network:central-asia", "network:gulf"]),
            nodes: strings(&["kz-dcu.central-asia", "gcc-cic.gulf", "om-dcu.gulf"]),
            lang: Some("ru".into()),
            text: "Контролируемая поставка: Алматы — Бандар-Аббас — Сохар.".into(),
            ..Default::default()
        },
    )?;
    let case = opened.case;
    out!("    caricc.central-asia opens {case} and invites kz-dcu.central-asia, gcc-cic.gulf and om-dcu.gulf");
    for n in [kz, gcc, om] {
        wait_until(
            &format!("the invitation at {}", n.id),
            Duration::from_secs(20),
            || Ok(client(n)?.get(&format!("/cases/{case}")).is_ok()),
        )?;
        client(n)?.post(&format!("/cases/{case}/accept"), &CaseRequest::default())?;
    }
    // Updates go to the participants a centre knows of: wait until every acceptance is in.
    for n in [caricc, kz, gcc, om] {
        wait_until(
            &format!("four participants at {}", n.id),
            Duration::from_secs(20),
            || {
                let v: CaseView = client(n)?.get_view(&format!("/cases/{case}"))?;
                Ok(v.participants.len() == 4)
            },
        )?;
    }
    client(kz)?.post(
        &format!("/cases/{case}/update"),
        &CaseRequest {
            lang: Some("ru".into()),
            text: "Курьер сменил номер телефона.".into(),
            entities: strings(&["phone=8 (701) 123-45-67"]),
            ..Default::default()
        },
    )?;
    client(om)?.post(
        &format!("/cases/{case}/update"),
        &CaseRequest {
            lang: Some("ar".into()),
            text: "السفينة تحت المراقبة في ميناء صحار.".into(),
            ..Default::default()
        },
    )?;
    client(caricc)?.post(
        &format!("/cases/{case}/task"),
        &CaseRequest {
            title: Some("Наблюдение за портом Сохар".into()),
            assignee: Some("om-dcu.gulf".into()),
            due: Some("2026-12-31".into()),
            ..Default::default()
        },
    )?;
    let mut view = None;
    wait_until(
        "the case to converge at om-dcu",
        Duration::from_secs(20),
        || {
            let v: CaseView = client(om)?.get_view(&format!("/cases/{case}"))?;
            let done = v.participants.len() == 4 && v.updates.len() == 2 && v.tasks.len() == 1;
            view = Some(v);
            Ok(done)
        },
    )?;
    let view = view.ok_or_else(|| anyhow!("no case view at om-dcu"))?;
    out!(
        "    om-dcu.gulf derives the case from the signed messages it holds: {} participants, {} updates (ru, ar), task for {}",
        view.participants.len(),
        view.updates.len(),
        view.tasks.first().map_or("", |t| t.assignee.as_str())
    );
    match client(kz)?.post(
        &format!("/cases/{case}/update"),
        &CaseRequest {
            lang: Some("ru".into()),
            text: "…".into(),
            tlp: Some("GREEN".into()),
            ..Default::default()
        },
    ) {
        Ok(v) => bail!("an update broader than its case was accepted: {v}"),
        Err(e) => out!("    an update broader than the case is refused: {e}"),
    }
    // om-dcu, outside the case, alerts gcc-cic about the same phone, written its own way.
    client(om)?.post(
        "/messages",
        &SendRequest {
            kind: "alert".into(),
            to: strings(&["gcc-cic.gulf"]),
            tlp: "AMBER".into(),
            release: strings(&["network:gulf"]),
            eval: "C3".into(),
            lang: "en".into(),
            text: "Suspicious calls to the port authority.".into(),
            entities: strings(&["phone=00 7 701 123 4567"]),
            ..Default::default()
        },
    )?;
    for n in [kz, om] {
        let mut notices = Vec::new();
        wait_until(
            &format!("a deconfliction notice at {}", n.id),
            Duration::from_secs(20),
            || {
                let inbox: InboxPage = client(n)?.get_view("/inbox?limit=1000")?;
                notices = inbox
                    .items
                    .into_iter()
                    .filter(|m| m.kind == "deconfliction")
                    .collect();
                Ok(!notices.is_empty())
            },
        )?;
        out!(
            "    deconfliction notice at {} (from gcc-cic.gulf's deconfliction service, which compares keyed hashes of the selectors without holding the key): {}",
            n.id,
            notices
                .first()
                .and_then(|m| m.first_line())
                .unwrap_or_default()
        );
    }
    client(caricc)?.post(
        &format!("/cases/{case}/close"),
        &CaseRequest {
            lang: Some("ru".into()),
            text: "Аресты в Алматы и Сохаре.".into(),
            ..Default::default()
        },
    )?;
    out!("    caricc.central-asia closes the case; later updates would be refused (case-closed)");

    step(
        8,
        "Shutting every node down (SIGTERM) and auditing each log offline (liaison audit verify)",
    );
    for n in &mut nodes {
        stop(n)?;
    }
    let trust = liaison_certs::load_trust(
        ["central-asia", "gulf"]
            .iter()
            .map(|n| {
                (
                    pki.join(n).join("ca.crt"),
                    Some(pki.join(n).join("crl.pem")),
                )
            })
            .collect::<Vec<_>>()
            .iter()
            .map(|(c, r)| (c.as_path(), r.as_deref())),
    )?;
    let (mut total, mut cosigned) = (0, 0);
    for n in &nodes {
        // Stopped nodes signed their whole log on the way down: nothing may be uncovered.
        let r = liaison_node::audit::verify(
            &n.cfg.data_dir,
            &trust,
            liaison_node::audit::Uncovered::Refuse,
            |_, _, _| {},
        )
        .with_context(|| format!("the log of {} cannot be audited", n.id))?;
        if let Some(p) = r.problems.first() {
            bail!("the log of {} does not verify: {p}", n.id);
        }
        total += r.entries;
        cosigned += r.cosignatures;
        out!(
            "    {:<22} {:>3} log entries, checkpoint covers {:>3}, {} peer cosignatures, {} stored messages verified, root {}",
            n.id.as_str(),
            r.entries,
            r.checkpoint_size,
            r.cosignatures,
            r.messages_verified,
            &liaison_protocol::ids::hex(&r.root)[..16]
        );
    }
    out!(
        "    a peer cosignature is a peer's signature, as witness, on this node's checkpoint: peers \
         cosign each checkpoint as it reaches them,\n    so how many were in before the nodes \
         stopped depends on timing and differs from run to run"
    );

    out!(
        "\nSummary: 4 nodes in 2 networks joined through 2 gateways; a sealed alert across both with \
         every hop's signed receipt;\n         a request and its reply; a TLP:RED message refused at a gateway; \
         an H2 alert shared after consent;\n         a case shared by four centres, with a deconfliction notice at both ends;\n         {total} log entries verified against signed checkpoints \
         ({cosigned} cosignatures by witnessing peers); {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    if kept {
        out!(
            "Everything is kept in {} (node logs: nodes/*/node.log).",
            dir.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        out!(
            "Deleted {}; `liaison demo --keep` (or --dir DIR) keeps the PKI, configurations, data dirs and node logs.",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// 32 random bytes.
fn random_key() -> Result<[u8; 32]> {
    use ring::rand::SecureRandom;
    let mut k = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut k)
        .map_err(|_| anyhow!("the system random generator failed"))?;
    Ok(k)
}

/// gcc-cic runs the deconfliction service; the other centres hold the key.
fn demo_deconfliction(id: &NodeId, dir: &std::path::Path) -> Result<DeconflictionConfig> {
    Ok(if id.centre_str() == "gcc-cic" {
        DeconflictionConfig {
            serve: true,
            ..Default::default()
        }
    } else {
        DeconflictionConfig {
            key_file: Some(dir.join("deconfliction.key")),
            service: Some("gcc-cic.gulf".parse()?),
            country_code: Some(
                if id.network_str() == "gulf" {
                    "968"
                } else {
                    "7"
                }
                .into(),
            ),
            trunk_prefix: Some(if id.network_str() == "gulf" { "" } else { "8" }.into()),
            ..Default::default()
        }
    })
}

fn api_config(listen: SocketAddr) -> Result<ApiConfig> {
    #[derive(serde::Deserialize)]
    struct W {
        api: ApiConfig,
    }
    let w: W = toml::from_str(&format!("[api]\nlisten = \"{listen}\"\n"))?;
    Ok(w.api)
}

/// Owned strings, for the list fields of the API's requests.
fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn client(n: &DemoNode) -> Result<&Client> {
    n.client
        .as_ref()
        .ok_or_else(|| anyhow!("{} is not up", n.id))
}

/// Waits for a node's API to answer, then returns a client for it.
fn wait_api(n: &mut DemoNode) -> Result<Client> {
    let token = n.cfg.data_dir.join(&n.cfg.api.token_file);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(child) = n.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); see {}",
                    n.id,
                    n.config.with_file_name("node.log").display()
                );
            }
        }
        if token.exists() {
            if let Ok(c) = Client::connect(n.cfg.api.listen, &token) {
                if c.get("/status").is_ok() {
                    return Ok(c);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("{} did not start within 20 s", n.id);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if cond()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until message `id` is in `n`'s inbox and returns it.
fn wait_inbox(n: &DemoNode, id: &str) -> Result<MessageView> {
    let mut found = None;
    wait_until(
        &format!("{} to receive {}", n.id, short(id)),
        Duration::from_secs(20),
        || match client(n)?.get_view(&format!("/messages/{id}")) {
            Ok(v) => {
                found = Some(v);
                Ok(true)
            }
            Err(_) => Ok(false),
        },
    )?;
    found.ok_or_else(|| anyhow!("{} did not receive {}", n.id, short(id)))
}

/// A message's text, if its payload is shown.
fn text(m: &MessageView) -> &str {
    m.payload().map_or("", |p| p.text.as_str())
}

/// The trail once: when the message was logged as sent, then each hop's signed answer (with
/// the log entry that recorded it).
fn print_trail(t: &Trail) {
    if let Some(e) = t.entries.iter().find(|e| e.event.name() == "sent") {
        out!("    sent at {} (log entry #{})", e.at, e.index);
    }
    for h in &t.hops {
        out!(
            "    hop {} → {} at {} (signed receipt {}, log entry #{})",
            h.peer,
            h.outcome,
            h.at,
            short(&h.proof),
            h.leaf
        );
    }
}

/// Sends SIGTERM and waits for a clean exit.
fn stop(n: &mut DemoNode) -> Result<()> {
    let Some(mut child) = n.child.take() else {
        return Ok(());
    };
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("cannot signal {}", n.id);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait()? {
            if !s.success() {
                bail!(
                    "{} exited with {s}; see {}",
                    n.id,
                    n.config.with_file_name("node.log").display()
                );
            }
            out!("    {:<22} stopped cleanly", n.id.as_str());
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{} did not stop within 20 s of SIGTERM", n.id);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
