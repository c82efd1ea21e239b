//! Two real nodes over loopback QUIC with real certificates and real stores on disk: promise 3,
//! nothing acknowledged is lost; delivery is exactly-once in effect and in order.

use std::collections::HashSet;
use std::time::Duration;

use liaison_tests::cluster::{alert, start, wait_for, wait_keys, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const LIMIT: Duration = Duration::from_secs(60);

fn pair() -> Cluster {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_none_lost_none_duplicated_in_order() {
    let c = pair();
    let a = start(c.config(A, &[B])).await;
    let b = start(c.config(B, &[A])).await;
    const N: usize = 10_000;
    let mut sent = Vec::with_capacity(N);
    // Send from several tasks at once, in waves, as officers and scripts would.
    for wave in 0..(N / 500) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..500 {
            let ctx = a.ctx().clone();
            let text = format!("alert {}", wave * 500 + i);
            tasks.spawn(async move {
                liaison_node::node::send(&ctx, &alert(B, &text))
                    .await
                    .unwrap()
                    .id
            });
        }
        while let Some(id) = tasks.join_next().await {
            sent.push(id.unwrap());
        }
    }
    let store_b = b.store().clone();
    let store_a = a.store().clone();
    wait_for(
        "every message in B's inbox",
        Duration::from_secs(300),
        || store_b.inbox(0, usize::MAX).map(|i| i.len()).unwrap_or(0) >= N,
    )
    .await;
    wait_for(
        "A's outbox to drain (all receipted)",
        Duration::from_secs(60),
        || store_a.outbox_depths().values().sum::<u64>() == 0,
    )
    .await;
    let inbox = store_b.inbox(0, usize::MAX).unwrap();
    assert_eq!(inbox.len(), N, "no duplicates in the inbox");
    let got: HashSet<_> = inbox.iter().map(|i| i.state.facts.id).collect();
    assert_eq!(got.len(), N);
    assert_eq!(
        got,
        sent.iter().copied().collect::<HashSet<_>>(),
        "nothing lost"
    );
    // Order: B's inbox follows A's log order (A's sent order).
    let order_a: Vec<_> = (0..store_a.log_size())
        .filter_map(|i| store_a.log_entry(i).unwrap())
        .filter_map(|e| match e.event {
            liaison_protocol::log::Event::Sent { msg, .. } => Some(msg.id),
            _ => None,
        })
        .filter(|id| got.contains(id))
        .collect();
    let order_b: Vec<_> = inbox.iter().map(|i| i.state.facts.id).collect();
    assert_eq!(order_a, order_b, "delivered in order of sending");
    // Every message at A has B's signed receipt in its trail.
    let s = store_a.state(&sent[0]).unwrap().unwrap();
    assert_eq!(s.hops.len(), 1);
    assert_eq!(s.hops[0].outcome, "delivered");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_gets_the_queued_thousand_in_order() {
    let c = pair();
    let a = start(c.config(A, &[B])).await;
    // B has been seen once (A learnt its sealing key: content is sealed to it), then it goes
    // down; what A sends meanwhile waits in A's outbox.
    let b = start(c.config(B, &[A])).await;
    wait_keys(&a, &[B]).await;
    let b_id: liaison_protocol::NodeId = B.parse().unwrap();
    let store_a = a.store().clone();
    wait_for(
        "A's outbox towards B empty",
        Duration::from_secs(30),
        || store_a.outbox_depths().get(&b_id).copied().unwrap_or(0) == 0,
    )
    .await;
    b.shutdown().await.unwrap();
    let mut sent = Vec::new();
    for i in 0..1000 {
        sent.push(a.send(&alert(B, &format!("queued {i}"))).await.unwrap().id);
    }
    assert_eq!(a.store().outbox_depths()[&b_id], 1000);
    let b = start(c.config(B, &[A])).await;
    let store_b = b.store().clone();
    wait_for("B to receive the backlog", Duration::from_secs(120), || {
        store_b.inbox(0, usize::MAX).map(|i| i.len()).unwrap_or(0) >= 1000
    })
    .await;
    let got: Vec<_> = store_b
        .inbox(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|i| i.state.facts.id)
        .collect();
    assert_eq!(got, sent, "all of them, in order of sending");
    let store_a = a.store().clone();
    wait_for("A's outbox to drain", Duration::from_secs(30), || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_travels_back_and_shows_in_the_senders_trail() {
    let c = pair();
    let a = start(c.config(A, &[B])).await;
    // B accepts no clock difference at all: A's message is refused with `clock-skew`.
    let mut cfg_b = c.config(B, &[A]);
    cfg_b.limits.clock_skew_secs = 0;
    let b = start(cfg_b).await;
    let sent = a.send(&alert(B, "refused at the door")).await.unwrap();
    let store_a = a.store().clone();
    wait_for("B's signed refusal at A", Duration::from_secs(30), || {
        store_a
            .state(&sent.id)
            .unwrap()
            .is_some_and(|s| !s.hops.is_empty())
    })
    .await;
    let s = store_a.state(&sent.id).unwrap().unwrap();
    assert_eq!(s.hops[0].outcome, "refused: clock-skew");
    assert!(s.pending.is_empty(), "a refused message is not retried");
    wait_for("A's outbox empty", Duration::from_secs(30), || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    let logged = (0..store_a.log_size())
        .filter_map(|i| store_a.log_entry(i).unwrap())
        .any(|e| matches!(e.event, liaison_protocol::log::Event::RefusalReceived { ref reason_code, .. } if reason_code == "clock-skew"));
    assert!(logged, "the refusal is in the sender's log");
    assert!(b.store().inbox(0, 10).unwrap().is_empty());
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A node restarted at once (as systemd does) while a peer is down must bind its address
/// again: the shutdown may not leave a connection attempt to the dead peer holding the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_at_once_while_a_peer_is_down() {
    let c = pair();
    let cfg = c.config(B, &[A]);
    // A is not running: B's session to it is dialling (a QUIC handshake to a dead address
    // waits for its timeout) when B shuts down.
    let b = start(cfg.clone()).await;
    b.shutdown().await.unwrap();
    let b = start(cfg).await;
    b.shutdown().await.unwrap();
}

/// A receiver that crashes (its runtime gone: no CONNECTION_CLOSE, nothing flushed beyond
/// what was durable) and comes back on the same data dir gets what was sent to it
/// meanwhile: the sender's session on the dead connection ends, it dials again, and
/// delivery resumes. When the restarted receiver dials in while the sender still holds its
/// earlier connection, that alone ends the sender's stale session at once (the log says
/// so); otherwise the receiver's stateless reset does at the sender's next packet.
#[test]
fn a_receiver_that_crashed_and_restarted_gets_what_was_sent_meanwhile() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let logs = liaison_tests::logs::captured();
    let c = pair();
    let (a_rt, b_rt) = (runtime(), runtime());
    let a = a_rt.block_on(start(c.config(A, &[B])));
    let b = b_rt.block_on(start(c.config(B, &[A])));
    a_rt.block_on(wait_keys(&a, &[B]));
    let first = a_rt
        .block_on(a.send(&alert(B, "before the crash")))
        .unwrap()
        .id;
    let store_b = b.store().clone();
    a_rt.block_on(wait_for("the first alert at B", LIMIT, || {
        store_b.envelope(&first).ok().flatten().is_some()
    }));
    let a_ctx = a.ctx().clone();
    a_rt.block_on(wait_for("A's session to B up", LIMIT, || {
        a_ctx
            .sessions()
            .states()
            .iter()
            .any(|(n, s)| n.as_str() == B && s.connected)
    }));
    // The crash, then a message sent into it.
    drop(b_rt);
    drop((b, store_b));
    let during = a_rt
        .block_on(a.send(&alert(B, "sent while B was down")))
        .unwrap()
        .id;
    let b_rt = runtime();
    let b = b_rt.block_on(async {
        // The crashed life's data-dir lock goes with its last handle.
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            match liaison_node::node::Node::start(c.config(B, &[A])).await {
                Ok(b) => break b,
                // Polled, as `wait_for` polls a condition.
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("B does not start again: {e}"),
            }
        }
    });
    let store_b = b.store().clone();
    a_rt.block_on(wait_for("the alert sent meanwhile at B", LIMIT, || {
        store_b.envelope(&during).ok().flatten().is_some()
    }));
    let store_a = a.store().clone();
    a_rt.block_on(wait_for("A's outbox to drain", LIMIT, || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    }));
    let text = logs.text();
    let restarted =
        text.contains("the peer dialled in again while the outbound connection to it was up");
    println!(
        "the stale session ended by {}",
        if restarted {
            "the restarted peer's dial-in"
        } else {
            "a stateless reset or the idle timeout"
        }
    );
    b_rt.block_on(b.shutdown()).unwrap();
    a_rt.block_on(a.shutdown()).unwrap();
}

/// A relay that is restarted (cleanly) while it relays still carries every later hop's
/// answer back: each message's trail at its sender ends with the receiver's `delivered`,
/// however the restarts fall between the relay's recording of that answer and its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_reaches_the_sender_across_relay_restarts() {
    const G: &str = "gw.central-asia";
    const ROUNDS: usize = 3;
    const PER_ROUND: usize = 60;
    let mut c = Cluster::new(&["central-asia"]);
    for n in [A, G, B] {
        c.add(n);
    }
    let mut cfg_a = c.config(A, &[G]);
    cfg_a.routes = vec![liaison_node::config::RouteConfig {
        to: B.into(),
        via: G.parse().unwrap(),
        distance: 0,
    }];
    let mut cfg_g = c.config(G, &[A, B]);
    cfg_g.relay = vec![liaison_node::config::RelayRule {
        from: "central-asia".parse().unwrap(),
        to: vec!["central-asia".parse().unwrap()],
    }];
    let a = start(cfg_a).await;
    let b = start(c.config(B, &[G])).await;
    let mut g = start(cfg_g.clone()).await;
    wait_keys(&a, &[B]).await;
    let mut sent = Vec::new();
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            sent.push(
                a.send(&alert(B, &format!("round {round} alert {i}")))
                    .await
                    .unwrap()
                    .id,
            );
        }
        // Restart the relay while answers are on their way through it.
        let store_b = b.store().clone();
        let want = (round + 1) * PER_ROUND;
        wait_for("some of this round at B", LIMIT, || {
            store_b.inbox_len() >= (want - PER_ROUND / 2) as u64
        })
        .await;
        g.shutdown().await.unwrap();
        g = start(cfg_g.clone()).await;
    }
    let store_b = b.store().clone();
    wait_for("every alert at B", LIMIT, || {
        store_b.inbox_len() >= (ROUNDS * PER_ROUND) as u64
    })
    .await;
    let store_a = a.store().clone();
    let delivered = |id: &liaison_protocol::MessageId| {
        store_a.state(id).ok().flatten().is_some_and(|s| {
            s.hops
                .iter()
                .any(|h| h.peer.as_str() == B && h.outcome == "delivered")
        })
    };
    let all = sent.clone();
    let waited = tokio::time::timeout(LIMIT, async {
        while !all.iter().all(&delivered) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let missing: Vec<String> = sent
        .iter()
        .filter(|id| !delivered(id))
        .map(|id| id.short())
        .collect();
    assert!(
        waited.is_ok() && missing.is_empty(),
        "{} of {} messages have no `delivered` from {B} in their sender's trail: {missing:?}",
        missing.len(),
        sent.len()
    );
    g.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
}
