//! `liaison certs …` end to end: the real binary in temporary directories, and the system
//! `openssl` as an independent judge of the files it writes.
//!
//! The OpenSSL checks are skipped (with a note) when no `openssl` is installed, except
//! under CI (`CI` set), where a missing `openssl` fails the test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(program: &str, args: &[&str], cwd: &Path) -> Run {
    let out: Output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `liaison` in `cwd`.
fn liaison(cwd: &Path, args: &[&str]) -> Run {
    run(env!("CARGO_BIN_EXE_liaison"), args, cwd)
}

/// Runs `openssl`, or returns `None` if it is not installed (outside CI).
fn openssl(cwd: &Path, args: &[&str]) -> Option<Run> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Some(run("openssl", args, cwd)),
        _ if std::env::var_os("CI").is_some() => panic!("openssl is required in CI"),
        _ => {
            eprintln!("note: openssl not installed; skipping the OpenSSL checks");
            None
        }
    }
}

/// A temporary directory with a network CA `central-asia` in `ca/`, node `caricc` in
/// `nodes/` and officer `a.karimova` (supervisor) in `officers/`.
struct Pki {
    dir: TempDir,
}

const NODE_CRT: &str = "nodes/caricc.central-asia.crt";
const NODE_KEY: &str = "nodes/caricc.central-asia.key";
const OFFICER_CRT: &str = "officers/a.karimova@caricc.central-asia.crt";
const OFFICER_KEY: &str = "officers/a.karimova@caricc.central-asia.key";

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let r = liaison(
            p,
            &[
                "certs",
                "new-network",
                "--network",
                "central-asia",
                "--out",
                "ca",
            ],
        );
        assert!(r.ok(), "{r:?}");
        assert!(r.stdout.contains("central-asia"), "{r:?}");
        let r = liaison(
            p,
            &[
                "certs",
                "issue-node",
                "--ca",
                "ca",
                "--node",
                "caricc",
                "--out",
                "nodes",
            ],
        );
        assert!(r.ok(), "{r:?}");
        assert!(r.stdout.contains("caricc.central-asia"), "{r:?}");
        let r = liaison(
            p,
            &[
                "certs",
                "issue-officer",
                "--ca",
                "ca",
                "--node",
                "caricc",
                "--officer",
                "a.karimova",
                "--role",
                "supervisor",
                "--out",
                "officers",
            ],
        );
        assert!(r.ok(), "{r:?}");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn liaison(&self, args: &[&str]) -> Run {
        liaison(self.path(), args)
    }

    fn openssl(&self, args: &[&str]) -> Option<Run> {
        openssl(self.path(), args)
    }

    fn verify(&self, cert: &str) -> Run {
        self.liaison(&["certs", "verify", "--ca", "ca", "--cert", cert])
    }

    fn revoke(&self, cert: &str) -> Run {
        self.liaison(&[
            "certs",
            "revoke",
            "--ca",
            "ca",
            "--cert",
            cert,
            "--reason",
            "keyCompromise",
        ])
    }

    /// Every file under the directory, with its contents, to show nothing changed.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), &mut out);
        out.sort();
        out
    }
}

/// Asserts a failed run: non-zero exit, `error: …` with `needle`, and a hint.
fn assert_error(r: &Run, needle: &str) {
    assert!(!r.ok(), "expected failure: {r:?}");
    assert!(r.stderr.starts_with("error: "), "{r:?}");
    assert!(r.stderr.contains(needle), "expected {needle:?} in {r:?}");
    assert!(r.stderr.contains("\nhint: "), "expected a hint: {r:?}");
}

#[test]
fn issued_certificates_verify_and_revoked_node_certificate_fails_verify() {
    let pki = Pki::new();
    let r = pki.verify(NODE_CRT);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout
            .starts_with("valid: node caricc.central-asia, serial "),
        "{r:?}"
    );
    let r = pki.verify(OFFICER_CRT);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout
            .contains("officer a.karimova@caricc.central-asia (supervisor)"),
        "{r:?}"
    );

    let r = pki.revoke(NODE_CRT);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("CRL number 2"), "{r:?}");

    let r = pki.verify(NODE_CRT);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.all().contains("revoked-certificate"), "{r:?}");
    // The officer certificate is unaffected.
    assert!(pki.verify(OFFICER_CRT).ok());
}

/// `certs renew` replaces a certificate in place with one for the same subject and key,
/// keeps the old one beside it, leaves the key file alone, and refuses a revoked one.
#[test]
fn a_renewed_certificate_verifies_with_the_same_key_and_a_revoked_one_is_not_renewed() {
    let pki = Pki::new();
    let key_before = fs::read(pki.join(NODE_KEY)).unwrap();
    let cert_before = fs::read(pki.join(NODE_CRT)).unwrap();
    let r = pki.liaison(&[
        "certs", "renew", "--ca", "ca", "--cert", NODE_CRT, "--days", "30",
    ]);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout
            .starts_with("renewed the certificate of caricc.central-asia (serial "),
        "{r:?}"
    );
    assert!(r.stdout.contains("the key is unchanged"), "{r:?}");
    assert_eq!(fs::read(pki.join(NODE_KEY)).unwrap(), key_before);
    assert_ne!(fs::read(pki.join(NODE_CRT)).unwrap(), cert_before);
    let kept: Vec<_> = fs::read_dir(pki.join("nodes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".old"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        fs::read(pki.join("nodes").join(&kept[0])).unwrap(),
        cert_before,
        "the old certificate is kept"
    );
    assert!(pki.verify(NODE_CRT).ok());
    // The renewed certificate and the unchanged key still belong together.
    if let Some(r) = pki.openssl(&["x509", "-in", NODE_CRT, "-noout", "-pubkey"]) {
        let from_key = pki
            .openssl(&["pkey", "-in", NODE_KEY, "-pubout"])
            .expect("openssl");
        assert_eq!(r.stdout, from_key.stdout);
    }
    let r = pki.liaison(&["certs", "renew", "--ca", "ca", "--cert", OFFICER_CRT]);
    assert!(r.ok(), "{r:?}");
    assert!(pki.verify(OFFICER_CRT).all().contains("(supervisor)"));

    assert!(pki.revoke(NODE_CRT).ok());
    let r = pki.liaison(&["certs", "renew", "--ca", "ca", "--cert", NODE_CRT]);
    assert_error(&r, "certificate revoked (serial");
    assert!(r.stderr.contains("never renewed"), "{r:?}");
}

#[test]
fn revoked_officer_certificate_fails_verify() {
    let pki = Pki::new();
    assert!(pki.revoke(OFFICER_CRT).ok());
    let r = pki.verify(OFFICER_CRT);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.all().contains("revoked-certificate"), "{r:?}");
}

#[test]
fn revoking_twice_says_already_revoked() {
    let pki = Pki::new();
    assert!(pki.revoke(NODE_CRT).ok());
    let crl = fs::read(pki.join("ca/crl.pem")).unwrap();
    let r = pki.revoke(NODE_CRT);
    assert_error(&r, "already revoked");
    assert_eq!(fs::read(pki.join("ca/crl.pem")).unwrap(), crl);
}

#[test]
fn openssl_accepts_issued_certificates() {
    let pki = Pki::new();
    let Some(r) = pki.openssl(&["verify", "-CAfile", "ca/ca.crt", NODE_CRT, OFFICER_CRT]) else {
        return;
    };
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&[
            "verify",
            "-x509_strict",
            "-crl_check",
            "-CAfile",
            "ca/ca.crt",
            "-CRLfile",
            "ca/crl.pem",
            NODE_CRT,
            OFFICER_CRT,
        ])
        .unwrap();
    assert!(r.ok(), "{r:?}");
    // The node certificate is good for both ends of mutual TLS.
    for purpose in ["sslserver", "sslclient"] {
        let r = pki
            .openssl(&[
                "verify",
                "-purpose",
                purpose,
                "-CAfile",
                "ca/ca.crt",
                NODE_CRT,
            ])
            .unwrap();
        assert!(r.ok(), "{purpose}: {r:?}");
    }
    let r = pki
        .openssl(&[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "ca/ca.crt",
            OFFICER_CRT,
        ])
        .unwrap();
    assert!(!r.ok(), "an officer certificate must not serve TLS: {r:?}");
    for key in ["ca/ca.key", NODE_KEY, OFFICER_KEY] {
        let r = pki.openssl(&["pkey", "-in", key, "-noout"]).unwrap();
        assert!(r.ok(), "{key}: {r:?}");
    }
    let r = pki
        .openssl(&["crl", "-in", "ca/crl.pem", "-noout", "-text"])
        .unwrap();
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("No Revoked Certificates"), "{r:?}");
}

#[test]
fn openssl_refuses_revoked_certificate_and_lists_its_serial() {
    let pki = Pki::new();
    let r = pki.revoke(NODE_CRT);
    assert!(r.ok(), "{r:?}");
    let serial = r
        .stdout
        .split("serial ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .to_uppercase();
    let Some(r) = pki.openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        "ca/ca.crt",
        "-CRLfile",
        "ca/crl.pem",
        NODE_CRT,
    ]) else {
        return;
    };
    assert!(!r.ok(), "{r:?}");
    assert!(r.all().contains("revoked"), "{r:?}");
    let r = pki
        .openssl(&["crl", "-in", "ca/crl.pem", "-noout", "-text"])
        .unwrap();
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains(&serial), "{serial} not in {r:?}");
    assert!(r.stdout.contains("Key Compromise"), "{r:?}");
}

#[test]
fn trust_bundle_holds_ca_then_crl_and_openssl_uses_it() {
    let pki = Pki::new();
    assert!(pki.revoke(NODE_CRT).ok());
    let r = pki.liaison(&["certs", "trust-bundle", "--ca", "ca", "--out", "bundle.pem"]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("fingerprint"), "{r:?}");
    let bundle = liaison_certs::TrustBundle::read(&pki.join("bundle.pem")).unwrap();
    assert_eq!(bundle.network.as_str(), "central-asia");
    let text = fs::read_to_string(pki.join("bundle.pem")).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"), "{text}");
    assert!(text.contains("-----BEGIN X509 CRL-----"), "{text}");
    let r = pki.liaison(&["certs", "trust-bundle", "--ca", "ca", "--out", "bundle.pem"]);
    assert_error(&r, "already exists");

    let Some(r) = pki.openssl(&["verify", "-crl_check", "-CAfile", "bundle.pem", OFFICER_CRT])
    else {
        return;
    };
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&["verify", "-crl_check", "-CAfile", "bundle.pem", NODE_CRT])
        .unwrap();
    assert!(!r.ok(), "{r:?}");
}

#[test]
fn a_network_rolls_its_ca_over_with_a_second_ca_and_a_bundle_of_both() {
    let pki = Pki::new();
    // A new CA for the same network: new-network again, into a new directory.
    let r = pki.liaison(&[
        "certs",
        "new-network",
        "--network",
        "central-asia",
        "--out",
        "ca-2",
    ]);
    assert!(r.ok(), "{r:?}");
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca-2",
        "--node",
        "caricc",
        "--out",
        "nodes-2",
    ]);
    assert!(r.ok(), "{r:?}");
    const NEW_CRT: &str = "nodes-2/caricc.central-asia.crt";
    // The bundle every node imports before the switch: both CAs, each with its CRL.
    let r = pki.liaison(&[
        "certs",
        "trust-bundle",
        "--ca",
        "ca",
        "--ca",
        "ca-2",
        "--out",
        "both.pem",
    ]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("central-asia (2 CAs)"), "{r:?}");
    let bundle = liaison_certs::TrustBundle::read(&pki.join("both.pem")).unwrap();
    assert_eq!(bundle.cas.len(), 2);
    for f in bundle.ca_fingerprints() {
        assert!(r.stdout.contains(&f.to_string()), "{f} in {r:?}");
    }
    // Certificates of either CA verify against their own CA; a revocation is the issuing
    // CA's (revoking the new CA's certificate with the old CA is refused).
    for (ca, cert) in [("ca", NODE_CRT), ("ca-2", NEW_CRT)] {
        let r = pki.liaison(&["certs", "verify", "--ca", ca, "--cert", cert]);
        assert!(r.ok(), "{r:?}");
    }
    let r = pki.revoke(NEW_CRT);
    assert_error(&r, "another CA of that network issued it");
    // One CA twice is refused; so is a bundle of two networks.
    let r = pki.liaison(&[
        "certs",
        "trust-bundle",
        "--ca",
        "ca",
        "--ca",
        "ca",
        "--out",
        "twice.pem",
    ]);
    assert_error(&r, "given twice");
    assert!(!pki.join("twice.pem").exists());
    let r = pki.liaison(&["certs", "new-network", "--network", "gulf", "--out", "gulf"]);
    assert!(r.ok(), "{r:?}");
    let r = pki.liaison(&[
        "certs",
        "trust-bundle",
        "--ca",
        "ca",
        "--ca",
        "gulf",
        "--out",
        "mixed.pem",
    ]);
    assert_error(&r, "one network's");
    // The retired CA's bundle, after the switch: the new CA alone.
    let r = pki.liaison(&["certs", "trust-bundle", "--ca", "ca-2", "--out", "new.pem"]);
    assert!(r.ok(), "{r:?}");
    assert!(!r.stdout.contains("CAs)"), "{r:?}");

    // OpenSSL, as an independent judge, reads the bundle of both with each CRL applying to
    // its own CA's certificates.
    let revoke_new = pki.liaison(&["certs", "revoke", "--ca", "ca-2", "--cert", NEW_CRT]);
    assert!(revoke_new.ok(), "{revoke_new:?}");
    let r = pki.liaison(&[
        "certs",
        "trust-bundle",
        "--ca",
        "ca",
        "--ca",
        "ca-2",
        "--out",
        "both-revoked.pem",
    ]);
    assert!(r.ok(), "{r:?}");
    let Some(r) = pki.openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        "both.pem",
        NODE_CRT,
        NEW_CRT,
    ]) else {
        return;
    };
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            "both-revoked.pem",
            NODE_CRT,
        ])
        .unwrap();
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            "both-revoked.pem",
            NEW_CRT,
        ])
        .unwrap();
    assert!(!r.ok() && r.all().contains("revoked"), "{r:?}");
}

#[cfg(unix)]
#[test]
fn private_keys_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    for key in ["ca/ca.key", NODE_KEY, OFFICER_KEY] {
        let mode = fs::metadata(pki.join(key)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
}

#[test]
fn existing_files_are_never_overwritten() {
    let pki = Pki::new();
    let before = pki.snapshot();
    let r = pki.liaison(&[
        "certs",
        "new-network",
        "--network",
        "central-asia",
        "--out",
        "ca",
    ]);
    assert_error(&r, "already exists");
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "caricc",
        "--out",
        "nodes",
    ]);
    assert_error(&r, "caricc.central-asia.crt already exists");
    assert_eq!(pki.snapshot(), before, "a refused command changed files");
}

#[test]
fn wrong_ca_directory_is_refused() {
    let pki = Pki::new();
    let r = pki.liaison(&["certs", "new-network", "--network", "gulf", "--out", "gulf"]);
    assert!(r.ok(), "{r:?}");
    let before = pki.snapshot();

    // Revoking with another network's CA.
    let r = pki.liaison(&["certs", "revoke", "--ca", "gulf", "--cert", NODE_CRT]);
    assert_error(&r, "not by the gulf network CA");
    // Verifying against another network's CA.
    let r = pki.liaison(&["certs", "verify", "--ca", "gulf", "--cert", NODE_CRT]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("unknown-ca"), "{r:?}");
    // A directory that is not a CA directory at all.
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "nodes",
        "--node",
        "x",
        "--out",
        "out",
    ]);
    assert_error(&r, "ca.crt does not exist");
    // A node's certificate and key posing as a CA.
    fs::create_dir(pki.join("fake")).unwrap();
    fs::copy(pki.join(NODE_CRT), pki.join("fake/ca.crt")).unwrap();
    fs::copy(pki.join(NODE_KEY), pki.join("fake/ca.key")).unwrap();
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "fake",
        "--node",
        "x",
        "--out",
        "out",
    ]);
    assert_error(&r, "not a Liaison network CA");
    fs::remove_dir_all(pki.join("fake")).unwrap();
    assert_eq!(pki.snapshot(), before);
}

#[test]
fn missing_ca_key_is_refused() {
    let pki = Pki::new();
    fs::remove_file(pki.join("ca/ca.key")).unwrap();
    let before = pki.snapshot();
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "tashkent",
        "--out",
        "nodes",
    ]);
    assert_error(&r, "private key");
    assert!(r.stderr.contains("ca.key does not exist"), "{r:?}");
    let r = pki.revoke(NODE_CRT);
    assert_error(&r, "ca.key does not exist");
    assert_eq!(pki.snapshot(), before);
    // Verifying does not need the key.
    assert!(pki.verify(NODE_CRT).ok());
}

#[test]
fn bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = liaison(
        dir.path(),
        &[
            "certs",
            "new-network",
            "--network",
            "Central Asia",
            "--out",
            "ca",
        ],
    );
    assert_error(&r, "invalid network name \"Central Asia\"");
    assert!(!dir.path().join("ca").exists(), "nothing may be created");

    let pki = Pki::new();
    let before = pki.snapshot();
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "gcc-cic.gulf",
        "--out",
        "nodes",
    ]);
    assert_error(&r, "not in network central-asia");
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "CARICC",
        "--out",
        "nodes",
    ]);
    assert_error(&r, "invalid centre name");
    let r = pki.liaison(&[
        "certs",
        "issue-officer",
        "--ca",
        "ca",
        "--node",
        "caricc",
        "--officer",
        "../evil",
        "--role",
        "officer",
        "--out",
        "officers",
    ]);
    assert_error(&r, "invalid officer name");
    let r = pki.liaison(&[
        "certs",
        "issue-officer",
        "--ca",
        "ca",
        "--node",
        "caricc",
        "--officer",
        "bob",
        "--role",
        "admin",
        "--out",
        "officers",
    ]);
    assert!(
        !r.ok() && r.stderr.contains("officer, supervisor or auditor"),
        "{r:?}"
    );
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "x",
        "--out",
        "nodes",
        "--days",
        "5000",
    ]);
    assert_error(&r, "after the central-asia CA itself");
    assert_eq!(pki.snapshot(), before);
}

#[test]
fn malformed_pem_is_refused() {
    let pki = Pki::new();
    fs::write(
        pki.join("junk.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n",
    )
    .unwrap();
    let r = pki.verify("junk.crt");
    assert_error(&r, "malformed PEM");
    // A key where a certificate belongs.
    let r = pki.verify(NODE_KEY);
    assert_error(&r, "expected exactly one CERTIFICATE section");
    let r = pki.liaison(&["certs", "revoke", "--ca", "ca", "--cert", "junk.crt"]);
    assert_error(&r, "malformed PEM");
    // A damaged CRL is refused, not re-signed.
    fs::write(pki.join("ca/crl.pem"), "garbage").unwrap();
    let r = pki.revoke(NODE_CRT);
    assert_error(&r, "malformed PEM");
    assert_eq!(fs::read(pki.join("ca/crl.pem")).unwrap(), b"garbage");
}

#[test]
fn refresh_crl_keeps_revocations() {
    let pki = Pki::new();
    assert!(pki.revoke(NODE_CRT).ok());
    let r = pki.liaison(&["certs", "refresh-crl", "--ca", "ca", "--crl-days", "7"]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("CRL number 3"), "{r:?}");
    let r = pki.verify(NODE_CRT);
    assert!(r.all().contains("revoked-certificate"), "{r:?}");
}

#[test]
fn verify_warns_when_the_crl_is_stale() {
    let pki = Pki::new();
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    liaison_certs::revocation::refresh(&pki.join("ca"), long_ago, time::Duration::days(30))
        .unwrap();
    let r = pki.verify(NODE_CRT);
    assert!(r.ok(), "{r:?}");
    assert!(r.stderr.contains("warning: the central-asia CRL"), "{r:?}");
    assert!(r.stderr.contains("refresh-crl"), "{r:?}");
}

#[test]
fn officer_keys_are_p256_by_default_and_ed25519_on_request() {
    let pki = Pki::new();
    let r = pki.liaison(&[
        "certs",
        "issue-officer",
        "--ca",
        "ca",
        "--node",
        "caricc",
        "--officer",
        "script",
        "--role",
        "officer",
        "--key",
        "ed25519",
        "--out",
        "officers",
    ]);
    assert!(r.ok() && r.stdout.contains("ed25519 key"), "{r:?}");
    let r = pki.liaison(&[
        "certs",
        "issue-officer",
        "--ca",
        "ca",
        "--node",
        "caricc",
        "--officer",
        "x",
        "--role",
        "officer",
        "--key",
        "rsa",
        "--out",
        "officers",
    ]);
    assert!(!r.ok() && r.stderr.contains("p256"), "{r:?}");
    // Both kinds verify with the node's own check.
    for cert in [OFFICER_CRT, "officers/script@caricc.central-asia.crt"] {
        let r = pki.verify(cert);
        assert!(r.ok(), "{cert}: {r:?}");
    }
    let Some(r) = pki.openssl(&["pkey", "-in", OFFICER_KEY, "-noout", "-text"]) else {
        return;
    };
    assert!(r.ok() && r.stdout.contains("prime256v1"), "{r:?}");
    let r = pki
        .openssl(&[
            "pkey",
            "-in",
            "officers/script@caricc.central-asia.key",
            "-noout",
            "-text",
        ])
        .unwrap();
    assert!(r.ok() && r.stdout.contains("ED25519"), "{r:?}");
}

#[test]
fn console_tls_certificate_is_p256_for_its_hosts_and_its_ca_can_issue_nothing_else() {
    let pki = Pki::new();
    let r = pki.liaison(&[
        "certs",
        "console-tls",
        "--node",
        "caricc.central-asia",
        "--host",
        "127.0.0.1",
        "--host",
        "console.caricc.example",
        "--out",
        "console",
    ]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("CA fingerprint"), "{r:?}");
    let ca = "console/caricc.central-asia.console-ca.crt";
    let crt = "console/caricc.central-asia.console.crt";
    let key = "console/caricc.central-asia.console.key";
    for f in [ca, crt, key] {
        assert!(pki.join(f).is_file(), "{f}");
    }
    let files: Vec<String> = fs::read_dir(pki.join("console"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "no CA key is written: {files:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(pki.join(key)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Written once.
    let again = pki.liaison(&[
        "certs",
        "console-tls",
        "--node",
        "caricc.central-asia",
        "--host",
        "127.0.0.1",
        "--out",
        "console",
    ]);
    assert!(!again.ok(), "{again:?}");
    for bad in [
        vec!["--node", "caricc", "--host", "127.0.0.1"],
        vec!["--node", "caricc.central-asia", "--host", "bad_host"],
        vec!["--node", "caricc.central-asia"],
    ] {
        let mut args = vec!["certs", "console-tls", "--out", "other"];
        args.extend(bad.iter().copied());
        let r = pki.liaison(&args);
        assert!(!r.ok(), "{bad:?}: {r:?}");
    }
    // An independent check: OpenSSL accepts it as a TLS server certificate for its hosts
    // under the console CA, and for nothing else.
    let Some(r) = pki.openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_ip",
        "127.0.0.1",
        "-CAfile",
        ca,
        crt,
    ]) else {
        return;
    };
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&[
            "verify",
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "console.caricc.example",
            "-CAfile",
            ca,
            crt,
        ])
        .unwrap();
    assert!(r.ok(), "{r:?}");
    let r = pki
        .openssl(&[
            "verify",
            "-verify_hostname",
            "example.com",
            "-CAfile",
            ca,
            crt,
        ])
        .unwrap();
    assert!(!r.ok(), "{r:?}");
    let r = pki
        .openssl(&["pkey", "-in", key, "-noout", "-text"])
        .unwrap();
    assert!(r.ok() && r.stdout.contains("prime256v1"), "{r:?}");
    // The console CA is not the network CA: a node certificate does not chain to it.
    let r = pki.openssl(&["verify", "-CAfile", ca, NODE_CRT]).unwrap();
    assert!(!r.ok(), "{r:?}");
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    // `liaison certs verify … | head -0`: stdout is a pipe nobody reads any more.
    let pki = Pki::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(["certs", "verify", "--ca", "ca", "--cert", NODE_CRT])
        .current_dir(pki.path())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn errors_say_each_thing_once_in_words_with_the_right_hint() {
    let pki = Pki::new();
    // No certificate can have zero days: the hint says what to give, not "smaller".
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "ca",
        "--node",
        "kz-dcu",
        "--out",
        "n2",
        "--days",
        "0",
    ]);
    assert_error(&r, "--days must be at least 1");
    assert!(
        r.stderr
            .contains("hint: give --days a whole number of days of 1 or more"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("smaller"), "{r:?}");

    // A path through a file: the system's reason once, not once per layer.
    fs::write(pki.join("afile"), b"").unwrap();
    let r = pki.liaison(&[
        "certs",
        "issue-node",
        "--ca",
        "afile",
        "--node",
        "x",
        "--out",
        "o",
    ]);
    assert_error(&r, "Not a directory");
    assert_eq!(r.stderr.matches("Not a directory").count(), 1, "{r:?}");

    // A certificate of another CA with the same network name: said in words, without the
    // verifier's internal names or byte lists.
    let r = pki.liaison(&[
        "certs",
        "new-network",
        "--network",
        "central-asia",
        "--out",
        "other",
    ]);
    assert!(r.ok(), "{r:?}");
    let r = pki.liaison(&["certs", "verify", "--ca", "other", "--cert", NODE_CRT]);
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.all()
            .contains("its signature does not verify with the CA's key"),
        "{r:?}"
    );
    let plain = |r: &Run| {
        let all = r.all();
        assert!(!all.contains("Context"), "{r:?}");
        assert!(!all.contains("InvalidSignature"), "{r:?}");
        assert!(!all.contains('['), "{r:?}");
    };
    plain(&r);

    // A certificate the CA signed for e-mail protection only (made with OpenSSL).
    let key = "eku.key";
    if pki
        .openssl(&["genpkey", "-algorithm", "ed25519", "-out", key])
        .is_some()
    {
        let r = pki
            .openssl(&[
                "req",
                "-new",
                "-key",
                key,
                "-subj",
                "/CN=kz-dcu.central-asia/O=kz-dcu",
                "-out",
                "eku.csr",
            ])
            .unwrap();
        assert!(r.ok(), "{r:?}");
        fs::write(
            pki.join("eku.cnf"),
            "subjectAltName=DNS:kz-dcu.central-asia\nextendedKeyUsage=emailProtection\n",
        )
        .unwrap();
        let r = pki
            .openssl(&[
                "x509",
                "-req",
                "-in",
                "eku.csr",
                "-CA",
                "ca/ca.crt",
                "-CAkey",
                "ca/ca.key",
                "-out",
                "eku.crt",
                "-days",
                "10",
                "-extfile",
                "eku.cnf",
            ])
            .unwrap();
        assert!(r.ok(), "{r:?}");
        let r = pki.verify("eku.crt");
        assert!(!r.ok(), "{r:?}");
        assert!(r.all().contains("extended key usage"), "{r:?}");
        plain(&r);
    }
}
