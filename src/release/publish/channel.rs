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

use super::args::{check_name, parse_artifact, parse_expires, parse_version};
use super::fsutil::{Staged, sync_dir};
use super::keys::{SigningKey, read_capped, signature_path};
use super::{PublishError, Result, file_error, io_error};
use crate::release::trust::MAX_SIGNATURE_BYTES;
use crate::release::{Artifact, ChannelIndex, Release};

/// Largest index written: what a fetcher is expected to accept (issue #3 caps the index at
/// 1 MiB). Past this, old releases should be pruned.
pub const MAX_INDEX_BYTES: usize = 1024 * 1024;

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
            published: String::new(),
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
        // A fetcher refuses an index older than one it already accepted from the same URL.
        index.published = self.now.to_string();

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
    let (_, hex, size) = crate::release::cache::hash_file_blocking(path).map_err(io_error(path))?;
    Ok((size, hex))
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
