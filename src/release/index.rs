//! The channel index: the signed document that says which releases exist, and for each
//! os/arch which artifact, how big, with which sha256. Everything fleetup installs is named
//! here and nowhere else, so product, version, os and arch are always covered by the signature.

use std::cmp::Ordering;

use jiff::Timestamp;
use semver::Version;
use serde::{Deserialize, Serialize};

use super::{ReleaseError, Result};

/// A channel index, as published at `<source>/<channel>.json`. Unknown fields are ignored so
/// that newer publishers can add some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelIndex {
    pub product: String,
    pub channel: String,
    /// RFC 3339; an index past it is refused.
    pub expires: String,
    /// RFC 3339: when this index was published (`fleetup release publish` writes it). Optional
    /// (indexes from before it existed have none); an index older than one already accepted
    /// from the same URL is refused (see [`super::history`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published: String,
    pub releases: Vec<Release>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Semver (`2.0.0`, `2.1.0-rc.1`).
    pub version: String,
    /// RFC 3339 release date.
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub notes: String,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Go's GOOS name: `linux`, `darwin`, `freebsd`, …
    pub os: String,
    /// Go's GOARCH name: `amd64`, `arm64`, `386`, `arm`, …
    pub arch: String,
    /// Relative to the index's URL, or absolute.
    pub url: String,
    /// Exact size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the artifact.
    pub sha256: String,
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Largest index accepted (the bytes, before parsing). A real one is a few KiB.
pub const MAX_INDEX_BYTES: usize = 1024 * 1024;
/// Largest artifact an index may announce: a bigger `size` is taken as a mistake or an attack.
pub const MAX_ARTIFACT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Longest artifact URL accepted.
const MAX_URL_CHARS: usize = 4096;
/// Longest product, channel, os or arch name accepted.
const MAX_NAME_CHARS: usize = 128;

/// A product, channel, os or arch name: `[A-Za-z0-9._-]+`, not `.`/`..`-only, at most 128
/// characters. Such a name is safe in a file name, a URL path segment and a terminal.
pub fn is_sane_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.contains("..")
        && name != "."
}

/// Parses a version an operator typed (`--version`) or a host reported: surrounding
/// whitespace and one leading `v` are accepted (`v2.0.0` is how many tools print it).
/// Versions *inside an index* must be plain semver (see [`ChannelIndex::parse`]).
pub fn parse_user_version(text: &str) -> Option<Version> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    Version::parse(t).ok()
}

/// True for 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ChannelIndex {
    /// Parses and validates the bytes of an index whose signature was already verified.
    ///
    /// `what` names the index in errors (its URL); `channel` is the channel that was asked
    /// for: the document must name the same one, so a mirror cannot serve a signed `dev`
    /// index as `stable`. Refused: more than [`MAX_INDEX_BYTES`], not JSON, an empty or odd
    /// product/channel/os/arch name, an `expires` that is not RFC 3339 or not after `now`, a
    /// `published` that is not RFC 3339,
    /// a version that is not semver (a leading `v` is refused here: the index is a machine
    /// format), two releases of the same version (build metadata ignored, as semver
    /// precedence does), a release without artifacts, two artifacts for one os/arch,
    /// a sha256 that is not 64 lower-case hex digits, a size of 0 or above
    /// [`MAX_ARTIFACT_BYTES`], a URL that is empty or holds control characters.
    /// Unknown fields are ignored. The releases come back sorted newest first.
    pub fn parse(what: &str, channel: &str, bytes: &[u8], now: Timestamp) -> Result<Self> {
        let bad = |reason: String| ReleaseError::BadIndex {
            what: what.to_owned(),
            reason,
        };
        if bytes.len() > MAX_INDEX_BYTES {
            return Err(bad(format!(
                "index is {} bytes, more than the {MAX_INDEX_BYTES} accepted",
                bytes.len()
            )));
        }
        let mut index: ChannelIndex =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a channel index: {e}")))?;
        index.validate(what, channel, now)?;
        index.sort_newest_first();
        Ok(index)
    }

    /// The checks of [`ChannelIndex::parse`] on an index already in memory.
    pub fn validate(&self, what: &str, channel: &str, now: Timestamp) -> Result<()> {
        let bad = |reason: String| ReleaseError::BadIndex {
            what: what.to_owned(),
            reason,
        };
        if !is_sane_name(&self.product) {
            return Err(bad(format!(
                "product {:?} is not a name ([A-Za-z0-9._-], 1 to {MAX_NAME_CHARS} characters)",
                self.product
            )));
        }
        if !is_sane_name(&self.channel) {
            return Err(bad(format!(
                "channel {:?} is not a name ([A-Za-z0-9._-], 1 to {MAX_NAME_CHARS} characters)",
                self.channel
            )));
        }
        if self.channel != channel {
            return Err(bad(format!(
                "the index is for channel {:?}, but channel {channel:?} was asked for (a mirror serving the wrong channel?)",
                self.channel
            )));
        }
        let expires: Timestamp = self.expires.parse().map_err(|e| {
            bad(format!(
                "expires {:?} is not an RFC 3339 time: {e}",
                self.expires
            ))
        })?;
        if expires <= now {
            return Err(ReleaseError::Expired {
                what: what.to_owned(),
                expires: expires.to_string(),
                now: now.to_string(),
            });
        }
        if !self.published.is_empty() {
            self.published.parse::<Timestamp>().map_err(|e| {
                bad(format!(
                    "published {:?} is not an RFC 3339 time: {e}",
                    self.published
                ))
            })?;
        }
        let mut seen: Vec<Version> = Vec::with_capacity(self.releases.len());
        for release in &self.releases {
            let version = Version::parse(&release.version).map_err(|e| {
                bad(format!(
                    "release version {:?} is not semver (like 2.0.0 or 2.1.0-rc.1): {e}",
                    release.version
                ))
            })?;
            if let Some(other) = seen
                .iter()
                .find(|v| v.cmp_precedence(&version) == Ordering::Equal)
            {
                return Err(bad(format!(
                    "version {} is listed twice (as {other} and {version})",
                    release.version
                )));
            }
            seen.push(version);
            release.validate(&bad)?;
        }
        Ok(())
    }

    /// The `published` time, when there is one (a validated index has a well-formed one).
    pub fn published_at(&self) -> Option<Timestamp> {
        self.published.parse().ok()
    }

    /// Sorts the releases newest first (semver precedence), as `fleetup releases` lists them.
    /// Releases whose version does not parse (only possible before validation) go last.
    pub fn sort_newest_first(&mut self) {
        self.releases
            .sort_by(|a, b| cmp_versions(b.semver().ok(), a.semver().ok()));
    }

    /// The release to install: `version` exactly when given (a leading `v` is accepted, build
    /// metadata is ignored; a pre-release may be named even without `include_pre`), else the
    /// newest by semver, skipping pre-releases unless `include_pre`.
    pub fn select(&self, version: Option<&str>, include_pre: bool) -> Result<&Release> {
        let versions: Vec<(Version, &Release)> = self
            .releases
            .iter()
            .filter_map(|r| Some((r.semver().ok()?, r)))
            .collect();
        if let Some(wanted_text) = version {
            let wanted = parse_user_version(wanted_text).ok_or_else(|| {
                ReleaseError::Selection(format!(
                    "--version {wanted_text:?} is not a semver version (like 2.0.0 or 2.1.0-rc.1)"
                ))
            })?;
            if let Some((_, r)) = versions
                .iter()
                .find(|(v, _)| v.cmp_precedence(&wanted) == Ordering::Equal)
            {
                return Ok(r);
            }
            return Err(ReleaseError::VersionNotFound {
                product: self.product.clone(),
                channel: self.channel.clone(),
                version: wanted_text.to_owned(),
                nearest: nearest_versions(&versions, &wanted),
            });
        }
        let newest = versions
            .iter()
            .filter(|(v, _)| include_pre || v.pre.is_empty())
            .max_by(|(a, _), (b, _)| a.cmp_precedence(b));
        match newest {
            Some((_, r)) => Ok(r),
            None if versions.is_empty() => Err(ReleaseError::Selection(format!(
                "channel {:?} of {} has no release",
                self.channel, self.product
            ))),
            None => Err(ReleaseError::Selection(format!(
                "channel {:?} of {} has only pre-releases ({}); ask for pre-releases or name a --version",
                self.channel,
                self.product,
                self.releases
                    .iter()
                    .map(|r| r.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Up to two versions on each side of `wanted`, for "not found" messages.
fn nearest_versions(versions: &[(Version, &Release)], wanted: &Version) -> String {
    let mut sorted: Vec<&Version> = versions.iter().map(|(v, _)| v).collect();
    sorted.sort_by(|a, b| a.cmp_precedence(b));
    if sorted.is_empty() {
        return "none".to_owned();
    }
    let pos = sorted.partition_point(|v| v.cmp_precedence(wanted) == Ordering::Less);
    let from = pos.saturating_sub(2);
    let to = (pos + 2).min(sorted.len());
    sorted[from..to]
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn cmp_versions(a: Option<Version>, b: Option<Version>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp_precedence(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

impl Release {
    /// The release's version, parsed (always succeeds on a validated index).
    pub fn semver(&self) -> Result<Version> {
        Version::parse(&self.version).map_err(|e| {
            ReleaseError::Selection(format!(
                "release version {:?} is not semver: {e}",
                self.version
            ))
        })
    }

    /// The artifact for a host's os/arch (Go's names), or an error naming what exists.
    pub fn artifact(&self, os: &str, arch: &str) -> Result<&Artifact> {
        self.artifacts
            .iter()
            .find(|a| a.os == os && a.arch == arch)
            .ok_or_else(|| ReleaseError::NoArtifact {
                version: self.version.clone(),
                os: os.to_owned(),
                arch: arch.to_owned(),
                available: if self.artifacts.is_empty() {
                    "none".to_owned()
                } else {
                    self.artifacts
                        .iter()
                        .map(|a| format!("{}/{}", a.os, a.arch))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    fn validate(&self, bad: &dyn Fn(String) -> ReleaseError) -> Result<()> {
        let v = &self.version;
        if !self.date.is_empty() {
            self.date.parse::<Timestamp>().map_err(|e| {
                bad(format!(
                    "release {v}: date {:?} is not an RFC 3339 time: {e}",
                    self.date
                ))
            })?;
        }
        if self.artifacts.is_empty() {
            return Err(bad(format!("release {v} has no artifact")));
        }
        for (i, a) in self.artifacts.iter().enumerate() {
            for (field, value) in [("os", &a.os), ("arch", &a.arch)] {
                if !is_sane_name(value) {
                    return Err(bad(format!(
                        "release {v}: artifact {field} {value:?} is not a name ([A-Za-z0-9._-])"
                    )));
                }
            }
            let which = format!("release {v}, artifact {}/{}", a.os, a.arch);
            if self.artifacts[..i]
                .iter()
                .any(|b| b.os == a.os && b.arch == a.arch)
            {
                return Err(bad(format!("{which} is listed twice")));
            }
            if !is_sha256_hex(&a.sha256) {
                return Err(bad(format!(
                    "{which}: sha256 {:?} is not 64 lower-case hex digits",
                    a.sha256
                )));
            }
            if a.size == 0 || a.size > MAX_ARTIFACT_BYTES {
                return Err(bad(format!(
                    "{which}: size {} is not between 1 and {MAX_ARTIFACT_BYTES} bytes",
                    a.size
                )));
            }
            if a.url.is_empty() || a.url.len() > MAX_URL_CHARS {
                return Err(bad(format!(
                    "{which}: url is empty or longer than {MAX_URL_CHARS} characters"
                )));
            }
            if a.url.chars().any(char::is_control) {
                return Err(bad(format!(
                    "{which}: url {:?} holds a control character (NUL, newline, …)",
                    a.url
                )));
            }
        }
        Ok(())
    }
}

/// What installing a target version means for a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The target is newer than what the host runs.
    Upgrade,
    /// Same version (build metadata ignored): nothing to install if the sha256 matches too.
    Same,
    /// The target is older; only returned when downgrades are allowed.
    Downgrade,
    /// The host's version is not semver, so nothing can be said; only returned when
    /// downgrades are allowed (otherwise it is an error, as it could be a downgrade).
    Unknown,
}

/// Compares what a host runs (`current`, as its version command printed it: whitespace and a
/// leading `v` accepted) with the `target` release version.
///
/// A downgrade is refused unless `allow_downgrade`. A `current` that is not semver is refused
/// too (it might be newer), unless `allow_downgrade`, which then yields [`Change::Unknown`].
pub fn compare_for_host(current: &str, target: &str, allow_downgrade: bool) -> Result<Change> {
    let target_v = parse_user_version(target).ok_or_else(|| {
        ReleaseError::Selection(format!("target version {target:?} is not semver"))
    })?;
    let Some(current_v) = parse_user_version(current) else {
        return if allow_downgrade {
            Ok(Change::Unknown)
        } else {
            Err(ReleaseError::UnknownHostVersion {
                current: current.trim().to_owned(),
                target: target_v.to_string(),
            })
        };
    };
    match target_v.cmp_precedence(&current_v) {
        Ordering::Greater => Ok(Change::Upgrade),
        Ordering::Equal => Ok(Change::Same),
        Ordering::Less if allow_downgrade => Ok(Change::Downgrade),
        Ordering::Less => Err(ReleaseError::Downgrade {
            current: current_v.to_string(),
            target: target_v.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
