//! `fleetup release publish`: add a release to a channel index, copy its artifacts beside it,
//! and sign the index, in one command.
//!
//! Planning ([`plan_publish`]) checks every argument before the secret key's password is asked
//! for; executing ([`PublishPlan::execute`]) reads and verifies the existing index, copies the
//! artifacts, and writes the new index and its signature.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fsutil::{Staged, sync_dir};
use super::keys::{SigningKey, read_capped, signature_path};
use super::{PublishError, Result, file_error, io_error};
use crate::release::trust::MAX_SIGNATURE_BYTES;
use crate::release::{Artifact, ChannelIndex, Release};

/// Largest index written: what a fetcher is expected to accept (issue #3 caps the index at
/// 1 MiB). Past this, old releases should be pruned.
pub const MAX_INDEX_BYTES: usize = 1024 * 1024;

/// The os/arch pairs Go builds for (`go tool dist list`, Go 1.23), Cells' naming.
pub const GO_PLATFORMS: &[&str] = &[
    "aix/ppc64",
    "android/386",
    "android/amd64",
    "android/arm",
    "android/arm64",
    "darwin/amd64",
    "darwin/arm64",
    "dragonfly/amd64",
    "freebsd/386",
    "freebsd/amd64",
    "freebsd/arm",
    "freebsd/arm64",
    "freebsd/riscv64",
    "illumos/amd64",
    "ios/amd64",
    "ios/arm64",
    "js/wasm",
    "linux/386",
    "linux/amd64",
    "linux/arm",
    "linux/arm64",
    "linux/loong64",
    "linux/mips",
    "linux/mips64",
    "linux/mips64le",
    "linux/mipsle",
    "linux/ppc64",
    "linux/ppc64le",
    "linux/riscv64",
    "linux/s390x",
    "netbsd/386",
    "netbsd/amd64",
    "netbsd/arm",
    "netbsd/arm64",
    "openbsd/386",
    "openbsd/amd64",
    "openbsd/arm",
    "openbsd/arm64",
    "openbsd/ppc64",
    "openbsd/riscv64",
    "plan9/386",
    "plan9/amd64",
    "plan9/arm",
    "solaris/amd64",
    "wasip1/wasm",
    "windows/386",
    "windows/amd64",
    "windows/arm",
    "windows/arm64",
];

/// Names people write for Go's os and arch names.
const ALIASES: &[(&str, &str)] = &[
    ("x86_64", "amd64"),
    ("x64", "amd64"),
    ("aarch64", "arm64"),
    ("armv7", "arm"),
    ("armv7l", "arm"),
    ("armhf", "arm"),
    ("i386", "386"),
    ("i686", "386"),
    ("x86", "386"),
    ("macos", "darwin"),
    ("osx", "darwin"),
    ("macosx", "darwin"),
    ("win", "windows"),
    ("win32", "windows"),
    ("win64", "windows"),
];

/// The arguments of `fleetup release publish`.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    pub dir: &'a Path,
    pub channel: &'a str,
    pub product: &'a str,
    pub version: &'a str,
    pub label: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// `90d`, `12h`, … or an RFC 3339 time.
    pub expires: &'a str,
    pub replace: bool,
    /// `OS/ARCH=FILE`.
    pub artifacts: &'a [String],
}

/// A publish whose arguments were all checked.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    dir: PathBuf,
    channel: String,
    product: String,
    version: String,
    semver: semver::Version,
    label: String,
    notes: String,
    now: jiff::Timestamp,
    expires: jiff::Timestamp,
    replace: bool,
    /// (os, arch, source file), sorted by os then arch.
    artifacts: Vec<(String, String, PathBuf)>,
}

/// One artifact as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedArtifact {
    pub os: String,
    pub arch: String,
    /// Where it was copied.
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// The same bytes were already there.
    pub already_there: bool,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Published {
    pub product: String,
    pub channel: String,
    pub version: String,
    pub index: PathBuf,
    pub signature: PathBuf,
    /// Releases in the index now.
    pub releases: usize,
    /// The index did not exist before.
    pub created: bool,
    /// A release of the same version was replaced (`--replace`).
    pub replaced: bool,
    /// RFC 3339.
    pub expires: String,
    pub key_id: String,
    pub artifacts: Vec<PublishedArtifact>,
}

/// Checks every argument of a publish; `now` is the release date and the base of `--expires`.
pub fn plan_publish(req: &PublishRequest<'_>, now: jiff::Timestamp) -> Result<PublishPlan> {
    check_name("channel", req.channel)?;
    check_name("product", req.product)?;
    let semver = parse_version(req.version)?;
    let now = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
    let expires = parse_expires(req.expires, now)?;
    let mut artifacts = Vec::new();
    for spec in req.artifacts {
        let (os, arch, file) = parse_artifact(spec)?;
        if artifacts
            .iter()
            .any(|(o, a, _): &(String, String, PathBuf)| *o == os && *a == arch)
        {
            return Err(PublishError::Usage(format!(
                "{os}/{arch} is given twice; one artifact per os/arch"
            )));
        }
        let meta = std::fs::metadata(&file).map_err(io_error(&file))?;
        if !meta.is_file() {
            return Err(file_error(&file, "not a regular file"));
        }
        if meta.len() == 0 {
            return Err(file_error(&file, "is empty; refusing to publish it"));
        }
        artifacts.push((os, arch, file));
    }
    if artifacts.is_empty() {
        return Err(PublishError::Usage(
            "no artifact given: name at least one as OS/ARCH=FILE".into(),
        ));
    }
    artifacts.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(PublishPlan {
        dir: req.dir.to_owned(),
        channel: req.channel.to_owned(),
        product: req.product.to_owned(),
        version: req.version.to_owned(),
        semver,
        label: req.label.unwrap_or_default().to_owned(),
        notes: req.notes.unwrap_or_default().to_owned(),
        now,
        expires,
        replace: req.replace,
        artifacts,
    })
}

impl PublishPlan {
    /// Where the index is (or will be).
    pub fn index_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.channel))
    }

    /// Publishes with `key`: verifies the existing index (if any) under `key`'s public half,
    /// copies the artifacts, writes and signs the new index.
    pub fn execute(&self, key: &SigningKey) -> Result<Published> {
        let index_path = self.index_path();
        let sig_path = signature_path(&index_path);
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;

        let existing = self.read_existing(key, &index_path, &sig_path)?;
        let created = existing.is_none();
        let mut index = existing.unwrap_or_else(|| ChannelIndex {
            product: self.product.clone(),
            channel: self.channel.clone(),
            expires: String::new(),
            releases: Vec::new(),
        });

        // The release this one replaces, if any.
        let mut replaced = None;
        if let Some(pos) = index.releases.iter().position(|r| {
            semver::Version::parse(&r.version)
                .is_ok_and(|v| v.cmp_precedence(&self.semver) == Ordering::Equal)
        }) {
            let old = &index.releases[pos];
            if !self.replace {
                return Err(file_error(
                    &index_path,
                    format!(
                        "version {} is already on channel {}{}; pass --replace to replace it",
                        old.version,
                        self.channel,
                        if old.date.is_empty() {
                            String::new()
                        } else {
                            format!(" (published {})", old.date)
                        }
                    ),
                ));
            }
            replaced = Some(index.releases.remove(pos));
        }

        // Artifacts first, so that a reader of the new index finds them.
        let mut published = Vec::new();
        for (os, arch, source) in &self.artifacts {
            let name = format!("{}-{}-{os}-{arch}", self.product, self.version);
            let dest = self.dir.join(&name);
            // With --replace, a file the replaced release names may be overwritten.
            let may_overwrite = replaced
                .as_ref()
                .is_some_and(|r: &Release| r.artifacts.iter().any(|a| a.url == name));
            let (size, sha256, already_there) = copy_artifact(source, &dest, may_overwrite)?;
            published.push(PublishedArtifact {
                os: os.clone(),
                arch: arch.clone(),
                path: dest,
                size,
                sha256,
                already_there,
            });
        }

        index.releases.push(Release {
            version: self.version.clone(),
            date: self.now.to_string(),
            label: self.label.clone(),
            notes: self.notes.clone(),
            artifacts: published
                .iter()
                .map(|a| Artifact {
                    os: a.os.clone(),
                    arch: a.arch.clone(),
                    url: format!("{}-{}-{}-{}", self.product, self.version, a.os, a.arch),
                    size: a.size,
                    sha256: a.sha256.clone(),
                })
                .collect(),
        });
        // Newest first; every version parses (checked when reading the index).
        index.releases.sort_by(|a, b| {
            let va = semver::Version::parse(&a.version).ok();
            let vb = semver::Version::parse(&b.version).ok();
            vb.cmp(&va)
        });
        index.expires = self.expires.to_string();

        let mut bytes = serde_json::to_vec_pretty(&index)
            .map_err(|e| file_error(&index_path, format!("cannot serialise the index: {e}")))?;
        bytes.push(b'\n');
        if bytes.len() > MAX_INDEX_BYTES {
            return Err(file_error(
                &index_path,
                format!(
                    "the new index would be {} bytes, more than fleetup reads ({MAX_INDEX_BYTES}); remove old releases from it first",
                    bytes.len()
                ),
            ));
        }
        let file_name = format!("{}.json", self.channel);
        let trusted = format!(
            "timestamp:{}\tfile:{file_name}\tproduct:{}\tchannel:{}\thashed",
            self.now.as_second(),
            self.product,
            self.channel
        );
        let signature = key.sign(&index_path, &bytes[..], &trusted, None)?;
        // What the fleet will check, checked before anything is replaced.
        key.trusted_keys()?
            .verify(&index_path.display().to_string(), &bytes, &signature, false)?;

        // Order of the two renames: both files are complete and synced before either is
        // renamed; then the index is renamed first and the signature last. A reader fetches the
        // index and then its signature, so it can only pair them wrongly when its two fetches
        // fall inside the microseconds between the renames or straddle both; signature-first
        // would mismatch any reader whose index fetch precedes the second rename and whose
        // signature fetch follows the first. A mismatched pair never verifies, so the worst
        // case is a loud, retryable failure, never a wrong release. If fleetup dies between
        // the renames the channel holds a new index with the old signature: `publish` then
        // refuses it (it cannot tell that from tampering), and the publisher checks the index
        // and re-signs it with `fleetup release sign -s SECKEY DIR/CHANNEL.json`.
        let staged_index = Staged::bytes(&index_path, 0o644, &bytes)?;
        let staged_sig = Staged::bytes(&sig_path, 0o644, signature.as_bytes())?;
        staged_index.commit()?;
        staged_sig.commit()?;
        sync_dir(&index_path);

        Ok(Published {
            product: self.product.clone(),
            channel: self.channel.clone(),
            version: self.version.clone(),
            index: index_path,
            signature: sig_path,
            releases: index.releases.len(),
            created,
            replaced: replaced.is_some(),
            expires: index.expires,
            key_id: key.key_id(),
            artifacts: published,
        })
    }

    /// The current index, verified under `key`'s public half, or `None` when there is none.
    /// No silent re-signing: an index this key did not sign, or that was changed since, is
    /// refused.
    fn read_existing(
        &self,
        key: &SigningKey,
        index_path: &Path,
        sig_path: &Path,
    ) -> Result<Option<ChannelIndex>> {
        let bytes = match read_capped(index_path, MAX_INDEX_BYTES as u64) {
            Ok(b) => b,
            Err(PublishError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let sig = match read_capped(sig_path, MAX_SIGNATURE_BYTES as u64) {
            Ok(s) => s,
            Err(PublishError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(file_error(
                    index_path,
                    format!(
                        "exists but has no signature {}; refusing to sign an index nobody signed (check it, then sign it with `fleetup release sign`, or remove it)",
                        sig_path.display()
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        let sig = String::from_utf8(sig)
            .map_err(|_| file_error(sig_path, "not a minisign signature (not UTF-8 text)"))?;
        key.trusted_keys()?
            .verify(&index_path.display().to_string(), &bytes, &sig, false)
            .map_err(|e| {
                file_error(
                    index_path,
                    format!(
                        "the current index does not verify with the public key of {} ({e}); refusing to re-sign it. If it is yours (an interrupted publish, a key rotation), check it and sign it with `fleetup release sign`",
                        key.path().display()
                    ),
                )
            })?;
        let index = parse_index(index_path, &bytes)?;
        if index.product != self.product {
            return Err(file_error(
                index_path,
                format!(
                    "is the channel of product {:?}, not {:?}",
                    index.product, self.product
                ),
            ));
        }
        if index.channel != self.channel {
            return Err(file_error(
                index_path,
                format!(
                    "says it is channel {:?}, not {:?}",
                    index.channel, self.channel
                ),
            ));
        }
        for r in &index.releases {
            semver::Version::parse(&r.version).map_err(|e| {
                file_error(
                    index_path,
                    format!("release version {:?} is not semver: {e}", r.version),
                )
            })?;
        }
        Ok(Some(index))
    }
}

/// Parses an index, refusing one with fields this version of fleetup would drop on rewrite
/// (written by a newer publisher: rewriting it would silently lose them).
pub(super) fn parse_index(path: &Path, bytes: &[u8]) -> Result<ChannelIndex> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| file_error(path, format!("not a channel index: {e}")))?;
    let index: ChannelIndex = serde_json::from_value(value.clone())
        .map_err(|e| file_error(path, format!("not a channel index: {e}")))?;
    let again = serde_json::to_value(&index)
        .map_err(|e| file_error(path, format!("cannot serialise the index: {e}")))?;
    let mut dropped = Vec::new();
    dropped_fields(&value, &again, "", &mut dropped);
    if !dropped.is_empty() {
        return Err(file_error(
            path,
            format!(
                "has fields this fleetup does not know and would drop ({}); publish with a newer fleetup",
                dropped.join(", ")
            ),
        ));
    }
    Ok(index)
}

/// Paths of the object keys in `original` that are missing from `rewritten`.
fn dropped_fields(
    original: &serde_json::Value,
    rewritten: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (original, rewritten) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match b.get(k) {
                    Some(w) => dropped_fields(v, w, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                dropped_fields(v, w, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Copies `source` to `dest` (temp + rename), hashing the bytes copied. An existing `dest`
/// with the same bytes is kept; one with other bytes is refused unless `may_overwrite`.
/// Returns size, sha256 and whether the bytes were already there.
fn copy_artifact(source: &Path, dest: &Path, may_overwrite: bool) -> Result<(u64, String, bool)> {
    if dest.exists() {
        let (size, sha) = hash_file(source)?;
        if same_path(source, dest) {
            return Ok((size, sha, true));
        }
        let (dsize, dsha) = hash_file(dest)?;
        if dsize == size && dsha == sha {
            return Ok((size, sha, true));
        }
        if !may_overwrite {
            return Err(file_error(
                dest,
                format!(
                    "exists with other content than {}; refusing to overwrite it (publish another version, or remove the file)",
                    source.display()
                ),
            ));
        }
    }
    let mut input = BufReader::new(File::open(source).map_err(io_error(source))?);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut read_error = None;
    let staged = Staged::with(dest, 0o755, |out| {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    read_error = Some(e);
                    return Err(std::io::Error::new(kind, "read failed"));
                }
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            out.write_all(&buf[..n])?;
        }
    });
    if let Some(e) = read_error {
        return Err(io_error(source)(e));
    }
    staged?.commit()?;
    sync_dir(dest);
    let digest: [u8; 32] = hasher.finalize().into();
    Ok((size, hex::encode(digest), false))
}

/// Size and sha256 of a file.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut input = BufReader::new(File::open(path).map_err(io_error(path))?);
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut input, &mut HashWriter(&mut hasher)).map_err(io_error(path))?;
    let digest: [u8; 32] = hasher.finalize().into();
    Ok((size, hex::encode(digest)))
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Product and channel names end up in file names: letters, digits, `.`, `_`, `-`, not
/// starting with a dot or dash.
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(PublishError::Usage(format!(
            "--{what} {name:?}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)"
        )))
    }
}

pub(super) fn parse_version(version: &str) -> Result<semver::Version> {
    semver::Version::parse(version).map_err(|e| {
        let hint = match version.strip_prefix(['v', 'V']) {
            Some(rest) if semver::Version::parse(rest).is_ok() => {
                format!(" (write {rest}, without the v)")
            }
            _ => String::new(),
        };
        PublishError::Usage(format!(
            "--version {version:?} is not a semantic version like 1.2.3 or 2.0.0-rc.1: {e}{hint}"
        ))
    })
}

/// `--expires`: a duration from `now` (`90d`, `12h`, `2w`, `30m`, `3600s`) or an RFC 3339
/// time; it must be in the future. Rounded to the second.
pub(super) fn parse_expires(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp> {
    let bad = |why: &str| {
        PublishError::Usage(format!(
            "--expires {text:?}: {why}; give a duration like 90d, 12h, 2w or an RFC 3339 time like 2030-01-01T00:00:00Z"
        ))
    };
    let t = text.trim();
    let at = if let Some(unit) = t.chars().last().filter(|c| "smhdw".contains(*c)) {
        let n: i64 = t[..t.len() - 1]
            .parse()
            .map_err(|_| bad("not a duration"))?;
        let secs_per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => 7 * 86_400,
        };
        let secs = n.checked_mul(secs_per).ok_or_else(|| bad("too far away"))?;
        now.checked_add(jiff::SignedDuration::from_secs(secs))
            .map_err(|_| bad("too far away"))?
    } else {
        t.parse::<jiff::Timestamp>()
            .map_err(|_| bad("not a duration nor an RFC 3339 time"))?
    };
    if at <= now {
        return Err(bad("is not in the future"));
    }
    Ok(jiff::Timestamp::from_second(at.as_second()).unwrap_or(at))
}

/// `OS/ARCH=FILE`, with Go's os and arch names.
pub(super) fn parse_artifact(spec: &str) -> Result<(String, String, PathBuf)> {
    let usage = || {
        PublishError::Usage(format!(
            "artifact {spec:?}: expected OS/ARCH=FILE with Go's names, e.g. linux/amd64=target/release/app"
        ))
    };
    let (platform, file) = spec.split_once('=').ok_or_else(usage)?;
    let (os, arch) = platform.split_once('/').ok_or_else(usage)?;
    if file.is_empty() {
        return Err(usage());
    }
    if !GO_PLATFORMS.contains(&platform) {
        let alias = |s: &str| {
            ALIASES
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(s))
                .map_or_else(|| s.to_ascii_lowercase(), |(_, go)| (*go).to_owned())
        };
        let suggestion = format!("{}/{}", alias(os), alias(arch));
        let hint = if GO_PLATFORMS.contains(&suggestion.as_str()) {
            format!("did you mean {suggestion}?")
        } else {
            let same_os: Vec<&str> = GO_PLATFORMS
                .iter()
                .filter(|p| p.starts_with(&format!("{}/", alias(os))))
                .copied()
                .collect();
            if same_os.is_empty() {
                "e.g. linux/amd64, linux/arm64, darwin/arm64, windows/amd64".to_owned()
            } else {
                format!("known for {}: {}", alias(os), same_os.join(", "))
            }
        };
        return Err(PublishError::Usage(format!(
            "artifact {spec:?}: {platform} is not a Go os/arch pair; {hint}"
        )));
    }
    Ok((os.to_owned(), arch.to_owned(), PathBuf::from(file)))
}
