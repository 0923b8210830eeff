//! Releases and trust: what to install and why it may be trusted.
//!
//! A release source holds one signed index per channel (`<source>/<channel>.json` and its
//! minisign signature `.minisig`). fleetup verifies the index against the operator's trusted
//! keys before reading a byte of it, picks a release from it, and downloads each needed
//! artifact once into a content-addressed cache, checking size and sha256 while streaming.
//! There is no unsigned path.

pub mod cache;
pub mod cells;
pub mod elf;
pub mod fetch;
pub mod history;
pub mod index;
pub mod publish;
pub mod settings;
pub mod source;
pub mod trust;

pub use index::{Artifact, ChannelIndex, Release};
pub use trust::{TrustedKeys, Verified};

/// Why a release could not be found, fetched or trusted. Every variant names what it was
/// about (source, file, key) so the operator knows where to look.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "no trusted key configured: set fleetup_public_keys (a list of minisign public keys `RW…` or .pub files) or pass --public-key"
    )]
    NoTrustedKey,
    #[error("trusted key {entry:?}: {reason}")]
    BadKey { entry: String, reason: String },
    #[error("{what}: signature is not valid: {reason}")]
    BadSignature { what: String, reason: String },
    #[error("{what}: signed by key {key_id}, which is not trusted (trusted: {trusted})")]
    UntrustedKey {
        what: String,
        key_id: String,
        trusted: String,
    },
    #[error("{what}: {reason}")]
    BadIndex { what: String, reason: String },
    #[error("{what}: expired at {expires} (now {now}); the publisher must re-sign the channel")]
    Expired {
        what: String,
        expires: String,
        now: String,
    },
    #[error(
        "{url}: {reason}: replayed or stale mirror; refused (if the channel was rolled back on purpose, remove {state} to accept it)"
    )]
    Replayed {
        url: String,
        reason: String,
        /// The directory that remembers the URL's newest accepted index.
        state: String,
    },
    #[error("{what}: {reason}")]
    Fetch { what: String, reason: String },
    #[error("{what}: {reason}")]
    Artifact { what: String, reason: String },
    #[error("release source {url:?}: {reason}")]
    BadSource { url: String, reason: String },
    #[error("{0}")]
    Selection(String),
    #[error("{product} has no version {version} on channel {channel:?} (nearest: {nearest})")]
    VersionNotFound {
        product: String,
        channel: String,
        version: String,
        nearest: String,
    },
    #[error("release {version} has no artifact for {os}/{arch} (it has: {available})")]
    NoArtifact {
        version: String,
        os: String,
        arch: String,
        available: String,
    },
    #[error(
        "{target} is older than the {current} the host runs; pass --allow-downgrade to install it anyway"
    )]
    Downgrade { current: String, target: String },
    #[error(
        "the host reports version {current:?}, which is not semver, so {target} may be a downgrade; pass --allow-downgrade to install it anyway"
    )]
    UnknownHostVersion { current: String, target: String },
    #[error(
        "{url}: expected {expected_size} bytes with sha256 {expected_sha256}, got {actual_size} bytes with sha256 {actual_sha256}; nothing was cached"
    )]
    Mismatch {
        url: String,
        expected_size: u64,
        expected_sha256: String,
        actual_size: u64,
        actual_sha256: String,
    },
    #[error(transparent)]
    Cells(#[from] cells::CellsError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;
