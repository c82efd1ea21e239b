//! The node's metrics (`GET /metrics`) scraped by a real Prometheus server (Debian's
//! `prometheus`), authenticated with the node's API token as any scraper would be: the
//! scrape succeeds (`up` is 1, so Prometheus parsed the exposition), and the values it
//! stored are the node's.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use liaison_tests::api::{poll, TokenClient};
use liaison_tests::cluster::{alert, free_tcp_addr, start, wait_for, Cluster};
use serde_json::Value;

const A: &str = "caricc.central-asia";
const B: &str = "kz-dcu.central-asia";
const WAIT: Duration = Duration::from_secs(60);

/// Kills the Prometheus server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `s` percent-encoded for a URL's query.
fn encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the one series `query` selects, once Prometheus has it.
fn value(prometheus: &TokenClient, query: &str) -> f64 {
    poll(&format!("Prometheus to hold {query}"), WAIT, || {
        let r = prometheus.get(&format!("/api/v1/query?query={}", encoded(query)));
        let result = r.body["data"]["result"].as_array()?.clone();
        let [one] = result.as_slice() else {
            return None;
        };
        one["value"][1].as_str()?.parse::<f64>().ok()
    })
}

#[test]
fn prometheus_scrapes_the_node() {
    let ready = Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "the metrics test needs Prometheus: apt-get install prometheus (./.ci/run does)"
    );
    let rt = liaison_tests::cluster::runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg = c.config(A, &[B]);
    let b = rt.block_on(start(c.config(B, &[A])));
    let a = rt.block_on(start(cfg.clone()));
    for i in 0..3 {
        rt.block_on(a.send(&alert(B, &format!("metrics {i}"))))
            .unwrap();
    }
    let store_b = b.store().clone();
    rt.block_on(wait_for("three alerts at B", WAIT, || {
        store_b.inbox_len() >= 3
    }));
    let store_a = a.store().clone();
    rt.block_on(wait_for("A's outbox to drain", WAIT, || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    }));

    // The exposition as the node serves it, read directly first.
    let api = TokenClient::new(a.api_addr(), &cfg.api.token_file);
    let direct = api.get("/metrics");
    assert_eq!(direct.status, 200, "{direct:?}");
    assert_eq!(
        direct.header("content-type"),
        Some(liaison_node::metrics::CONTENT_TYPE)
    );
    let unauthenticated = TokenClient::with_token(a.api_addr(), None).get("/metrics");
    assert_eq!(unauthenticated.status, 401, "{unauthenticated:?}");

    let dir = tempfile::tempdir().unwrap();
    let web = free_tcp_addr();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: liaison\n    metrics_path: /metrics\n\
             \x20   authorization:\n      type: Bearer\n      credentials_file: {}\n\
             \x20   static_configs:\n      - targets: ['{}']\n",
            cfg.api.token_file.display(),
            a.api_addr()
        ),
    )
    .unwrap();
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus"),
    );
    poll("Prometheus to listen", WAIT, || {
        std::net::TcpStream::connect(web).ok().map(drop)
    });
    let prometheus = TokenClient::with_token(web, None);

    // `up` is 1 only for a scrape that was answered and parsed.
    assert_eq!(value(&prometheus, "up{job=\"liaison\"}"), 1.0);
    assert_eq!(
        value(&prometheus, &format!("liaison_peer_up{{peer=\"{B}\"}}")),
        1.0
    );
    assert_eq!(
        value(
            &prometheus,
            &format!("liaison_peer_outbox_messages{{peer=\"{B}\"}}")
        ),
        0.0
    );
    assert!(value(&prometheus, "liaison_log_entries_total{event=\"sent\"}") >= 3.0);
    assert!(
        value(&prometheus, "liaison_log_entries_total{event=\"admin\"}") >= 4.0,
        "the start's administrative entries"
    );
    assert!(
        value(
            &prometheus,
            "liaison_message_bytes_total{role=\"originated\"}"
        ) > 3.0 * 100.0
    );
    assert!(value(&prometheus, "liaison_commit_duration_seconds_count") >= 1.0);
    let days = value(
        &prometheus,
        &format!("liaison_certificate_days_left{{what=\"identity {A}\"}}"),
    );
    assert!((300.0..=366.0).contains(&days), "{days}");
    let log_size = a.store().log_size() as f64;
    assert!(value(&prometheus, "liaison_log_size") <= log_size);
    let info: Value = prometheus.get("/api/v1/query?query=liaison_info").body["data"]["result"][0]
        ["metric"]
        .clone();
    assert_eq!(info["node"], A, "{info}");

    // Every query of the Grafana dashboard in deploy/ runs on this Prometheus, and each one
    // over a metric the node serves finds its series.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/grafana/liaison-dashboard.json"),
        )
        .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let exposition = direct.body.as_str().expect("text").to_owned();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let query = expr
                .replace("$instance", ".*")
                .replace("$__rate_interval", "1m");
            let metric = query
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .find(|w| w.starts_with("liaison_"))
                .expect("a liaison metric");
            let served = exposition.lines().any(|l| {
                l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} "))
            });
            assert!(
                served || metric == "liaison_alarms",
                "{}: {metric} is not in the node's /metrics",
                panel["title"]
            );
            poll(&format!("the dashboard's {query}"), WAIT, || {
                let r = prometheus.get(&format!("/api/v1/query?query={}", encoded(&query)));
                (r.body["status"] == "success"
                    && (!served || !r.body["data"]["result"].as_array()?.is_empty()))
                .then_some(())
            });
            queries += 1;
        }
    }
    assert!(queries >= 12, "{queries} queries");

    rt.block_on(a.shutdown()).unwrap();
    rt.block_on(b.shutdown()).unwrap();
}
