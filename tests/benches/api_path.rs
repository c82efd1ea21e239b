//! The officer's path: two real `liaison node run` processes driven through the officer API
//! over loopback, beside the same messages sent in-process, in the same run. Results and
//! method: `docs/PERFORMANCE.md`, sections "The officer's path" and "A backlog for a peer
//! that is down".
//!
//! ```sh
//! cargo build --release -p liaison-cli                                  # the node binary
//! cargo bench -p liaison-tests --bench api_path                         # 3 rounds, ~3 min
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-tests --bench api_path   # smoke run
//! LIAISON_BENCH_BACKLOG=1000000 cargo bench -p liaison-tests --bench api_path  # backlog only
//! ```
//!
//! One round, each part right after the other:
//!
//! 1. **Bound** (like for like): on one thread, what a hop cannot avoid per message — one
//!    Ed25519 sign and one verify of the 51 bytes the node signs (`context ‖ SHA-256(body)`)
//!    and the SHA-256 of the 1 KiB body — timed by the thread's CPU clock (and by the wall
//!    clock on two threads, for the wall-clock ratio).
//! 2. **In-process**: nodes A → B in this process (`Node::start`), `concurrency` tasks calling
//!    `send` (what `POST /v1/messages` calls), as the one-hop bench does.
//! 3. **Through the API**: A and B as `liaison node run` processes (release binary,
//!    `MALLOC_ARENA_MAX=2` and the default log level, as deployed); `concurrency` keep-alive
//!    HTTP/1.1 connections each posting the next alert as soon as the previous one was
//!    answered `201`. The same 1 KiB alerts as in 2. Throughput: N / (first post → A's
//!    outbox empty, every message receipted by B). Latency send → acknowledged: post → `201`
//!    (durable at A). Send → in B's inbox: B's `received_at` (its log time) − the post's
//!    wall-clock time. CPU per message of each process from `/proc/<pid>/stat`.
//! 4. **At 80 % of the maximum**: the same processes, posts paced at 0.8 × the rate of 3
//!    (open loop: latency counts from each post's scheduled time).
//!
//! `LIAISON_BENCH_BACKLOG=<n>` runs only the backlog scenario: B is stopped, n alerts are
//! posted to A for it, A's RSS is sampled throughout; A is restarted on that data dir (time
//! to its API answering, RSS); B is started and the backlog drains, every message counted in
//! B's inbox exactly once.
//!
//! Environment: `LIAISON_BENCH_N` (messages per round, 20 000; 2 000 quick),
//! `LIAISON_BENCH_CONCURRENCY` (64), `LIAISON_BENCH_ROUNDS` (3; 1 quick), `LIAISON_BIN`,
//! `LIAISON_BENCH_NODE_WORKERS` (the node processes' tokio workers, `TOKIO_WORKER_THREADS`;
//! default: one per core).
#![allow(missing_docs)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use liaison_protocol::MessageId;
use liaison_tests::bench::{
    cpu_us_in, flag, liaison_bin, median, process_cpu_us, rss_kib, usize_var,
};
use liaison_tests::cluster::{alert, start, wait_keys, Cluster, NodeFiles};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
/// Characters of alert text: with the header and handling, a body of about 1 KiB.
const TEXT_LEN: usize = 900;
const WARM: usize = 64;
const API_TARGET: f64 = 0.85;
const P99_TARGET_MS: f64 = 25.0;
const CPU_TARGET: f64 = 0.70;
const RSS_TARGET_MIB: f64 = 200.0;
const RESTART_TARGET: Duration = Duration::from_secs(5);

fn text(i: usize) -> String {
    let head = format!("Container MSCU{i:07} expected at Aktau; ");
    let mut t = head.clone();
    while t.len() < TEXT_LEN {
        t.push_str("cargo manifest line; ");
    }
    t.truncate(TEXT_LEN);
    t
}

fn alert_json(i: usize) -> String {
    serde_json::json!({
        "kind": "alert", "to": [B], "tlp": "AMBER", "release": ["network:central-asia"],
        "eval": "B2", "text": text(i), "lang": "en",
    })
    .to_string()
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram")
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------
// Processes

fn find_bin() -> Result<PathBuf> {
    liaison_bin().ok_or_else(|| {
        anyhow!("no liaison binary: run `cargo build --release -p liaison-cli` or set LIAISON_BIN")
    })
}

/// A child process killed when dropped, however the bench ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

struct Proc {
    child: KillOnDrop,
    files: NodeFiles,
}

impl Proc {
    fn spawn(bin: &Path, files: NodeFiles) -> Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(files.config.with_extension("log"))?;
        let mut cmd = Command::new(bin);
        if let Some(w) = usize_var("LIAISON_BENCH_NODE_WORKERS") {
            cmd.env("TOKIO_WORKER_THREADS", w.to_string());
        }
        let child = cmd
            .arg("--config")
            .arg(&files.config)
            .args(["node", "run"])
            // As deploy/systemd/liaison.service and deploy/Dockerfile run it.
            .env("MALLOC_ARENA_MAX", "2")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start the node")?;
        Ok(Self {
            child: KillOnDrop(child),
            files,
        })
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn token(&self) -> Result<String> {
        Ok(std::fs::read_to_string(&self.files.token_file)?
            .trim()
            .to_owned())
    }

    /// Stops it with SIGTERM (a graceful shutdown) and waits.
    fn stop(mut self) -> Result<NodeFiles> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let t = Instant::now();
        while self.child.0.try_wait()?.is_none() {
            if t.elapsed() > Duration::from_secs(120) {
                bail!("the node did not stop within 120 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(self.files)
    }
}

/// User + system CPU time of a process so far, µs (clock ticks of 10 ms).
fn cpu_us(pid: u32) -> f64 {
    cpu_us_in(&format!("/proc/{pid}/stat"))
}

/// VmRSS and VmHWM of a process, MiB (NaN once it is gone).
fn rss_mib(pid: u32) -> (f64, f64) {
    rss_kib(pid).map_or((f64::NAN, f64::NAN), |(rss, hwm)| {
        (rss as f64 / 1024.0, hwm as f64 / 1024.0)
    })
}

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 keep-alive client: the load generator shares the two cores with the
// nodes, so it does as little as wrk would.

struct Conn {
    io: BufReader<TcpStream>,
    auth: String,
    host: String,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr, token: &str) -> Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Self {
            io: BufReader::new(s),
            auth: format!("Bearer {token}"),
            host: addr.to_string(),
        })
    }

    async fn call(&mut self, method: &str, path: &str, body: &str) -> Result<Answer> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            self.auth,
            body.len()
        );
        self.io.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
        let mut len = 0usize;
        loop {
            line.clear();
            if self.io.read_line(&mut line).await? == 0 {
                bail!("connection closed mid-answer");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; len];
        self.io.read_exact(&mut body).await?;
        Ok(Answer { status, body })
    }

    async fn get_json(&mut self, path: &str) -> Result<serde_json::Value> {
        let a = self.call("GET", path, "").await?;
        if a.status != 200 {
            bail!(
                "GET {path}: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
        }
        Ok(serde_json::from_slice(&a.body)?)
    }
}

fn id_of(a: &Answer) -> Result<MessageId> {
    let v: serde_json::Value = serde_json::from_slice(&a.body)?;
    v["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no id in {v}"))?
        .parse()
        .map_err(|_| anyhow!("bad id in {v}"))
}

/// Waits until the node's API answers; returns how long that took.
async fn api_up(p: &Proc, limit: Duration) -> Result<Duration> {
    let t = Instant::now();
    loop {
        if let Ok(token) = p.token() {
            if let Ok(mut c) = Conn::open(p.files.api, &token).await {
                if c.get_json("/v1/status").await.is_ok() {
                    return Ok(t.elapsed());
                }
            }
        }
        if t.elapsed() > limit {
            bail!("the node's API did not answer within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A's outbox towards B, and whether B is connected.
async fn outbox_to_b(c: &mut Conn) -> Result<(u64, bool)> {
    let v = c.get_json("/v1/peers").await?;
    let p = v["peers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["node"] == B))
        .ok_or_else(|| anyhow!("B is not in A's peers: {v}"))?;
    Ok((p["outbox"].as_u64().unwrap_or(0), p["connected"] == true))
}

/// Posts alerts numbered from `first` until `count` were answered 201, from `concurrency`
/// connections; `pace` spaces them (open loop) or `None` for closed loop. Returns, per
/// message, (id, wall-clock ms of the post, post → 201 in µs, from the scheduled time).
async fn post_alerts(
    api: SocketAddr,
    token: &str,
    first: usize,
    count: usize,
    concurrency: usize,
    pace: Option<Duration>,
) -> Result<Vec<(MessageId, u64, u64)>> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, token) = (next.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(api, &token).await?;
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(out);
                }
                let body = alert_json(first + i);
                let scheduled = match pace {
                    Some(p) => {
                        let at = t0 + p.mul_f64(i as f64);
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => Instant::now(),
                };
                let wall = wall_ms();
                let a = c.call("POST", "/v1/messages", &body).await?;
                if a.status != 201 {
                    bail!(
                        "POST /v1/messages: {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    );
                }
                out.push((id_of(&a)?, wall, scheduled.elapsed().as_micros() as u64));
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Every message in B's inbox: id → B's log time (ms).
async fn inbox_of(c: &mut Conn) -> Result<Vec<(MessageId, u64)>> {
    let mut out = Vec::new();
    let mut from = 0u64;
    loop {
        let v = c
            .get_json(&format!("/v1/inbox?from={from}&limit=1000"))
            .await?;
        for i in v["items"].as_array().into_iter().flatten() {
            let id: MessageId = i["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow!("bad inbox item {i}"))?;
            let at = i["received_at"].as_str().unwrap_or_default();
            let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
                .unwrap_or(0);
            out.push((id, t));
        }
        match v["next_from"].as_u64() {
            Some(n) => from = n,
            None => return Ok(out),
        }
    }
}

/// Two node processes, A peered with B, B's sealing key known at A.
async fn pair(bin: &Path, c: &mut Cluster) -> Result<(Proc, Proc, Conn)> {
    c.add(A);
    c.add(B);
    let b = Proc::spawn(bin, c.node_toml(c.config(B, &[A])))?;
    let a = Proc::spawn(bin, c.node_toml(c.config(A, &[B])))?;
    api_up(&a, Duration::from_secs(60)).await?;
    api_up(&b, Duration::from_secs(60)).await?;
    let mut ca = Conn::open(a.files.api, &a.token()?).await?;
    // The first send waits (up to 10 s) for B's sealing key, which comes once they connect.
    let t = Instant::now();
    loop {
        let r = ca
            .call("POST", "/v1/messages", &alert_json(usize::MAX))
            .await?;
        if r.status == 201 {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            bail!("A cannot send to B: {}", String::from_utf8_lossy(&r.body));
        }
    }
    Ok((a, b, ca))
}

async fn drained(ca: &mut Conn, limit: Duration) -> Result<Instant> {
    let t = Instant::now();
    loop {
        if outbox_to_b(ca).await?.0 == 0 {
            return Ok(Instant::now());
        }
        if t.elapsed() > limit {
            bail!("A's outbox to B did not drain within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The parts of a round

struct Bound {
    /// CPU µs per message on one thread.
    cpu_us: f64,
    /// Messages/s on two threads (wall clock).
    wall_rate: f64,
}

fn bound(time: Duration) -> Result<Bound> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow!("keygen"))?;
    let key = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow!("key"))?);
    let body = Arc::new(alert_json(0).into_bytes());
    let run = move |key: Arc<Ed25519KeyPair>, body: Arc<Vec<u8>>| {
        let public = UnparsedPublicKey::new(&ED25519, key.public_key().as_ref().to_vec());
        let (t0, c0) = (Instant::now(), cpu_us_in("/proc/thread-self/stat"));
        let mut n = 0u64;
        while t0.elapsed() < time {
            let mut input = b"liaison/v1/message\0".to_vec();
            input.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &body).as_ref());
            let sig = key.sign(&input);
            public.verify(&input, sig.as_ref()).expect("verify");
            n += 1;
        }
        (n, cpu_us_in("/proc/thread-self/stat") - c0, t0.elapsed())
    };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (k, b) = (key.clone(), body.clone());
            std::thread::spawn(move || run(k, b))
        })
        .collect();
    let mut n = 0;
    let mut cpu = 0.0;
    let mut wall = Duration::ZERO;
    for t in threads {
        let (tn, tc, tw) = t.join().map_err(|_| anyhow!("bound thread"))?;
        n += tn;
        cpu += tc;
        wall = wall.max(tw);
    }
    Ok(Bound {
        cpu_us: cpu / n as f64,
        wall_rate: n as f64 / wall.as_secs_f64(),
    })
}

struct InProcess {
    rate: f64,
    cpu_us: f64,
}

async fn in_process(n: usize, concurrency: usize) -> Result<InProcess> {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let a = start(c.config(A, &[B])).await;
    let b = start(c.config(B, &[A])).await;
    wait_keys(&a, &[B]).await;
    let warm = Arc::new((0..WARM).map(|i| alert(B, &text(i))).collect::<Vec<_>>());
    liaison_tests::bench::drive(
        a.ctx().clone(),
        warm,
        concurrency,
        a.store().clone(),
        b.store().clone(),
        WARM as u64,
    )
    .await?;
    let reqs = Arc::new(
        (0..n)
            .map(|i| alert(B, &text(WARM + i)))
            .collect::<Vec<_>>(),
    );
    let (t0, c0) = (Instant::now(), process_cpu_us());
    let d = liaison_tests::bench::drive(
        a.ctx().clone(),
        reqs,
        concurrency,
        a.store().clone(),
        b.store().clone(),
        (WARM + n) as u64,
    )
    .await?;
    let cpu = process_cpu_us() - c0;
    let rate = n as f64 / (d.end - t0).as_secs_f64();
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(InProcess {
        rate,
        cpu_us: cpu / n as f64,
    })
}

struct ThroughApi {
    rate: f64,
    ack: Histogram<u64>,
    inbox: Histogram<u64>,
    cpu_a: f64,
    cpu_b: f64,
    paced_rate: f64,
    paced_ack: Histogram<u64>,
}

async fn through_api(bin: &Path, n: usize, concurrency: usize) -> Result<ThroughApi> {
    let mut c = Cluster::new(&["central-asia"]);
    let (a, b, mut ca) = pair(bin, &mut c).await?;
    let token = a.token()?;
    post_alerts(a.files.api, &token, 0, WARM, concurrency, None).await?;
    drained(&mut ca, Duration::from_secs(60)).await?;

    let (ca0, cb0) = (cpu_us(a.pid()), cpu_us(b.pid()));
    let t0 = Instant::now();
    let sent = post_alerts(a.files.api, &token, WARM, n, concurrency, None).await?;
    let end = drained(&mut ca, Duration::from_secs(600)).await?;
    let (cpu_a, cpu_b) = (cpu_us(a.pid()) - ca0, cpu_us(b.pid()) - cb0);
    let rate = n as f64 / (end - t0).as_secs_f64();

    // At 80 % of that rate, paced.
    let paced_rate = 0.8 * rate;
    let paced_n = n / 2;
    let paced = post_alerts(
        a.files.api,
        &token,
        WARM + n,
        paced_n,
        concurrency,
        Some(Duration::from_secs_f64(1.0 / paced_rate)),
    )
    .await?;
    drained(&mut ca, Duration::from_secs(600)).await?;

    let mut cb = Conn::open(b.files.api, &b.token()?).await?;
    let at_b: std::collections::HashMap<MessageId, u64> =
        inbox_of(&mut cb).await?.into_iter().collect();
    let mut ack = histogram();
    let mut inbox = histogram();
    for (id, wall, us) in &sent {
        ack.record((*us).max(1))?;
        let got = at_b
            .get(id)
            .ok_or_else(|| anyhow!("message {id} is not in B's inbox"))?;
        inbox.record(got.saturating_sub(*wall).max(1) * 1000)?;
    }
    let mut paced_ack = histogram();
    for (id, _, us) in &paced {
        paced_ack.record((*us).max(1))?;
        if !at_b.contains_key(id) {
            bail!("paced message {id} is not in B's inbox");
        }
    }
    drop((ca, cb));
    a.stop()?;
    b.stop()?;
    Ok(ThroughApi {
        rate,
        ack,
        inbox,
        cpu_a: cpu_a / n as f64,
        cpu_b: cpu_b / n as f64,
        paced_rate,
        paced_ack,
    })
}

// ---------------------------------------------------------------------------------------
// A backlog for a peer that is down

async fn backlog(bin: &Path, n: usize, concurrency: usize) -> Result<()> {
    let mut c = Cluster::new(&["central-asia"]);
    let (a, b, ca) = pair(bin, &mut c).await?;
    drop(ca);
    let b_files = b.stop()?;
    let token = a.token()?;
    let pid = a.pid();
    println!("backlog: B stopped; posting {n} alerts to A for B ({concurrency} connections)…");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid).0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    let t0 = Instant::now();
    let mut accepted: HashSet<MessageId> = HashSet::with_capacity(n + 1);
    let step = 100_000.min(n);
    let mut done = 0;
    while done < n {
        let k = step.min(n - done);
        for (id, _, _) in post_alerts(a.files.api, &token, done, k, concurrency, None).await? {
            accepted.insert(id);
        }
        done += k;
        let (rss, hwm) = rss_mib(pid);
        println!(
            "  {done} accepted after {:.0} s: A's VmRSS {rss:.1} MiB (VmHWM {hwm:.1})",
            t0.elapsed().as_secs_f64()
        );
    }
    let flood = t0.elapsed();
    let flood_rate = n as f64 / flood.as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sampling.store(false, Ordering::Relaxed);
    let peak = sampler.await?;
    let (after, hwm) = rss_mib(pid);
    let mut ca = Conn::open(a.files.api, &token).await?;
    let (queued, _) = outbox_to_b(&mut ca).await?;
    drop(ca);

    let a_files = a.stop()?;
    let a = Proc::spawn(bin, a_files)?;
    let restart = api_up(&a, Duration::from_secs(600)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (restarted, restarted_hwm) = rss_mib(a.pid());

    let b = Proc::spawn(bin, b_files)?;
    api_up(&b, Duration::from_secs(60)).await?;
    let t = Instant::now();
    let mut ca = Conn::open(a.files.api, &a.token()?).await?;
    loop {
        if outbox_to_b(&mut ca).await?.0 == 0 {
            break;
        }
        if t.elapsed() > Duration::from_secs(3600) {
            bail!("the backlog did not drain within an hour");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (drained_rss, drained_hwm) = rss_mib(a.pid());
    let mut cb = Conn::open(b.files.api, &b.token()?).await?;
    let inbox = inbox_of(&mut cb).await?;
    let unique: HashSet<MessageId> = inbox.iter().map(|(id, _)| *id).collect();
    let duplicates = inbox.len() - unique.len();
    let missing = accepted.difference(&unique).count();
    let ok = |b: bool| if b { "PASS" } else { "MISS" };
    println!("\nBacklog of {n} alerts for a peer that is down (A: `liaison node run`, MALLOC_ARENA_MAX=2)");
    println!("| | figure | target | |");
    println!("|---|---:|---:|---|");
    println!("| posted through the API while B was down | {n} in {:.0} s ({flood_rate:.0}/s), A's outbox {queued} | | |", flood.as_secs_f64());
    println!("| A's VmRSS, peak sampled during the flood | {peak:.1} MiB | < {RSS_TARGET_MIB} MiB | {} |", ok(peak < RSS_TARGET_MIB));
    println!("| A's VmRSS after the flood (VmHWM) | {after:.1} MiB ({hwm:.1}) | < {RSS_TARGET_MIB} MiB | {} |", ok(after < RSS_TARGET_MIB && hwm < RSS_TARGET_MIB));
    println!(
        "| restart of A on that data dir → API answering | {:.2} s | < {:.0} s | {} |",
        restart.as_secs_f64(),
        RESTART_TARGET.as_secs_f64(),
        ok(restart < RESTART_TARGET)
    );
    println!("| A's VmRSS after the restart (VmHWM) | {restarted:.1} MiB ({restarted_hwm:.1}) | < {RSS_TARGET_MIB} MiB | {} |", ok(restarted_hwm < RSS_TARGET_MIB));
    println!(
        "| B started: backlog drained in | {:.1} s ({:.0}/s) | | |",
        drain.as_secs_f64(),
        n as f64 / drain.as_secs_f64()
    );
    println!("| A's VmRSS after the drain (VmHWM since restart) | {drained_rss:.1} MiB ({drained_hwm:.1}) | < {RSS_TARGET_MIB} MiB | {} |", ok(drained_hwm < RSS_TARGET_MIB));
    println!("| B's inbox: messages, duplicates, accepted but missing | {}, {duplicates}, {missing} | exactly once | {} |", inbox.len(), ok(duplicates == 0 && missing == 0 && unique.len() >= n));
    drop((ca, cb));
    a.stop()?;
    b.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = flag("LIAISON_BENCH_QUICK");
    let n = usize_var("LIAISON_BENCH_N").unwrap_or(if quick { 2_000 } else { 20_000 });
    let concurrency = usize_var("LIAISON_BENCH_CONCURRENCY").unwrap_or(64);
    let rounds = usize_var("LIAISON_BENCH_ROUNDS").unwrap_or(if quick { 1 } else { 3 });
    let bin = find_bin()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(backlog_n) = usize_var("LIAISON_BENCH_BACKLOG") {
        return rt.block_on(backlog(&bin, backlog_n, concurrency));
    }
    println!(
        "officer's path: {n} alerts of ~1 KiB per round, {concurrency} connections/tasks, {rounds} rounds, {}",
        bin.display()
    );
    let mut rows = Vec::new();
    for r in 0..rounds {
        let bd = bound(Duration::from_millis(if quick { 300 } else { 1500 }))?;
        // Alternate which goes first, so neither always gets the quieter minute.
        let (ip, api) = if r % 2 == 0 {
            let ip = rt.block_on(in_process(n, concurrency))?;
            (ip, rt.block_on(through_api(&bin, n, concurrency))?)
        } else {
            let api = rt.block_on(through_api(&bin, n, concurrency))?;
            (rt.block_on(in_process(n, concurrency))?, api)
        };
        let node_cpu = api.cpu_a + api.cpu_b;
        println!(
            "round {}: bound {:.1} µs CPU/msg ({:.0}/s on 2 threads) | in-process {:.0}/s, {:.1} µs CPU/msg | API {:.0}/s, A {:.1} + B {:.1} µs CPU/msg, send→201 p50 {:.2} p99 {:.2} ms, send→B's inbox p50 {:.1} p99 {:.1} ms | paced {:.0}/s: send→201 p50 {:.2} p99 {:.2} ms",
            r + 1,
            bd.cpu_us,
            bd.wall_rate,
            ip.rate,
            ip.cpu_us,
            api.rate,
            api.cpu_a,
            api.cpu_b,
            ms(&api.ack, 0.5),
            ms(&api.ack, 0.99),
            ms(&api.inbox, 0.5),
            ms(&api.inbox, 0.99),
            api.paced_rate,
            ms(&api.paced_ack, 0.5),
            ms(&api.paced_ack, 0.99),
        );
        rows.push([
            api.rate / ip.rate,
            ms(&api.paced_ack, 0.99),
            bd.cpu_us / node_cpu,
            api.rate / bd.wall_rate,
            bd.cpu_us / ip.cpu_us,
            ip.rate / bd.wall_rate,
            api.rate,
            ip.rate,
            ms(&api.ack, 0.99),
            ms(&api.inbox, 0.5),
            ms(&api.inbox, 0.99),
            api.cpu_a,
            api.cpu_b,
            ip.cpu_us,
            bd.cpu_us,
        ]);
    }
    let col = |i: usize| median(&rows.iter().map(|r| r[i]).collect::<Vec<_>>());
    let ok = |b: bool| if b { "PASS" } else { "MISS" };
    println!("\n| medians of {rounds} rounds | value | target | |");
    println!("|---|---:|---:|---|");
    println!("| through the API / in-process, msgs/s | **{:.3}** ({:.0} / {:.0}) | ≥ {API_TARGET} | {} |", col(0), col(6), col(7), ok(col(0) >= API_TARGET));
    println!("| send → acknowledged (201) p99 at 80 % of the API's maximum | **{:.2} ms** | < {P99_TARGET_MS} ms | {} |", col(1), ok(col(1) < P99_TARGET_MS));
    println!(
        "| send → acknowledged p99 at the maximum (closed loop) | {:.2} ms | | |",
        col(8)
    );
    println!(
        "| send → in B's inbox p50 / p99 at the maximum | {:.1} / {:.1} ms | | |",
        col(9),
        col(10)
    );
    println!("| one hop through the API, CPU: bound / (A + B) | **{:.3}** ({:.1} / ({:.1} + {:.1}) µs) | ≥ {CPU_TARGET} | {} |", col(2), col(14), col(11), col(12), ok(col(2) >= CPU_TARGET));
    println!(
        "| one hop through the API, wall clock: msgs/s / bound on 2 threads | {:.3} | | |",
        col(3)
    );
    println!("| one hop in-process, CPU: bound / the bench process (both nodes and the harness) | **{:.3}** ({:.1} / {:.1} µs) | ≥ {CPU_TARGET} | {} |", col(4), col(14), col(13), ok(col(4) >= CPU_TARGET));
    println!(
        "| one hop in-process, wall clock: msgs/s / bound on 2 threads | {:.3} | | |",
        col(5)
    );
    Ok(())
}
