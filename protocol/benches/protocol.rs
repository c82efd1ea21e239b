//! Throughput of the protocol core against its cryptographic floor.
//!
//! ```text
//! cargo bench -p liaison-protocol                         # full run, about 30 s
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-protocol   # smoke run, a few seconds
//! cargo test -p liaison-protocol --benches                # also the smoke run (no --bench)
//! ```
//!
//! What matters is not an absolute rate but how close the real paths come to the raw
//! primitive they are built on, on the same machine in the same minute:
//!
//! * encode + sign (`Body::encode` inside `Signer::sign`) against a raw ring Ed25519
//!   signature of the same 1 KiB;
//! * verify + decode (`SignedMessage::verify` with a warm `TrustStore`) against a raw ring
//!   Ed25519 verification of the same 1 KiB;
//! * Merkle appends and proofs at a million leaves, beside raw SHA-256 of the same leaves.
//!
//! Why a hand-rolled harness and not criterion: our machines are small shared boxes whose
//! speed drifts by 15–30 % from one minute to the next as neighbours come and go. Two
//! benchmarks measured one after the other (criterion's model) absorb different drift, so
//! their ratio is noise. Here a candidate and its baseline run in *interleaved* short
//! batches (alternating which goes first), each round yields one ratio taken under the
//! same conditions, and we report the median of those ratios (and of the rates). That needs
//! a few dozen lines, no dependency, and no statistics we do not use.
//!
//! The signing identity is the fuzzing fixture PKI (`fuzz/fixtures/`: an Ed25519 network
//! CA with a CRL and one node certificate, made with rcgen as the real ones are), so the
//! verify path includes the CRL lookup and the certificate cache as in production.
// Benchmarks measure wall time by design; the clock-free rule is for the protocol library.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use liaison_protocol::merkle::{self, Hash, MerkleTree, RootBuilder};
use liaison_protocol::message::Body;
use liaison_protocol::sample;
use liaison_protocol::signing::{message_signing_input, SignedMessage, Signer, SigningKey};
use liaison_protocol::trust::TrustStore;
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};

const CA_DER: &[u8] = include_bytes!("../../fuzz/fixtures/network-ca.der");
const CRL_DER: &[u8] = include_bytes!("../../fuzz/fixtures/network-crl.der");
const NODE_CERT_DER: &[u8] = include_bytes!("../../fuzz/fixtures/node-cert.der");
const NODE_KEY_PKCS8: &[u8] = include_bytes!("../../fuzz/fixtures/node-key.pk8");
const NODE: &str = "node.fuzz-net";

/// Size of the benchmark message (the `alert_of_size` argument).
const MESSAGE_SIZE: usize = 1024;
/// Leaves in the Merkle benchmarks.
const LEAVES: u64 = 1 << 20;
/// Target ratio of a real path to its raw primitive.
const TARGET_RATIO: f64 = 0.90;

struct Config {
    /// Interleaved rounds per pair.
    rounds: usize,
    /// Wall time of one batch of one operation.
    batch: Duration,
    /// Rounds of the million-leaf Merkle measurements.
    merkle_rounds: usize,
    /// Inclusion proofs generated and verified per Merkle round.
    proofs: u64,
}

impl Config {
    fn from_env() -> Self {
        // `cargo bench` passes `--bench`; without it we are being run as a test
        // (`cargo test --benches`), where a smoke run is all that is wanted.
        let under_cargo_bench = std::env::args().any(|a| a == "--bench");
        let quick = std::env::var_os("LIAISON_BENCH_QUICK").is_some_and(|v| v != "0");
        if quick || !under_cargo_bench {
            Config {
                rounds: 5,
                batch: Duration::from_millis(10),
                merkle_rounds: 1,
                proofs: 2_000,
            }
        } else {
            Config {
                rounds: 41,
                batch: Duration::from_millis(60),
                merkle_rounds: 5,
                proofs: 20_000,
            }
        }
    }
}

/// An operation under test: runs `n` iterations, setting up outside the clock, and
/// returns the time the iterations took.
type Op<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Iterations that take about `batch`, found by doubling.
fn calibrate(op: &mut Op<'_>, batch: Duration) -> u64 {
    let mut n = 1;
    loop {
        let t = op(n);
        if t >= batch / 4 || n >= 1 << 30 {
            let per = t.as_secs_f64() / n as f64;
            return ((batch.as_secs_f64() / per.max(1e-9)) as u64).max(1);
        }
        n *= 2;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn quartiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.75))
}

/// Median rates of a candidate and its baseline, and the median of per-round ratios.
struct PairResult {
    candidate: f64,
    baseline: f64,
    ratio: f64,
    ratio_iqr: (f64, f64),
}

/// Runs candidate and baseline in interleaved batches, alternating which runs first.
fn interleave(cfg: &Config, candidate: &mut Op<'_>, baseline: &mut Op<'_>) -> PairResult {
    let nc = calibrate(candidate, cfg.batch);
    let nb = calibrate(baseline, cfg.batch);
    let (mut rc, mut rb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..cfg.rounds {
        let (c, b) = if round % 2 == 0 {
            let c = candidate(nc);
            (c, baseline(nb))
        } else {
            let b = baseline(nb);
            (candidate(nc), b)
        };
        let c = nc as f64 / c.as_secs_f64();
        let b = nb as f64 / b.as_secs_f64();
        rc.push(c);
        rb.push(b);
        ratios.push(c / b);
    }
    let ratio_iqr = quartiles(&mut ratios);
    PairResult {
        candidate: median(&mut rc),
        baseline: median(&mut rb),
        ratio: median(&mut ratios),
        ratio_iqr,
    }
}

/// Median rate of one operation, measured alone over `rounds` batches.
fn rate(cfg: &Config, op: &mut Op<'_>) -> f64 {
    let n = calibrate(op, cfg.batch / 2);
    let mut r: Vec<f64> = (0..cfg.rounds.div_ceil(2))
        .map(|_| n as f64 / op(n).as_secs_f64())
        .collect();
    median(&mut r)
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.1} k/s", r / 1e3)
    }
}

fn fmt_time(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.2} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}

fn verdict(ratio: f64) -> &'static str {
    if ratio >= TARGET_RATIO {
        "PASS"
    } else {
        "MISS"
    }
}

fn row(name: &str, r: f64) {
    println!(
        "  {name:<52} {:>12}  {:>10}",
        fmt_rate(r),
        fmt_time(1.0 / r)
    );
}

/// Deterministic pseudo-random leaf hashes (no RNG dependency; splitmix64).
fn leaf_hashes(n: u64) -> Vec<Hash> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            let mut h = [0u8; 32];
            for chunk in h.chunks_mut(8) {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
            }
            h
        })
        .collect()
}

fn main() {
    // Any filter argument is accepted and ignored: this bench is one report.
    let cfg = Config::from_env();

    let mut trust = TrustStore::new();
    trust
        .add_ca(CA_DER, Some(CRL_DER))
        .expect("fixture CA and CRL load");
    let key = SigningKey::from_pkcs8_der(NODE_KEY_PKCS8).expect("fixture key loads");
    let signer = Signer::new(key, NODE_CERT_DER.to_vec()).expect("fixture key matches cert");
    let raw_key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(NODE_KEY_PKCS8).expect("ring key");
    let public = signer.key().public_key();

    let mut body = sample::alert_of_size(MESSAGE_SIZE);
    body.header.originator = NODE.parse().expect("node id");
    body.normalise();
    let signed = signer.sign(&mut body).expect("sample signs");
    let body_bytes = signed.body.clone();
    let raw_sig = raw_key.sign(&body_bytes);
    // Warm the certificate cache, as a running node's is.
    signed.clone().verify(&trust).expect("sample verifies");

    println!(
        "liaison-protocol bench: {}-byte message body, {} cores, {} interleaved rounds of ~{} ms{}",
        body_bytes.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cfg.rounds,
        cfg.batch.as_millis(),
        if cfg.rounds < 10 { " (QUICK)" } else { "" }
    );

    // --- sign -----------------------------------------------------------------------
    let mut encode_sign: Op = Box::new(|n| {
        let mut b = body.clone();
        timed(|| {
            for _ in 0..n {
                black_box(signer.sign(black_box(&mut b)).expect("signs"));
            }
        })
    });
    let mut raw_sign: Op = Box::new(|n| {
        timed(|| {
            for _ in 0..n {
                black_box(raw_key.sign(black_box(&body_bytes)));
            }
        })
    });
    let sign = interleave(&cfg, &mut encode_sign, &mut raw_sign);

    // --- verify ---------------------------------------------------------------------
    let mut verify_decode: Op = Box::new(|n| {
        // `verify` consumes the message, as a node's receive path does; the copies it
        // consumes are made outside the clock.
        let inputs: Vec<SignedMessage> = (0..n).map(|_| signed.clone()).collect();
        timed(|| {
            for m in inputs {
                black_box(m.verify(&trust).expect("verifies"));
            }
        })
    });
    let pk = UnparsedPublicKey::new(&ED25519, public);
    let mut raw_verify: Op = Box::new(|n| {
        timed(|| {
            for _ in 0..n {
                pk.verify(black_box(&body_bytes), black_box(raw_sig.as_ref()))
                    .expect("verifies");
            }
        })
    });
    let verify = interleave(&cfg, &mut verify_decode, &mut raw_verify);

    // The real paths sign and verify `context || id` (51 bytes), not the 1 KiB body, so
    // against the primitive as actually used they show the protocol layer's own overhead.
    let created_at = body.header.created_at;
    let signing_input = message_signing_input(&signed.id());
    let mut raw_sign_51: Op = Box::new(|n| {
        timed(|| {
            for _ in 0..n {
                black_box(raw_key.sign(black_box(&signing_input)));
            }
        })
    });
    let sign_51 = interleave(&cfg, &mut encode_sign, &mut raw_sign_51);
    let mut raw_verify_51: Op = Box::new(|n| {
        timed(|| {
            for _ in 0..n {
                pk.verify(black_box(&signing_input), black_box(&signed.signature))
                    .expect("verifies");
            }
        })
    });
    let verify_51 = interleave(&cfg, &mut verify_decode, &mut raw_verify_51);

    // --- where verify + decode spends its time ----------------------------------------
    let mut parts: Vec<(&str, Op)> = vec![
        (
            "Body::decode (strict: decode, re-encode, validate)",
            Box::new(|n| {
                timed(|| {
                    for _ in 0..n {
                        black_box(Body::decode(black_box(&body_bytes)).expect("decodes"));
                    }
                })
            }),
        ),
        (
            "message id: SHA-256 of the body",
            Box::new(|n| {
                timed(|| {
                    for _ in 0..n {
                        black_box(black_box(&signed).id());
                    }
                })
            }),
        ),
        (
            "TrustStore::check_node_cert (warm cache)",
            Box::new(|n| {
                timed(|| {
                    for _ in 0..n {
                        black_box(
                            trust
                                .check_node_cert(black_box(&signed.signer_cert), created_at)
                                .expect("cert ok"),
                        );
                    }
                })
            }),
        ),
        (
            "ring Ed25519 verify of context || id (51 bytes)",
            Box::new(|n| {
                timed(|| {
                    for _ in 0..n {
                        pk.verify(black_box(&signing_input), black_box(&signed.signature))
                            .expect("verifies");
                    }
                })
            }),
        ),
        (
            "SignedMessage clone (not in the timed verify path)",
            Box::new(|n| {
                timed(|| {
                    for _ in 0..n {
                        black_box(black_box(&signed).clone());
                    }
                })
            }),
        ),
    ];
    let parts: Vec<(&str, f64)> = parts
        .iter_mut()
        .map(|(name, op)| (*name, rate(&cfg, op)))
        .collect();

    // --- Merkle -------------------------------------------------------------------------
    let leaves = leaf_hashes(LEAVES);
    let (mut sha, mut append, mut fold, mut mratio) = (vec![], vec![], vec![], vec![]);
    let mut tree = MerkleTree::new();
    for round in 0..cfg.merkle_rounds {
        let hash_all = || {
            timed(|| {
                for l in &leaves {
                    black_box(ring::digest::digest(&ring::digest::SHA256, black_box(l)));
                }
            })
        };
        let mut push_all = || {
            let mut t = MerkleTree::new();
            let d = timed(|| {
                for l in &leaves {
                    t.push_leaf_hash(*l);
                }
                black_box(t.root());
            });
            tree = t;
            d
        };
        let (h, p) = if round % 2 == 0 {
            let h = hash_all();
            (h, push_all())
        } else {
            let p = push_all();
            (hash_all(), p)
        };
        let f = timed(|| {
            let mut b = RootBuilder::new();
            b.extend(leaves.iter().copied());
            black_box(b.root());
        });
        let (h, p) = (
            LEAVES as f64 / h.as_secs_f64(),
            LEAVES as f64 / p.as_secs_f64(),
        );
        sha.push(h);
        append.push(p);
        fold.push(f.as_secs_f64());
        mratio.push(p / h);
    }
    let root = tree.root();
    let (mut gen, mut ver) = (vec![], vec![]);
    let mut proof_len = 0;
    for round in 0..cfg.merkle_rounds {
        let idx: Vec<u64> = (0..cfg.proofs)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round as u64) % LEAVES)
            .collect();
        let mut proofs = Vec::with_capacity(idx.len());
        let g = timed(|| {
            for &i in &idx {
                proofs.push(tree.inclusion_proof(i, LEAVES).expect("in range"));
            }
        });
        proof_len = proofs[0].to_bytes().len();
        let v = timed(|| {
            for p in &proofs {
                let leaf = &leaves[p.index as usize];
                merkle::verify_inclusion(leaf, p.index, p.size, &p.hashes, &root)
                    .expect("proof verifies");
            }
        });
        gen.push(g.as_secs_f64() / cfg.proofs as f64);
        ver.push(v.as_secs_f64() / cfg.proofs as f64);
    }

    // --- report -------------------------------------------------------------------------
    println!();
    println!(
        "  {:<52} {:>12}  {:>10}",
        "operation (median of rounds)", "rate", "time/op"
    );
    row("raw ring Ed25519 sign, 1 KiB", sign.baseline);
    row("encode + sign (Signer::sign)", sign.candidate);
    row("raw ring Ed25519 verify, 1 KiB", verify.baseline);
    row(
        "verify + decode (SignedMessage::verify, warm trust)",
        verify.candidate,
    );
    println!();
    println!("  verify + decode, its parts measured alone:");
    for (name, r) in &parts {
        row(&format!("  {name}"), *r);
    }
    println!();
    println!(
        "  ratio (median of interleaved per-round ratios)      value   [p25–p75]       target"
    );
    for (name, p) in [
        ("encode+sign / raw sign", &sign),
        ("verify+decode / raw verify", &verify),
    ] {
        println!(
            "  {name:<46} {:>10.3}   [{:.3}–{:.3}]   ≥ {TARGET_RATIO:.2}  {}",
            p.ratio,
            p.ratio_iqr.0,
            p.ratio_iqr.1,
            verdict(p.ratio)
        );
    }
    for (name, p) in [
        ("encode+sign / raw sign of context||id (51 B)", &sign_51),
        ("verify+decode / raw verify of context||id", &verify_51),
    ] {
        println!(
            "  {name:<46} {:>10.3}   [{:.3}–{:.3}]   (no target: the protocol layer's own cost)",
            p.ratio, p.ratio_iqr.0, p.ratio_iqr.1,
        );
    }
    println!();
    println!("  Merkle, {LEAVES} leaves ({} rounds):", cfg.merkle_rounds);
    row("raw SHA-256 of each 32-byte leaf hash", median(&mut sha));
    row("MerkleTree::push_leaf_hash (append)", median(&mut append));
    println!(
        "  {:<52} {:>12.3}",
        "append / raw SHA-256 (median of rounds)",
        median(&mut mratio)
    );
    println!(
        "  {:<52} {:>12}",
        "root of 1M leaf hashes, streamed (RootBuilder)",
        fmt_time(median(&mut fold))
    );
    println!(
        "  {:<52} {:>12}",
        "inclusion proof generation (at 1M)",
        fmt_time(median(&mut gen))
    );
    println!(
        "  {:<52} {:>12}",
        "inclusion proof verification (at 1M)",
        fmt_time(median(&mut ver))
    );
    println!(
        "  {:<52} {:>12}",
        "inclusion proof size (binary form)",
        format!("{proof_len} B")
    );
}
