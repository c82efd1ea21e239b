//! Files the node writes and the secrets it reads: one place that decides their modes and
//! how they are made durable.
//!
//! Everything under the data dir is private to the node's user: directories are created
//! 0700 and files 0600, whatever the process's umask, because the log names parties and
//! handling codes and the directory holds the sealing secret. A durable write is always:
//! write a temporary file beside the target, fsync it, rename it over the target, fsync
//! the directory — so a crash leaves the old file or the new one, never a torn mix.
//!
//! Secrets (node keys, the API token, the deconfliction key, the sealing secret) are refused
//! when group or others may read or write them ([`check_private`]): a key that other
//! accounts on the host can read is no longer a key.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory the node creates under its data dir.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the node creates.
pub const FILE_MODE: u32 = 0o600;

/// A file or directory that could not be made, written or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A secret that group or others may read or write.
    #[error(
        "{what} {path} has mode {mode:04o}, so other accounts on this host can read it; run \
         `chmod 600 {path}` and start the node again"
    )]
    NotPrivate {
        /// What the file is (configuration key or role).
        what: String,
        /// The path.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
}

impl FileError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Io { source, .. } if is_disk_full(source) => "disk-full",
            Self::Io { .. } => "io-error",
            Self::NotPrivate { .. } => "secret-not-private",
        }
    }

    /// The underlying I/O error, if any.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::NotPrivate { .. } => None,
        }
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates `dir` (and missing parents) with mode 0700; an existing directory that group or
/// others may enter is narrowed to 0700.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io(dir))?;
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::info!(dir = %dir.display(), "narrowing the directory's mode to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
            .map_err(io(dir))?;
    }
    Ok(())
}

/// Narrows an existing file the node wrote earlier to 0600 (a data dir made by an older
/// build, or under a permissive umask).
pub fn narrow_file(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
                .map_err(io(path))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Opens (creating it 0600 if absent) a file for reading and writing, without truncating.
pub fn open_private(path: &Path) -> Result<File, FileError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io(path))?;
    narrow_file(path)?;
    Ok(file)
}

/// Opens (creating it 0600 if absent) a file for appending.
pub fn open_append(path: &Path) -> Result<File, FileError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io(path))
}

/// Fsyncs a directory, so the names created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes `bytes` to `path` durably, mode 0600: temporary file, fsync, rename over `path`,
/// fsync the directory. The directory is created (0700) if missing.
pub fn write_durably(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(bytes.as_ref()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    narrow_file(&tmp)?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

/// Writes a new file durably, mode 0600, failing if it exists (for files that must never be
/// replaced, such as evidence).
pub fn create_durably(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes.as_ref()).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    sync_dir(dir)
}

/// Refuses a secret (`what` names it, e.g. `identity.key`) that group or others may read or
/// write. A missing file is left to the code that reads it.
pub fn check_private(what: &str, path: &Path) -> Result<(), FileError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path)(e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::NotPrivate {
            what: what.to_owned(),
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_dirs_are_private_whatever_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let f = data.join("sub").join("x");
        write_durably(&f, b"one").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&data.join("sub")), 0o700);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_durably(&f, b"two").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        let g = data.join("g");
        std::fs::write(&g, b"").unwrap();
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o664)).unwrap();
        drop(open_private(&g).unwrap());
        assert_eq!(mode(&g), 0o600);
        assert!(create_durably(&g, b"again").is_err());
    }

    #[test]
    fn a_secret_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("node.key");
        std::fs::write(&key, b"k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_private("identity.key", &key).unwrap_err();
        assert_eq!(e.reason_code(), "secret-not-private");
        let text = e.to_string();
        assert!(
            text.contains("identity.key") && text.contains("chmod 600"),
            "{text}"
        );
        assert!(text.contains("0644"), "{text}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_private("identity.key", &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        check_private("identity.key", &key).unwrap();
    }
}
