//! The auditor's offline verification of a node's log at a million entries, each part against
//! the raw primitive underneath, measured in the same round. Results and method:
//! `docs/PERFORMANCE.md`, section "Auditor: verifying a log".
//!
//! ```sh
//! cargo bench -p liaison-tests --bench audit                        # ~2 min after the build (+ ~30 s the first time)
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-tests --bench audit  # smoke run: 100 000 events, ~10 s
//! LIAISON_BENCH_REGEN=1 cargo bench -p liaison-tests --bench audit  # generate the data dirs again
//! ```
//!
//! The data dirs are generated once through the real store and kept under
//! `target/bench-audit-1m/` (`-100k` for the quick run): one node `kz-dcu.central-asia` with
//! its certificate kept in the data dir, the network CA and CRL beside it as the auditor's
//! only trust input.
//!
//! * `mixed/`: N = 1 000 000 log entries: M = 200 000 signed alerts with 1 KiB bodies
//!   (`Store::originate`, one `sent` entry and one stored envelope each) spread evenly among
//!   800 000 administrative events (`Store::record`), all issued concurrently so the writer's
//!   group commit batches them; then a signed checkpoint over the whole log.
//! * `messages/`: the same M alerts alone (M entries), so the auditor's time there is mostly
//!   message re-verification.
//!
//! What one round measures, each measured part between two runs of its baseline (the
//! baseline's rate is their mean), so that every ratio compares like with like on a shared,
//! noisy box; 3 rounds, medians:
//!
//! 1. **Merkle recomputation.** Baseline: `merkle::leaf_hash` (ring SHA-256 of `0x00 ‖ leaf`)
//!    of every leaf of `mixed/`, the leaves held in memory, one thread. Measured: what
//!    `audit::verify` does for the tree, `audit::recompute_root(mixed)`: `journal::replay`
//!    over `FileMedium::open_read_only(mixed/store)` (page cache warm), leaf hashes on every
//!    core, interior nodes in order, then the root. Both in leaves/s. For information: the
//!    same replay on one thread with every leaf pushed into a `RootBuilder`; on the leaves in
//!    memory, that `RootBuilder` (what the tree's interior nodes cost without the disk) and
//!    `LogEntry::decode` of each.
//! 2. **Whole audit of the million-entry log** (the auditor's target). Baseline: raw ring
//!    Ed25519 verify of the same M signatures over their signing inputs
//!    (`"liaison/v1/message\0" ‖ SHA-256(body)`, built beforehand from the stored envelopes),
//!    two threads taking 256 at a time, messages/s, run right before and right after.
//!    Measured: `audit::verify(mixed, trust)`: `messages_verified` / its whole wall time
//!    (certificates, checkpoints, replay and Merkle tree of all N entries, decoding every
//!    entry, reading and verifying every envelope with chain and validity checks, the
//!    cross-checks between log and store); also entries/s, the CPU time of the process over
//!    that wall time (how many cores it kept busy), and when its progress callback reports the
//!    whole log read (the serial part before the messages are verified).
//! 3. **Signature re-verification alone** (for information): `audit::verify(messages, trust)`
//!    between the second and a third run of the same baseline, messages/s; the verification
//!    phase alone (after the log is read), CPU time per message of both, and raw verify on one
//!    thread.
//! 4. **One inclusion proof** (for information): `audit::prove(mixed, trust, id)` for a message
//!    in the middle of the log: wall time, its JSON size, entries and path hashes; then
//!    `audit::check_proof` of it with a fresh trust store (cold: the certificate chain is
//!    checked) and warm (median of repeated checks).
//!
//! Environment: `LIAISON_BENCH_QUICK=1` (N = 100 000, M = 20 000), `LIAISON_BENCH_EVENTS`,
//! `LIAISON_BENCH_MESSAGES`, `LIAISON_BENCH_ROUNDS` (3), `LIAISON_BENCH_REGEN=1`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use liaison_node::audit::{self, ProofFile};
use liaison_node::store::checkpoint::keep_cert;
use liaison_node::store::journal::{self, FileMedium, Medium, Record};
use liaison_node::store::Store;
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::{leaf_hash, Hash, RootBuilder};
use liaison_protocol::signing::{message_signing_input, MESSAGE_CONTEXT};
use liaison_protocol::{Envelope, MessageId, NodeId, Signer, TrustStore};
use liaison_tests::TestPki;
use ring::signature::{UnparsedPublicKey, ED25519};

const NETWORK: &str = "central-asia";
/// The node whose log is audited.
const NODE: &str = "kz-dcu.central-asia";
/// The next hop its alerts are queued for (never connected).
const NEXT_HOP: &str = "caricc.central-asia";
/// Size asked of `sample::alert_of_size` (the encoded body comes out a few bytes longer).
const BODY_BYTES: usize = 1024;
/// Store requests in flight while generating, so group commits are large.
const IN_FLIGHT: usize = 4096;
/// Names the layout of a generated dir; a dir with another marker is generated again.
const LAYOUT: &str = "liaison-bench-audit/1";
const MERKLE_TARGET: f64 = 0.50;
const VERIFY_TARGET: f64 = 0.80;

// ---------------------------------------------------------------------------------------
// Options and small helpers

struct Opts {
    events: usize,
    messages: usize,
    rounds: usize,
    regen: bool,
    dir: PathBuf,
}

use liaison_tests::bench::{flag as env_flag, median, process_cpu_us, usize_var as env_usize};

impl Opts {
    fn from_env() -> Result<Self> {
        let quick = env_flag("LIAISON_BENCH_QUICK");
        let events =
            env_usize("LIAISON_BENCH_EVENTS").unwrap_or(if quick { 100_000 } else { 1_000_000 });
        let messages =
            env_usize("LIAISON_BENCH_MESSAGES").unwrap_or(if quick { 20_000 } else { 200_000 });
        if messages == 0 || messages > events {
            bail!(
                "need 0 < LIAISON_BENCH_MESSAGES ({messages}) <= LIAISON_BENCH_EVENTS ({events})"
            );
        }
        let name = match events {
            e if e % 1_000_000 == 0 => format!("{}m", e / 1_000_000),
            e if e % 1_000 == 0 => format!("{}k", e / 1_000),
            e => e.to_string(),
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join(format!("bench-audit-{name}"));
        Ok(Self {
            events,
            messages,
            rounds: env_usize("LIAISON_BENCH_ROUNDS").unwrap_or(3).max(1),
            regen: env_flag("LIAISON_BENCH_REGEN"),
            dir,
        })
    }

    fn marker(&self) -> String {
        format!(
            "{LAYOUT} events={} messages={}\n",
            self.events, self.messages
        )
    }
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1000.0 {
        format!("{:.2} k/s", r / 1000.0)
    } else {
        format!("{r:.0} /s")
    }
}

fn secs(d: f64) -> String {
    if d >= 1.0 {
        format!("{d:.2} s")
    } else if d >= 1e-3 {
        format!("{:.1} ms", d * 1e3)
    } else {
        format!("{:.1} µs", d * 1e6)
    }
}

fn list(v: &[f64], f: impl Fn(f64) -> String) -> String {
    v.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The data dirs

struct Dirs {
    mixed: PathBuf,
    messages: PathBuf,
    trust: TrustStore,
    ca_der: Vec<u8>,
    crl_der: Vec<u8>,
}

impl Dirs {
    fn at(opts: &Opts) -> Result<Self> {
        let ca_der = std::fs::read(opts.dir.join("ca.der"))?;
        let crl_der = std::fs::read(opts.dir.join("crl.der"))?;
        Ok(Self {
            mixed: opts.dir.join("mixed"),
            messages: opts.dir.join("messages"),
            trust: trust_of(&ca_der, &crl_der)?,
            ca_der,
            crl_der,
        })
    }

    /// A trust store as a fresh auditor process builds it (nothing cached).
    fn fresh_trust(&self) -> Result<TrustStore> {
        trust_of(&self.ca_der, &self.crl_der)
    }
}

fn trust_of(ca_der: &[u8], crl_der: &[u8]) -> Result<TrustStore> {
    let mut t = TrustStore::new();
    t.add_ca(ca_der, Some(crl_der))
        .map_err(|e| anyhow!("the kept CA: {e}"))?;
    Ok(t)
}

/// The kept data dirs, generated first if missing, incomplete, of another size, or asked for.
fn prepare(opts: &Opts) -> Result<Dirs> {
    let ready = opts.dir.join("READY");
    let current = std::fs::read_to_string(&ready).is_ok_and(|m| m == opts.marker());
    if current && !opts.regen {
        eprintln!("audit: using the data dirs kept in {}", opts.dir.display());
        return Dirs::at(opts);
    }
    generate(opts)?;
    std::fs::write(&ready, opts.marker())?;
    Dirs::at(opts)
}

/// Alert `i`, signed by `s`, with a 1 KiB body.
fn alert(s: &Signer, i: usize, now: liaison_protocol::Timestamp) -> (Envelope, MessageFacts) {
    let mut body = liaison_protocol::sample::alert_of_size(BODY_BYTES);
    body.header.created_at = now;
    body.header.nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
    liaison_tests::signed_envelope(s, body)
}

/// `n` alerts, signed on both cores.
fn sign_alerts(s: &Signer, n: usize) -> Vec<(Envelope, MessageFacts)> {
    let now = liaison_node::store::now();
    std::thread::scope(|scope| {
        let halves: Vec<_> = (0..2)
            .map(|t| {
                scope.spawn(move || {
                    (t..n)
                        .step_by(2)
                        .map(|i| alert(s, i, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread panicked"))
            .collect()
    })
}

/// Which message, if any, log slot `k` of `events` carries: `messages` of them, evenly spread.
fn message_at(k: usize, messages: usize, events: usize) -> Option<usize> {
    let (k, m, e) = (k as u128, messages as u128, events as u128);
    let j = k * m / e;
    ((k + 1) * m / e > j).then_some(j as usize)
}

/// Logs `events` entries into a new store at `data`: the alerts `msgs` originated, evenly
/// spread, and administrative events in between; then signs a checkpoint and stops.
async fn fill(
    data: &Path,
    s: Arc<Signer>,
    msgs: &[(Envelope, MessageFacts)],
    events: usize,
) -> Result<()> {
    let store = Store::open(data, s)?;
    let next: NodeId = NEXT_HOP.parse().map_err(|e| anyhow!("{e:?}"))?;
    let store = &store;
    futures_util::stream::iter(0..events)
        .map(|k| {
            let m = message_at(k, msgs.len(), events).map(|j| &msgs[j]);
            let next = &next;
            async move {
                match m {
                    Some((env, facts)) => {
                        store
                            .originate(env.clone(), facts.clone(), vec![next.clone()])
                            .await
                    }
                    None => {
                        store
                            .record(Event::Admin {
                                act: "config".into(),
                                detail: format!("bench event {k}: peer timeout set to 30 s"),
                            })
                            .await
                    }
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    if store.log_size() != events as u64 {
        bail!("logged {} entries, not {events}", store.log_size());
    }
    store
        .checkpoint()
        .await?
        .ok_or_else(|| anyhow!("no checkpoint signed"))?;
    Ok(store.shutdown().await?)
}

fn generate(opts: &Opts) -> Result<()> {
    let started = Instant::now();
    if opts.dir.exists() {
        std::fs::remove_dir_all(&opts.dir)
            .with_context(|| format!("cannot remove {}", opts.dir.display()))?;
    }
    std::fs::create_dir_all(&opts.dir)?;
    eprintln!(
        "audit: generating {} ({} events, {} messages; takes a minute or two)",
        opts.dir.display(),
        opts.events,
        opts.messages
    );
    let pki = TestPki::new(&[NETWORK]);
    let cert = pki.node(NODE);
    let s = Arc::new(liaison_tests::signer(&cert));
    let msgs = sign_alerts(&s, opts.messages);
    eprintln!(
        "audit: {} alerts signed in {:.1} s",
        msgs.len(),
        started.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for (name, events) in [("mixed", opts.events), ("messages", opts.messages)] {
        let t = Instant::now();
        let data = opts.dir.join(name);
        rt.block_on(fill(&data, s.clone(), &msgs, events))?;
        keep_cert(&data, &cert.cert_der)?;
        eprintln!(
            "audit: {name}/: {events} entries logged in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    std::fs::write(opts.dir.join("ca.der"), pki.ca(NETWORK).cert_der())?;
    std::fs::write(opts.dir.join("crl.der"), &pki.networks[NETWORK].crl_der)?;
    eprintln!(
        "audit: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// What the baselines work on, read from the data dirs before measuring

/// Every leaf of a log, back to back, and where each ends.
struct Leaves {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

fn read_leaves(data: &Path) -> Result<Leaves> {
    let medium = FileMedium::open_read_only(&data.join("store"))?;
    let mut l = Leaves {
        bytes: Vec::new(),
        ends: Vec::new(),
    };
    journal::replay(&medium, |rec| {
        if let Record::Leaf { bytes, .. } = rec {
            l.bytes.extend_from_slice(bytes);
            l.ends.push(l.bytes.len());
        }
        Ok(())
    })?;
    Ok(l)
}

type Input = [u8; MESSAGE_CONTEXT.len() + 32];

/// One stored message's signature as Ed25519 sees it.
struct Signed {
    key: [u8; 32],
    input: Input,
    signature: [u8; 64],
}

/// The signatures of every message stored in `data`, their ids, and the size of a body and
/// of an envelope as stored.
fn read_signatures(
    data: &Path,
    trust: &TrustStore,
) -> Result<(Vec<Signed>, Vec<MessageId>, usize, usize)> {
    let medium = FileMedium::open_read_only(&data.join("store"))?;
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let (mut body_len, mut env_len) = (0, 0);
    journal::replay(&medium, |rec| {
        if let Record::New { body, .. } = rec {
            let bytes = journal::read(&medium as &dyn Medium, body)?;
            let bad = |e: String| liaison_node::store::StoreError::Corrupt(e);
            let env = Envelope::decode(&bytes).map_err(|e| bad(e.to_string()))?;
            let key = trust
                .certify(&env.signed.signer_cert)
                .map_err(|e| bad(e.to_string()))?
                .public_key;
            let id = env.signed.id();
            let signature = env
                .signed
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| bad("a signature is not 64 bytes".into()))?;
            (body_len, env_len) = (env.signed.body.len(), bytes.len());
            out.push(Signed {
                key,
                input: message_signing_input(&id),
                signature,
            });
            ids.push(id);
        }
        Ok(())
    })?;
    Ok((out, ids, body_len, env_len))
}

/// Reads a file through once so the measured replays find it in the page cache.
fn warm(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    std::io::copy(&mut f, &mut std::io::sink())?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The measurements

/// Baseline 1: `leaf_hash` of every leaf in memory, one thread. Leaves/s.
fn hash_leaves(l: &Leaves) -> f64 {
    let t = Instant::now();
    let mut start = 0;
    for &end in &l.ends {
        black_box(leaf_hash(black_box(&l.bytes[start..end])));
        start = end;
    }
    l.ends.len() as f64 / t.elapsed().as_secs_f64()
}

/// For information: the same leaves in memory through a `RootBuilder` (leaf hashes plus the
/// interior nodes, one per leaf amortised), one thread. Leaves/s, and the root.
fn tree_in_memory(l: &Leaves) -> (f64, Hash) {
    let t = Instant::now();
    let mut tree = RootBuilder::new();
    let mut start = 0;
    for &end in &l.ends {
        tree.push(black_box(&l.bytes[start..end]));
        start = end;
    }
    let root = tree.root();
    (l.ends.len() as f64 / t.elapsed().as_secs_f64(), root)
}

/// For information: `LogEntry::decode` of every leaf in memory, one thread (the auditor
/// decodes each entry to check its position and collect the messages it names). Leaves/s.
fn decode_leaves(l: &Leaves) -> Result<f64> {
    let t = Instant::now();
    let mut start = 0;
    for &end in &l.ends {
        black_box(LogEntry::decode(black_box(&l.bytes[start..end])).map_err(|e| anyhow!("{e}"))?);
        start = end;
    }
    Ok(l.ends.len() as f64 / t.elapsed().as_secs_f64())
}

/// Measured 1: the auditor's tree recomputation from the data dir, as `audit::verify` does
/// it (`audit::recompute_root`: the replay, leaf hashes on every core, interior nodes in
/// order). Leaves/s, the cores it kept busy, the size and the root.
fn recompute(data: &Path) -> Result<(f64, f64, u64, Hash)> {
    let cpu = process_cpu_us();
    let t = Instant::now();
    let (size, root) = audit::recompute_root(data)?;
    let wall = t.elapsed().as_secs_f64();
    let cores = (process_cpu_us() - cpu) / 1e6 / wall;
    Ok((size as f64 / wall, cores, size, root))
}

/// For information: the same on one thread: the replay with every leaf pushed into a
/// `RootBuilder`. Leaves/s, and the root.
fn recompute_serial(data: &Path) -> Result<(f64, u64, Hash)> {
    let t = Instant::now();
    let medium = FileMedium::open_read_only(&data.join("store"))?;
    let mut tree = RootBuilder::new();
    journal::replay(&medium, |rec| {
        if let Record::Leaf { bytes, .. } = rec {
            tree.push(bytes);
        }
        Ok(())
    })?;
    let root = tree.root();
    Ok((
        tree.len() as f64 / t.elapsed().as_secs_f64(),
        tree.len(),
        root,
    ))
}

/// Baseline 3: raw ring Ed25519 verify of every signature on two threads, which take the
/// next 256 from a shared counter (as `audit::verify`'s workers do, so a thread slowed by a
/// neighbour does not leave the other idle at the end). Messages/s, and the cores it kept busy.
fn raw_verify(sigs: &[Signed]) -> Result<(f64, f64)> {
    const CHUNK: usize = 256;
    let next = AtomicUsize::new(0);
    let cpu = process_cpu_us();
    let t = Instant::now();
    let good: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let mut good = 0;
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed).min(sigs.len());
                        let chunk = &sigs[start..(start + CHUNK).min(sigs.len())];
                        if chunk.is_empty() {
                            return good;
                        }
                        good += chunk
                            .iter()
                            .filter(|s| {
                                UnparsedPublicKey::new(&ED25519, &s.key)
                                    .verify(&s.input, &s.signature)
                                    .is_ok()
                            })
                            .count();
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| h.join().expect("a verifying thread panicked"))
            .sum()
    });
    let wall = t.elapsed().as_secs_f64();
    let cores = (process_cpu_us() - cpu) / 1e6 / wall;
    if good != sigs.len() {
        bail!(
            "{} of {} signatures did not verify",
            sigs.len() - good,
            sigs.len()
        );
    }
    Ok((sigs.len() as f64 / wall, cores))
}

/// For information: the same on one thread, over the first quarter of the signatures.
/// Messages/s.
fn raw_verify_one_thread(sigs: &[Signed]) -> Result<f64> {
    let part = &sigs[..sigs.len().div_ceil(4)];
    let t = Instant::now();
    for s in part {
        UnparsedPublicKey::new(&ED25519, &s.key)
            .verify(&s.input, &s.signature)
            .map_err(|_| anyhow!("a signature did not verify"))?;
    }
    Ok(part.len() as f64 / t.elapsed().as_secs_f64())
}

/// One `audit::verify` run.
struct Audit {
    wall: f64,
    entries: u64,
    messages: u64,
    /// Process CPU time over wall time: how many cores it kept busy.
    cores: f64,
    root: Hash,
    /// Seconds from the start until the replay had read the whole log (the progress
    /// callback's last "reading the log" call); the message re-verification follows it.
    read: Option<f64>,
}

fn audit_verify(data: &Path, trust: &TrustStore) -> Result<Audit> {
    let cpu = process_cpu_us();
    let t = Instant::now();
    let mut read = None;
    let r = audit::verify(
        data,
        trust,
        audit::Uncovered::Refuse,
        |stage, done, total| {
            if stage == "reading the log" && done == total {
                read = Some(t.elapsed().as_secs_f64());
            }
        },
    )?;
    let wall = t.elapsed().as_secs_f64();
    let cores = (process_cpu_us() - cpu) / 1e6 / wall;
    if let Some(p) = r.problems.first() {
        bail!(
            "the audit of {} found {} problem(s), the first: {p} (LIAISON_BENCH_REGEN=1 generates the dirs again)",
            data.display(),
            r.problems.len()
        );
    }
    Ok(Audit {
        wall,
        entries: r.entries,
        messages: r.messages_verified,
        cores,
        root: r.root,
        read,
    })
}

struct Proof {
    prove: f64,
    json_bytes: usize,
    entries: usize,
    path_hashes: usize,
    check_cold: f64,
    check_warm: f64,
}

fn proof(dirs: &Dirs, id: &MessageId) -> Result<Proof> {
    let t = Instant::now();
    let p: ProofFile = audit::prove(&dirs.mixed, &dirs.trust, id)?;
    let prove = t.elapsed().as_secs_f64();
    let json = serde_json::to_vec(&p)?;
    let fresh = dirs.fresh_trust()?;
    let t = Instant::now();
    audit::check_proof(&p, &fresh)?;
    let check_cold = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until || times.len() < 10 {
        let t = Instant::now();
        black_box(audit::check_proof(black_box(&p), &fresh)?);
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(Proof {
        prove,
        json_bytes: json.len(),
        entries: p.entries.len(),
        path_hashes: p.entries.iter().map(|e| e.path.len()).sum(),
        check_cold,
        check_warm: median(&times),
    })
}

// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Series {
    hash: Vec<f64>,
    recompute: Vec<f64>,
    recompute_cores: Vec<f64>,
    serial: Vec<f64>,
    serial_ratio: Vec<f64>,
    mem_tree: Vec<f64>,
    mem_ratio: Vec<f64>,
    decode: Vec<f64>,
    merkle_ratio: Vec<f64>,
    whole_wall: Vec<f64>,
    whole_cores: Vec<f64>,
    whole_msg_ratio: Vec<f64>,
    raw: Vec<f64>,
    raw_cores: Vec<f64>,
    raw_cpu: Vec<f64>,
    raw_one: Vec<f64>,
    two_over_one: Vec<f64>,
    audit_cpu: Vec<f64>,
    cpu_ratio: Vec<f64>,
    reverify: Vec<f64>,
    reverify_wall: Vec<f64>,
    reverify_cores: Vec<f64>,
    reverify_read: Vec<f64>,
    phase: Vec<f64>,
    phase_ratio: Vec<f64>,
    whole_read: Vec<f64>,
    verify_ratio: Vec<f64>,
    prove: Vec<f64>,
    check_cold: Vec<f64>,
    check_warm: Vec<f64>,
}

fn main() -> Result<()> {
    let opts = Opts::from_env()?;
    let dirs = prepare(&opts)?;
    for d in [&dirs.mixed, &dirs.messages] {
        warm(&d.join("store").join(journal::FILE))?;
    }
    let leaves = read_leaves(&dirs.mixed)?;
    let (sigs, ids, body_len, env_len) = read_signatures(&dirs.messages, &dirs.trust)?;
    if leaves.ends.len() != opts.events || sigs.len() != opts.messages {
        bail!(
            "the kept dirs hold {} entries and {} messages, not {} and {}: run with LIAISON_BENCH_REGEN=1",
            leaves.ends.len(),
            sigs.len(),
            opts.events,
            opts.messages
        );
    }
    let prove_id = ids[ids.len() / 2];
    let journal_mixed = file_len(&dirs.mixed.join("store").join(journal::FILE));
    let journal_messages = file_len(&dirs.messages.join("store").join(journal::FILE));
    eprintln!(
        "audit: {} entries ({} MB of leaves, {} MB of journal) and {} messages ({} B bodies, {} B envelopes; {} MB of journal), {} round(s)",
        opts.events,
        leaves.bytes.len() / 1_000_000,
        journal_mixed / 1_000_000,
        opts.messages,
        body_len,
        env_len,
        journal_messages / 1_000_000,
        opts.rounds
    );

    let mut s = Series::default();
    let started = Instant::now();
    let mut proof_shape = None;
    for round in 1..=opts.rounds {
        // 1. Merkle recomputation between two baselines.
        let h1 = hash_leaves(&leaves);
        let (rc, rc_cores, n, root) = recompute(&dirs.mixed)?;
        let h2 = hash_leaves(&leaves);
        let hash = (h1 + h2) / 2.0;
        let (serial, serial_n, serial_root) = recompute_serial(&dirs.mixed)?;
        let (mem, mem_root) = tree_in_memory(&leaves);
        if mem_root != root || serial_root != root || serial_n != n {
            bail!("the tree in memory, the serial replay and audit::recompute_root disagree");
        }
        let decode = decode_leaves(&leaves)?;
        // 2. The whole audit of the mixed log, and 3. of the messages alone, each between
        // two runs of the baseline.
        let (r0, c0) = raw_verify(&sigs)?;
        let whole = audit_verify(&dirs.mixed, &dirs.trust)?;
        if whole.root != root || whole.entries != n {
            bail!("audit::verify and the replay disagree about the tree");
        }
        let (r1, c1) = raw_verify(&sigs)?;
        let only = audit_verify(&dirs.messages, &dirs.trust)?;
        let (r2, c2) = raw_verify(&sigs)?;
        let r1t = raw_verify_one_thread(&sigs)?;
        let raw_whole = (r0 + r1) / 2.0;
        let raw = (r1 + r2) / 2.0;
        if only.messages != opts.messages as u64 || whole.messages != opts.messages as u64 {
            bail!(
                "verified {} and {} messages, not {}",
                only.messages,
                whole.messages,
                opts.messages
            );
        }
        let reverify = only.messages as f64 / only.wall;
        let read = only.read.unwrap_or(f64::NAN);
        let phase = only.messages as f64 / (only.wall - read);
        // 4. One inclusion proof.
        let p = proof(&dirs, &prove_id)?;
        eprintln!(
            "round {round}: leaf_hash {} | tree in memory {} ({:.3}) | serial replay {} ({:.3}) | recompute_root {} ({:.3}, {:.2} cores) | whole audit {} (log read in {}, {:.2} cores) | raw verify {} ({:.2}, {:.2} cores) | audit of messages {} ({:.3}, {:.2} cores; log read in {}, then {} = {:.3}) | prove {} check {}",
            rate(hash),
            rate(mem),
            mem / hash,
            rate(serial),
            serial / hash,
            rate(rc),
            rc / hash,
            rc_cores,
            secs(whole.wall),
            secs(whole.read.unwrap_or(f64::NAN)),
            whole.cores,
            rate(raw),
            c1,
            c2,
            rate(reverify),
            reverify / raw,
            only.cores,
            secs(read),
            rate(phase),
            phase / raw,
            secs(p.prove),
            secs(p.check_warm)
        );
        s.hash.extend([h1, h2]);
        s.recompute.push(rc);
        s.recompute_cores.push(rc_cores);
        s.serial.push(serial);
        s.serial_ratio.push(serial / hash);
        s.mem_tree.push(mem);
        s.mem_ratio.push(mem / hash);
        s.decode.push(decode);
        s.merkle_ratio.push(rc / hash);
        s.whole_wall.push(whole.wall);
        s.whole_cores.push(whole.cores);
        s.whole_msg_ratio
            .push(whole.messages as f64 / whole.wall / raw_whole);
        s.raw.extend([r0, r1, r2]);
        s.raw_cores.extend([c0, c1, c2]);
        s.raw_one.push(r1t);
        s.two_over_one.push(raw / r1t);
        s.reverify.push(reverify);
        s.reverify_wall.push(only.wall);
        s.reverify_cores.push(only.cores);
        s.reverify_read.push(read);
        s.phase.push(phase);
        s.phase_ratio.push(phase / raw);
        s.whole_read.push(whole.read.unwrap_or(f64::NAN));
        s.verify_ratio.push(reverify / raw);
        // CPU time per message, µs: less sensitive than wall rates to a neighbour taking a core.
        let raw_cpu = (c1 / r1 + c2 / r2) / 2.0 * 1e6;
        let audit_cpu = only.cores / reverify * 1e6;
        s.raw_cpu.push(raw_cpu);
        s.audit_cpu.push(audit_cpu);
        s.cpu_ratio.push(raw_cpu / audit_cpu);
        s.prove.push(p.prove);
        s.check_cold.push(p.check_cold);
        s.check_warm.push(p.check_warm);
        proof_shape = Some((p.json_bytes, p.entries, p.path_hashes));
    }
    let took = started.elapsed().as_secs_f64();
    let (json_bytes, proof_entries, path_hashes) =
        proof_shape.ok_or_else(|| anyhow!("no round ran"))?;

    // ---- the tables
    let events = opts.events as f64;
    let ratio = |v: f64| format!("{v:.3}");
    let merkle = median(&s.merkle_ratio);
    let verify = median(&s.verify_ratio);
    let whole_verify = median(&s.whole_msg_ratio);
    println!();
    println!(
        "## Auditor, {} rounds: `mixed/` = {} log entries ({} signed {} B alerts + {} admin events, journal {:.2} GB), `messages/` = the {} alerts alone (journal {:.2} GB); rounds took {:.0} s",
        opts.rounds,
        opts.events,
        opts.messages,
        body_len,
        opts.events - opts.messages,
        journal_mixed as f64 / 1e9,
        opts.messages,
        journal_messages as f64 / 1e9,
        took
    );
    println!();
    println!("| measure | median | per round |");
    println!("|---|---:|---|");
    println!(
        "| baseline: ring SHA-256 `leaf_hash` of every leaf, in memory, 1 thread, leaves/s (run before and after each measured replay) | {} | {} |",
        rate(median(&s.hash)),
        list(&s.hash, rate)
    );
    println!(
        "| **Merkle recomputation from disk**: `audit::recompute_root(mixed/)` (as `audit::verify`), leaves/s (cores busy) | **{}** ({:.2} cores) | {} |",
        rate(median(&s.recompute)),
        median(&s.recompute_cores),
        list(&s.recompute, rate)
    );
    println!(
        "| for information: the same on one thread: `journal::replay` + `RootBuilder`, leaves/s | {} | {} |",
        rate(median(&s.serial)),
        list(&s.serial, rate)
    );
    println!(
        "| for information: `RootBuilder` over the leaves in memory (leaf hashes + interior nodes), leaves/s | {} | {} |",
        rate(median(&s.mem_tree)),
        list(&s.mem_tree, rate)
    );
    println!(
        "| for information: `LogEntry::decode` of every leaf in memory, 1 thread, leaves/s | {} | {} |",
        rate(median(&s.decode)),
        list(&s.decode, rate)
    );
    println!(
        "| `audit::verify(mixed/)`, everything: wall time, entries/s, cores busy | {}, {} entries/s, {:.2} cores | {} |",
        secs(median(&s.whole_wall)),
        rate(events / median(&s.whole_wall)),
        median(&s.whole_cores),
        list(&s.whole_wall, secs)
    );
    println!(
        "| of which reading the log (replay, tree, decoding every entry), before the messages are verified | {} | {} |",
        secs(median(&s.whole_read)),
        list(&s.whole_read, secs)
    );
    println!(
        "| baseline: raw ring Ed25519 verify of the {} signatures, 2 threads, msgs/s (run before and after each measured audit; cores busy) | {} ({:.2} cores) | {} |",
        opts.messages,
        rate(median(&s.raw)),
        median(&s.raw_cores),
        list(&s.raw, rate)
    );
    println!(
        "| **re-verification**: `audit::verify(messages/)`, messages verified / its wall time (wall time, cores busy) | **{}** ({}, {:.2} cores) | {} |",
        rate(median(&s.reverify)),
        secs(median(&s.reverify_wall)),
        median(&s.reverify_cores),
        list(&s.reverify, rate)
    );
    println!(
        "| of which reading the log; then verifying the messages, msgs/s over that phase alone | {}; {} | {}; {} |",
        secs(median(&s.reverify_read)),
        rate(median(&s.phase)),
        list(&s.reverify_read, secs),
        list(&s.phase, rate)
    );
    println!(
        "| for information: raw ring Ed25519 verify, 1 thread (first quarter of the set), msgs/s | {} | {} |",
        rate(median(&s.raw_one)),
        list(&s.raw_one, rate)
    );
    let us = |v: f64| format!("{v:.1} µs");
    println!(
        "| CPU time per message (process CPU / messages): raw verify; `audit::verify(messages/)` | {}; {} | {}; {} |",
        us(median(&s.raw_cpu)),
        us(median(&s.audit_cpu)),
        list(&s.raw_cpu, us),
        list(&s.audit_cpu, us)
    );
    println!(
        "| `audit::prove(mixed/, id)`, one message mid-log | {} | {} |",
        secs(median(&s.prove)),
        list(&s.prove, secs)
    );
    println!(
        "| its proof file: JSON bytes, entries, path hashes | {json_bytes} B, {proof_entries}, {path_hashes} | |"
    );
    println!(
        "| `audit::check_proof`, fresh trust store (chain checked) | {} | {} |",
        secs(median(&s.check_cold)),
        list(&s.check_cold, secs)
    );
    println!(
        "| `audit::check_proof`, warm (median of repeats) | {} | {} |",
        secs(median(&s.check_warm)),
        list(&s.check_warm, secs)
    );
    println!();
    println!("| ratio (median of per-round ratios) | value | per round | target | |");
    println!("|---|---:|---|---:|---|");
    println!(
        "| Merkle recomputation from disk / raw `leaf_hash` in memory | {} | {} | ≥ {MERKLE_TARGET:.2} | {} |",
        ratio(merkle),
        list(&s.merkle_ratio, ratio),
        verdict(merkle >= MERKLE_TARGET)
    );
    println!(
        "| **`audit::verify(mixed/)`**, the {}-entry log: messages verified / its whole wall time, against raw Ed25519 verify of its {} signatures on 2 threads (run before and after it) | {} | {} | ≥ {VERIFY_TARGET:.2} | {} |",
        opts.events,
        opts.messages,
        ratio(whole_verify),
        list(&s.whole_msg_ratio, ratio),
        verdict(whole_verify >= VERIFY_TARGET)
    );
    println!(
        "| for information: `audit::verify(messages/)` (the {} alerts alone) msgs/s / raw Ed25519 verify on 2 threads (run before and after it) | {} | {} | | |",
        opts.messages,
        ratio(verify),
        list(&s.verify_ratio, ratio),
    );
    println!(
        "| for information: the verification phase of `audit::verify(messages/)` alone / raw verify on 2 threads | {} | {} | | |",
        ratio(median(&s.phase_ratio)),
        list(&s.phase_ratio, ratio)
    );
    println!(
        "| for information: CPU per message, raw verify / `audit::verify(messages/)` (the same ratio with both given the same cores) | {} | {} | | |",
        ratio(median(&s.cpu_ratio)),
        list(&s.cpu_ratio, ratio)
    );
    println!(
        "| for information: raw verify, 2 threads / 1 thread (what the second core adds here) | {} | {} | | |",
        ratio(median(&s.two_over_one)),
        list(&s.two_over_one, ratio)
    );
    println!(
        "| for information: one-thread replay + `RootBuilder` / raw `leaf_hash` in memory | {} | {} | | |",
        ratio(median(&s.serial_ratio)),
        list(&s.serial_ratio, ratio)
    );
    println!(
        "| for information: `RootBuilder` in memory / raw `leaf_hash` in memory | {} | {} | | |",
        ratio(median(&s.mem_ratio)),
        list(&s.mem_ratio, ratio)
    );
    std::io::stdout().flush()?;
    Ok(())
}
