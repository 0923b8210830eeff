//! The channel index: the signed document that says which releases exist, and for each
//! os/arch which artifact, how big, with which sha256. Everything fleetup installs is named
//! here and nowhere else, so product, version, os and arch are always covered by the signature.

use serde::{Deserialize, Serialize};

/// A channel index, as published at `<source>/<channel>.json`. Unknown fields are ignored so
/// that newer publishers can add some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelIndex {
    pub product: String,
    pub channel: String,
    /// RFC 3339; an index past it is refused.
    pub expires: String,
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
