//! Draining the backlog of a partition: how long after a peer comes back does a node take to
//! deliver everything it queued for it? Results and method: `docs/PERFORMANCE.md`, section
//! "Drain after a partition".
//!
//! ```sh
//! cargo bench -p liaison-tests --bench drain                        # 3 rounds, ~3 min after the build
//! LIAISON_BENCH_QUICK=1 cargo bench -p liaison-tests --bench drain  # smoke run (6 000 queued)
//! ```
//!
//! The target (issue #7): the backlog of a 10-minute partition at 100 messages/s, 60 000
//! messages, drains in under 10 s after the heal. Each round, in one process on loopback with
//! real certificates, mTLS QUIC and journal stores (`fdatasync` per group commit), two nodes
//! A → B:
//!
//! 1. **Baseline, steady state**: N messages A → B with B up, from `concurrency` submitters
//!    (the one-hop bench's closed loop, `liaison_tests::bench::drive`): msgs/s.
//! 2. **Drain**: B is shut down (cleanly: what is unreachable is the peer, not half a
//!    process); A accepts 60 000 messages for B, durably logged and queued in its outbox;
//!    then B is started again on the same data dir, and the clock runs from B's start (the
//!    heal) until B's inbox holds all of them and A's outbox is empty (every receipt back).
//!    Reported: time to the session (B's start → A sees the session up), the drain time from
//!    the heal, and the drain rate over the whole of it.
//!
//! The ratio drain rate / steady-state rate compares like with like on the same machine in the
//! same round. Environment: `LIAISON_BENCH_BACKLOG` (60 000), `LIAISON_BENCH_N` (20 000),
//! `LIAISON_BENCH_CONCURRENCY` (64), `LIAISON_BENCH_ROUNDS` (3), `LIAISON_BENCH_QUICK=1`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use liaison_node::compose::SendRequest;
use liaison_tests::bench::{flag, median, usize_var};
use liaison_tests::cluster::{alert, start, wait_for, wait_keys, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const WARM: usize = 64;
/// Text of each alert (the body is a little larger with its header and handling block).
const TEXT_BYTES: usize = 900;
const TARGET_SECS: f64 = 10.0;

struct Opts {
    backlog: usize,
    n: usize,
    concurrency: usize,
    rounds: usize,
}

fn text(i: usize) -> String {
    let head = format!("drain {i} ");
    format!(
        "{head}{}",
        "x".repeat(TEXT_BYTES.saturating_sub(head.len()))
    )
}

fn reqs(range: std::ops::Range<usize>) -> Arc<Vec<SendRequest>> {
    Arc::new(range.map(|i| alert(B, &text(i))).collect())
}

/// A and B up, sessions up, sealing keys known, warm-up delivered.
async fn pair() -> Result<(Cluster, liaison_node::node::Node, liaison_node::node::Node)> {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let a = start(c.config(A, &[B])).await;
    let b = start(c.config(B, &[A])).await;
    wait_keys(&a, &[B]).await;
    let warm = reqs(usize::MAX - WARM..usize::MAX);
    for r in warm.iter() {
        liaison_node::node::send(a.ctx(), r).await?;
    }
    let (sa, sb) = (a.store().clone(), b.store().clone());
    wait_for("warm-up delivered", Duration::from_secs(60), || {
        sb.inbox_len() >= WARM as u64 && sa.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    Ok((c, a, b))
}

/// Steady state: msgs/s of `n` messages A → B with B up.
async fn steady(o: &Opts) -> Result<f64> {
    let (_c, a, b) = pair().await?;
    let t0 = Instant::now();
    let driven = liaison_tests::bench::drive(
        a.ctx().clone(),
        reqs(0..o.n),
        o.concurrency,
        a.store().clone(),
        b.store().clone(),
        (WARM + o.n) as u64,
    )
    .await?;
    let rate = o.n as f64 / (driven.end - t0).as_secs_f64();
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(rate)
}

struct DrainRun {
    fill: Duration,
    session: Duration,
    drain: Duration,
    disk_mib: f64,
}

/// Queues `backlog` messages at A while B is down, restarts B, times the drain.
async fn drain(o: &Opts) -> Result<DrainRun> {
    let (c, a, b) = pair().await?;
    let b_cfg = c.config(B, &[A]);
    b.shutdown().await?;
    let sa = a.store().clone();
    wait_for("A to see B down", Duration::from_secs(60), || {
        a.status().peers.iter().all(|p| !p.state.connected)
    })
    .await;

    // Fill: `concurrency` submitters, each message durably logged and queued at A.
    let all = reqs(0..o.backlog);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t_fill = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (ctx, all, next) = (a.ctx().clone(), all.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(r) = all.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                liaison_node::node::send(&ctx, r).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let fill = t_fill.elapsed();
    let queued = sa.outbox_depths().values().sum::<u64>();
    if queued != o.backlog as u64 {
        bail!("A queued {queued} messages for B, expected {}", o.backlog);
    }

    // Heal: B starts again on its data dir.
    let heal = Instant::now();
    let b = start(b_cfg).await;
    let sb = b.store().clone();
    let target = (WARM + o.backlog) as u64;
    let mut session = None;
    loop {
        if session.is_none() && a.status().peers.iter().all(|p| p.state.connected) {
            session = Some(heal.elapsed());
        }
        if sb.inbox_len() >= target && sa.outbox_depths().values().sum::<u64>() == 0 {
            break;
        }
        if heal.elapsed() > Duration::from_secs(600) {
            bail!(
                "timed out: B holds {} of {target}, A's outbox {}",
                sb.inbox_len(),
                sa.outbox_depths().values().sum::<u64>()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let drain = heal.elapsed();
    let delivered = sb.inbox_len();
    if delivered != target {
        bail!("B holds {delivered} messages, expected {target}: duplicates");
    }
    let disk_mib = a.status().disk_bytes as f64 / (1024.0 * 1024.0);
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(DrainRun {
        fill,
        session: session.unwrap_or(drain),
        drain,
        disk_mib,
    })
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = flag("LIAISON_BENCH_QUICK");
    let o = Opts {
        backlog: usize_var("LIAISON_BENCH_BACKLOG").unwrap_or(if quick { 6_000 } else { 60_000 }),
        n: usize_var("LIAISON_BENCH_N").unwrap_or(if quick { 2_000 } else { 20_000 }),
        concurrency: usize_var("LIAISON_BENCH_CONCURRENCY").unwrap_or(64),
        rounds: usize_var("LIAISON_BENCH_ROUNDS").unwrap_or(if quick { 1 } else { 3 }),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    eprintln!(
        "drain after a partition: backlog {} messages of ~{TEXT_BYTES} B text, steady-state N = {}, {} submitters, {} round(s)",
        o.backlog, o.n, o.concurrency, o.rounds
    );
    let started = Instant::now();
    let (mut drains, mut sessions, mut rates, mut steadies, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.rounds {
        // Alternate the order, so a drift of the host's speed does not favour one side.
        let (s, d) = if round % 2 == 0 {
            let s = rt.block_on(steady(&o))?;
            (s, rt.block_on(drain(&o))?)
        } else {
            let d = rt.block_on(drain(&o))?;
            (rt.block_on(steady(&o))?, d)
        };
        let rate = o.backlog as f64 / d.drain.as_secs_f64();
        eprintln!(
            "round {}: steady {:.0} msgs/s; filled {} in {:.1} s ({:.1} MiB at A); after the heal: session {:.2} s, drained in {:.2} s = {:.0} msgs/s ({:.2} of steady)",
            round + 1,
            s,
            o.backlog,
            d.fill.as_secs_f64(),
            d.disk_mib,
            d.session.as_secs_f64(),
            d.drain.as_secs_f64(),
            rate,
            rate / s
        );
        drains.push(d.drain.as_secs_f64());
        sessions.push(d.session.as_secs_f64());
        rates.push(rate);
        steadies.push(s);
        ratios.push(rate / s);
    }
    let drain_s = median(&drains);
    let verdict = if o.backlog >= 60_000 {
        if drain_s < TARGET_SECS {
            "MET"
        } else {
            "MISSED"
        }
    } else {
        "not judged (backlog < 60 000)"
    };
    eprintln!(
        "\nmedians of {} round(s): drain {:.2} s (per round {:?}), session up {:.2} s, drain rate {:.0} msgs/s, steady {:.0} msgs/s, drain/steady {:.2}",
        o.rounds,
        drain_s,
        drains.iter().map(|d| format!("{d:.2}")).collect::<Vec<_>>(),
        median(&sessions),
        median(&rates),
        median(&steadies),
        median(&ratios),
    );
    eprintln!(
        "target: {} messages drained in < {TARGET_SECS:.0} s: {verdict} ({:.0} s in all)",
        o.backlog,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
