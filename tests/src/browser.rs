//! Headless Chromium for the console's browser tests: Debian's `chromium` driven by its
//! `chromedriver` over WebDriver ([`fantoccini`]), and a small HTTPS client that presents an
//! officer certificate to the console (headless Chromium cannot be handed a client
//! certificate without a system-wide policy file, so certificate-role checks use it).
//!
//! Without Chromium the browser tests skip loudly, except under `CI=true`, where they fail.

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

use crate::TestPki;

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

/// Starts chromedriver and a headless Chromium session (1366×860, a laptop screen). `None`
/// (after saying so loudly) if Chromium is not installed; under `CI=true` that panics.
pub async fn start() -> Option<Browser> {
    let Some((driver, chrome)) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "the console's browser tests need Chromium: apt-get install chromium chromium-driver"
            );
        }
        eprintln!(
            "\n*** SKIPPED: chromium or chromedriver is not installed, so the console's browser \
             tests did not run (apt-get install chromium chromium-driver fonts-noto-core) ***\n"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let port = crate::api::free_tcp_addr().port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
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
    Some(Browser {
        client,
        driver: browser_guard.0.take().expect("driver"),
        downloads,
        _dir: dir,
    })
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
    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
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

    /// Logs in to the console at `base` (`http://host:port`) with the token in `token_file`.
    pub async fn login(&self, base: &str, token_file: &Path) {
        let token = std::fs::read_to_string(token_file).expect("token file");
        self.goto(&format!("{base}/console/login")).await;
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
    node: String,
}

impl OfficerBrowser {
    /// Trusts the CAs of `pki`; dials `addr` expecting `node`'s certificate; presents `cert`.
    pub fn new(pki: &TestPki, addr: SocketAddr, node: &str, cert: &IssuedCert) -> Self {
        let mut config = crate::api::client_tls(pki, cert);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            config: Arc::new(config),
            addr,
            node: node.to_owned(),
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
        let name = ServerName::try_from(self.node.clone()).expect("server name");
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
