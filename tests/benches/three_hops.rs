//! Three hops through two gateways, beside one hop measured in the same run. Results and
//! method: `docs/PERFORMANCE.md`, section "Network of networks: three hops".
//!
//! ```sh
//! cargo bench -p liaison-tests --bench three_hops                        # 3 rounds in two modes, ~2 min after the build
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-tests --bench three_hops  # smoke run, ~15 s
//! ```
//!
//! Each round measures both paths one right after the other (the order alternates between
//! rounds), in this process, in two modes, so that their ratio compares like with like on
//! a shared, noisy box:
//!
//! * **Own CPU per node** (what a deployment has: every centre runs its node on a machine of
//!   its own): each node runs on a tokio runtime of its own (two workers, threads named
//!   after the node), and all its threads (workers, blocking pool, store writer, and, for
//!   the sender, the submitters and the harness's poller) live in a cgroup of their own
//!   (v1 `cpu` + `cpuacct`) held to `NODE_CORES` = 0.5 core by a CFS quota (10 ms period).
//!   Four nodes fill the machine's two cores; in both paths every node gets the same CPU,
//!   so a path's throughput is set by its busiest node, as on separate machines. Needs root
//!   and writable cgroup v1 hierarchies; without them the bench says why and measures the
//!   shared mode only (`LIAISON_BENCH_SHARED_ONLY=1` skips it).
//! * **Shared cores**: every node of a path on the bench's one runtime (two workers), all on
//!   the same two cores: then the throughput ratio is about (CPU per message, one hop) /
//!   (CPU per message, three hops) — the cost of the whole path on one machine.
//!
//! The two paths:
//!
//! 1. **One hop**: `kz-dcu.central-asia` → `caricc.central-asia`, one network, peered
//!    directly (the workload of `one_hop.rs`).
//! 2. **Three hops**: `kz` → `caricc` → `gcc` → `oman` of the federation in
//!    `liaison_tests::federation` (central-asia → inter-regional → gulf): two gateways, each
//!    verifying, logging, receipting and relaying every message, and sending a signed hop
//!    report back to `kz` for every answer it gets from the next hop. Only the four nodes on
//!    the path run (APICC, the second way into the Gulf, stays stopped, as do UZ and UAE);
//!    the bench checks that a delivered envelope's route names the two gateways and that
//!    every message's trail at `kz` holds the signed answer of each hop (`caricc` and `gcc`
//!    relayed, `oman` delivered).
//!
//! Both paths: real certificates, mTLS QUIC on loopback, journal stores in fresh temp dirs
//! with an fdatasync on every group commit, checkpoints every hour (so none during a round),
//! message bodies of the same size (an AMBER alert whose encoded body is 1024 B before
//! sealing; the three-hop one is released to `network:central-asia`,
//! `network:inter-regional` and `network:gulf`). `send` seals the content to the recipient
//! and the sender; gateways verify and relay it without opening it. 64 warm-up messages go
//! first, once every session on the path is up, and until their answers are home. Then
//! `concurrency` tasks each call `send` for the next message until N are sent.
//!
//! * Throughput: N / (first submit → the receiver's inbox holds all N *and* the sender's
//!   outbox is empty, i.e. the first hop receipted every message).
//! * Latency: submit → seen in the receiver's inbox by a 1 ms poller that reads only the
//!   inbox length (the inbox entry is written in the same commit as the receiver's log entry).
//! * Idle-path latency: after the load, `probes` messages one at a time, each sent once the
//!   previous one's answers are home: submit → seen in the receiver's inbox (1 ms poll).
//!   Under load the latency is mostly the queue that the closed loop builds.
//! * Answers home: first submit → every message's trail at the sender holds the signed
//!   answer of each hop (carried back in hop reports), for information.
//! * CPU: this process's user + system time per message (`/proc/self/stat`, first submit →
//!   end of the throughput window), and how busy that kept the two cores.
//! * Own-CPU mode: each node's CPU time per message and the share of its quota it used
//!   (`cpuacct.usage` of its group over the same window): the busiest node is the
//!   bottleneck.
//!
//! In the shared mode, when both paths keep the cores busy the throughput ratio is close to
//! (CPU per message, one hop) / (CPU per message, three hops): the bench prints both. That
//! second figure does not depend on how much of the machine a neighbour took during a
//! round; a difference in "cores busy" between the two paths of a round is pointed out.
//!
//! Environment: `LIAISON_BENCH_N` (default 5 000), `LIAISON_BENCH_CONCURRENCY` (64),
//! `LIAISON_BENCH_ROUNDS` (3), `LIAISON_BENCH_PROBES` (50), `LIAISON_BENCH_QUICK=1`
//! (N = 1 000, one round, 20 probes), `LIAISON_BENCH_PROFILE=1` (three-hop rounds only,
//! shared mode, nothing else: for `perf record`; `=own` for the own-CPU mode, where
//! `perf report --sort comm` splits the samples by node; `=one` / `=own-one` the one-hop
//! path likewise), `LIAISON_BENCH_SHARED_ONLY=1`.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use hdrhistogram::Histogram;
use liaison_node::compose::SendRequest;
use liaison_node::config::Config;
use liaison_node::node::Node;
use liaison_protocol::{MessageId, NodeId, Timestamp};
use liaison_tests::bench::{flag, median, process_cpu_us, usize_var};
use liaison_tests::cluster::{alert, start, wait_for, Cluster};
use liaison_tests::federation::{Federation, CARICC, CARICC_IR, GCC, GCC_IR, KZ, OMAN};
use tokio::runtime::Runtime;

/// One-hop sender and receiver (one network), as in `one_hop.rs`.
const ONE_A: &str = "kz-dcu.central-asia";
const ONE_B: &str = "caricc.central-asia";
/// Networks a three-hop alert is released to: the sender's, the gateways' and Oman's.
const ALL_NETWORKS: [&str; 3] = [
    "network:central-asia",
    "network:inter-regional",
    "network:gulf",
];
/// Size of the signed message body, both paths.
const BODY_BYTES: usize = 1024;
/// Messages sent before measuring, so sessions, files and caches exist.
const WARM: usize = 64;
/// Three-hop throughput over one-hop throughput.
const TARGET: f64 = 0.50;
/// A difference in "cores busy" between the two paths of a round worth a note.
const UNEVEN: f64 = 0.15;
/// CPU each node gets in the own-CPU mode, in cores: four nodes fill the two cores.
const NODE_CORES: f64 = 0.5;
/// Time allowed for sessions to come up and for untimed waits.
const LONG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Options and small helpers

struct Opts {
    n: usize,
    concurrency: usize,
    rounds: usize,
    probes: usize,
}

impl Opts {
    fn from_env() -> Self {
        let quick = flag("LIAISON_BENCH_QUICK");
        Self {
            n: usize_var("LIAISON_BENCH_N").unwrap_or(if quick { 1_000 } else { 5_000 }),
            concurrency: usize_var("LIAISON_BENCH_CONCURRENCY").unwrap_or(64),
            rounds: usize_var("LIAISON_BENCH_ROUNDS").unwrap_or(if quick { 1 } else { 3 }),
            probes: usize_var("LIAISON_BENCH_PROBES").unwrap_or(if quick { 20 } else { 50 }),
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_micros().max(1) as u64);
}

fn ms(us: f64) -> String {
    format!("{:.1} ms", us / 1000.0)
}

fn rate(r: f64) -> String {
    if r >= 1000.0 {
        format!("{:.2} k/s", r / 1000.0)
    } else {
        format!("{r:.0} /s")
    }
}

fn joined(v: &[f64], f: impl Fn(f64) -> String) -> String {
    v.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")
}

/// Deterministic filler text of exactly `len` bytes, numbered so no two messages are equal.
fn padded_text(len: usize, i: usize) -> String {
    const WORDS: &str = "suspect vessel container transfer port corridor shipment courier \
        account wallet transit border checkpoint consignment manifest route cargo ";
    let mut s = format!("bench alert #{i:08}: ");
    while s.len() < len {
        s.push_str(WORDS);
    }
    s.truncate(len);
    s
}

/// An AMBER alert from KZ to Oman, released to the three networks on the way.
fn to_oman(text: &str) -> SendRequest {
    SendRequest {
        release: ALL_NETWORKS.iter().map(|s| s.to_string()).collect(),
        ..alert(OMAN, text)
    }
}

/// The text length that makes `me`'s encoded body of `req(text)` `BODY_BYTES` long (or just
/// under), and that length.
fn calibrate(me: &str, req: impl Fn(&str) -> SendRequest) -> Result<(usize, usize)> {
    let me: NodeId = me.parse().map_err(|e| anyhow!("{e:?}"))?;
    let size = |len: usize| -> Result<usize> {
        let body = liaison_node::compose::body(
            &me,
            &req(&padded_text(len, 0)),
            Timestamp(1_800_000_000_000),
            [7; 16],
        )
        .map_err(|r| anyhow!("{}: {r}", r.reason_code()))?;
        Ok(body.encode().map_err(|e| anyhow!("{e:?}"))?.len())
    };
    let mut len = BODY_BYTES.saturating_sub(size(100)? - 100);
    while len > 0 && size(len)? > BODY_BYTES {
        len -= 1;
    }
    Ok((len, size(len)?))
}

/// No group commit of a checkpoint during a round (the federation's nodes do the same).
fn quiet(mut cfg: Config) -> Config {
    cfg.checkpoints.interval_secs = 3600;
    cfg
}

fn connected(node: &Node, peer: &str) -> bool {
    node.status()
        .peers
        .iter()
        .any(|p| p.node.as_str() == peer && p.state.connected)
}

/// Waits until every `(node, peer)` session is established.
async fn wait_sessions(sessions: &[(&Node, &str)]) {
    for (node, peer) in sessions {
        wait_for(&format!("{} → {peer} connected", node.id()), LONG, || {
            connected(node, peer)
        })
        .await;
    }
}

fn outboxes_empty(nodes: &[&Node]) -> bool {
    nodes
        .iter()
        .all(|n| n.store().outbox_depths().values().sum::<u64>() == 0)
}

/// Whether the trail of `id` at the sender holds an answer from every hop, the receiver's
/// `delivered` among them.
fn trail_complete(path: &Path<'_>, id: &MessageId) -> Result<bool> {
    let hops = path
        .sender
        .store()
        .state(id)?
        .map(|s| s.hops)
        .unwrap_or_default();
    let answered: HashSet<&NodeId> = hops.iter().map(|h| &h.peer).collect();
    Ok(answered.len() == path.via.len() + 1
        && hops
            .iter()
            .any(|h| &h.peer == path.receiver.id() && h.outcome == "delivered"))
}

/// Polls every 1 ms until the trails of `ids` are complete at the sender, failing once
/// `since` is `limit` old. Hop reports can be between two outboxes, so empty outboxes alone
/// do not say it; but outboxes are cheap to read and trails are not: trails are read only
/// while every outbox on the path is empty, and only those still incomplete.
async fn answers_home(
    path: &Path<'_>,
    mut open: Vec<MessageId>,
    since: Instant,
    limit: Duration,
) -> Result<()> {
    loop {
        if outboxes_empty(path.nodes) {
            let mut still = Vec::new();
            for id in open {
                if !trail_complete(path, &id)? {
                    still.push(id);
                }
            }
            open = still;
            if open.is_empty() {
                return Ok(());
            }
        }
        if since.elapsed() > limit {
            bail!(
                "{} trails at the sender still lack an answer from some hop after {limit:?}",
                open.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// ---------------------------------------------------------------------------------------
// One path under load

/// What one path did in one round.
struct Run {
    /// Messages per second, end to end.
    rate: f64,
    /// Submit → seen in the receiver's inbox, µs.
    e2e: Histogram<u64>,
    /// Submit → `send` returned (signed and logged durably at the sender), µs.
    submit: Histogram<u64>,
    /// One message at a time on the idle path: submit → seen in the receiver's inbox, µs.
    idle: Histogram<u64>,
    /// First submit → every trail at the sender complete (all answers home).
    settled: Duration,
    /// First submit → all delivered and the first hop receipted everything.
    elapsed: Duration,
    /// CPU time of this process per message, µs.
    cpu_us: f64,
    /// That CPU time over the wall time of both cores.
    busy: f64,
    /// Bytes of one envelope as the receiver stored it.
    envelope_bytes: usize,
    /// Log entries each node on the path wrote per message, sender first.
    log_per_msg: Vec<f64>,
    /// Own-CPU mode: each node's CPU time per message, µs, sender first (empty otherwise).
    node_cpu_us: Vec<f64>,
    /// Own-CPU mode: each node's CPU time over the CPU it was given, sender first.
    node_busy: Vec<f64>,
}

/// A path: who sends, who receives, every node on it, and the centres of its relays.
struct Path<'a> {
    sender: &'a Node,
    receiver: &'a Node,
    nodes: &'a [&'a Node],
    via: &'a [&'a str],
}

/// Sends `n` messages `make(i)` along `path` from `concurrency` tasks and measures them,
/// then `probes` more one at a time.
async fn drive(
    path: &Path<'_>,
    make: impl Fn(usize) -> SendRequest,
    opts: &Opts,
    groups: &[&CpuGroup],
) -> Result<Run> {
    let (n, concurrency) = (opts.n, opts.concurrency);
    let (sender, receiver) = (path.sender, path.receiver);
    let (ss, sr) = (sender.store().clone(), receiver.store().clone());

    // Warm-up: every session carries traffic, stores written once, answers home.
    let mut warm = Vec::new();
    for i in 0..WARM {
        let (ctx, req) = (sender.ctx().clone(), make(usize::MAX - i));
        warm.push(tokio::spawn(async move {
            liaison_node::node::send(&ctx, &req).await
        }));
    }
    let mut warm_ids = Vec::new();
    for w in warm {
        warm_ids.push(w.await??.id);
    }
    answers_home(path, warm_ids, Instant::now(), LONG).await?;

    let reqs: Arc<Vec<SendRequest>> = Arc::new((0..n).map(&make).collect());
    let t0 = Instant::now();
    let cpu0 = process_cpu_us();
    let node_cpu0 = groups
        .iter()
        .map(|g| g.usage_us())
        .collect::<Result<Vec<_>>>()?;
    let logs0: Vec<u64> = path.nodes.iter().map(|n| n.store().log_size()).collect();

    // The poller only watches the receiver's inbox length and the sender's outbox (cheap,
    // so the harness does not load the system it measures); which message each inbox
    // position holds is read after the round.
    let driven = liaison_tests::bench::drive(
        sender.ctx().clone(),
        reqs.clone(),
        concurrency,
        ss.clone(),
        sr.clone(),
        (WARM + n) as u64,
    )
    .await?;
    let submitted = driven.submit_times();
    let mut submit = histogram();
    for (_, _, d) in &driven.submitted {
        record(&mut submit, *d);
    }
    let t_end = driven.end;
    let elapsed = t_end - t0;
    let cpu = process_cpu_us() - cpu0;
    // Each node's CPU time over the same window (own-CPU mode only).
    let node_used = groups
        .iter()
        .zip(&node_cpu0)
        .map(|(g, c0)| Ok((g.usage_us()? - c0, g.cores)))
        .collect::<Result<Vec<_>>>()?;
    // The reverse traffic finishing: every trail at the sender complete.
    answers_home(
        path,
        submitted.keys().cloned().collect(),
        t0,
        Duration::from_secs(600),
    )
    .await?;
    let settled = t0.elapsed();
    let log_per_msg = path
        .nodes
        .iter()
        .zip(&logs0)
        .map(|(node, l0)| (node.store().log_size() - l0) as f64 / n as f64)
        .collect();

    // Inbox position → the first poll that saw the inbox reach past it.
    let mut e2e = histogram();
    let mut delivered = Vec::with_capacity(n);
    for it in sr.inbox(WARM as u64, n)? {
        let at = &driven.first_seen(it.seq)?;
        let id = it.state.facts.id;
        let Some(t) = submitted.get(&id) else {
            bail!("the receiver delivered a message the sender did not submit");
        };
        record(&mut e2e, at.saturating_duration_since(*t));
        delivered.push(id);
    }
    if delivered.len() != n || submitted.len() != n {
        bail!(
            "lost or duplicated: {} submitted, {} delivered, {n} expected",
            submitted.len(),
            delivered.len()
        );
    }
    // The route the messages took.
    let envelope = sr
        .envelope(&delivered[0])?
        .ok_or_else(|| anyhow!("no envelope at the receiver"))?;
    let via: Vec<&str> = envelope.route.iter().map(|n| n.centre_str()).collect();
    if via != path.via {
        bail!(
            "expected the route {:?}, the envelope's is {:?}",
            path.via,
            envelope.route
        );
    }

    // A lone message on an idle path, one at a time (the latencies under load above are
    // mostly the queue the closed loop builds): what an officer sees on a quiet day.
    let mut idle = histogram();
    for i in 0..opts.probes {
        let req = make(usize::MAX - WARM - i);
        let before = sr.inbox_len();
        let t = Instant::now();
        let id = liaison_node::node::send(sender.ctx(), &req).await?.id;
        while sr.inbox_len() <= before {
            if t.elapsed() > LONG {
                bail!("a lone message took more than {LONG:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        record(&mut idle, t.elapsed());
        answers_home(path, vec![id], t, LONG).await?;
    }
    Ok(Run {
        rate: n as f64 / elapsed.as_secs_f64(),
        e2e,
        submit,
        idle,
        settled,
        elapsed,
        cpu_us: cpu / n as f64,
        busy: cpu / (2.0 * elapsed.as_micros() as f64),
        node_cpu_us: node_used.iter().map(|(u, _)| u / n as f64).collect(),
        node_busy: node_used
            .iter()
            .map(|(u, cores)| u / (cores * elapsed.as_micros() as f64))
            .collect(),
        envelope_bytes: envelope.encode().len(),
        log_per_msg,
    })
}

// ---------------------------------------------------------------------------------------
// The two paths

/// Where the nodes of a path run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// All of them on the bench's runtime (two workers), sharing the machine's two cores.
    Shared,
    /// Each on a runtime of its own whose threads are held to `NODE_CORES` of CPU by a
    /// cgroup of their own, as if each node had a machine of its own.
    Own,
}

/// The runtimes a path's nodes run on: the bench's own (shared mode) or one per node.
struct Hosts<'rt> {
    shared: &'rt Runtime,
    own: Vec<OwnHost>,
}

impl<'rt> Hosts<'rt> {
    fn new(shared: &'rt Runtime, mode: Mode, nodes: &[&str]) -> Result<Self> {
        let own = match mode {
            Mode::Shared => Vec::new(),
            Mode::Own => nodes
                .iter()
                .map(|n| OwnHost::new(n, NODE_CORES))
                .collect::<Result<_>>()?,
        };
        Ok(Self { shared, own })
    }

    /// Runs `fut` to completion on node `i`'s runtime, from a thread in node `i`'s cgroup (so
    /// that whatever it does inline, and any thread it starts, counts against that node).
    fn on<T: Send>(&self, i: usize, fut: impl std::future::Future<Output = T> + Send) -> Result<T> {
        match self.own.get(i) {
            None => Ok(self.shared.block_on(fut)),
            Some(h) => h.group.run(|| h.rt.block_on(fut)),
        }
    }

    fn groups(&self) -> Vec<&CpuGroup> {
        self.own.iter().map(|h| &h.group).collect()
    }

    /// Starts node `i` of the path from `cfg`.
    fn start(&self, i: usize, cfg: Config) -> Result<Node> {
        self.on(i, start(cfg))
    }

    /// Shuts the path's nodes down (node `i` on its own runtime) and then the runtimes.
    fn shutdown(self, nodes: Vec<Node>) -> Result<()> {
        for (i, node) in nodes.into_iter().enumerate() {
            self.on(i, node.shutdown())??;
        }
        for h in self.own {
            h.rt.shutdown_timeout(LONG);
            // The group is removed when it is dropped, now that its threads are gone.
        }
        Ok(())
    }
}

/// A tokio runtime (two workers) whose threads all live in one cgroup.
struct OwnHost {
    group: CpuGroup,
    rt: Runtime,
}

impl OwnHost {
    fn new(node: &str, cores: f64) -> Result<Self> {
        let group = CpuGroup::new(node, cores)?;
        // Built from a thread in the group: the workers it starts are born in it, and so is
        // every thread they start (the blocking pool's verifiers among them).
        let rt = group.run(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                // Named after the node, so that `perf report --sort comm` splits by node.
                .thread_name(node.split('.').next().unwrap_or(node))
                .enable_all()
                .build()
        })??;
        Ok(Self { group, rt })
    }
}

/// A cgroup (v1 `cpu` and `cpuacct` hierarchies) for one node's threads: a CPU quota, and
/// the CPU time they used.
struct CpuGroup {
    dirs: [std::path::PathBuf; 2],
    /// The quota, in cores.
    cores: f64,
}

impl CpuGroup {
    /// Period of the quota: short, so a node that used its share waits milliseconds, not
    /// the 100 ms of the default period.
    const PERIOD_US: u64 = 10_000;

    /// Whether this machine lets the bench make such groups (root, cgroup v1 `cpu` and
    /// `cpuacct` mounted writable), and if not, why.
    fn available() -> std::result::Result<(), String> {
        let probe = CpuGroup::new("probe", NODE_CORES).map_err(|e| format!("{e:#}"))?;
        drop(probe);
        Ok(())
    }

    fn new(node: &str, cores: f64) -> Result<Self> {
        let name = format!(
            "liaison-bench-{}-{}",
            std::process::id(),
            node.replace('.', "-")
        );
        let dirs = [
            std::path::Path::new("/sys/fs/cgroup/cpu").join(&name),
            std::path::Path::new("/sys/fs/cgroup/cpuacct").join(&name),
        ];
        for (i, d) in dirs.iter().enumerate() {
            if let Err(e) = std::fs::create_dir(d) {
                // Leave nothing behind: the first may have been made.
                for made in &dirs[..i] {
                    let _ = std::fs::remove_dir(made);
                }
                bail!("cannot create {}: {e}", d.display());
            }
        }
        // From here on, dropping the group removes both directories.
        let group = Self { dirs, cores };
        let quota = (cores * Self::PERIOD_US as f64) as u64;
        group.write(0, "cpu.cfs_period_us", &Self::PERIOD_US.to_string())?;
        group.write(0, "cpu.cfs_quota_us", &quota.to_string())?;
        Ok(group)
    }

    fn write(&self, dir: usize, file: &str, value: &str) -> Result<()> {
        let path = self.dirs[dir].join(file);
        std::fs::write(&path, value).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    }

    /// Runs `f` on a new thread that first moves itself into the group (`0` in `tasks` is
    /// the writing thread), and returns what it returned.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.write(0, "tasks", "0")?;
                self.write(1, "tasks", "0")?;
                Ok(f())
            })
            .join()
            .map_err(|_| anyhow!("a thread of the node's group panicked"))?
        })
    }

    /// CPU time the group's threads have used, µs.
    fn usage_us(&self) -> Result<f64> {
        let path = self.dirs[1].join("cpuacct.usage");
        let ns: f64 = std::fs::read_to_string(&path)?.trim().parse()?;
        Ok(ns / 1000.0)
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // Empty once the runtime's threads have ended; a thread that is still ending
            // keeps it for a moment.
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn one_hop(rt: &Runtime, mode: Mode, opts: &Opts, text_len: usize) -> Result<Run> {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(ONE_A);
    c.add(ONE_B);
    let hosts = Hosts::new(rt, mode, &[ONE_A, ONE_B])?;
    let a = hosts.start(0, quiet(c.config(ONE_A, &[ONE_B])))?;
    let b = hosts.start(1, quiet(c.config(ONE_B, &[ONE_A])))?;
    rt.block_on(wait_sessions(&[(&a, ONE_B), (&b, ONE_A)]));
    let path = Path {
        sender: &a,
        receiver: &b,
        nodes: &[&a, &b],
        via: &[],
    };
    let groups = hosts.groups();
    let run = hosts.on(
        0,
        drive(
            &path,
            |i| alert(ONE_B, &padded_text(text_len, i)),
            opts,
            &groups,
        ),
    )??;
    hosts.shutdown(vec![a, b])?;
    // The temp dir goes only now, after the nodes have let go of their stores.
    drop(c);
    Ok(run)
}

fn three_hops(rt: &Runtime, mode: Mode, opts: &Opts, text_len: usize) -> Result<Run> {
    let fed = Federation::new();
    let hosts = Hosts::new(rt, mode, &[KZ, CARICC, GCC, OMAN])?;
    let kz = hosts.start(0, fed.config(KZ))?;
    let caricc = hosts.start(1, fed.config(CARICC))?;
    let gcc = hosts.start(2, fed.config(GCC))?;
    let oman = hosts.start(3, fed.config(OMAN))?;
    // Both directions of every session on the path: messages go one way, receipts and hop
    // reports come back.
    rt.block_on(wait_sessions(&[
        (&kz, CARICC),
        (&caricc, KZ),
        (&caricc, GCC_IR),
        (&gcc, CARICC_IR),
        (&gcc, OMAN),
        (&oman, GCC),
    ]));
    let path = Path {
        sender: &kz,
        receiver: &oman,
        nodes: &[&kz, &caricc, &gcc, &oman],
        via: &["caricc", "gcc"],
    };
    let groups = hosts.groups();
    let run = hosts.on(
        0,
        drive(&path, |i| to_oman(&padded_text(text_len, i)), opts, &groups),
    )??;
    hosts.shutdown(vec![kz, caricc, gcc, oman])?;
    // The temp dir goes only now, after the nodes have let go of their stores.
    drop(fed);
    Ok(run)
}

// ---------------------------------------------------------------------------------------
// Report

/// One path's figures over the rounds.
#[derive(Default)]
struct Series {
    rates: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    submit_p50: Vec<f64>,
    submit_p99: Vec<f64>,
    idle_p50: Vec<f64>,
    idle_p99: Vec<f64>,
    cpu_us: Vec<f64>,
    busy: Vec<f64>,
    settled: Vec<f64>,
    envelope_bytes: usize,
    /// Per node on the path, per round.
    log_per_msg: Vec<Vec<f64>>,
    /// Own-CPU mode, per node on the path, per round: CPU per message (µs), share of its CPU.
    node_cpu: Vec<Vec<f64>>,
    node_busy: Vec<Vec<f64>>,
}

impl Series {
    fn push(&mut self, r: &Run) {
        self.rates.push(r.rate);
        self.p50.push(r.e2e.value_at_quantile(0.5) as f64);
        self.p99.push(r.e2e.value_at_quantile(0.99) as f64);
        self.submit_p50.push(r.submit.value_at_quantile(0.5) as f64);
        self.submit_p99
            .push(r.submit.value_at_quantile(0.99) as f64);
        self.idle_p50.push(r.idle.value_at_quantile(0.5) as f64);
        self.idle_p99.push(r.idle.value_at_quantile(0.99) as f64);
        self.cpu_us.push(r.cpu_us);
        self.busy.push(r.busy);
        self.settled
            .push(r.settled.as_secs_f64() / r.elapsed.as_secs_f64());
        self.envelope_bytes = r.envelope_bytes;
        self.log_per_msg.resize(r.log_per_msg.len(), Vec::new());
        for (all, l) in self.log_per_msg.iter_mut().zip(&r.log_per_msg) {
            all.push(*l);
        }
        self.node_cpu.resize(r.node_cpu_us.len(), Vec::new());
        self.node_busy.resize(r.node_busy.len(), Vec::new());
        for (all, c) in self.node_cpu.iter_mut().zip(&r.node_cpu_us) {
            all.push(*c);
        }
        for (all, b) in self.node_busy.iter_mut().zip(&r.node_busy) {
            all.push(*b);
        }
    }

    /// Own-CPU mode: median CPU per message of each node and how much of its CPU it used,
    /// e.g. `kz 98 µs (91 %), caricc 150 µs (99 %)`.
    fn per_node(&self, nodes: &[&str]) -> String {
        nodes
            .iter()
            .zip(self.node_cpu.iter().zip(&self.node_busy))
            .map(|(n, (c, b))| {
                format!(
                    "{} {:.0} µs ({:.0} %)",
                    n.split('.').next().unwrap_or(n),
                    median(c),
                    median(b) * 100.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Median log entries per message at each node, e.g. `kz 2.0, caricc 3.1`.
    fn logs(&self, nodes: &[&str]) -> String {
        nodes
            .iter()
            .zip(&self.log_per_msg)
            .map(|(n, l)| format!("{} {:.2}", n.split('.').next().unwrap_or(n), median(l)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} µs | {:.0} % | {:.2} × |",
            rate(median(&self.rates)),
            joined(&self.rates, rate),
            ms(median(&self.p50)),
            ms(median(&self.p99)),
            ms(median(&self.submit_p50)),
            ms(median(&self.submit_p99)),
            ms(median(&self.idle_p50)),
            ms(median(&self.idle_p99)),
            median(&self.cpu_us),
            median(&self.busy) * 100.0,
            median(&self.settled),
        )
    }
}

/// Both paths of every round in one mode, and their ratios.
#[derive(Default)]
struct Tally {
    one: Series,
    three: Series,
    ratios: Vec<f64>,
    cpu_ratios: Vec<f64>,
    per_round: Vec<String>,
    uneven: Vec<String>,
}

impl Tally {
    fn push(&mut self, round: usize, o: Run, t: Run) {
        let ratio = t.rate / o.rate;
        self.per_round.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {ratio:.3} | {:.0} / {:.0} µs | {:.0} / {:.0} % |",
            round + 1,
            rate(o.rate),
            ms(o.e2e.value_at_quantile(0.5) as f64),
            ms(o.e2e.value_at_quantile(0.99) as f64),
            rate(t.rate),
            ms(t.e2e.value_at_quantile(0.5) as f64),
            ms(t.e2e.value_at_quantile(0.99) as f64),
            o.cpu_us,
            t.cpu_us,
            o.busy * 100.0,
            t.busy * 100.0,
        ));
        if (o.busy - t.busy).abs() > UNEVEN {
            self.uneven.push((round + 1).to_string());
        }
        self.ratios.push(ratio);
        self.cpu_ratios.push(o.cpu_us / t.cpu_us);
        self.one.push(&o);
        self.three.push(&t);
    }

    fn ratio(&self) -> f64 {
        median(&self.ratios)
    }

    fn print(&self, mode: Mode, opts: &Opts, (one_body, three_body): (usize, usize)) {
        let (one, three, ratio) = (&self.one, &self.three, self.ratio());
        println!();
        match mode {
            Mode::Shared => println!(
                "## All nodes of a path sharing the machine's two cores: {} round(s) of N = {} messages ({one_body} B / {three_body} B signed bodies; envelope at the receiver {} B / {} B), {} concurrent submitters",
                opts.rounds, opts.n, one.envelope_bytes, three.envelope_bytes, opts.concurrency,
            ),
            Mode::Own => println!(
                "## Each node with a CPU of its own ({NODE_CORES} core, a cgroup quota per node): {} round(s) of N = {} messages, {} concurrent submitters",
                opts.rounds, opts.n, opts.concurrency,
            ),
        }
        println!();
        println!("| round | one hop msgs/s | e2e p50 | e2e p99 | three hops msgs/s | e2e p50 | e2e p99 | three / one | CPU/msg one / three | cores busy one / three |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &self.per_round {
            println!("{r}");
        }
        println!();
        println!("| path | msgs/s (median) | per round | e2e p50 | e2e p99 | submit→durable ack p50 | p99 | idle path e2e p50 | p99 | CPU/msg | cores busy | answers home |");
        println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!("{}", one.row("one hop: kz-dcu → caricc (one network)"));
        println!(
            "{}",
            three.row("three hops: kz → caricc → gcc → oman (two gateways)")
        );
        println!();
        println!("Latencies and CPU are medians of the per-round figures. e2e = submit → seen in the receiver's inbox (1 ms poll); submit→durable ack = `send` returned (signed, logged at the sender); idle path e2e = {} messages sent one at a time after the load, each once the previous one's answers were home; answers home = (first submit → every message's trail at the sender holds each hop's signed answer) / (first submit → all delivered and receipted by the first hop). CPU/msg and cores busy: the whole bench process over both cores.", opts.probes);
        println!();
        println!(
            "Log entries written per message (median; messages, receipts, hop reports, relays): one hop {}; three hops {}.",
            one.logs(&[ONE_A, ONE_B]),
            three.logs(&[KZ, CARICC, GCC, OMAN])
        );
        if mode == Mode::Own {
            println!();
            println!(
                "CPU per message of each node, and (in brackets) the share of its {NODE_CORES} core it used while the path was loaded (the submitters and the harness's 1 ms poller run in the sender's group): one hop {}; three hops {}. The busiest node sets a path's throughput.",
                one.per_node(&[ONE_A, ONE_B]),
                three.per_node(&[KZ, CARICC, GCC, OMAN])
            );
        }
        println!();
        println!("| ratio (median of per-round ratios) | value | per round | target | |");
        println!("|---|---:|---|---:|---|");
        println!(
            "| three hops / one hop, msgs/s | **{ratio:.3}** | {} | ≥ {TARGET:.2} | **{}** |",
            joined(&self.ratios, |r| format!("{r:.3}")),
            if ratio >= TARGET { "PASS" } else { "MISS" }
        );
        println!(
            "| msgs per CPU-second, three hops / one hop (= CPU per message, one / three) | {:.3} | {} | | |",
            median(&self.cpu_ratios),
            joined(&self.cpu_ratios, |r| format!("{r:.3}"))
        );
        if mode == Mode::Shared && !self.uneven.is_empty() {
            println!();
            println!(
                "Note: in round(s) {} the two paths did not get the same share of the two cores (see \"cores busy\"): something else was running. Throughput per CPU-second does not depend on that share; it is the ratio both paths would show with the cores to themselves, as long as both are CPU-bound.",
                self.uneven.join(", ")
            );
        }
    }
}

/// One round of one mode: both paths, one right after the other, the order alternating
/// between rounds so that a drift of the host's speed does not always favour the same one.
fn round_of(
    rt: &Runtime,
    mode: Mode,
    round: usize,
    opts: &Opts,
    (one_len, three_len): (usize, usize),
) -> Result<(Run, Run)> {
    Ok(if round.is_multiple_of(2) {
        let o = one_hop(rt, mode, opts, one_len)?;
        (o, three_hops(rt, mode, opts, three_len)?)
    } else {
        let t = three_hops(rt, mode, opts, three_len)?;
        (one_hop(rt, mode, opts, one_len)?, t)
    })
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = Opts::from_env();
    let (one_len, one_body) = calibrate(ONE_A, |t| alert(ONE_B, t))?;
    let (three_len, three_body) = calibrate(KZ, to_oman)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    eprintln!(
        "three hops beside one hop: N = {} × {one_body} / {three_body} B bodies, {} concurrent submitters, {} round(s)",
        opts.n, opts.concurrency, opts.rounds
    );
    if flag("LIAISON_BENCH_PROFILE") {
        // One path only, nothing else: for `perf record`. The value picks the path and the
        // mode: `1` three hops on shared cores, `own` three hops with a CPU share per node
        // (threads named after their node), `one` / `own-one` the one-hop path likewise.
        let how = std::env::var("LIAISON_BENCH_PROFILE").unwrap_or_default();
        let mode = if how.starts_with("own") {
            Mode::Own
        } else {
            Mode::Shared
        };
        let one = how.ends_with("one");
        for round in 0..opts.rounds {
            let t = if one {
                one_hop(&rt, mode, &opts, one_len)?
            } else {
                three_hops(&rt, mode, &opts, three_len)?
            };
            eprintln!(
                "round {}: {} {}, e2e p50 {}, idle p50 {}, {:.0} µs CPU/msg, cores {:.0} % busy, per node {:?} µs",
                round + 1,
                if one { "one hop" } else { "three hops" },
                rate(t.rate),
                ms(t.e2e.value_at_quantile(0.5) as f64),
                ms(t.idle.value_at_quantile(0.5) as f64),
                t.cpu_us,
                t.busy * 100.0,
                t.node_cpu_us.iter().map(|c| c.round()).collect::<Vec<_>>(),
            );
        }
        return Ok(());
    }
    // The own-CPU mode needs cgroups the bench can make (root, cgroup v1 `cpu` and
    // `cpuacct`); without them it says why and measures the shared mode only.
    let own = if flag("LIAISON_BENCH_SHARED_ONLY") {
        Err("LIAISON_BENCH_SHARED_ONLY is set".to_string())
    } else {
        CpuGroup::available()
    };
    let mut modes = vec![(Mode::Shared, Tally::default())];
    match &own {
        Ok(()) => modes.push((Mode::Own, Tally::default())),
        Err(why) => eprintln!("each node with a CPU of its own: not measured ({why})"),
    }
    let started = Instant::now();
    for round in 0..opts.rounds {
        for (mode, tally) in &mut modes {
            let (o, t) = round_of(&rt, *mode, round, &opts, (one_len, three_len))?;
            eprintln!(
                "round {} ({}): one hop {} (p50 {}, {:.0} µs CPU/msg, {:.0} % busy) | three hops {} (p50 {}, {:.0} µs CPU/msg, {:.0} % busy) | ratio {:.3}",
                round + 1,
                match mode {
                    Mode::Shared => "shared cores",
                    Mode::Own => "own CPU per node",
                },
                rate(o.rate),
                ms(o.e2e.value_at_quantile(0.5) as f64),
                o.cpu_us,
                o.busy * 100.0,
                rate(t.rate),
                ms(t.e2e.value_at_quantile(0.5) as f64),
                t.cpu_us,
                t.busy * 100.0,
                t.rate / o.rate,
            );
            tally.push(round, o, t);
        }
    }
    println!();
    println!(
        "# Three hops beside one hop (rounds took {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    for (mode, tally) in &modes {
        tally.print(*mode, &opts, (one_body, three_body));
    }
    println!();
    for (mode, tally) in &modes {
        let ratio = tally.ratio();
        println!(
            "{}: three hops at {ratio:.3} of one-hop throughput, {} (target ≥ {TARGET:.2})",
            if ratio >= TARGET { "PASS" } else { "MISS" },
            match mode {
                Mode::Shared => "all nodes sharing two cores",
                Mode::Own => "each node with a CPU of its own",
            }
        );
    }
    std::io::stdout().flush()?;
    Ok(())
}
