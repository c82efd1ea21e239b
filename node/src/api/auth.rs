//! Who is calling the officer API, and what they may do.
//!
//! Two ways in, one [`Principal`] out:
//!
//! * **Token** (the plain loopback listener): `Authorization: Bearer <token>`, where the
//!   token is the content of `api.token_file`. The node creates that file at start-up (32
//!   random bytes from the system generator, hex, mode 0600) and refuses to start if it is
//!   readable or writable by group or others: anyone who can read it is a supervisor. The
//!   token is the CLI's credential on the node's own host; compare it in constant time
//!   (an HMAC under a per-process random key, verified with `ring::hmac::verify`).
//! * **Officer certificate** (the optional HTTPS listener, see [`super::tls`]): the TLS
//!   handshake has already verified the certificate (chain, CRL, officer profile, this
//!   node); the role is the certificate's.
//!
//! Roles ([`Role`]) map to [`Action`]s in one table, [`Action::allowed`]: an auditor reads
//! the log, checkpoints, trails, status and the inbox's metadata, and never sends, never
//! acknowledges and never reads a message's content. Officers read the latest checkpoint
//! but not the whole history of checkpoints, which is the auditors' (and supervisors').
//!
//! Failed token sign-ins back off per source ([`super::backoff`]); the token itself is still
//! compared in constant time.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::ApiStartError;
use liaison_certs::{Officer, Role};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::ApiError;

/// Bytes of randomness in a new API token (written as twice as many hex digits).
pub const TOKEN_BYTES: usize = 32;

/// An authenticated caller of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// What the caller may do.
    pub role: Role,
    /// Who: `token` for the token holder, `<officer>@<node>` for a certificate.
    pub who: String,
}

impl Principal {
    /// The holder of the node's API token: a supervisor.
    pub fn token() -> Self {
        Self {
            role: Role::Supervisor,
            who: "token".into(),
        }
    }

    /// An officer authenticated by a verified client certificate.
    pub fn officer(officer: &Officer) -> Self {
        Self {
            role: officer.role,
            who: format!("{}@{}", officer.name, officer.node),
        }
    }

    /// Fails with 403 unless this principal's role may do `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if action.allowed(self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                role: self.role,
                action,
            })
        }
    }

    /// Whether this principal may read message content (payload text, entities).
    pub fn reads_content(&self) -> bool {
        Action::ReadMessage.allowed(self.role)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.who, self.role)
    }
}

/// Something a caller asks the API to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a message (`POST /v1/messages`).
    Send,
    /// List the inbox (`GET /v1/inbox`); content only with [`Action::ReadMessage`].
    ListInbox,
    /// Read a message, its payload included (`GET /v1/messages/{id}`).
    ReadMessage,
    /// Acknowledge a delivered message (`POST /v1/messages/{id}/ack`).
    Ack,
    /// Read a message's delivery trail (`GET /v1/messages/{id}/trail`).
    Trail,
    /// Read the node's status and peers.
    Status,
    /// Read log entries (`GET /v1/log`).
    ReadLog,
    /// Read the latest signed checkpoint (`GET /v1/checkpoint`).
    Checkpoint,
    /// Read every checkpoint signed, page by page (`GET /v1/checkpoints`): an auditor's
    /// record, which grows for as long as the node runs.
    CheckpointHistory,
    /// Purge message bodies under the retention policy (`POST /v1/purge`).
    Purge,
    /// Clear the node's alarms once dealt with (`POST /v1/alarms/clear`).
    ClearAlarms,
    /// Check every stored body now (`POST /v1/store/scrub`).
    Scrub,
    /// Take a copy of the whole data dir, keys to sealed content included (`GET /v1/backup`).
    Backup,
}

impl Action {
    /// The permission table: which roles may do this.
    pub fn allowed(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Send | Action::ReadMessage | Action::Ack => {
                matches!(role, Officer | Supervisor)
            }
            Action::ListInbox | Action::Trail | Action::Status | Action::Checkpoint => true,
            Action::ReadLog | Action::CheckpointHistory => matches!(role, Auditor | Supervisor),
            Action::Purge | Action::ClearAlarms | Action::Scrub | Action::Backup => {
                matches!(role, Supervisor)
            }
        }
    }

    /// Lower-case name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Action::Send => "send messages",
            Action::ListInbox => "list the inbox",
            Action::ReadMessage => "read message content",
            Action::Ack => "acknowledge messages",
            Action::Trail => "read delivery trails",
            Action::Status => "read the node status",
            Action::ReadLog => "read the event log",
            Action::Checkpoint => "read the latest checkpoint",
            Action::CheckpointHistory => "read the checkpoint history",
            Action::Purge => "purge message bodies",
            Action::ClearAlarms => "clear alarms",
            Action::Scrub => "check the store",
            Action::Backup => "back up the data dir",
        }
    }
}

/// Checks presented tokens against the node's token in constant time. `Debug` shows nothing.
pub struct TokenCheck {
    key: hmac::Key,
    tag: Vec<u8>,
}

impl fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCheck(..)")
    }
}

impl TokenCheck {
    /// A checker for `token`, under a fresh random HMAC key.
    pub fn new(token: &str) -> Result<Self, ApiStartError> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| ApiStartError::Random)?;
        let tag = hmac::sign(&key, token.as_bytes()).as_ref().to_vec();
        Ok(Self { key, tag })
    }

    /// Whether `presented` is the token.
    pub fn verify(&self, presented: &str) -> bool {
        hmac::verify(&self.key, presented.as_bytes(), &self.tag).is_ok()
    }

    /// The principal an `Authorization` header value stands for.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, ApiError> {
        let Some(value) = header else {
            return Err(ApiError::Unauthenticated(
                "no credentials: send `Authorization: Bearer <token>` with the token from the \
                 node's api.token_file, or use an officer certificate on the HTTPS listener"
                    .into(),
            ));
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        if self.verify(token.trim()) {
            Ok(Principal::token())
        } else {
            Err(ApiError::Unauthenticated(
                "the token does not match the node's api.token_file (was the file recreated?)"
                    .into(),
            ))
        }
    }
}

/// Reads the API token from `path`, creating the file (mode 0600, 32 random bytes as hex)
/// if it does not exist. Refuses a file that group or others may read or write, and one that
/// does not hold a token.
pub fn load_or_create_token(path: &Path) -> Result<Zeroizing<String>, ApiStartError> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(ApiStartError::Invalid(format!(
                    "api.token_file: {} is not a regular file",
                    path.display()
                )));
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(ApiStartError::Invalid(format!(
                    "api.token_file: {} has mode {mode:04o}, so group or others can use it; the \
                     token grants supervisor access to the officer API. Run `chmod 600 {}` (or \
                     delete the file to get a new token) and start the node again",
                    path.display(),
                    path.display()
                )));
            }
            read_token(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_token(path),
        Err(source) => Err(ApiStartError::Io {
            what: format!("api.token_file: cannot read {}", path.display()),
            source,
        }),
    }
}

fn read_token(path: &Path) -> Result<Zeroizing<String>, ApiStartError> {
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| ApiStartError::Io {
                what: format!("api.token_file: cannot read {}", path.display()),
                source,
            })?,
        );
    let token = text.trim();
    if token.len() < 2 * TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiStartError::Invalid(format!(
            "api.token_file: {} does not hold an API token (at least {} hex digits); delete it \
             and the node will create a new one",
            path.display(),
            2 * TOKEN_BYTES
        )));
    }
    Ok(Zeroizing::new(token.to_owned()))
}

fn create_token(path: &Path) -> Result<Zeroizing<String>, ApiStartError> {
    let io = |what: String| move |source| ApiStartError::Io { what, source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!(
            "api.token_file: cannot create {}",
            dir.display()
        )))?;
    }
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| ApiStartError::Random)?;
    let token = Zeroizing::new(liaison_protocol::ids::hex(&bytes[..]));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_token(path),
        Err(e) => {
            return Err(io(format!(
                "api.token_file: cannot create {}",
                path.display()
            ))(e))
        }
    };
    file.write_all(format!("{}\n", token.as_str()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(format!(
            "api.token_file: cannot write {}",
            path.display()
        )))?;
    tracing::info!(path = %path.display(), "created the officer API token file");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("api.token");
        let t1 = load_or_create_token(&path).unwrap();
        assert_eq!(t1.len(), 2 * TOKEN_BYTES);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let t2 = load_or_create_token(&path).unwrap();
        assert_eq!(*t1, *t2);
    }

    #[test]
    fn token_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        load_or_create_token(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_token(&path).unwrap_err().to_string();
        assert!(
            err.contains("api.token_file") && err.contains("chmod 600"),
            "{err}"
        );
    }

    #[test]
    fn token_file_without_a_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        std::fs::write(&path, "secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load_or_create_token(&path).unwrap_err().to_string();
        assert!(err.contains("does not hold an API token"), "{err}");
    }

    #[test]
    fn bearer_token_is_checked() {
        let check = TokenCheck::new("ab12").unwrap();
        assert_eq!(
            check.authenticate(Some("Bearer ab12")).unwrap(),
            Principal::token()
        );
        for bad in [
            None,
            Some("Bearer ab13"),
            Some("Basic ab12"),
            Some("Bearer "),
        ] {
            let err = check.authenticate(bad).unwrap_err();
            assert_eq!(err.reason_code(), "unauthenticated");
        }
        assert!(!format!("{check:?}").contains("ab12"));
    }

    #[test]
    fn auditors_never_send_or_read_content() {
        for a in [Action::Send, Action::ReadMessage, Action::Ack] {
            assert!(!a.allowed(Role::Auditor));
            assert!(a.allowed(Role::Officer) && a.allowed(Role::Supervisor));
        }
        assert!(Action::ReadLog.allowed(Role::Auditor));
        assert!(!Action::ReadLog.allowed(Role::Officer));
        for role in [Role::Officer, Role::Supervisor, Role::Auditor] {
            assert!(Action::Checkpoint.allowed(role));
        }
        assert!(Action::CheckpointHistory.allowed(Role::Auditor));
        assert!(Action::CheckpointHistory.allowed(Role::Supervisor));
        assert!(!Action::CheckpointHistory.allowed(Role::Officer));
        let auditor = Principal {
            role: Role::Auditor,
            who: "x@caricc.central-asia".into(),
        };
        assert_eq!(
            auditor.require(Action::Send).unwrap_err().reason_code(),
            "forbidden-role"
        );
    }
}
