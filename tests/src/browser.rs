//! Headless Chromium for the console's browser tests: Debian's `chromium` driven by its
//! `chromedriver` over WebDriver ([`fantoccini`]), and a small HTTPS client that presents an
//! officer certificate to the console without a browser.
//!
//! [`start`] opens a plain session. [`start_with_identity`] opens one whose Chromium trusts a
//! given CA for HTTPS servers and presents an officer's client certificate to
//! `https://127.0.0.1:<any port>`. Chromium on Linux takes both from the NSS database
//! `$HOME/.pki/nssdb`: each such session gets its own `HOME` (inside the session's temporary
//! directory, handed to chromedriver, which passes its environment on to Chromium), filled
//! with `certutil` and `pk12util` before the browser starts. Headless Chromium shows no
//! certificate picker, so it presents a client certificate only when the enterprise policy
//! `AutoSelectCertificateForUrls` picks one: [`CLIENT_CERT_POLICY`] in
//! [`CLIENT_CERT_POLICY_FILE`], a system-wide file that `.ci/run` writes (the tests do not).
//!
//! Without Chromium (or, for client certificates, the NSS tools, `openssl` or the policy file)
//! the browser tests skip loudly, except under `CI=true`, where they fail.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use liaison_certs::IssuedCert;
use rustls::pki_types::ServerName;

/// How long a browser condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// chromedriver and the Chromium binary, if both are installed.
pub fn find_chromium() -> Option<(PathBuf, PathBuf)> {
    Some((
        which(&["chromedriver"])?,
        which(&["chromium", "chromium-browser", "google-chrome"])?,
    ))
}

/// A running headless Chromium session. Dropping it stops chromedriver (and its browser).
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    /// Where downloads land.
    pub downloads: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop(&mut self.driver);
    }
}

/// Stops chromedriver and the Chromium it started: they share the process group chromedriver
/// leads (killing chromedriver alone would orphan the browser).
fn stop(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips loudly: `None` after a SKIPPED line naming `what` is missing and how to `fix` it;
/// under `CI=true` panics instead.
fn skip<T>(what: &str, fix: &str) -> Option<T> {
    if in_ci() {
        panic!("the console's browser tests need {what}: {fix}");
    }
    eprintln!(
        "\n*** SKIPPED: {what} is missing, so the console's browser tests did not run ({fix}) \
         ***\n"
    );
    None
}

/// Starts chromedriver and a headless Chromium session (1366×860, a laptop screen). `None`
/// (after saying so loudly) if Chromium is not installed; under `CI=true` that panics.
pub async fn start() -> Option<Browser> {
    let (driver, chrome) = chromium_or_skip()?;
    Some(launch(&driver, &chrome, |_| Vec::new()).await)
}

/// chromedriver and Chromium, or `None` after [`skip`].
fn chromium_or_skip() -> Option<(PathBuf, PathBuf)> {
    find_chromium().or_else(|| {
        skip(
            "Chromium (chromium or chromedriver)",
            "apt-get install chromium chromium-driver fonts-noto-core",
        )
    })
}

/// The system-wide Chromium policy file that lets [`start_with_identity`] present a client
/// certificate (headless Chromium has no certificate picker). `.ci/run` writes it.
pub const CLIENT_CERT_POLICY_FILE: &str =
    "/etc/chromium/policies/managed/liaison-console-tests.json";

/// The content of [`CLIENT_CERT_POLICY_FILE`]: for `https://127.0.0.1` on any port, select
/// without asking the client certificate issued by a CA whose subject has `O=Liaison` (every
/// Liaison network CA, which issues officer certificates), so the policy never hands any other
/// certificate to any other site.
pub const CLIENT_CERT_POLICY: &str = r#"{"AutoSelectCertificateForUrls": ["{\"pattern\":\"https://127.0.0.1:*\",\"filter\":{\"ISSUER\":{\"O\":\"Liaison\"}}}"]}"#;

/// A client certificate (and the CA that certified the server) for a browser session.
pub struct BrowserIdentity<'a> {
    /// The client (officer) certificate, PEM.
    pub cert_pem: &'a str,
    /// Its private key, PEM (PKCS#8, `-----BEGIN PRIVATE KEY-----`, as rcgen writes it).
    pub key_pem: &'a str,
    /// The CA the HTTPS server's certificate chains to; the browser trusts it for servers.
    pub server_ca_pem: &'a str,
}

/// Like [`start`], but the browser trusts `id.server_ca_pem` for HTTPS servers and presents
/// `id`'s certificate to `https://127.0.0.1:<any port>` (when the certificate's issuer has
/// `O=Liaison`, see [`CLIENT_CERT_POLICY`]). `None` (after a loud SKIPPED line) when
/// Chromium, the NSS tools (`certutil`, `pk12util`), `openssl` or [`CLIENT_CERT_POLICY_FILE`]
/// is missing; under `CI=true` those panic with the fix.
pub async fn start_with_identity(id: &BrowserIdentity<'_>) -> Option<Browser> {
    let (driver, chrome) = chromium_or_skip()?;
    let (Some(certutil), Some(pk12util)) = (which(&["certutil"]), which(&["pk12util"])) else {
        return skip(
            "the NSS tools (certutil, pk12util)",
            "apt-get install libnss3-tools",
        );
    };
    let Some(openssl) = which(&["openssl"]) else {
        return skip("openssl", "apt-get install openssl");
    };
    let policy = std::fs::read_to_string(CLIENT_CERT_POLICY_FILE).unwrap_or_default();
    if !policy.contains("AutoSelectCertificateForUrls") {
        return skip(
            &format!("the Chromium policy file {CLIENT_CERT_POLICY_FILE}"),
            &format!(
                "as root: mkdir -p /etc/chromium/policies/managed && printf '%s\\n' '{CLIENT_CERT_POLICY}' \
                 > {CLIENT_CERT_POLICY_FILE}"
            ),
        );
    }
    Some(
        launch(&driver, &chrome, |dir| {
            let home = dir.join("home");
            nss_db(&home, id, &certutil, &pk12util, &openssl);
            vec![("HOME", home)]
        })
        .await,
    )
}

/// Fills the NSS database Chromium reads, `<home>/.pki/nssdb`: `id.server_ca_pem` trusted to
/// certify servers, and `id`'s certificate with its key (through a password-less PKCS#12).
fn nss_db(home: &Path, id: &BrowserIdentity<'_>, certutil: &Path, pk12util: &Path, openssl: &Path) {
    let db_dir = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db_dir).expect("NSS db dir");
    let files = home.join("identity");
    std::fs::create_dir_all(&files).expect("identity dir");
    let write = |name: &str, text: &str| {
        let p = files.join(name);
        std::fs::write(&p, text).expect("write identity file");
        p
    };
    let ca = write("ca.pem", id.server_ca_pem);
    let cert = write("cert.pem", id.cert_pem);
    let key = write("key.pem", id.key_pem);
    let p12 = files.join("id.p12");
    let db = format!("sql:{}", db_dir.display());
    let run = |cmd: &mut Command| {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run an NSS/openssl tool");
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new(certutil).args(["-N", "-d", &db, "--empty-password"]));
    run(Command::new(certutil)
        .args([
            "-A",
            "-d",
            &db,
            "-n",
            "liaison-console-ca",
            "-t",
            "C,,",
            "-i",
        ])
        .arg(&ca));
    // OpenSSL 3's default PKCS#12 (PBES2, AES-256-CBC, HMAC-SHA-256) is what NSS reads.
    run(Command::new(openssl)
        .args([
            "pkcs12",
            "-export",
            "-name",
            "liaison-officer",
            "-passout",
            "pass:",
        ])
        .arg("-inkey")
        .arg(&key)
        .arg("-in")
        .arg(&cert)
        .arg("-out")
        .arg(&p12));
    run(Command::new(pk12util)
        .args(["-d", &db, "-W", ""])
        .arg("-i")
        .arg(&p12));
}

/// Starts chromedriver (with the environment `setup` returns, given the session's temporary
/// directory) and a headless Chromium session (1366×860, a laptop screen).
async fn launch(
    driver: &Path,
    chrome: &Path,
    setup: impl FnOnce(&Path) -> Vec<(&'static str, PathBuf)>,
) -> Browser {
    let dir = tempfile::tempdir().expect("tempdir");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let env = setup(dir.path());
    let port = crate::cluster::free_tcp_addr().port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        // chromedriver passes its environment on to Chromium.
        .envs(env)
        // Its own process group, which its browser joins, so that both stop together.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut browser_guard = DriverGuard(Some(child));
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < WAIT,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut caps = serde_json::Map::new();
    // A navigation fails after this instead of chromedriver's default five minutes; it matters
    // for client certificates: when the policy selects none, headless Chromium waits for a
    // certificate picker that never shows, and the navigation never ends.
    caps.insert(
        "timeouts".into(),
        serde_json::json!({ "pageLoad": (2 * WAIT).as_millis() as u64 }),
    );
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chrome,
            "args": [
                "--headless=new",
                // Tests run as root in a container: Chromium's sandbox needs a user namespace.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1366,860",
                "--lang=en-GB",
                format!("--user-data-dir={}", dir.path().join("profile").display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
                "intl.accept_languages": "en-GB,en",
            },
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session");
    Browser {
        client,
        driver: browser_guard.0.take().expect("driver"),
        downloads,
        _dir: dir,
    }
}

/// Kills chromedriver if start-up fails half-way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            stop(c);
        }
    }
}

impl Browser {
    /// Opens `url`. A navigation that ends on Chromium's own error page is retried a few
    /// times: Chromium aborts page loads when the host's network interfaces change
    /// (`ERR_NETWORK_CHANGED`, "Your connection was interrupted"), which happens whenever
    /// anything on the machine creates or removes one (a container network, say).
    pub async fn goto(&self, url: &str) {
        for _ in 0..5 {
            self.client.goto(url).await.expect("navigate");
            if !self.on_error_page().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{url}: the browser showed its error page five times");
    }

    /// The element matching `css` (waiting for it to appear).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(e) if Instant::now() > deadline => panic!("no element {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Whether the browser shows its own network error page (`<body class="neterror">`).
    pub async fn on_error_page(&self) -> bool {
        self.exists("body.neterror").await
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// An attribute of the element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attr")
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_in(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.expect("type");
    }

    /// The page source.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("source")
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    /// Reloads `url` until the page source satisfies `cond`, failing after [`WAIT`].
    pub async fn reload_until(&self, url: &str, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.goto(url).await;
            if cond(&self.source().await) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Logs in to the console at `base` (`http://host:port`) with the token in `token_file`;
    /// if the browser holds a session of that console already (the login page sends it on
    /// to the inbox), that one is kept.
    pub async fn login(&self, base: &str, token_file: &Path) {
        let token = std::fs::read_to_string(token_file).expect("token file");
        self.goto(&format!("{base}/console/login")).await;
        if self.path().await.starts_with("/console/inbox") {
            return;
        }
        self.type_in("#token", token.trim()).await;
        self.click("form.login button[type=submit]").await;
        let deadline = Instant::now() + WAIT;
        while !self.path().await.starts_with("/console/inbox") {
            if Instant::now() > deadline {
                let src = self.source().await;
                panic!(
                    "login did not reach the inbox: at {}: {src}",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }

    /// Waits for a finished download whose name starts with `prefix`; its path.
    pub async fn download(&self, prefix: &str) -> PathBuf {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = std::fs::read_dir(&self.downloads)
                .expect("downloads")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with(prefix) && !name.ends_with(".crdownload")
                });
            if let Some(p) = found {
                return p;
            }
            assert!(Instant::now() < deadline, "no download {prefix}*");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// An HTTP answer with its headers.
#[derive(Debug, Clone)]
pub struct Page {
    /// Status.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl Page {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the hidden `csrf` field of the page's first form that has one.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

fn parse_answer(raw: &[u8]) -> std::io::Result<Page> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // Bodies of these small answers may be chunked: undo it.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Page {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Sends one raw HTTP/1.1 request to `addr` (plain) with extra headers; for checks a browser
/// would not make (forged posts, no cookie at all).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Page {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write_request(&mut sock, &addr.to_string(), method, path, headers, body).expect("write");
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).expect("read");
    parse_answer(&raw).expect("answer")
}

/// A console session cookie for the node whose API listens (plain HTTP) at `addr`, by signing
/// in with the officer token in `token_file`; checks the cookie's flags.
pub fn login_cookie(addr: SocketAddr, token_file: &std::path::Path) -> String {
    let form = http(addr, "GET", "/console/login", &[], "");
    assert_eq!(form.status, 200, "{form:?}");
    let pre = form
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("login cookie")
        .to_owned();
    let csrf = form.csrf().expect("login csrf");
    let token = std::fs::read_to_string(token_file).expect("token");
    let done = http(
        addr,
        "POST",
        "/console/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &pre),
        ],
        &format!("csrf={csrf}&token={}", token.trim()),
    );
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.header("location"), Some("/console/inbox"));
    let cookie = done
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v)
        .find(|v| v.starts_with("liaison_session_"))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().expect("cookie").to_owned()
}

fn write_request(
    w: &mut impl Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    w.write_all(req.as_bytes())?;
    w.flush()
}

/// An HTTPS client of a node's console presenting an officer certificate.
pub struct OfficerBrowser {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
}

impl OfficerBrowser {
    /// Trusts only `server_ca_der` (the console CA of `liaison certs console-tls`); dials
    /// `addr`, expecting a certificate for its IP address, as a browser would; presents `cert`.
    pub fn with_server_ca(addr: SocketAddr, server_ca_der: &[u8], cert: &IssuedCert) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                server_ca_der.to_vec(),
            ))
            .expect("console CA");
        let mut config = crate::api::client_tls_with_roots(roots, cert);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            config: Arc::new(config),
            addr,
        }
    }

    /// One request on a fresh connection; `Err` if TLS refused us.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Page> {
        let name = ServerName::from(self.addr.ip());
        let conn = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(std::io::Error::other)?;
        let sock = TcpStream::connect(self.addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        write_request(
            &mut tls,
            &self.addr.to_string(),
            method,
            path,
            headers,
            body,
        )?;
        let mut raw = Vec::new();
        match tls.read_to_end(&mut raw) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(e),
        }
        parse_answer(&raw)
    }

    /// `GET path`, which must succeed at the TLS level.
    pub fn get(&self, path: &str) -> Page {
        self.request("GET", path, &[], "").expect("HTTPS GET")
    }

    /// A form `POST` (urlencoded `body`), same-origin.
    pub fn post_form(&self, path: &str, body: &str) -> Page {
        let origin = format!("https://{}", self.addr);
        self.request(
            "POST",
            path,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", &origin),
            ],
            body,
        )
        .expect("HTTPS POST")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.ci/run` writes the policy file the certificate sessions need; it must write this
    /// content (the console tests in `tests/tests/console.rs` show that it works).
    #[test]
    fn ci_writes_the_client_certificate_policy() {
        let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run"))
            .expect(".ci/run");
        assert!(ci.contains(CLIENT_CERT_POLICY_FILE), "policy path");
        assert!(
            ci.contains(&format!("printf '%s\\n' '{CLIENT_CERT_POLICY}'")),
            ".ci/run writes another policy than CLIENT_CERT_POLICY"
        );
        let policy: serde_json::Value = serde_json::from_str(CLIENT_CERT_POLICY).expect("JSON");
        let rule: serde_json::Value = serde_json::from_str(
            policy["AutoSelectCertificateForUrls"][0]
                .as_str()
                .expect("rule"),
        )
        .expect("rule JSON");
        assert_eq!(rule["pattern"], "https://127.0.0.1:*");
        assert_eq!(rule["filter"]["ISSUER"]["O"], "Liaison");
    }
}
