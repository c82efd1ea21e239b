//! Shared fixtures for Liaison's cross-crate and multi-node scenario tests: an in-memory PKI
//! of several networks built with the real `liaison-certs` code, and signers loaded from it.
#![forbid(unsafe_code)]

pub mod browser;
pub mod cluster;
pub mod docker;
pub mod faulty_disk;
pub mod federation;

/// The log output of a test process, captured (for tests that search it).
pub mod logs {
    use std::io::Write;
    use std::sync::{Arc, Mutex, OnceLock};

    /// Collects formatted log lines.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        /// Everything logged so far, as text.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// The log of this test process, every level down to debug. A process-wide subscriber,
    /// not a scoped one: tracing caches each call site's interest, and with a single scoped
    /// subscriber a call site first reached on another test's thread would be cached as
    /// uninteresting.
    pub fn captured() -> &'static Captured {
        static LOGS: OnceLock<Captured> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Captured::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("first global subscriber");
            logs
        })
    }
}

/// Every file under `dir`, with its bytes (to search a data dir for plaintext).
pub fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).expect("read file")));
        }
    }
    out
}

/// Copies a directory tree (a data dir, to tamper with or restore).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// What the benches share: settings from the environment, medians.
pub mod bench {
    /// A number, `_` allowed as a separator (`1_000_000`); `None` if unset or not a number.
    pub fn usize_var(name: &str) -> Option<usize> {
        std::env::var(name)
            .ok()
            .and_then(|v| v.replace('_', "").parse().ok())
    }

    /// Set to anything but empty or `0`.
    pub fn flag(name: &str) -> bool {
        std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
    }

    /// The median (NaN for none).
    pub fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// CPU time (user + system) this process has used so far, µs, from `/proc/self/stat`
    /// (clock ticks of 10 ms: a span of seconds on two cores reads to within about 1 %).
    pub fn process_cpu_us() -> f64 {
        cpu_us_in("/proc/self/stat")
    }

    /// VmRSS and VmHWM (the peak) of a process, KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/{pid}/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// A `liaison` binary that runs `node run`: `LIAISON_BIN`, else the one built beside the
    /// running bench (`target/release/liaison`).
    pub fn liaison_bin() -> Option<std::path::PathBuf> {
        let exe = std::env::current_exe().ok()?;
        std::env::var_os("LIAISON_BIN")
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain(
                exe.parent()
                    .and_then(std::path::Path::parent)
                    .map(|release| release.join("liaison")),
            )
            .find(|bin| {
                std::process::Command::new(bin)
                    .args(["node", "run", "--help"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    }

    /// CPU time (user + system) so far, µs, from a `stat` file of `/proc`: a process's
    /// (`/proc/<pid>/stat`) or this thread's (`/proc/thread-self/stat`).
    pub fn cpu_us_in(stat_file: &str) -> f64 {
        let stat = std::fs::read_to_string(stat_file).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<f64> = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse().ok())
            .collect();
        f.iter().sum::<f64>() * 1e6 / 100.0
    }

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use liaison_node::compose::SendRequest;
    use liaison_node::node::Ctx;
    use liaison_node::store::Store;
    use liaison_protocol::MessageId;

    /// What a closed-loop run measured: each message's (id, submit instant, submit → durable
    /// ack), the receiver's inbox length each time it grew (with when the 1 ms poller saw
    /// it), and when everything was delivered and the sender's outbox was empty.
    pub struct Driven {
        /// One entry per message sent.
        pub submitted: Vec<(MessageId, Instant, Duration)>,
        /// (inbox length, first seen) each time it grew.
        pub seen_at: Vec<(u64, Instant)>,
        /// When the receiver held `target` messages and the sender's outbox was empty.
        pub end: Instant,
    }

    impl Driven {
        /// When the poller first saw the inbox reach past position `seq`.
        pub fn first_seen(&self, seq: u64) -> anyhow::Result<Instant> {
            let i = self.seen_at.partition_point(|(len, _)| *len <= seq);
            self.seen_at
                .get(i)
                .map(|(_, at)| *at)
                .ok_or_else(|| anyhow::anyhow!("inbox position {seq} was never observed"))
        }

        /// Each message's submit instant, by id.
        pub fn submit_times(&self) -> std::collections::HashMap<MessageId, Instant> {
            self.submitted.iter().map(|(id, t, _)| (*id, *t)).collect()
        }
    }

    /// Sends `reqs` through `ctx` from `concurrency` tasks, each taking the next request as
    /// soon as its previous `send` returned, while a 1 ms poller watches only `receiver`'s
    /// inbox length and `sender`'s outbox (cheap, so the harness does not load the system it
    /// measures), until the inbox holds `target` messages and the outbox is empty.
    pub async fn drive(
        ctx: Arc<Ctx>,
        reqs: Arc<Vec<SendRequest>>,
        concurrency: usize,
        sender: Store,
        receiver: Store,
        target: u64,
    ) -> anyhow::Result<Driven> {
        let t0 = Instant::now();
        let poller = tokio::spawn(async move {
            let mut seen_at: Vec<(u64, Instant)> = Vec::new();
            loop {
                let len = receiver.inbox_len();
                let now = Instant::now();
                if seen_at.last().is_none_or(|(l, _)| *l < len) {
                    seen_at.push((len, now));
                }
                if len >= target && sender.outbox_depths().values().sum::<u64>() == 0 {
                    return Ok::<_, anyhow::Error>((seen_at, now));
                }
                if t0.elapsed() > Duration::from_secs(600) {
                    anyhow::bail!("timed out: the receiver holds {len} of {target} messages");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let next = Arc::new(AtomicUsize::new(0));
        let mut submitters = Vec::new();
        for _ in 0..concurrency {
            let (ctx, reqs, next) = (ctx.clone(), reqs.clone(), next.clone());
            submitters.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= reqs.len() {
                        return Ok::<_, anyhow::Error>(out);
                    }
                    let t = Instant::now();
                    let sent = liaison_node::node::send(&ctx, &reqs[i]).await?;
                    out.push((sent.id, t, t.elapsed()));
                }
            }));
        }
        let mut submitted = Vec::with_capacity(reqs.len());
        for s in submitters {
            submitted.extend(s.await??);
        }
        let (seen_at, end) = poller.await??;
        Ok(Driven {
            submitted,
            seen_at,
            end,
        })
    }
}

use std::collections::BTreeMap;

use liaison_certs::revocation::{empty_crl, revoke_in_crl, Reason};
use liaison_certs::{IssuedCert, NetworkCa, Validity};
use liaison_protocol::{Signer, SigningKey, TrustStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use time::{Duration, OffsetDateTime};

/// A network CA with its current CRL (DER).
pub struct TestNetwork {
    /// The CA.
    pub ca: NetworkCa,
    /// Its current CRL, DER.
    pub crl_der: Vec<u8>,
}

/// Several network CAs, created in memory with the real issuing code.
pub struct TestPki {
    /// Networks by name.
    pub networks: BTreeMap<String, TestNetwork>,
}

/// A CA valid from two years ago for ten years, so tests can issue certificates in the past.
pub fn ca_validity() -> Validity {
    let now = OffsetDateTime::now_utc();
    Validity::new(now - Duration::days(730), now + Duration::days(3000)).expect("validity")
}

impl TestPki {
    /// CAs (with empty CRLs) for the named networks.
    pub fn new(networks: &[&str]) -> Self {
        let now = OffsetDateTime::now_utc();
        let networks = networks
            .iter()
            .map(|n| {
                let (ca, _) =
                    NetworkCa::generate(&n.parse().expect("network"), ca_validity()).expect("ca");
                let crl_der = empty_crl(&ca, now, Duration::days(30)).expect("crl").der;
                (n.to_string(), TestNetwork { ca, crl_der })
            })
            .collect();
        Self { networks }
    }

    /// The CA of a network.
    pub fn ca(&self, network: &str) -> &NetworkCa {
        &self.networks[network].ca
    }

    /// Issues a node certificate valid for a year from now.
    pub fn node(&self, node: &str) -> IssuedCert {
        let now = OffsetDateTime::now_utc();
        self.node_valid(node, Validity::days_from(now, 365).expect("validity"))
    }

    /// Issues a node certificate (`centre.network`) with an explicit validity.
    pub fn node_valid(&self, node: &str, validity: Validity) -> IssuedCert {
        let (centre, network) = node.split_once('.').expect("centre.network");
        self.ca(network)
            .issue_node(&centre.parse().expect("centre"), validity)
            .expect("issue node")
    }

    /// Revokes a certificate at time `at`, updating the network's CRL.
    pub fn revoke(&mut self, network: &str, cert: &IssuedCert, at: OffsetDateTime) {
        let net = self.networks.get_mut(network).expect("network");
        let (crl, _) = revoke_in_crl(
            &net.ca,
            &net.crl_der,
            &cert.cert_der,
            std::path::Path::new("test.crt"),
            Reason::KeyCompromise,
            at,
            Duration::days(30),
        )
        .expect("revoke");
        net.crl_der = crl.der;
    }

    /// A trust store trusting every network of this PKI, with current CRLs.
    pub fn trust(&self) -> TrustStore {
        self.trust_only(&self.networks.keys().map(String::as_str).collect::<Vec<_>>())
    }

    /// A trust store trusting only the named networks.
    pub fn trust_only(&self, networks: &[&str]) -> TrustStore {
        let mut t = TrustStore::new();
        for n in networks {
            let net = &self.networks[*n];
            t.add_ca(net.ca.cert_der(), Some(&net.crl_der))
                .expect("add network");
        }
        t
    }
}

/// The signing key of an issued certificate.
pub fn key_of(cert: &IssuedCert) -> SigningKey {
    let der = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key pem");
    SigningKey::from_pkcs8_der(der.secret_der()).expect("key")
}

/// A signer for an issued node certificate.
pub fn signer(cert: &IssuedCert) -> Signer {
    Signer::new(key_of(cert), cert.cert_der.clone()).expect("signer")
}

// ---------------------------------------------------------------------------------------
// Messages signed and stored as a node holds them, and clients of a node's officer API
// (its token and certificate listeners).
// ---------------------------------------------------------------------------------------

/// `body` signed by `s` as a store receives it: the envelope (no route yet) and its facts.
pub fn signed_envelope(
    s: &Signer,
    mut body: liaison_protocol::Body,
) -> (
    liaison_protocol::Envelope,
    liaison_protocol::log::MessageFacts,
) {
    body.header.originator = s.node().clone();
    let signed = s.sign(&mut body).expect("a sample body signs");
    let facts = liaison_protocol::log::MessageFacts::of(signed.id(), &body);
    let envelope = liaison_protocol::Envelope {
        signed,
        route: vec![],
    };
    (envelope, facts)
}

/// A fresh 300-byte sample alert from `s`, made distinct by `i` (its nonce), signed now.
pub fn stored_alert(
    s: &Signer,
    i: u64,
    case: Option<&liaison_protocol::CaseId>,
) -> (
    liaison_protocol::Envelope,
    liaison_protocol::log::MessageFacts,
) {
    let mut body = liaison_protocol::sample::alert_of_size(300);
    body.header.created_at = liaison_node::store::now();
    body.header.nonce[..8].copy_from_slice(&i.to_be_bytes());
    body.header.case = case.cloned();
    signed_envelope(s, body)
}

/// Clients of a node's local officer API, for tests: plain HTTP with the token (ureq) and
/// HTTPS with an officer client certificate (rustls over a std socket, raw HTTP/1.1).
pub mod api {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use liaison_certs::{IssuedCert, Role, Validity};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls_pki_types::pem::PemObject;
    use serde_json::Value;
    use time::OffsetDateTime;

    use crate::TestPki;

    /// An HTTP answer: status and body (JSON when it parses, else a JSON string).
    #[derive(Debug, Clone)]
    pub struct Answer {
        /// HTTP status.
        pub status: u16,
        /// Body.
        pub body: Value,
        /// `WWW-Authenticate`, if sent.
        pub www_authenticate: Option<String>,
        /// Every header, names in lower case.
        pub headers: Vec<(String, String)>,
    }

    impl Answer {
        /// The `error` reason code of an error answer.
        pub fn error(&self) -> &str {
            self.body["error"].as_str().unwrap_or("")
        }

        /// The first value of header `name` (any case).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// The headers of an HTTP/1.1 answer's head (after the status line).
    fn parse_headers(head: &str) -> Vec<(String, String)> {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect()
    }

    fn body_value(text: String) -> Value {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// The token listener of a node's API.
    pub struct TokenClient {
        agent: ureq::Agent,
        base: String,
        token: Option<String>,
    }

    impl TokenClient {
        /// A client of the API at `addr`, with the token read from `token_file`.
        pub fn new(addr: SocketAddr, token_file: &Path) -> Self {
            let token = std::fs::read_to_string(token_file).expect("token file");
            Self::with_token(addr, Some(token.trim().to_owned()))
        }

        /// A client sending `token` (or no `Authorization` header at all).
        pub fn with_token(addr: SocketAddr, token: Option<String>) -> Self {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into();
            Self {
                agent,
                base: format!("http://{addr}"),
                token,
            }
        }

        fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
            let mut r = r.expect("HTTP request");
            let status = r.status().as_u16();
            let www_authenticate = r
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let headers = r
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let text = r.body_mut().read_to_string().expect("body");
            Answer {
                status,
                body: body_value(text),
                www_authenticate,
                headers,
            }
        }

        /// `GET path`.
        pub fn get(&self, path: &str) -> Answer {
            let mut req = self.agent.get(format!("{}{path}", self.base));
            if let Some(t) = &self.token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            Self::answer(req.call())
        }

        /// `POST path` with a JSON body.
        pub fn post(&self, path: &str, body: &Value) -> Answer {
            self.post_raw(path, &body.to_string())
        }

        /// `POST path` with raw bytes as `application/json`.
        pub fn post_raw(&self, path: &str, body: &str) -> Answer {
            let mut req = self
                .agent
                .post(format!("{}{path}", self.base))
                .header("Content-Type", "application/json");
            if let Some(t) = &self.token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            Self::answer(req.send(body))
        }
    }

    /// Issues an officer certificate for `node` (`centre.network`), valid for a year.
    pub fn officer(pki: &TestPki, node: &str, name: &str, role: Role) -> IssuedCert {
        let (centre, network) = node.split_once('.').expect("centre.network");
        let validity = Validity::days_from(OffsetDateTime::now_utc(), 365).expect("validity");
        pki.ca(network)
            .issue_officer(
                &centre.parse().expect("centre"),
                &name.parse().expect("officer name"),
                role,
                liaison_certs::OfficerKey::P256,
                validity,
            )
            .expect("issue officer")
    }

    /// A TLS 1.3 client configuration that trusts the network CAs of `pki` and presents
    /// `cert` (an officer's, or any other, to check refusals).
    pub fn client_tls(pki: &TestPki, cert: &IssuedCert) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for net in pki.networks.values() {
            roots
                .add(CertificateDer::from(net.ca.cert_der().to_vec()))
                .expect("root");
        }
        client_tls_with_roots(roots, cert)
    }

    /// A TLS 1.3 client configuration that trusts `roots` for servers and presents `cert`.
    pub fn client_tls_with_roots(
        roots: rustls::RootCertStore,
        cert: &IssuedCert,
    ) -> rustls::ClientConfig {
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key");
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![CertificateDer::from(cert.cert_der.clone())], key)
        .expect("client cert")
    }

    /// An HTTPS client of a node's certificate listener, presenting `cert` (an officer's,
    /// or any other, to check refusals).
    pub struct CertClient {
        config: Arc<rustls::ClientConfig>,
        addr: SocketAddr,
        node: String,
    }

    impl CertClient {
        /// Trusts the network CAs of `pki`; dials `addr` expecting the certificate of `node`.
        pub fn new(pki: &TestPki, addr: SocketAddr, node: &str, cert: &IssuedCert) -> Self {
            Self {
                config: Arc::new(client_tls(pki, cert)),
                addr,
                node: node.to_owned(),
            }
        }

        /// Trusts `roots` for the listener's certificate; dials `addr` expecting the
        /// certificate of `node`.
        pub fn with_roots(
            roots: rustls::RootCertStore,
            addr: SocketAddr,
            node: &str,
            cert: &IssuedCert,
        ) -> Self {
            Self {
                config: Arc::new(client_tls_with_roots(roots, cert)),
                addr,
                node: node.to_owned(),
            }
        }

        /// Sends one request on a fresh connection; `Err` if TLS (or the socket) failed.
        pub fn request(
            &self,
            method: &str,
            path: &str,
            body: Option<&Value>,
        ) -> std::io::Result<Answer> {
            let name = ServerName::try_from(self.node.clone()).expect("server name");
            let conn = rustls::ClientConnection::new(self.config.clone(), name)
                .map_err(std::io::Error::other)?;
            let sock = TcpStream::connect(self.addr)?;
            sock.set_read_timeout(Some(Duration::from_secs(20)))?;
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let body = body.map(Value::to_string).unwrap_or_default();
            write!(
                tls,
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                self.addr,
                body.len()
            )?;
            tls.flush()?;
            let mut raw = Vec::new();
            match tls.read_to_end(&mut raw) {
                Ok(_) => {}
                // A server that closes without close_notify after a complete answer is fine.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
                Err(e) => return Err(e),
            }
            parse_answer(&raw)
        }
    }

    impl CertClient {
        /// Opens one connection to keep for several requests (HTTP/1.1 keep-alive).
        pub fn open(&self) -> std::io::Result<KeptConnection> {
            let name = ServerName::try_from(self.node.clone()).expect("server name");
            let conn = rustls::ClientConnection::new(self.config.clone(), name)
                .map_err(std::io::Error::other)?;
            let sock = TcpStream::connect(self.addr)?;
            sock.set_read_timeout(Some(Duration::from_secs(20)))?;
            Ok(KeptConnection {
                tls: rustls::StreamOwned::new(conn, sock),
                host: self.addr.to_string(),
            })
        }
    }

    /// One HTTPS connection that several requests use in turn.
    pub struct KeptConnection {
        tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
        host: String,
    }

    impl KeptConnection {
        /// `GET path` on this connection, keeping it open; the answer must give its length.
        pub fn get(&mut self, path: &str) -> std::io::Result<Answer> {
            write!(
                self.tls,
                "GET {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                self.host
            )?;
            self.tls.flush()?;
            let mut raw = Vec::new();
            let mut byte = [0u8; 1];
            while !raw.ends_with(b"\r\n\r\n") {
                self.tls.read_exact(&mut byte)?;
                raw.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("no content-length: {head}")))?;
            let mut body = vec![0u8; length];
            self.tls.read_exact(&mut body)?;
            raw.extend_from_slice(&body);
            parse_answer(&raw)
        }
    }

    /// An HTTP/1.1 answer read whole (its body not chunked).
    fn parse_answer(raw: &[u8]) -> std::io::Result<Answer> {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
        let headers = parse_headers(head);
        let www_authenticate = headers
            .iter()
            .find(|(n, _)| n == "www-authenticate")
            .map(|(_, v)| v.clone());
        Ok(Answer {
            status,
            body: body_value(body.to_owned()),
            www_authenticate,
            headers,
        })
    }

    /// Sends `request`, bytes as they are, on a fresh plain connection to `addr`, and reads
    /// the answer until the node closes the connection (send `Connection: close`, or expect
    /// the node to close it), failing if that takes longer than `limit`.
    pub fn raw(addr: SocketAddr, request: &[u8], limit: Duration) -> std::io::Result<Answer> {
        let mut sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(limit))?;
        sock.write_all(request)?;
        let mut raw = Vec::new();
        sock.read_to_end(&mut raw)?;
        parse_answer(&raw)
    }

    /// Polls `cond` every 20 ms until it returns `Some`, failing after `limit`.
    pub fn poll<T>(what: &str, limit: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(t) = cond() {
                return t;
            }
            if start.elapsed() > limit {
                panic!("timed out after {limit:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
