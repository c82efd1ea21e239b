//! Reading and writing PEM files: strict parsing, atomic all-or-nothing writes that never
//! overwrite, and owner-only permissions for private keys.
//!
//! Every write goes to a temporary file in the target's own directory, is fsynced, and is
//! then published. New files are published with `link(2)`, which fails if the target
//! exists, so a concurrent writer can never be overwritten either; when several files are
//! published together and one fails, the ones already published are removed again.
//! Replacing a file (the CRL) uses `rename(2)`. Directories are fsynced after publishing.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use liaison_protocol::trust::CaFingerprint;
use liaison_protocol::{NetworkId, Signer, SigningKey, TrustError, TrustStore};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::pem::{PemObject, SectionKind};
use zeroize::Zeroizing;

use crate::error::CertError;

/// Largest PEM file read, so a wrong path (a log, a disk image) fails fast instead of filling memory.
pub const MAX_PEM_FILE: u64 = 1 << 20;

/// Reads a whole file (up to [`MAX_PEM_FILE`]); a missing file is [`CertError::MissingFile`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, CertError> {
    use std::io::Read;
    let file = File::open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => CertError::MissingFile {
            path: path.to_owned(),
        },
        _ => CertError::io(path, e),
    })?;
    let meta = file.metadata().map_err(|e| CertError::io(path, e))?;
    if !meta.is_file() {
        return Err(CertError::MalformedPem {
            path: path.to_owned(),
            detail: "not a regular file".into(),
        });
    }
    // Sized up front: growing the buffer would leave copies of key bytes in freed memory.
    let mut buf = Vec::with_capacity(meta.len().min(MAX_PEM_FILE) as usize + 1);
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CertError::io(path, e))?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(CertError::MalformedPem {
            path: path.to_owned(),
            detail: format!("larger than {MAX_PEM_FILE} bytes; not a PEM file written by Liaison"),
        });
    }
    Ok(buf)
}

/// Every recognised PEM section of `bytes`, in order. `origin` names the input in errors.
pub fn pem_sections(origin: &Path, bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, CertError> {
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::MalformedPem {
            path: origin.to_owned(),
            detail: e.to_string(),
        })?;
    if sections.is_empty() {
        return Err(CertError::MalformedPem {
            path: origin.to_owned(),
            detail: "no PEM section found".into(),
        });
    }
    Ok(sections)
}

fn kind_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::Crl => "X509 CRL",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        _ => "other",
    }
}

/// The DER of the single `want` section of a PEM input; anything else is [`CertError::MalformedPem`].
pub fn single_section(
    origin: &Path,
    bytes: &[u8],
    want: SectionKind,
) -> Result<Vec<u8>, CertError> {
    let mut sections = pem_sections(origin, bytes)?;
    let kinds: Vec<_> = sections.iter().map(|(k, _)| kind_name(*k)).collect();
    match sections.pop() {
        Some((kind, der)) if sections.is_empty() && kind == want => Ok(der),
        _ => Err(CertError::MalformedPem {
            path: origin.to_owned(),
            detail: format!(
                "expected exactly one {} section, found [{}]",
                kind_name(want),
                kinds.join(", ")
            ),
        }),
    }
}

/// Reads a PEM file holding exactly one certificate; returns its DER.
pub fn read_cert(path: &Path) -> Result<Vec<u8>, CertError> {
    single_section(path, &read_file(path)?, SectionKind::Certificate)
}

/// Reads a PEM file holding exactly one CRL; returns its DER.
pub fn read_crl(path: &Path) -> Result<Vec<u8>, CertError> {
    single_section(path, &read_file(path)?, SectionKind::Crl)
}

/// Reads a PKCS#8 PEM private key; returns its DER, zeroed on drop. A missing file is
/// [`CertError::MissingKey`].
pub fn read_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, CertError> {
    let bytes = Zeroizing::new(read_file(path).map_err(|e| match e {
        CertError::MissingFile { path } => CertError::MissingKey { path },
        other => other,
    })?);
    single_section(path, &bytes, SectionKind::PrivateKey).map(Zeroizing::new)
}

/// PEM-encodes DER with the given label (`CERTIFICATE`, `X509 CRL`…), LF line endings.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

/// Loads a node's signing identity: its certificate and PKCS#8 key, which must match.
pub fn load_signer(cert_path: &Path, key_path: &Path) -> Result<Signer, CertError> {
    let cert = read_cert(cert_path)?;
    let key = read_key(key_path)?;
    let key = SigningKey::from_pkcs8_der(&key)?;
    Ok(Signer::new(key, cert)?)
}

/// Adds a network CA (and its CRL, if given) from PEM files to a trust store.
pub fn add_ca_files(
    store: &mut TrustStore,
    ca_path: &Path,
    crl_path: Option<&Path>,
) -> Result<NetworkId, CertError> {
    let ca = read_cert(ca_path)?;
    let crl = crl_path.map(read_crl).transpose()?;
    Ok(store.add_ca(&ca, crl.as_deref())?)
}

/// Builds a trust store from (CA certificate, optional CRL) PEM file pairs. Several CAs of
/// one network are trusted side by side (a CA rollover); the same CA twice is refused.
pub fn load_trust<'a>(
    networks: impl IntoIterator<Item = (&'a Path, Option<&'a Path>)>,
) -> Result<TrustStore, CertError> {
    load_trust_sources(
        networks
            .into_iter()
            .map(|(ca, crl)| TrustSource::Files { ca, crl }),
    )
}

/// Where trusted CAs (and their CRLs) come from.
#[derive(Clone, Copy, Debug)]
pub enum TrustSource<'a> {
    /// A CA certificate file and, optionally, its CRL file (PEM each).
    Files {
        /// The CA certificate.
        ca: &'a Path,
        /// Its CRL.
        crl: Option<&'a Path>,
    },
    /// A trust bundle (`liaison certs trust-bundle`): one network's CAs, each with its CRL,
    /// in one file.
    Bundle(&'a Path),
}

/// Builds a trust store from CA/CRL files and trust bundles. Several CAs of one network are
/// trusted side by side, each with its own CRL (a CA rollover: the old CA and the new one,
/// from two sources or one bundle); the same CA (the same key) twice is refused, naming both
/// sources, since its two CRLs could disagree.
pub fn load_trust_sources<'a>(
    sources: impl IntoIterator<Item = TrustSource<'a>>,
) -> Result<TrustStore, CertError> {
    let mut store = TrustStore::new();
    // Where each CA added so far came from, by fingerprint, to name it in a refusal.
    let mut origins: Vec<(String, &Path)> = Vec::new();
    for source in sources {
        let (cas, path) = match source {
            TrustSource::Files { ca, crl } => {
                let crl = crl.map(read_crl).transpose()?;
                (vec![(read_cert(ca)?, crl)], ca)
            }
            TrustSource::Bundle(path) => {
                let b = crate::TrustBundle::read(path)?;
                let cas = b
                    .cas
                    .into_iter()
                    .map(|c| (c.ca_der, Some(c.crl_der)))
                    .collect();
                (cas, path)
            }
        };
        for (ca, crl) in cas {
            match store.add_ca(&ca, crl.as_deref()) {
                Ok(_) => origins.push((CaFingerprint::of(&ca).to_string(), path)),
                Err(TrustError::DuplicateCa {
                    network,
                    fingerprint,
                    trusted,
                }) => {
                    let earlier = origins
                        .iter()
                        .find(|(f, _)| f == &trusted)
                        .map_or_else(String::new, |(_, p)| format!(" from {}", p.display()));
                    let same_key = if fingerprint == trusted {
                        String::new()
                    } else {
                        format!(" (with the same key, as {trusted})")
                    };
                    return Err(CertError::DuplicateCa(format!(
                        "{}: the {network} CA {fingerprint} is already trusted{same_key}{earlier}; \
                         list each CA once",
                        path.display()
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(store)
}

/// One file to create: its path, contents, and whether it is secret (mode 0600, else 0644).
pub struct NewFile {
    /// Where the file goes; its directory must exist.
    pub path: PathBuf,
    /// The bytes to write (zeroed on drop, as they may be a key).
    pub contents: Zeroizing<Vec<u8>>,
    /// Owner-only permissions.
    pub secret: bool,
}

impl NewFile {
    /// A public file (certificate, CRL): mode 0644.
    pub fn public(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        Self {
            path,
            contents: Zeroizing::new(contents.into()),
            secret: false,
        }
    }

    /// A secret file (private key): mode 0600.
    pub fn secret(path: PathBuf, contents: Zeroizing<Vec<u8>>) -> Self {
        Self {
            path,
            contents,
            secret: true,
        }
    }
}

impl std::fmt::Debug for NewFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFile")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .field("secret", &self.secret)
            .finish()
    }
}

/// Fails with [`CertError::FileExists`] if any of the paths exists (even as a dangling symlink).
pub fn check_absent<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), CertError> {
    for path in paths {
        match fs::symlink_metadata(path) {
            Ok(_) => {
                return Err(CertError::FileExists {
                    path: path.to_owned(),
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(CertError::io(path, e)),
        }
    }
    Ok(())
}

/// Creates a directory (and its parents) if missing; a directory this creates for secrets gets mode 0700.
pub fn ensure_dir(path: &Path, secret: bool) -> Result<(), CertError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(CertError::FileExists {
                path: path.to_owned(),
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(CertError::io(path, e)),
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(if secret { 0o700 } else { 0o755 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    builder.create(path).map_err(|e| CertError::io(path, e))
}

/// Temporary files not yet published; removed on drop.
struct Staged(Vec<PathBuf>);

impl Drop for Staged {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `contents` to a new temporary file beside `target`, fsynced, with the right mode.
fn stage(target: &Path, contents: &[u8], secret: bool) -> Result<PathBuf, CertError> {
    let dir = parent_of(target);
    let name = target
        .file_name()
        .ok_or_else(|| CertError::io(target, std::io::Error::other("not a file path")))?;
    let rng = SystemRandom::new();
    let mut suffix = [0u8; 8];
    rng.fill(&mut suffix).map_err(|_| CertError::Random)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", liaison_protocol::ids::hex(&suffix)));
    let tmp = dir.join(tmp_name);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = opts.open(&tmp).map_err(|e| CertError::io(&tmp, e))?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CertError::io(&tmp, e));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

fn sync_dir(dir: &Path) -> Result<(), CertError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CertError::io(dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Publishes a staged file at `target` without ever replacing an existing file.
fn publish_new(tmp: &Path, target: &Path) -> Result<(), CertError> {
    match fs::hard_link(tmp, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(CertError::FileExists {
            path: target.to_owned(),
        }),
        // Some file systems have no hard links: fall back to check-then-rename.
        Err(_) => {
            check_absent([target])?;
            fs::rename(tmp, target).map_err(|e| CertError::io(target, e))
        }
    }
}

/// Creates all `files` or none: refuses if any exists, stages each beside its target,
/// then publishes them; on any failure, removes what it published.
pub fn write_new_files(files: &[NewFile]) -> Result<(), CertError> {
    check_absent(files.iter().map(|f| f.path.as_path()))?;
    let mut staged = Staged(Vec::with_capacity(files.len()));
    for f in files {
        staged.0.push(stage(&f.path, &f.contents, f.secret)?);
    }
    let mut published: Vec<&Path> = Vec::with_capacity(files.len());
    for (f, tmp) in files.iter().zip(&staged.0) {
        if let Err(e) = publish_new(tmp, &f.path) {
            for p in published {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
        published.push(&f.path);
    }
    drop(staged);
    let mut dirs: Vec<&Path> = files.iter().map(|f| parent_of(&f.path)).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        sync_dir(d)?;
    }
    Ok(())
}

/// Atomically replaces (or creates) one file: stage, fsync, rename, fsync the directory.
pub fn replace_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), CertError> {
    let tmp = stage(path, contents, secret)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(CertError::io(path, e));
    }
    sync_dir(parent_of(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_files_refuses_existing_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.crt");
        let b = dir.path().join("b.key");
        fs::write(&b, b"old").unwrap();
        let err = write_new_files(&[
            NewFile::public(a.clone(), b"new".to_vec()),
            NewFile::secret(b.clone(), Zeroizing::new(b"new".to_vec())),
        ])
        .unwrap_err();
        assert_eq!(err.reason_code(), "file-exists");
        assert!(!a.exists());
        assert_eq!(fs::read(&b).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("x.key");
        let c = dir.path().join("x.crt");
        write_new_files(&[
            NewFile::secret(k.clone(), Zeroizing::new(b"k".to_vec())),
            NewFile::public(c.clone(), b"c".to_vec()),
        ])
        .unwrap();
        assert_eq!(
            fs::metadata(&k).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&c).unwrap().permissions().mode() & 0o722,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn replace_file_swaps_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crl.pem");
        replace_file(&p, b"one", false).unwrap();
        replace_file(&p, b"two", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A CA directory for `network` under `root/<dir>` (`ca.crt`, `ca.key`, `crl.pem`).
    fn ca_dir(root: &Path, dir: &str, network: &str) -> PathBuf {
        let now = time::OffsetDateTime::now_utc();
        let dir = root.join(dir);
        crate::create_network(
            &network.parse().unwrap(),
            &dir,
            crate::Validity::days_from(now, 30).unwrap(),
            now,
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        dir
    }

    #[test]
    fn trust_sources_take_two_cas_of_one_network_but_not_one_ca_twice() {
        let root = tempfile::tempdir().unwrap();
        let old = ca_dir(root.path(), "old", "central-asia");
        let new = ca_dir(root.path(), "new", "central-asia");
        let gulf = ca_dir(root.path(), "gulf", "gulf");
        let files = |d: &Path| (d.join(crate::ca::CA_CERT_FILE), d.join(crate::ca::CRL_FILE));
        let (old_ca, old_crl) = files(&old);
        let (new_ca, new_crl) = files(&new);
        let bundle = root.path().join("central-asia.bundle.pem");
        crate::write_trust_bundle(&[&old, &new], &bundle).unwrap();
        let gulf_bundle = root.path().join("gulf.bundle.pem");
        crate::write_trust_bundle(&[&gulf], &gulf_bundle).unwrap();

        // Two [[trust]] entries for one network.
        let store = load_trust_sources([
            TrustSource::Files {
                ca: &old_ca,
                crl: Some(&old_crl),
            },
            TrustSource::Files {
                ca: &new_ca,
                crl: Some(&new_crl),
            },
            TrustSource::Bundle(&gulf_bundle),
        ])
        .unwrap();
        assert_eq!(store.networks().count(), 2);
        assert_eq!(store.cas().count(), 3);
        // One bundle of both.
        let store = load_trust_sources([TrustSource::Bundle(&bundle)]).unwrap();
        assert_eq!(store.cas().count(), 2);
        // The auditor's way: CA files without CRLs.
        let store = load_trust([(old_ca.as_path(), None), (new_ca.as_path(), None)]).unwrap();
        assert_eq!(store.cas().count(), 2);

        // The same CA from a file and from a bundle: refused, naming both.
        let err = load_trust_sources([
            TrustSource::Files {
                ca: &new_ca,
                crl: Some(&new_crl),
            },
            TrustSource::Bundle(&bundle),
        ])
        .unwrap_err();
        assert_eq!(err.reason_code(), "duplicate-ca");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}: the central-asia CA ", bundle.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("from {}", new_ca.display())),
            "{text}"
        );
        // The same file twice.
        let err = load_trust([(old_ca.as_path(), None), (old_ca.as_path(), None)]).unwrap_err();
        assert_eq!(err.reason_code(), "duplicate-ca");
    }

    #[test]
    fn malformed_pem_is_refused() {
        let p = Path::new("x.pem");
        for bad in [
            &b""[..],
            b"not pem at all",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        ] {
            let err = single_section(p, bad, SectionKind::Certificate).unwrap_err();
            assert_eq!(err.reason_code(), "malformed-pem", "{bad:?}");
        }
        let two = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".repeat(2);
        let err = single_section(p, two.as_bytes(), SectionKind::Certificate).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-pem");
        let crl = to_pem("X509 CRL", b"\x30\x00");
        let err = single_section(p, crl.as_bytes(), SectionKind::Certificate).unwrap_err();
        assert!(err.to_string().contains("X509 CRL"), "{err}");
    }
}
