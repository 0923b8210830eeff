//! Files written so that a reader sees the old content or the new, never half of one: a
//! temporary file in the same directory, synced, then renamed over the target.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Result, io_error};

/// A synced temporary file beside its target, removed unless committed.
#[derive(Debug)]
pub(super) struct Staged {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staged {
    /// Creates the temporary file for `target` (mode `mode`) and lets `fill` write it.
    pub(super) fn with<F>(target: &Path, mode: u32, fill: F) -> Result<Self>
    where
        F: FnOnce(&mut File) -> std::io::Result<()>,
    {
        let dir = parent_dir(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut attempt = 0u32;
        let (temp, mut file) = loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let temp = dir.join(format!(
                ".{name}.{}.{nanos}.{attempt}.tmp",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&temp)
            {
                Ok(f) => break (temp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                // Name the file the operator asked for, not the temporary one.
                Err(e) => return Err(io_error(target)(e)),
            }
        };
        let staged = Self {
            temp,
            target: target.to_owned(),
            committed: false,
        };
        fill(&mut file)
            .and_then(|()| file.flush())
            .and_then(|()| file.sync_all())
            .map_err(io_error(&staged.temp))?;
        Ok(staged)
    }

    /// Writes `bytes` to a temporary file for `target`.
    pub(super) fn bytes(target: &Path, mode: u32, bytes: &[u8]) -> Result<Self> {
        Self::with(target, mode, |f| f.write_all(bytes))
    }

    /// Renames the temporary file over the target.
    pub(super) fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.temp, &self.target).map_err(io_error(&self.target))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub(super) fn write_atomic(target: &Path, mode: u32, bytes: &[u8]) -> Result<()> {
    Staged::bytes(target, mode, bytes)?.commit()?;
    sync_dir(target);
    Ok(())
}

/// The directory a path is in (`.` for a bare file name).
pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes renames in `path`'s directory durable. Best effort: some file systems refuse to
/// sync a directory, and the data itself is already synced.
pub(super) fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
}
