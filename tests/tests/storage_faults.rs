//! Stored data you can trust, under fault injection on a real data dir.
//!
//! A node (CARICC) receives alerts from a peer over real QUIC, sends some of its own, purges a
//! few under its retention rule, acknowledges others, and stops cleanly. Its data dir is then
//! copied and damaged in one way per trial — the journal cut short at ≥ 20 offsets, single
//! bytes flipped at ≥ 50 offsets over every region of the journal (file header, batch headers,
//! records, bodies) and of both checkpoint files, checkpoint files deleted and swapped — and
//! the node is started on the copy and asked, through its officer API, for every message it
//! had acknowledged. Each trial must end in exactly one of:
//!
//! * **refused**: the node does not start, and says ALARM;
//! * **intact**: every acknowledged message is there, exactly as before (purged ones purged);
//! * **reported**: the damaged messages are reported damaged (`stored-body-damaged`) in the
//!   message view and the inbox, and every other one is intact.
//!
//! Never a message served altered, never an acknowledged message silently missing. The
//! counts per outcome are printed. The seed is fixed, so every run makes the same trials.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use liaison_node::config::{Config, RetentionRule};
use liaison_node::node::{Node, StartOptions};
use liaison_tests::api::{poll, TokenClient};
use liaison_tests::cluster::{alert, free_udp_addr, start, wait_for, Cluster};
use liaison_tests::copy_dir;
use serde_json::Value;

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A small deterministic generator (xorshift64*), so every run makes the same trials.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The subject: CARICC's data dir after a clean stop, its configuration, and what its API
/// answered for each acknowledged message before (the expected answers).
struct Pristine {
    _cluster: Cluster,
    dir: PathBuf,
    cfg: Config,
    /// Message id → the API's answer (`GET /v1/messages/{id}`), for every message CARICC
    /// received or sent; purged ones answer 410.
    expected: BTreeMap<String, (u16, Value)>,
    /// The inbox's message ids.
    inbox: Vec<String>,
}

/// What one trial came to.
#[derive(Debug)]
enum Outcome {
    Refused,
    /// With the alarm codes raised (damage outside the messages, e.g. in a signed receipt
    /// kept for auditors, is alarmed though every message is intact).
    Intact(Vec<String>),
    Reported(usize),
}

fn make_pristine(rt: &tokio::runtime::Runtime) -> Pristine {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg_a = c.config(A, &[B]);
    let mut cfg_b = c.config(B, &[A]);
    cfg_b.retention.rules = vec![RetentionRule {
        name: "green-at-once".into(),
        kinds: vec!["alert".into()],
        tlp: vec!["GREEN".into()],
        after_days: 0,
    }];
    let (a, b) = rt.block_on(async { (start(cfg_a).await, start(cfg_b.clone()).await) });
    rt.block_on(async {
        liaison_tests::cluster::wait_keys(&a, &[B]).await;
        liaison_tests::cluster::wait_keys(&b, &[A]).await;
        for i in 0..30 {
            let mut req = alert(B, &format!("alert {i} from Almaty: container MSCU{i:07}"));
            if i % 6 == 0 {
                req.tlp = "GREEN".into();
            }
            a.send(&req).await.expect("A sends");
        }
        for i in 0..10 {
            b.send(&alert(A, &format!("answer {i} from CARICC")))
                .await
                .expect("B sends");
        }
        let (sa, sb) = (a.store().clone(), b.store().clone());
        wait_for("every message delivered and receipted", LIMIT, || {
            sb.inbox_len() == 30
                && sa.inbox_len() == 10
                && sa.outbox_depths().values().all(|d| *d == 0)
                && sb.outbox_depths().values().all(|d| *d == 0)
        })
        .await;
    });
    let api = TokenClient::new(b.api_addr(), &cfg_b.api.token_file);
    let purged = api.post("/v1/purge", &serde_json::json!({ "dry_run": false }));
    assert_eq!(purged.status, 200, "{purged:?}");
    assert_eq!(purged.body["purged"].as_array().map(Vec::len), Some(5));
    let inbox: Vec<String> = api.get("/v1/inbox?limit=1000").body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(inbox.len(), 30);
    for id in inbox.iter().skip(1).step_by(4) {
        assert_eq!(
            api.post(&format!("/v1/messages/{id}/ack"), &Value::Null)
                .status,
            200
        );
    }
    rt.block_on(async {
        let (x, y) = tokio::join!(a.shutdown(), b.shutdown());
        x.expect("A stops");
        y.expect("B stops");
    });
    let dir = cfg_b.data_dir.clone();
    let mut p = Pristine {
        _cluster: c,
        dir,
        cfg: cfg_b,
        expected: BTreeMap::new(),
        inbox,
    };
    // The expected answers come from a restart on an undamaged copy: the no-fault trial.
    let copy = tempfile::tempdir().expect("tmp");
    copy_dir(&p.dir, copy.path());
    let node = rt
        .block_on(Node::start(trial_config(&p.cfg, copy.path())))
        .expect("the undamaged copy starts");
    let api = client(&node, copy.path());
    wait_for_scrub(&api);
    let ids: Vec<String> = rt.block_on(async {
        node.store()
            .message_ids()
            .iter()
            .map(|i| i.to_string())
            .collect()
    });
    for id in ids {
        let mut a = api.get(&format!("/v1/messages/{id}"));
        if let Some(o) = a.body.as_object_mut() {
            o.remove("request_id");
        }
        p.expected.insert(id, (a.status, a.body));
    }
    rt.block_on(node.shutdown()).expect("stops");
    let purged = p.expected.values().filter(|(s, _)| *s == 410).count();
    let readable = p.expected.values().filter(|(s, _)| *s == 200).count();
    // Received 30 (5 purged), sent 10, plus CARICC's own sealing-key statements and route
    // announcements (which it also stores).
    assert_eq!(purged, 5, "purged messages answer 410");
    assert!(readable >= 35, "{readable} readable messages");
    p
}

/// The node's configuration on a copy of its data dir: no peers (nothing to dial while it is
/// checked), its own ports.
fn trial_config(cfg: &Config, dir: &Path) -> Config {
    let mut c = cfg.clone();
    c.data_dir = dir.to_owned();
    c.peers.clear();
    c.listen = free_udp_addr();
    c.api.listen = "127.0.0.1:0".parse().expect("addr");
    c.api.token_file = dir.join("api.token");
    c
}

fn client(node: &Node, dir: &Path) -> TokenClient {
    TokenClient::new(node.api_addr(), &dir.join("api.token"))
}

/// Waits for the check of every stored body that follows start-up.
fn wait_for_scrub(api: &TokenClient) {
    poll("the store check after start-up", LIMIT, || {
        let st = api.get("/v1/status");
        st.body["store_check"]["finished_at"].as_str().map(|_| ())
    });
}

/// Starts the node on a damaged copy and judges what it serves.
fn judge(rt: &tokio::runtime::Runtime, p: &Pristine, dir: &Path, opts: StartOptions) -> Outcome {
    let started = rt.block_on(Node::start_with(trial_config(&p.cfg, dir), opts));
    let node = match started {
        Ok(n) => n,
        Err(e) => {
            let text = format!("{e:#}");
            assert!(
                text.contains("ALARM"),
                "the node refused to start without an alarm: {text}"
            );
            return Outcome::Refused;
        }
    };
    let api = client(&node, dir);
    wait_for_scrub(&api);
    let mut damaged = Vec::new();
    for (id, (status, body)) in &p.expected {
        let mut got = api.get(&format!("/v1/messages/{id}"));
        // Every answer has a request id of its own.
        if let Some(o) = got.body.as_object_mut() {
            o.remove("request_id");
        }
        if got.status == 500 && got.error() == "stored-body-damaged" {
            damaged.push(id.clone());
            continue;
        }
        assert_ne!(
            got.status, 404,
            "acknowledged message {id} is silently missing"
        );
        assert_eq!(
            (got.status, &got.body),
            (*status, body),
            "message {id} is served other than it was acknowledged"
        );
    }
    // The inbox lists every message, the damaged ones marked.
    let inbox = api.get("/v1/inbox?limit=1000");
    assert_eq!(inbox.status, 200, "{inbox:?}");
    let items = inbox.body["items"].as_array().expect("items");
    let listed: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(listed, p.inbox, "the inbox lists every message, in order");
    for item in items {
        let id = item["id"].as_str().unwrap_or_default();
        let marked = item["damaged"]["error"].as_str() == Some("stored-body-damaged");
        assert_eq!(
            marked,
            damaged.iter().any(|d| d == id),
            "inbox item {id}: {item}"
        );
    }
    let status = api.get("/v1/status").body;
    if !damaged.is_empty() {
        let alarmed = status["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["code"] == "stored-body-damaged")
            .count();
        assert!(alarmed >= damaged.len(), "damage is alarmed: {status}");
    }
    rt.block_on(node.shutdown()).expect("stops");
    if damaged.is_empty() {
        let codes = status["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["code"].as_str().map(str::to_owned))
            .collect();
        Outcome::Intact(codes)
    } else {
        Outcome::Reported(damaged.len())
    }
}

/// The journal's regions: (start, end, name).
fn regions(journal: &[u8]) -> Vec<(usize, usize, &'static str)> {
    let mut out = vec![(0, 16, "file header")];
    let mut pos = 16;
    while pos + 24 <= journal.len() {
        let word = |at: usize| {
            u32::from_le_bytes(journal[at..at + 4].try_into().expect("4 bytes")) as usize
        };
        let (meta, bodies) = (word(pos + 4), word(pos + 8));
        out.push((pos, pos + 24, "batch header"));
        out.push((pos + 24, pos + 24 + meta, "records"));
        if bodies > 0 {
            out.push((pos + 24 + meta, pos + 24 + meta + bodies, "bodies"));
        }
        pos += 24 + meta + bodies;
    }
    assert_eq!(pos, journal.len(), "the journal parses into whole batches");
    out
}

fn flip(path: &Path, at: usize, rng: &mut Rng) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 1 << rng.below(8);
    std::fs::write(path, bytes).expect("write");
}

fn truncate(path: &Path, len: usize) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.set_len(len as u64).expect("truncate");
}

#[test]
fn storage_faults_are_refused_or_reported_never_served_altered_or_lost() {
    let rt = runtime();
    let p = make_pristine(&rt);
    let journal_path = |d: &Path| d.join("store").join("journal-v1");
    let journal = std::fs::read(journal_path(&p.dir)).expect("journal");
    let regions = regions(&journal);
    let note = std::fs::read(p.dir.join("checkpoint.note")).expect("note");
    let history = std::fs::read(p.dir.join("checkpoints.jsonl")).expect("history");
    let history_lines: Vec<&[u8]> = history.split_inclusive(|b| *b == b'\n').collect::<Vec<_>>();
    assert!(history_lines.len() >= 2, "at least two checkpoints");

    let mut rng = Rng(0x5eed_1234_abcd_0042);
    // Each trial: its name, the damage, and for a flipped body byte whether it was zero (a
    // purged body, which nothing serves).
    let trials = std::cell::RefCell::new(Vec::<(String, Box<dyn Fn(&Path)>, Option<bool>)>::new());
    let add = |name: String, f: Box<dyn Fn(&Path)>| trials.borrow_mut().push((name, f, None));
    let add_body = |name: String, f: Box<dyn Fn(&Path)>, purged: Option<bool>| {
        trials.borrow_mut().push((name, f, purged))
    };

    // Truncations of the journal at 24 offsets: a few at batch starts, the rest anywhere.
    let starts: Vec<usize> = regions
        .iter()
        .filter(|r| r.2 == "batch header")
        .map(|r| r.0)
        .collect();
    for k in 0..4 {
        let at = starts[1 + k * (starts.len() - 1) / 4];
        add(
            format!("journal cut at batch start {at}"),
            Box::new(move |d| truncate(&journal_path(d), at)),
        );
    }
    for _ in 0..20 {
        let at = rng.below(journal.len() as u64) as usize;
        add(
            format!("journal cut at {at}"),
            Box::new(move |d| truncate(&journal_path(d), at)),
        );
    }
    // Truncations of the history.
    for _ in 0..3 {
        let at = rng.below(history.len() as u64) as usize;
        add(
            format!("history cut at {at}"),
            Box::new(move |d| truncate(&d.join("checkpoints.jsonl"), at)),
        );
    }
    // Single-byte flips over every region of the journal.
    let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, count) in [
        ("file header", 3),
        ("batch header", 8),
        ("records", 12),
        ("bodies", 20),
    ] {
        let of_kind: Vec<_> = regions.iter().filter(|r| r.2 == name).collect();
        for _ in 0..count {
            let r = of_kind[rng.below(of_kind.len() as u64) as usize];
            let at = r.0 + rng.below((r.1 - r.0) as u64) as usize;
            let seed = rng.next();
            *per_region.entry(name).or_default() += 1;
            let purged_byte = (name == "bodies").then(|| journal[at] == 0);
            add_body(
                format!("journal byte {at} flipped ({name})"),
                Box::new(move |d| flip(&journal_path(d), at, &mut Rng(seed | 1))),
                purged_byte,
            );
        }
    }
    // … and of both checkpoint files.
    for (file, len, count) in [
        ("checkpoint.note", note.len(), 6),
        ("checkpoints.jsonl", history.len(), 6),
    ] {
        for _ in 0..count {
            let at = rng.below(len as u64) as usize;
            let seed = rng.next();
            add(
                format!("{file} byte {at} flipped"),
                Box::new(move |d| flip(&d.join(file), at, &mut Rng(seed | 1))),
            );
        }
    }
    // Deleted and swapped checkpoint files.
    add(
        "checkpoint.note deleted".into(),
        Box::new(|d| std::fs::remove_file(d.join("checkpoint.note")).expect("rm")),
    );
    add(
        "checkpoints.jsonl deleted".into(),
        Box::new(|d| std::fs::remove_file(d.join("checkpoints.jsonl")).expect("rm")),
    );
    add(
        "both checkpoint files deleted".into(),
        Box::new(|d| {
            std::fs::remove_file(d.join("checkpoint.note")).expect("rm");
            std::fs::remove_file(d.join("checkpoints.jsonl")).expect("rm");
        }),
    );
    let older: String = serde_json::from_slice::<Value>(history_lines[0]).expect("line")["note"]
        .as_str()
        .expect("note")
        .to_owned();
    {
        let older = older.clone();
        add(
            "checkpoint.note replaced by an older genuine note".into(),
            Box::new(move |d| std::fs::write(d.join("checkpoint.note"), &older).expect("write")),
        );
    }
    {
        let older = older.clone();
        let first = history_lines[0].to_vec();
        add(
            "both checkpoint files rolled back to an older genuine checkpoint".into(),
            Box::new(move |d| {
                std::fs::write(d.join("checkpoint.note"), &older).expect("write");
                std::fs::write(d.join("checkpoints.jsonl"), &first).expect("write");
            }),
        );
    }
    add(
        "checkpoint files swapped".into(),
        Box::new(|d| {
            let n = std::fs::read(d.join("checkpoint.note")).expect("read");
            let h = std::fs::read(d.join("checkpoints.jsonl")).expect("read");
            std::fs::write(d.join("checkpoint.note"), h).expect("write");
            std::fs::write(d.join("checkpoints.jsonl"), n).expect("write");
        }),
    );
    let trials = trials.into_inner();
    let truncations = trials.iter().filter(|t| t.0.contains(" cut at")).count();
    let flips = trials.iter().filter(|t| t.0.contains("flipped")).count();
    assert!(
        truncations >= 20 && flips >= 50,
        "{truncations} cuts, {flips} flips"
    );
    assert!(per_region.len() == 4, "{per_region:?}");

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reported = 0;
    for (name, damage, purged_byte) in &trials {
        let copy = tempfile::tempdir().expect("tmp");
        copy_dir(&p.dir, copy.path());
        damage(copy.path());
        let outcome = judge(&rt, &p, copy.path(), StartOptions::default());
        println!("{name}: {outcome:?}");
        // A flipped body byte is found: a message reported damaged, or an alarm (a signed
        // receipt kept for auditors), unless it fell in a purged body.
        if let (Some(false), Outcome::Intact(codes)) = (purged_byte, &outcome) {
            assert!(
                codes.iter().any(|c| c == "stored-body-damaged"),
                "{name}: a damaged body went unnoticed ({codes:?})"
            );
        }
        let key = match outcome {
            Outcome::Refused => "refused at start with an ALARM",
            Outcome::Intact(_) => "every acknowledged message present and intact",
            Outcome::Reported(n) => {
                reported += n;
                "the damaged messages reported damaged"
            }
        };
        *counts.entry(key).or_default() += 1;
        // Deleting both checkpoint files is refused, and accepted only when the operator says
        // so: the node then starts, says so in its log, and serves everything intact.
        if name == "both checkpoint files deleted" {
            assert!(matches!(outcome, Outcome::Refused), "{name}: {outcome:?}");
        }
    }
    println!(
        "storage fault matrix: {} trials ({truncations} truncations, {flips} single-byte flips, \
         6 deleted or swapped checkpoint files)",
        trials.len()
    );
    for (k, v) in &counts {
        println!("  {v:3}  {k}");
    }
    println!("  ({reported} damaged messages reported in all)");
    assert!(
        counts.contains_key("the damaged messages reported damaged"),
        "some flip in a body must be reported, not refused: {counts:?}"
    );
}

/// Both checkpoint files gone beside a non-empty log: refused, unless the operator starts the
/// node with `--accept-missing-checkpoints`, which the log then records and which signs a
/// new checkpoint at once.
#[test]
fn missing_checkpoint_files_start_only_when_the_operator_says_so() {
    let rt = runtime();
    let p = make_pristine(&rt);
    let copy = tempfile::tempdir().expect("tmp");
    copy_dir(&p.dir, copy.path());
    std::fs::remove_file(copy.path().join("checkpoint.note")).expect("rm");
    std::fs::remove_file(copy.path().join("checkpoints.jsonl")).expect("rm");
    let e = rt
        .block_on(Node::start(trial_config(&p.cfg, copy.path())))
        .err()
        .expect("refused");
    let text = format!("{e:#}");
    assert!(
        text.contains("ALARM") && text.contains("--accept-missing-checkpoints"),
        "{text}"
    );
    let opts = StartOptions {
        accept_missing_checkpoints: true,
        ..Default::default()
    };
    assert!(matches!(
        judge(&rt, &p, copy.path(), opts),
        Outcome::Intact(_)
    ));
    // The act is in the log, and the checkpoint files are back.
    let node = rt
        .block_on(Node::start(trial_config(&p.cfg, copy.path())))
        .expect("starts normally now");
    let store = node.store().clone();
    let acts: Vec<String> = (0..store.log_size())
        .filter_map(|i| store.log_entry(i).ok().flatten())
        .filter_map(|e| match e.event {
            liaison_protocol::log::Event::Admin { act, .. } => Some(act),
            _ => None,
        })
        .collect();
    assert!(
        acts.iter().any(|a| a == "accept-missing-checkpoints"),
        "{acts:?}"
    );
    rt.block_on(node.shutdown()).expect("stops");
}

/// Where `needle` is in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A message whose stored copy is damaged while it waits in the outbox is never sent: the
/// alarm names it, it stays in the outbox for all to see, and the rest of the outbox is
/// delivered.
#[test]
fn a_damaged_message_is_never_forwarded_and_the_rest_of_the_outbox_is() {
    let rt = runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg_a = c.config(A, &[B]);
    let cfg_b = c.config(B, &[A]);
    let (a, b) = rt.block_on(async { (start(cfg_a.clone()).await, start(cfg_b.clone()).await) });
    rt.block_on(liaison_tests::cluster::wait_keys(&a, &[B]));
    rt.block_on(b.shutdown()).expect("B stops");
    // Queued for B while it is down.
    let mut ids = Vec::new();
    for i in 0..10 {
        let sent = rt
            .block_on(a.send(&alert(B, &format!("queued {i}"))))
            .expect("A sends");
        ids.push(sent.id);
    }
    let victim = ids[5];
    let stored = a
        .store()
        .envelope_bytes(&victim)
        .expect("read")
        .expect("stored");
    rt.block_on(a.shutdown()).expect("A stops");
    let journal = cfg_a.data_dir.join("store").join("journal-v1");
    let mut bytes = std::fs::read(&journal).expect("journal");
    let at = find(&bytes, &stored).expect("the envelope is in the journal") + stored.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&journal, bytes).expect("write");

    let (a, b) = rt.block_on(async { (start(cfg_a).await, start(cfg_b).await) });
    let (sa, sb) = (a.store().clone(), b.store().clone());
    let b_id: liaison_protocol::NodeId = B.parse().expect("id");
    rt.block_on(wait_for("the nine intact messages at B", LIMIT, || {
        sb.inbox_len() == 9
    }));
    rt.block_on(wait_for("A to know the tenth is damaged", LIMIT, || {
        sa.damaged(&victim).is_some()
    }));
    let held: Vec<_> = sb
        .inbox(0, 100)
        .expect("inbox")
        .iter()
        .map(|i| i.state.facts.id)
        .collect();
    assert!(!held.contains(&victim), "the damaged message reached B");
    // Everything else receipted; the damaged one stays owed, for all to see.
    rt.block_on(wait_for(
        "A's outbox to B to hold only the damaged one",
        LIMIT,
        || sa.outbox_depths().get(&b_id) == Some(&1),
    ));
    assert!(sa.outbox(&b_id, 0, 10).expect("outbox")[0].1 == victim);
    let status = a.status();
    assert_eq!(status.damaged_messages, 1);
    assert!(
        status.alarms.iter().any(
            |x| x.code == liaison_node::alarm::AlarmKind::StoredBodyDamaged
                && x.subject == victim.to_string()
        ),
        "{:?}",
        status.alarms
    );
    rt.block_on(async {
        let (x, y) = tokio::join!(a.shutdown(), b.shutdown());
        x.expect("A stops");
        y.expect("B stops");
    });
}

/// The size of A's log that B last cosigned (its witness state), if any.
fn witnessed_size(b_data: &Path) -> Option<u64> {
    let note = std::fs::read_to_string(b_data.join("witness").join(format!("{A}.note"))).ok()?;
    note.lines().nth(1)?.parse().ok()
}

/// A data dir put back to an older copy — journal and both checkpoint files, consistent with
/// one another — starts (nothing local can tell), and its witness catches it at once: the
/// witness refuses the shorter log and keeps the evidence, and the node raises
/// `log-rolled-back`.
#[test]
fn a_store_restored_from_an_older_copy_is_caught_by_its_witness() {
    let rt = runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg_a = c.config(A, &[B]);
    let cfg_b = c.config(B, &[A]);
    let b = rt.block_on(start(cfg_b.clone()));
    let a = rt.block_on(start(cfg_a.clone()));
    rt.block_on(liaison_tests::cluster::wait_keys(&a, &[B]));
    for i in 0..5 {
        rt.block_on(a.send(&alert(B, &format!("early {i}"))))
            .expect("sent");
    }
    rt.block_on(a.shutdown()).expect("A stops");
    let old = tempfile::tempdir().expect("tmp");
    copy_dir(&cfg_a.data_dir, old.path());

    let a = rt.block_on(start(cfg_a.clone()));
    for i in 0..5 {
        rt.block_on(a.send(&alert(B, &format!("late {i}"))))
            .expect("sent");
    }
    let size = a.store().log_size();
    rt.block_on(wait_for("B to cosign A's newer checkpoint", LIMIT, || {
        witnessed_size(&cfg_b.data_dir).is_some_and(|s| s >= size)
    }));
    rt.block_on(a.shutdown()).expect("A stops");

    // The whole data dir put back to the older copy.
    std::fs::remove_dir_all(&cfg_a.data_dir).expect("rm");
    copy_dir(old.path(), &cfg_a.data_dir);
    let a = rt.block_on(start(cfg_a));
    let ctx = a.ctx().clone();
    rt.block_on(wait_for("A's rollback alarm", LIMIT, || {
        ctx.alarms()
            .has(liaison_node::alarm::AlarmKind::LogRolledBack)
    }));
    let ctx_b = b.ctx().clone();
    rt.block_on(wait_for("B's evidence", LIMIT, || {
        ctx_b
            .alarms()
            .has(liaison_node::alarm::AlarmKind::PeerRewroteHistory)
    }));
    rt.block_on(async {
        let (x, y) = tokio::join!(a.shutdown(), b.shutdown());
        x.expect("A stops");
        y.expect("B stops");
    });
}
