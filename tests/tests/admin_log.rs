//! Every administrative act is in the node's tamper-evident log, as an `admin` entry that
//! `audit export` (and its checkpoint) covers: a start with what the node runs with and
//! what changed since its last start, certificates and CAs loaded, revocations applied,
//! keys created and changed, sign-ins (API and console), refused sign-ins, sign-outs,
//! purges, alarms raised and cleared, and the stop.

use std::path::Path;
use std::time::Duration;

use liaison_node::audit::ExportFilter;
use liaison_node::config::{RetentionRule, RouteConfig};
use liaison_tests::api::{raw, TokenClient};
use liaison_tests::cluster::{start, Cluster};
use serde_json::json;

const A: &str = "caricc.central-asia";
const B: &str = "kz-dcu.central-asia";
const WAIT: Duration = Duration::from_secs(30);

/// Signs in to the console at `addr` with the token, then signs out; both answered 303.
fn console_sign_in_and_out(addr: std::net::SocketAddr, token: &str) {
    let login = format!("csrf=double-submitted&token={token}");
    let r = raw(
        addr,
        format!(
            "POST /console/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Cookie: {}=double-submitted\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{login}",
            liaison_node::login_cookie_name(A),
            login.len()
        )
        .as_bytes(),
        WAIT,
    )
    .expect("login answer");
    assert_eq!(r.status, 303, "{r:?}");
    let session_cookie = liaison_node::session_cookie_name(A);
    let session = r
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .find_map(|(_, v)| v.strip_prefix(&format!("{session_cookie}=")))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let page = raw(
        addr,
        format!(
            "GET /console/inbox HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Cookie: {session_cookie}={session}\r\n\r\n"
        )
        .as_bytes(),
        WAIT,
    )
    .expect("inbox page");
    assert_eq!(page.status, 200, "{page:?}");
    let html = page.body.as_str().expect("HTML").to_owned();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page's CSRF token");
    let form = format!("csrf={csrf}");
    let out = raw(
        addr,
        format!(
            "POST /console/logout HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Cookie: {session_cookie}={session}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
        WAIT,
    )
    .expect("logout answer");
    assert_eq!(out.status, 303, "{out:?}");
}

/// The admin entries of the export of `data`: (act, detail).
fn admin_acts(c: &Cluster, data: &Path) -> Vec<(String, String)> {
    let (_, records) = liaison_node::audit::export(data, &c.pki.trust(), &ExportFilter::default())
        .expect("export");
    records
        .into_iter()
        .filter(|r| r.event == "admin")
        .map(|r| {
            let (act, detail) = r.detail.split_once(": ").expect("act: detail");
            (act.to_owned(), detail.to_owned())
        })
        .collect()
}

#[test]
fn every_administrative_act_is_in_the_log_and_its_export() {
    let rt = liaison_tests::cluster::runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg = c.config(A, &[B]);
    let data = cfg.data_dir.clone();
    let b = rt.block_on(start(c.config(B, &[A])));
    let a = rt.block_on(start(cfg.clone()));

    // The API: the token holder, twice (one sign-in recorded); a wrong token, refused.
    let api = TokenClient::new(a.api_addr(), &cfg.api.token_file);
    for _ in 0..2 {
        assert_eq!(api.get("/v1/status").status, 200);
    }
    let wrong = TokenClient::with_token(a.api_addr(), Some("0".repeat(64)));
    assert_eq!(wrong.get("/v1/status").status, 401);
    // The console: a session opened with the token, then closed.
    let token = std::fs::read_to_string(&cfg.api.token_file).unwrap();
    console_sign_in_and_out(a.api_addr(), token.trim());
    // A purge by the supervisor.
    assert_eq!(api.post("/v1/purge", &json!({})).status, 200);
    rt.block_on(a.shutdown()).unwrap();

    // While it is stopped: a certificate of the network revoked, a route and a retention
    // rule added, a new API token, and a damaged line in the checkpoint history.
    let old = c.pki.node("retired.central-asia");
    c.pki
        .revoke("central-asia", &old, time::OffsetDateTime::now_utc());
    c.write_trust();
    let mut changed = cfg.clone();
    changed.routes.push(RouteConfig {
        to: "uz-dcu.central-asia".into(),
        via: B.parse().unwrap(),
        distance: 1,
    });
    changed.retention.rules.push(RetentionRule {
        name: "alerts-after-a-year".into(),
        kinds: vec!["alert".into()],
        tlp: vec![],
        after_days: 365,
    });
    std::fs::remove_file(&cfg.api.token_file).unwrap();
    let history = data.join("checkpoints.jsonl");
    let kept = std::fs::read_to_string(&history).unwrap();
    std::fs::write(&history, format!("not a checkpoint\n{kept}")).unwrap();

    let a = rt.block_on(start(changed.clone()));
    let api = TokenClient::new(a.api_addr(), &changed.api.token_file);
    let cleared = api.post("/v1/alarms/clear", &json!({}));
    assert_eq!(cleared.status, 200, "{cleared:?}");
    assert!(
        cleared.body["cleared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "checkpoint-history-damaged"),
        "{cleared:?}"
    );
    // The alarm is recorded by a background task; the export covers what the last
    // checkpoint covers, so sign one once everything is in.
    liaison_tests::api::poll("the alarm in the log", WAIT, || {
        let log = api.get("/v1/log?limit=1000");
        log.body["entries"]
            .as_array()?
            .iter()
            .any(|e| e["event"]["act"] == "alarm-raised")
            .then_some(())
    });
    rt.block_on(a.shutdown()).unwrap();
    rt.block_on(b.shutdown()).unwrap();

    let acts = admin_acts(&c, &data);
    let named = |act: &str| -> Vec<&str> {
        acts.iter()
            .filter(|(a, _)| a == act)
            .map(|(_, d)| d.as_str())
            .collect()
    };
    let all = format!("{acts:#?}");
    let starts = named("start");
    assert_eq!(starts.len(), 2, "{all}");
    assert!(starts[0].contains("first start in this data dir"), "{all}");
    assert!(
        starts[1].contains("configuration changed since the last start: retention, routes"),
        "{all}"
    );
    let config = named("config-changed");
    assert!(
        config
            .iter()
            .any(|d| d.starts_with("routes: added") && d.contains("to=uz-dcu.central-asia")),
        "{all}"
    );
    assert!(
        config
            .iter()
            .any(|d| d.starts_with("retention: retention.rules")),
        "{all}"
    );
    let certs = named("certificate-loaded");
    assert_eq!(certs.len(), 2, "{all}");
    assert!(
        certs[0].starts_with(&format!("identity {A}: sha256:")),
        "{all}"
    );
    let trust = named("trust-loaded");
    assert_eq!(trust.len(), 2, "{all}");
    assert!(trust[0].contains("CRL number 1, next update"), "{all}");
    assert!(trust[1].contains("CRL number 2, next update"), "{all}");
    assert_eq!(
        named("revocations-applied").len(),
        1,
        "only the second start applies a new revocation: {all}"
    );
    assert!(
        named("revocations-applied")[0].contains(&format!("revokes serial {}", old.serial)),
        "{all}"
    );
    assert_eq!(
        named("key-created"),
        ["first start: API token, sealing key"],
        "{all}"
    );
    assert_eq!(named("key-changed"), ["API token changed"], "{all}");
    let sign_ins = named("sign-in");
    assert!(
        sign_ins
            .iter()
            .filter(|d| d.starts_with("token (supervisor) with the bearer token (API)"))
            .count()
            == 2,
        "one per principal and method per start (the second start's after its restart): {all}"
    );
    assert!(
        sign_ins
            .iter()
            .any(|d| d
                .starts_with("token (supervisor) with the token (console session) from 127.0.0.1")),
        "{all}"
    );
    assert_eq!(
        named("sign-in-refused"),
        ["a wrong bearer token (API) from 127.0.0.1"],
        "{all}"
    );
    assert_eq!(
        named("sign-out"),
        ["token (supervisor) signed out of the console"],
        "{all}"
    );
    assert_eq!(
        named("purge"),
        ["0 message bodies purged by token"],
        "{all}"
    );
    assert!(
        named("alarm-raised")
            .iter()
            .any(|d| d.starts_with("checkpoint-history-damaged")),
        "{all}"
    );
    assert!(
        named("alarms-cleared")[0].contains("checkpoint-history-damaged"),
        "{all}"
    );
    assert_eq!(named("stop").len(), 2, "{all}");
}

/// What ends is shown with its days left — this node's certificate, its CA and CRL, the
/// peer's certificate once a session is up — and a certificate that ends within 30 days
/// raises `certificate-expiring` (the 30-day threshold, not yet the 7-day one), which the
/// log records.
#[test]
fn certificates_that_end_soon_are_shown_and_alarmed() {
    let rt = liaison_tests::cluster::runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    // A's certificate ends in 20 days; written where the cluster looks for it first.
    let now = time::OffsetDateTime::now_utc();
    let short = c.pki.node_valid(
        A,
        liaison_certs::ca::Validity::new(
            now - time::Duration::days(1),
            now + time::Duration::days(20),
        )
        .unwrap(),
    );
    let dir = c.node_dir(A);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("node.crt"), &short.cert_pem).unwrap();
    liaison_tests::cluster::write_secret(&dir.join("node.key"), short.key_pem.as_bytes());
    let cfg = c.config(A, &[B]);
    let b = rt.block_on(start(c.config(B, &[A])));
    let a = rt.block_on(start(cfg.clone()));
    let api = TokenClient::new(a.api_addr(), &cfg.api.token_file);

    let status = liaison_tests::api::poll("the peer's certificate in the status", WAIT, || {
        let s = api.get("/v1/status").body;
        s["expiries"]
            .as_array()?
            .iter()
            .any(|e| e["what"] == format!("peer {B}"))
            .then_some(s)
    });
    // A CA is named with the start of its fingerprint: match by prefix.
    let days = |what: &str| -> i64 {
        status["expiries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["what"].as_str().is_some_and(|w| w.starts_with(what)))
            .unwrap_or_else(|| panic!("{what} in {status:#}"))["days_left"]
            .as_i64()
            .unwrap()
    };
    let own = days(&format!("identity {A}"));
    assert!((19..=20).contains(&own), "{own}");
    assert!(days(&format!("peer {B}")) > 300, "{status:#}");
    assert!(days("CA central-asia") > 300, "{status:#}");
    let crl = days("CRL of CA central-asia");
    assert!((28..=30).contains(&crl), "{crl}");
    // Soonest first.
    assert_eq!(
        status["expiries"][0]["what"],
        format!("identity {A}"),
        "{status:#}"
    );
    let peer = &status["peers"][0];
    assert!(peer["certificate_expires_at"].is_string(), "{status:#}");

    let subjects: Vec<&str> = status["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == "certificate-expiring")
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [format!("identity {A}: 30 days")], "{status:#}");
    liaison_tests::api::poll("the alarm in the log", WAIT, || {
        let log = api.get("/v1/log?limit=1000");
        log.body["entries"]
            .as_array()?
            .iter()
            .any(|e| {
                e["event"]["act"] == "alarm-raised"
                    && e["event"]["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("certificate-expiring (identity"))
            })
            .then_some(())
    });
    rt.block_on(a.shutdown()).unwrap();
    rt.block_on(b.shutdown()).unwrap();
}
