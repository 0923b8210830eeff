//! The content-addressed download cache: `<dir>/sha256/<hex>` holds only files whose size and
//! sha256 were verified; downloads grow in `<dir>/partial/` (same filesystem, so the final
//! `rename` is atomic) and move in only once they verify.
//!
//! Several fleetup processes may share one cache. Nothing is ever written under a shared
//! name: a download claims the resumable `partial/<hex>.part` by renaming it to a name of its
//! own (`partial/<hex>.<pid>.<n>.tmp`) — `rename` is atomic, so exactly one process gets it and
//! any other starts afresh under its own name — and gives it back as `<hex>.part` when it stops
//! early. A verified file is renamed over `sha256/<hex>`, which at worst replaces a file with
//! identical content.
//!
//! A cache hit is re-verified before use: its size, then its full sha256 (one sequential read,
//! small next to pushing it to hosts). A file that no longer matches is deleted and downloaded
//! again, so a damaged cache heals itself instead of feeding hosts a bad binary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::index::is_sha256_hex;
use super::{Artifact, ReleaseError, Result};

/// The download cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache of this run: `cache_dir` of the configuration ([`crate::config`]:
    /// `FLEETUP_CACHE_DIR` or the file) when it is set, else `$XDG_CACHE_HOME/fleetup` when
    /// that is an absolute path (the XDG spec ignores relative ones), else
    /// `$HOME/.cache/fleetup`.
    pub fn from_env() -> Result<Self> {
        if let Some(dir) = crate::config::installed().and_then(|c| c.cache_dir.value.clone()) {
            return Ok(Self::new(dir));
        }
        Self::default_dir(
            std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )
        .map(Self::new)
    }

    /// [`Cache::from_env`]'s rule, on given values.
    pub fn default_dir(xdg_cache_home: Option<PathBuf>, home: Option<PathBuf>) -> Result<PathBuf> {
        if let Some(x) = xdg_cache_home.filter(|p| p.is_absolute()) {
            return Ok(x.join("fleetup"));
        }
        match home.filter(|p| p.is_absolute()) {
            Some(h) => Ok(h.join(".cache").join("fleetup")),
            None => Err(ReleaseError::Io {
                what: "download cache".into(),
                source: std::io::Error::other(
                    "neither XDG_CACHE_HOME nor HOME is set to an absolute path",
                ),
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a verified artifact with this sha256 lives (whether or not it is there yet).
    pub fn artifact_path(&self, sha256: &str) -> Result<PathBuf> {
        check_hex(sha256)?;
        Ok(self.dir.join("sha256").join(sha256))
    }

    /// The cached file for `artifact` if there is one and it still has the announced size and
    /// sha256. A file that does not is removed (and `None` returned) so it is downloaded again.
    pub async fn lookup(&self, artifact: &Artifact) -> Result<Option<PathBuf>> {
        let path = self.artifact_path(&artifact.sha256)?;
        let meta = match tokio::fs::symlink_metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, e)),
        };
        if !meta.is_file() || meta.len() != artifact.size {
            tracing::warn!(path = %path.display(), size = meta.len(), expected = artifact.size,
                "cached artifact has the wrong size or type; removing it");
            remove_quietly(&path).await;
            return Ok(None);
        }
        let (_, hex, _) = hash_file(&path).await?;
        if hex != artifact.sha256 {
            tracing::warn!(path = %path.display(), sha256 = %hex, expected = %artifact.sha256,
                "cached artifact no longer matches its sha256; removing it");
            remove_quietly(&path).await;
            return Ok(None);
        }
        Ok(Some(path))
    }

    /// Claims a partial download of `sha256`: the resumable `.part` left by an earlier run if
    /// there is one (re-hashed, so the final sha256 covers it), else a new empty file.
    pub(crate) async fn claim_part(&self, sha256: &str) -> Result<Part> {
        check_hex(sha256)?;
        let dir = self.dir.join("partial");
        for d in [&dir, &self.dir.join("sha256")] {
            tokio::fs::create_dir_all(d)
                .await
                .map_err(|e| io_err(d, e))?;
        }
        let part = dir.join(format!("{sha256}.part"));
        let tmp = dir.join(unique_name(sha256));
        let claimed = match tokio::fs::rename(&part, &tmp).await {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err(&part, e)),
        };
        let (hasher, len) = if claimed {
            let (hasher, _, len) = hash_file(&tmp).await?;
            (hasher, len)
        } else {
            (Sha256::new(), 0)
        };
        let file = tokio::fs::OpenOptions::new()
            .create(!claimed)
            .create_new(!claimed)
            .append(true)
            .open(&tmp)
            .await
            .map_err(|e| io_err(&tmp, e))?;
        Ok(Part {
            tmp,
            part,
            file: Some(file),
            hasher,
            len,
            keep: true,
        })
    }
}

/// A download in progress, under a name no other process uses. Dropped without
/// [`Part::commit`] or [`Part::discard`], it goes back to `<hex>.part` for a later resume.
#[derive(Debug)]
pub(crate) struct Part {
    tmp: PathBuf,
    part: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    len: u64,
    keep: bool,
}

impl Part {
    /// Bytes in the file (all of them hashed).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("open until commit");
        file.write_all(data)
            .await
            .map_err(|e| io_err(&self.tmp, e))?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    /// Starts over from an empty file (the server ignored a range request, or no resume).
    pub(crate) async fn truncate(&mut self) -> Result<()> {
        let file = self.file.as_mut().expect("open until commit");
        file.flush().await.map_err(|e| io_err(&self.tmp, e))?;
        file.set_len(0).await.map_err(|e| io_err(&self.tmp, e))?;
        self.hasher = Sha256::new();
        self.len = 0;
        Ok(())
    }

    /// Pushes buffered writes to the file (so a later resume sees them).
    pub(crate) async fn flush(&mut self) -> Result<()> {
        let file = self.file.as_mut().expect("open until commit");
        file.flush().await.map_err(|e| io_err(&self.tmp, e))
    }

    /// The sha256 of what was written so far.
    pub(crate) fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Marks the partial download for deletion when dropped (it cannot be resumed: wrong
    /// content, too large).
    pub(crate) fn discard(&mut self) {
        self.keep = false;
    }

    /// Fsyncs the file and renames it to `dest` (in the same cache), then fsyncs `dest`'s
    /// directory so the rename survives a crash.
    pub(crate) async fn commit(mut self, dest: &Path) -> Result<()> {
        let mut file = self.file.take().expect("open until commit");
        file.flush().await.map_err(|e| io_err(&self.tmp, e))?;
        file.sync_all().await.map_err(|e| io_err(&self.tmp, e))?;
        drop(file);
        tokio::fs::rename(&self.tmp, dest)
            .await
            .map_err(|e| io_err(dest, e))?;
        self.keep = false;
        self.tmp = PathBuf::new();
        if let Some(dir) = dest.parent() {
            // Best effort: not every filesystem supports fsync on a directory.
            if let Ok(d) = tokio::fs::File::open(dir).await {
                let _ = d.sync_all().await;
            }
        }
        Ok(())
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if self.tmp.as_os_str().is_empty() {
            return;
        }
        // Synchronous on purpose: Drop cannot await, and these are single metadata calls.
        if self.keep && self.len > 0 {
            let _ = std::fs::rename(&self.tmp, &self.part);
        } else {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Hashes a whole file: the hasher (to continue from), its hex and the length read.
pub(crate) fn hash_file_blocking(path: &Path) -> std::io::Result<(Sha256, String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    let hex = hex::encode(hasher.clone().finalize());
    Ok((hasher, hex, len))
}

/// [`hash_file_blocking`], off the async threads.
pub(crate) async fn hash_file(path: &Path) -> Result<(Sha256, String, u64)> {
    let p = path.to_owned();
    tokio::task::spawn_blocking(move || hash_file_blocking(&p))
        .await
        .map_err(|e| io_err(path, std::io::Error::other(e)))?
        .map_err(|e| io_err(path, e))
}

fn check_hex(sha256: &str) -> Result<()> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(ReleaseError::Artifact {
            what: format!("sha256 {sha256:?}"),
            reason: "not 64 lower-case hex digits".into(),
        })
    }
}

/// A name no other download uses: the process id plus a per-process counter.
fn unique_name(sha256: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{sha256}.{}.{n}.{nanos}.tmp", std::process::id())
}

async fn remove_quietly(path: &Path) {
    let _ = tokio::fs::remove_file(path).await;
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> ReleaseError {
    ReleaseError::Io {
        what: path.display().to_string(),
        source,
    }
}
