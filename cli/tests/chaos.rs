//! The federation under random SIGKILL: the seven nodes of `liaison_tests::federation`, in three
//! networks joined by gateways, each a real `liaison node run` process with its own data dir and
//! API, carry four flows of alerts across the gateways while a node picked at random is killed
//! with SIGKILL every 3–6 s for a minute and started again on the same configuration and data
//! dir (at once or after a short downtime). Then the killing and the sending stop, and:
//!
//! * every message an officer had acknowledged (201 with its id) is in its recipient's inbox:
//!   none missing, none twice, and each flow's messages in the order they were sent;
//! * no node raised an alarm;
//! * every node stops cleanly on SIGTERM, and `liaison audit verify` passes on its data dir;
//! * the flows resume within [`RESUME_BOUND`] of every restart.
//!
//! The flows, with their paths over the fixture's preferred routes (CARICC reaches the Gulf
//! through APICC, and the Gulf units reach Central Asia through APICC, only while their session
//! with GCC is down):
//!
//! | flow | path |
//! |---|---|
//! | KZ → OMAN | kz → caricc → gcc → oman |
//! | UZ → UAE | uz → caricc → gcc → uae |
//! | OMAN → KZ | oman → gcc → caricc → kz |
//! | UAE → UZ | uae → gcc → caricc → uz |
//!
//! Each sender is an officer script posting `POST /v1/messages` with the node's API token every
//! [`SEND_EVERY`], each attempt with the flow's next sequence number in its text; an attempt
//! that finds the node down is simply not acknowledged, and the script goes on.
//!
//! **Resume delay.** For a restart of node N whose new process was spawned at wall-clock time t,
//! and for each flow whose path includes N (as sender, relay or recipient), the delay is r − t,
//! where r is the earliest `received_at` (the time the recipient logged it, in milliseconds) of
//! a message of that flow that the recipient logged after t, i.e. one it did not hold at t. It
//! covers everything between the spawn and a delivery: the node's start-up, its peers noticing
//! the restart and dialling again, the officer script's next attempt when N is the sender
//! (within [`SEND_EVERY`]), and the message crossing the path. The senders keep posting until
//! every restart has been followed by a delivery on each of its flows, so the figure measures
//! the federation, not a pause in the traffic. A restart of a node on no flow's path (APICC, the
//! second way in) affects no flow and has no delay.
//!
//! The schedule (intervals, victims, downtimes) comes from a fixed seed through a small
//! xorshift generator; `LIAISON_CHAOS_SEED=<n>` replays another. When the test fails, the
//! federation's directory (configurations, data dirs, one log per node process) is kept and
//! its path printed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use liaison_node::compose::SendRequest;
use liaison_node::views::{InboxItem, InboxPage, SentView, StatusView};
use liaison_tests::cluster::free_tcp_addr;
use liaison_tests::federation::{Federation, CARICC, GCC, KZ, NODES, OMAN, UAE, UZ};

/// The schedule's seed, unless `LIAISON_CHAOS_SEED` gives another.
const SEED: u64 = 0x6c69_6169_736f_6e21;
/// How long nodes are killed for.
const CHAOS: Duration = Duration::from_secs(60);
/// Shortest and longest time between two kills, in milliseconds.
const KILL_EVERY_MS: (u64, u64) = (3_000, 6_000);
/// Longest time a killed node stays down before it is started again, in milliseconds.
const MAX_DOWN_MS: u64 = 1_000;
/// How often each officer script posts a message.
const SEND_EVERY: Duration = Duration::from_millis(200);
/// Every flow on a restarted node's path delivers again within this of the restart.
const RESUME_BOUND: Duration = Duration::from_secs(2);
/// How long the federation may take to start and deliver a first message of every flow.
const START: Duration = Duration::from_secs(90);
/// How long after the last restart the flows may take to show that they resumed.
const TAIL: Duration = Duration::from_secs(30);
/// How long every acknowledged message may take to arrive once the killing stopped.
const HEAL: Duration = Duration::from_secs(120);
/// How long a node may take to stop on SIGTERM.
const STOP: Duration = Duration::from_secs(30);

/// One flow of alerts from a sender to a recipient.
struct Flow {
    from: &'static str,
    to: &'static str,
    /// Every node the flow passes over the preferred routes, sender and recipient included.
    path: &'static [&'static str],
}

const FLOWS: [Flow; 4] = [
    Flow {
        from: KZ,
        to: OMAN,
        path: &[KZ, CARICC, GCC, OMAN],
    },
    Flow {
        from: UZ,
        to: UAE,
        path: &[UZ, CARICC, GCC, UAE],
    },
    Flow {
        from: OMAN,
        to: KZ,
        path: &[OMAN, GCC, CARICC, KZ],
    },
    Flow {
        from: UAE,
        to: UZ,
        path: &[UAE, GCC, CARICC, UZ],
    },
];

const ALL_NETWORKS: [&str; 3] = [
    "network:central-asia",
    "network:inter-regional",
    "network:gulf",
];

fn short(node: &str) -> &str {
    node.split('.').next().unwrap_or(node)
}

fn flow_name(f: usize) -> String {
    format!("{}→{}", short(FLOWS[f].from), short(FLOWS[f].to))
}

/// The text of a flow's `seq`-th message; [`flow_message`] reads it back.
fn text(f: usize, seq: u64) -> String {
    format!("chaos flow {f} message {seq}")
}

/// The flow and sequence number of an inbox item this test sent, by its text and originator.
fn flow_message(item: &InboxItem) -> Option<(usize, u64)> {
    let mut words = item.first_line()?.strip_prefix("chaos flow ")?.split(' ');
    let f: usize = words.next()?.parse().ok()?;
    let seq = words.nth(1)?.parse().ok()?;
    (FLOWS.get(f)?.from == item.originator).then_some((f, seq))
}

/// Milliseconds since the epoch, as the nodes stamp what they log.
fn now_ms() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    u64::try_from(d.as_millis()).expect("milliseconds fit")
}

fn received_ms(item: &InboxItem) -> u64 {
    let t = time::OffsetDateTime::parse(
        &item.received_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("received_at is RFC 3339");
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).expect("after 1970")
}

/// xorshift64*: the schedule's only randomness, so that a seed replays it.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Polls `cond` every 50 ms until it holds (true) or `limit` passes (false).
fn poll(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A node's officer API, over plain HTTP with the token from its token file.
#[derive(Clone)]
struct Api {
    addr: SocketAddr,
    token_file: PathBuf,
    agent: ureq::Agent,
}

/// An error answer's reason code.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
}

impl Api {
    fn new(addr: SocketAddr, token_file: PathBuf) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self {
            addr,
            token_file,
            agent,
        }
    }

    fn auth(&self) -> Option<String> {
        let token = std::fs::read_to_string(&self.token_file).ok()?;
        Some(format!("Bearer {}", token.trim()))
    }

    /// `GET /v1{path}`, if the node answers 200.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Option<T> {
        let mut r = self
            .agent
            .get(format!("http://{}/v1{path}", self.addr))
            .header("Authorization", self.auth()?)
            .call()
            .ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
    }

    /// The whole inbox, page by page; `None` if the node does not answer.
    fn inbox(&self) -> Option<Vec<InboxItem>> {
        let mut items = Vec::new();
        let mut from = 0;
        loop {
            let page: InboxPage = self.get(&format!("/inbox?from={from}&limit=1000"))?;
            items.extend(page.items);
            match page.next_from {
                Some(next) => from = next,
                None => return Some(items),
            }
        }
    }

    /// Posts a message: its id on 201 (acknowledged), else what came back instead.
    fn send(&self, req: &SendRequest) -> Result<String, String> {
        let auth = self.auth().ok_or("no token file")?;
        let body = serde_json::to_string(req).expect("request as JSON");
        let mut r = self
            .agent
            .post(format!("http://{}/v1/messages", self.addr))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|_| "no answer".to_owned())?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|_| "cut answer")?;
        if status != 201 {
            let code = serde_json::from_str::<ErrorBody>(&text).map_or(String::new(), |e| e.error);
            return Err(format!("{status} {code}"));
        }
        let sent: SentView = serde_json::from_str(&text).map_err(|_| "201 without an id")?;
        Ok(sent.id)
    }
}

/// One node as a `liaison node run` process; killed if still running when dropped.
struct Proc {
    id: &'static str,
    config: PathBuf,
    home: PathBuf,
    data: PathBuf,
    api: Api,
    child: Option<Child>,
    runs: u32,
}

impl Proc {
    /// Writes the node's configuration, with an API address of its own.
    fn new(fed: &Federation, id: &'static str) -> Self {
        let mut cfg = fed.config(id);
        cfg.api.listen = free_tcp_addr();
        let home = fed.cluster.node_dir(id);
        let config = home.join("node.toml");
        std::fs::write(&config, toml::to_string(&cfg).expect("toml")).expect("node.toml");
        Self {
            id,
            config,
            home,
            data: cfg.data_dir.clone(),
            api: Api::new(cfg.api.listen, cfg.data_dir.join(&cfg.api.token_file)),
            child: None,
            runs: 0,
        }
    }

    fn spawn(&mut self) {
        self.runs += 1;
        let log = std::fs::File::create(self.home.join(format!("node-{}.log", self.runs)))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_liaison"))
            .args(["node", "run", "--config"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the node");
        self.child = Some(child);
    }

    /// SIGKILL, and the exit reaped.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }

    /// How the process ended, if it ended by itself.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("try_wait")
    }

    /// SIGTERM, then its exit status once it has stopped (`None` if it did not within [`STOP`]).
    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let signalled = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("run kill");
        assert!(signalled.success(), "cannot signal {}", self.id);
        let mut status = None;
        poll(STOP, || {
            status = c.try_wait().expect("try_wait");
            status.is_some()
        });
        if status.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Keeps the federation's directory when the test fails, and says where.
struct KeepOnFailure(Option<tempfile::TempDir>);

impl Drop for KeepOnFailure {
    fn drop(&mut self) {
        if let (true, Some(dir)) = (std::thread::panicking(), self.0.take()) {
            eprintln!(
                "the federation's files and node logs are kept in {}",
                dir.keep().display()
            );
        }
    }
}

/// What one officer script did.
#[derive(Default)]
struct FlowLog {
    /// Attempts made.
    sent: u64,
    /// (sequence number, message id) of each acknowledged attempt, in order.
    acked: Vec<(u64, String)>,
    /// Unacknowledged attempts, by what came back.
    failed: BTreeMap<String, u64>,
}

/// Posts flow `f`'s messages through its sender's API until `stop`.
fn officer(f: usize, api: Api, stop: Arc<AtomicBool>) -> FlowLog {
    let flow = &FLOWS[f];
    let mut log = FlowLog::default();
    while !stop.load(Ordering::Relaxed) {
        let seq = log.sent;
        log.sent += 1;
        let req = SendRequest {
            kind: "alert".into(),
            to: vec![flow.to.into()],
            tlp: "AMBER".into(),
            release: ALL_NETWORKS.iter().map(|n| n.to_string()).collect(),
            eval: "B2".into(),
            text: text(f, seq),
            lang: "en".into(),
            ..Default::default()
        };
        match api.send(&req) {
            Ok(id) => log.acked.push((seq, id)),
            Err(why) => *log.failed.entry(why).or_default() += 1,
        }
        // The script's pace, a few messages a second: not a wait for anything.
        std::thread::sleep(SEND_EVERY);
    }
    log
}

/// A node started again.
struct Restart {
    node: &'static str,
    /// When the new process was spawned (milliseconds since the epoch).
    at_ms: u64,
    /// Since the chaos began.
    offset: Duration,
    down_ms: u64,
}

/// Each flow's messages in its recipient's inbox, in inbox order: (sequence number, id,
/// received at).
type Delivered = Vec<Vec<(u64, String, u64)>>;

fn delivered(inboxes: &HashMap<&str, Vec<InboxItem>>) -> Delivered {
    let mut out = vec![Vec::new(); FLOWS.len()];
    for (f, flow) in FLOWS.iter().enumerate() {
        for item in &inboxes[flow.to] {
            if let Some((g, seq)) = flow_message(item) {
                if g == f {
                    out[f].push((seq, item.id.clone(), received_ms(item)));
                }
            }
        }
    }
    out
}

/// The resume delay of each flow through a restarted node (see the module doc), `None` while
/// the flow has delivered nothing since.
fn resume_delays(r: &Restart, delivered: &Delivered) -> Vec<(usize, Option<u64>)> {
    FLOWS
        .iter()
        .enumerate()
        .filter(|(_, flow)| flow.path.contains(&r.node))
        .map(|(f, _)| {
            let first = delivered[f]
                .iter()
                .map(|(_, _, at)| *at)
                .filter(|at| *at > r.at_ms)
                .min();
            (f, first.map(|at| at - r.at_ms))
        })
        .collect()
}

/// The inboxes of every flow's recipient, if all of them answer.
fn read_inboxes(nodes: &[Proc]) -> Option<HashMap<&'static str, Vec<InboxItem>>> {
    let mut out = HashMap::new();
    for flow in &FLOWS {
        if !out.contains_key(flow.to) {
            let n = nodes.iter().find(|n| n.id == flow.to).expect("node");
            out.insert(n.id, n.api.inbox()?);
        }
    }
    Some(out)
}

#[test]
fn acknowledged_messages_cross_gateways_exactly_once_and_in_order_under_random_sigkills() {
    let seed = std::env::var("LIAISON_CHAOS_SEED")
        .ok()
        .map(|s| s.parse().expect("LIAISON_CHAOS_SEED is a number"))
        .unwrap_or(SEED);
    let began = Instant::now();
    let fed = Federation::new();
    let pki = fed.cluster.dir.path().join("pki");
    let cas: Vec<PathBuf> = ["central-asia", "gulf", "inter-regional"]
        .iter()
        .map(|n| pki.join(n).join("ca.crt"))
        .collect();
    // Dropped after the processes are killed.
    let mut keep = KeepOnFailure(None);
    let mut nodes: Vec<Proc> = NODES.iter().map(|n| Proc::new(&fed, n)).collect();
    keep.0 = Some(fed.cluster.dir);
    let index = |id: &str| NODES.iter().position(|n| *n == id).expect("node");

    for n in &mut nodes {
        n.spawn();
    }
    assert!(
        poll(START, || nodes
            .iter()
            .all(|n| n.api.get::<StatusView>("/status").is_some())),
        "every node's API answers"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let officers: Vec<JoinHandle<FlowLog>> = (0..FLOWS.len())
        .map(|f| {
            let api = nodes[index(FLOWS[f].from)].api.clone();
            let stop = stop.clone();
            std::thread::spawn(move || officer(f, api, stop))
        })
        .collect();
    assert!(
        poll(START, || read_inboxes(&nodes).is_some_and(|i| delivered(
            &i
        )
        .iter()
        .all(|d| !d.is_empty()))),
        "a first message of every flow delivered"
    );
    println!(
        "federation up, every flow delivering, after {:.1} s; chaos with seed {seed:#x}",
        began.elapsed().as_secs_f64()
    );

    // The chaos: kill a node picked by the seed every few seconds, start it again.
    let mut rng = Rng::new(seed);
    let mut restarts: Vec<Restart> = Vec::new();
    let mut crashed: Vec<String> = Vec::new();
    let chaos = Instant::now();
    loop {
        let pause = Duration::from_millis(rng.between(KILL_EVERY_MS.0, KILL_EVERY_MS.1));
        if chaos.elapsed() + pause > CHAOS {
            break;
        }
        // The schedule: the next kill is due then.
        std::thread::sleep(pause);
        let victim = rng.between(0, NODES.len() as u64 - 1) as usize;
        let down_ms = match rng.between(0, 2) {
            0 => 0,
            _ => rng.between(1, MAX_DOWN_MS),
        };
        for n in &mut nodes {
            if let Some(s) = n.exited() {
                crashed.push(format!("{} (run {}) exited by itself: {s}", n.id, n.runs));
                n.child = None;
                n.spawn();
            }
        }
        let n = &mut nodes[victim];
        let killed_at = chaos.elapsed();
        n.kill();
        // The downtime the seed chose.
        std::thread::sleep(Duration::from_millis(down_ms));
        n.spawn();
        let restart = Restart {
            node: n.id,
            at_ms: now_ms(),
            offset: chaos.elapsed(),
            down_ms,
        };
        println!(
            "kill {:>2} at {:>5.1} s: {} (run {}), down {down_ms} ms",
            restarts.len() + 1,
            killed_at.as_secs_f64(),
            n.id,
            n.runs - 1
        );
        restarts.push(restart);
    }

    // Sending goes on until every restart was followed by a delivery on each of its flows.
    poll(TAIL, || {
        read_inboxes(&nodes).is_some_and(|i| {
            let d = delivered(&i);
            restarts.iter().all(|r| {
                resume_delays(r, &d)
                    .iter()
                    .all(|(_, delay)| delay.is_some())
            })
        })
    });
    stop.store(true, Ordering::Relaxed);
    let logs: Vec<FlowLog> = officers
        .into_iter()
        .map(|o| o.join().expect("officer script"))
        .collect();
    let acked: HashMap<&str, (usize, u64)> = logs
        .iter()
        .enumerate()
        .flat_map(|(f, l)| {
            l.acked
                .iter()
                .map(move |(seq, id)| (id.as_str(), (f, *seq)))
        })
        .collect();

    // Heal: every acknowledged message reaches its recipient.
    let mut inboxes = HashMap::new();
    poll(HEAL, || match read_inboxes(&nodes) {
        Some(i) => {
            let d = delivered(&i);
            inboxes = i;
            acked
                .iter()
                .all(|(id, (f, _))| d[*f].iter().any(|(_, have, _)| have == id))
        }
        None => false,
    });
    assert!(!inboxes.is_empty(), "the recipients' inboxes could be read");
    let d = delivered(&inboxes);

    // The figures.
    let mut missing = Vec::new();
    let mut duplicates = Vec::new();
    let mut disorder = Vec::new();
    let mut delivered_acked = 0;
    for (f, flow) in FLOWS.iter().enumerate() {
        let have: HashSet<&str> = d[f].iter().map(|(_, id, _)| id.as_str()).collect();
        for (seq, id) in &logs[f].acked {
            if have.contains(id.as_str()) {
                delivered_acked += 1;
            } else {
                missing.push(format!("{} message {seq} ({id})", flow_name(f)));
            }
        }
        let mut seen = HashMap::new();
        for (seq, _, _) in &d[f] {
            *seen.entry(seq).or_insert(0) += 1;
        }
        let mut last: Option<u64> = None;
        for (seq, id, _) in &d[f] {
            if let Some(prev) = last.filter(|p| p >= seq) {
                disorder.push(format!("{}: {seq} ({id}) after {prev}", flow_name(f)));
            }
            last = Some(last.map_or(*seq, |p| p.max(*seq)));
        }
        let unacked = d[f].len()
            - d[f]
                .iter()
                .filter(|(_, id, _)| acked.contains_key(id.as_str()))
                .count();
        let log = &logs[f];
        println!(
            "flow {:<10} {}: sent {}, acknowledged {}, delivered {} (and {unacked} sent but not acknowledged), not acknowledged: {:?}",
            flow_name(f),
            flow.path.iter().map(|n| short(n)).collect::<Vec<_>>().join("→"),
            log.sent,
            log.acked.len(),
            d[f].len() - unacked,
            log.failed,
        );
    }
    for (node, items) in &inboxes {
        let mut copies: HashMap<&str, usize> = HashMap::new();
        for i in items {
            *copies.entry(i.id.as_str()).or_default() += 1;
        }
        for (id, n) in copies.into_iter().filter(|(_, n)| *n > 1) {
            duplicates.push(format!("{id} {n} times in the inbox of {node}"));
        }
    }

    // The worst resume delay; `None` once a flow never resumed after a restart.
    let mut max_delay: Option<u64> = Some(0);
    for (i, r) in restarts.iter().enumerate() {
        let delays = resume_delays(r, &d);
        let worst = delays
            .iter()
            .try_fold(0, |worst, (_, d)| d.map(|d| d.max(worst)));
        max_delay = max_delay.zip(worst).map(|(a, b)| a.max(b));
        let each: Vec<String> = delays
            .iter()
            .map(|(f, d)| match d {
                Some(ms) => format!("{} {ms} ms", flow_name(*f)),
                None => format!("{} never", flow_name(*f)),
            })
            .collect();
        println!(
            "restart {:>2} at {:>5.1} s of {:<22} (down {:>4} ms): {}",
            i + 1,
            r.offset.as_secs_f64(),
            r.node,
            r.down_ms,
            if each.is_empty() {
                "no flow passes it".to_owned()
            } else {
                format!(
                    "flows {}; resumed after {}",
                    each.join(", "),
                    worst.map_or("never".into(), |ms| format!("{ms} ms"))
                )
            }
        );
    }

    // No alarm on any node, then every node stops cleanly and its log verifies.
    let mut alarms = Vec::new();
    for n in &nodes {
        let status: StatusView = n.api.get("/status").expect("status");
        for a in status.alarms {
            alarms.push(format!("{}: {} {} {}", n.id, a.code, a.subject, a.text));
        }
    }
    for n in &mut nodes {
        if let Some(s) = n.exited() {
            crashed.push(format!("{} (run {}) exited by itself: {s}", n.id, n.runs));
        }
    }
    let mut unclean = Vec::new();
    for n in &mut nodes {
        match n.terminate() {
            Some(s) if s.success() => {}
            other => unclean.push(format!("{} on SIGTERM: {other:?}", n.id)),
        }
    }
    let mut unaudited = Vec::new();
    for n in &nodes {
        let out = Command::new(env!("CARGO_BIN_EXE_liaison"))
            .args(["audit", "verify", "--data"])
            .arg(&n.data)
            .args(cas.iter().flat_map(|c| [Path::new("--ca"), c.as_path()]))
            .output()
            .expect("audit verify");
        if !out.status.success() {
            unaudited.push(format!(
                "{}: {}\n{}{}",
                n.id,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }

    let sent: u64 = logs.iter().map(|l| l.sent).sum();
    println!(
        "chaos seed {seed:#x}: kills {}, sent {sent}, acknowledged {}, delivered {delivered_acked}, duplicates {}, missing {}, max resume delay {}; {:.0} s in all",
        restarts.len(),
        acked.len(),
        duplicates.len(),
        missing.len(),
        max_delay.map_or("unbounded".into(), |ms| format!("{ms} ms")),
        began.elapsed().as_secs_f64()
    );
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:#?}"
    );
    assert!(duplicates.is_empty(), "delivered twice: {duplicates:#?}");
    assert!(disorder.is_empty(), "out of order: {disorder:#?}");
    assert!(
        crashed.is_empty(),
        "nodes that died by themselves: {crashed:#?}"
    );
    assert!(alarms.is_empty(), "alarms: {alarms:#?}");
    assert!(unclean.is_empty(), "unclean stops: {unclean:#?}");
    assert!(
        unaudited.is_empty(),
        "logs that do not verify: {unaudited:#?}"
    );
    let max = max_delay.expect("every flow resumed after every restart");
    assert!(
        Duration::from_millis(max) < RESUME_BOUND,
        "the flows resumed {max} ms after a restart, beyond {RESUME_BOUND:?}"
    );
}
