//! Recording a host key (accept-new): one appended line.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use russh::keys::PublicKey;

use super::lookup_name;

/// Characters that would turn a host name into something else in a known_hosts line.
fn check_recordable_host(host: &str) -> io::Result<()> {
    let bad = host.is_empty()
        || host.starts_with(['!', '@', '|', '#'])
        || host.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ',' | '*' | '?' | '[' | ']')
        });
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to record host key for {host:?}: not a plain host name"),
        ));
    }
    Ok(())
}

/// The line [`append`] writes: `host` or `[host]:port` (lowercased, as `ssh` writes it), the
/// key type and the base64 key, no comment, newline-terminated.
pub fn entry_line(host: &str, port: u16, key: &PublicKey) -> io::Result<String> {
    check_recordable_host(host)?;
    let bare = PublicKey::new(key.key_data().clone(), "");
    let key_text = bare
        .to_openssh()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(format!(
        "{} {}\n",
        lookup_name(host, port),
        key_text.trim_end()
    ))
}

/// Records a host key (accept-new): appends one line to `file`, creating the file (mode 0600)
/// and its missing directories (mode 0700) when needed. Never rewrites existing lines: the
/// file is opened with `O_APPEND` and the line written with a single `write`. When the file
/// does not end with a newline, one is written first (in the same write) so the last line stays
/// intact.
pub fn append(file: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    let line = entry_line(host, port, key)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)?;
    let mut buf = Vec::with_capacity(line.len() + 1);
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            buf.push(b'\n');
        }
    }
    buf.extend_from_slice(line.as_bytes());
    let written = f.write(&buf)?;
    if written != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "short write to {}: {written} of {} bytes",
                file.display(),
                buf.len()
            ),
        ));
    }
    f.sync_data()
}
