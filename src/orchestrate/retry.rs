//! The retry file: the hosts of a run that did not succeed, one name per line, so that
//! `--limit @FILE` runs them again (see `inventory::pattern`, which reads each trimmed,
//! non-empty line as one term).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The retry file's name when there is no inventory file to put it beside.
pub const DEFAULT_RETRY_FILE: &str = "fleetup.retry";

/// The retry file's mode.
const MODE: u32 = 0o644;

/// Where the retry file goes without `--retry-file`: beside the first inventory source, named
/// after it with `.retry` appended (`inventories/prod.ini` → `inventories/prod.ini.retry`; a
/// directory `inventories/prod/` → `inventories/prod.retry`, outside the directory). With no
/// inventory path (a comma-separated host list, or none), or one without a last component
/// (`.`, `/`), `fleetup.retry` in the current directory. A directory inventory skips files
/// ending in `.retry`, so the file is never read as inventory.
pub fn default_retry_path(first_inventory: Option<&Path>) -> PathBuf {
    let Some(source) = first_inventory else {
        return PathBuf::from(DEFAULT_RETRY_FILE);
    };
    match source.file_name() {
        Some(name) => {
            let mut name = name.to_os_string();
            name.push(".retry");
            source.with_file_name(name)
        }
        None => PathBuf::from(DEFAULT_RETRY_FILE),
    }
}

/// Writes `hosts` to the retry file at `path`, one per line, atomically (a temporary file in
/// the same directory, synced, renamed over `path`), mode 0644.
///
/// With no hosts (every host succeeded), removes a retry file left at `path` by an earlier run
/// instead, so that it is never taken for this run's failures; a missing file is fine.
///
/// A name that would not read back as that one host is refused (`InvalidInput`) and nothing
/// is written: an empty name, one with a line break or surrounding whitespace, or one starting
/// with `!` or `&` (a limit file reads those as exclusions and intersections).
pub fn write_retry_file(path: &Path, hosts: &[String]) -> io::Result<()> {
    if hosts.is_empty() {
        return remove_stale(path);
    }
    if let Some(bad) = hosts.iter().find(|h| !reads_back(h)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "host name {bad:?} cannot be written to retry file {}: a limit file would \
                 not read it back as that host",
                path.display()
            ),
        ));
    }
    let mut text = String::with_capacity(hosts.iter().map(|h| h.len() + 1).sum());
    for host in hosts {
        text.push_str(host);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// Whether `--limit @FILE` reads the line `name` as the host `name`.
fn reads_back(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && !name.contains(['\n', '\r'])
        && !name.starts_with(['!', '&'])
}

/// Removes a regular file or symlink at `path`; nothing there is fine. Anything else (a
/// directory) is not a retry file and is left alone.
fn remove_stale(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("retry file path {} does not name a file", path.display()),
        )
    })?;
    let name = name.to_string_lossy();
    let mut attempt = 0u32;
    // A hidden name: a directory inventory skips it should it be read meanwhile.
    let (temp, mut file) = loop {
        let temp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .open(&temp)
        {
            Ok(f) => break (temp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(bytes)
        // Exactly 0644 whatever the umask.
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(MODE)))
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // Makes the rename durable; best effort, the data is synced already.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, UNGROUPED, select};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|&s| s.to_owned()).collect()
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn one_host_per_line_mode_0644_no_temp_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.ini.retry");
        write_retry_file(&path, &strings(&["web2", "db1", "10.0.0.7"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "web2\ndb1\n10.0.0.7\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(files_in(dir.path()), ["prod.ini.retry"]);
    }

    #[test]
    fn replaces_an_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.retry");
        write_retry_file(&path, &strings(&["a", "b", "c", "d"])).unwrap();
        write_retry_file(&path, &strings(&["e"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "e\n");
        assert_eq!(files_in(dir.path()), ["x.retry"]);
    }

    #[test]
    fn no_failures_removes_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.retry");
        write_retry_file(&path, &strings(&["a"])).unwrap();
        write_retry_file(&path, &[]).unwrap();
        assert!(!path.exists());
        // Nothing there: still fine, and nothing created.
        write_retry_file(&path, &[]).unwrap();
        assert!(files_in(dir.path()).is_empty());
        // A directory at that path is not a retry file: left alone.
        fs::create_dir(&path).unwrap();
        write_retry_file(&path, &[]).unwrap();
        assert!(path.is_dir());
    }

    #[test]
    fn refuses_names_that_would_not_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.retry");
        for bad in ["", " web1", "web1\nweb2", "!web1", "&db"] {
            let e = write_retry_file(&path, &strings(&["ok", bad])).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("x.retry"), "{e}");
        }
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("x.retry");
        let e = write_retry_file(&path, &strings(&["a"])).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn reads_back_through_limit_at_file() {
        let mut inv = Inventory::new();
        for h in ["web1", "web2", "web10", "db1", "10.0.0.7", "web[1]"] {
            inv.add_host(h, Some(UNGROUPED));
        }
        inv.reconcile();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.retry");
        let failed = strings(&["web10", "db1", "10.0.0.7", "web[1]"]);
        write_retry_file(&path, &failed).unwrap();
        let limit = format!("@{}", path.display());
        assert_eq!(select(&inv, &limit).unwrap(), failed);
    }

    #[test]
    fn default_path_is_beside_the_first_inventory() {
        let p = |s: &str| default_retry_path(Some(Path::new(s)));
        assert_eq!(
            p("inventories/prod.ini"),
            Path::new("inventories/prod.ini.retry")
        );
        assert_eq!(p("hosts"), Path::new("hosts.retry"));
        assert_eq!(
            p("/etc/fleetup/hosts.yml"),
            Path::new("/etc/fleetup/hosts.yml.retry")
        );
        // A directory: beside it, not in it.
        assert_eq!(p("inventories/prod"), Path::new("inventories/prod.retry"));
        assert_eq!(p("inventories/prod/"), Path::new("inventories/prod.retry"));
        // No last component.
        assert_eq!(p("."), Path::new(DEFAULT_RETRY_FILE));
        assert_eq!(p("/"), Path::new(DEFAULT_RETRY_FILE));
        assert_eq!(default_retry_path(None), Path::new("fleetup.retry"));
    }
}
