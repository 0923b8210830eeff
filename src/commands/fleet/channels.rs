//! The releases a run installs: one per channel the selected hosts follow.
//!
//! - A **channel index** (`fleetup_source` a URL or directory) is fetched and its signature
//!   verified before any host is contacted ([`verify_channels`]); a channel that does not verify
//!   stops the run.
//! - A **Cells update server** (`fleetup_source: cells+https://…`) answers for a host's current
//!   version and platform, so it is asked once the hosts are probed ([`ask_cells`]): one request
//!   per distinct (version, os, arch), never one per host. Its source and keys are checked before
//!   any host is contacted all the same. The fleet moves to the newest version offered to any of
//!   its hosts (or `--version`), so that it ends on one version. Each binary's RSA signature is
//!   checked once it is downloaded ([`Channel::check_bytes`]), before any host is changed.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use reqwest::Url;

use super::HostInput;
use crate::cli::UpgradeArgs;
use crate::events::ReleaseInfo;
use crate::release::cells::{self, CellsKey, CellsSource, Package, UpdateRequest};
use crate::release::fetch::{FetchOptions, http_client};
use crate::release::history::IndexHistory;
use crate::release::settings::ReleaseSettings;
use crate::release::source::{Source, VerifiedIndex, fetch_current_index};
use crate::release::{Artifact, Release, ReleaseError, TrustedKeys};
use crate::run::RunError;
use crate::steps::Probe;

/// Requests to one update server in flight at once.
const CELLS_REQUESTS_AT_ONCE: usize = 8;

/// The channel the hosts of one [`ReleaseSettings`] follow, and the release it gives them.
#[derive(Debug)]
pub(super) enum Channel {
    Index {
        verified: Box<VerifiedIndex>,
        release: Release,
    },
    Cells(Box<CellsChannel>),
}

/// A Cells update server, its keys, and — once asked — what it offered.
#[derive(Debug)]
pub(super) struct CellsChannel {
    source: CellsSource,
    channel: String,
    package: String,
    keys: Vec<CellsKey>,
    asked: bool,
    /// Every binary offered to the fleet's requests, merged.
    offered: Vec<Package>,
    /// The version the hosts move to: `None` before asking, or when nothing newer is offered.
    release: Option<Release>,
}

pub(super) type Channels = BTreeMap<ReleaseSettings, Channel>;

impl Channel {
    /// The release the hosts of this channel move to (for Cells: once asked, if any).
    pub(super) fn release(&self) -> Option<&Release> {
        match self {
            Channel::Index { release, .. } => Some(release),
            Channel::Cells(c) => c.release.as_ref(),
        }
    }

    /// A Cells update server, whose hosts stay as they are when it offers nothing newer.
    pub(super) fn is_cells(&self) -> bool {
        matches!(self, Channel::Cells(_))
    }

    /// Whether the release is known yet (a Cells server is asked after the probes).
    pub(super) fn resolved(&self) -> bool {
        match self {
            Channel::Index { .. } => true,
            Channel::Cells(c) => c.asked,
        }
    }

    /// The artifact sizes a host's binary is hashed for (`None`: always hashed, as the Cells
    /// server's binaries are known only after the probe).
    pub(super) fn hash_sizes(&self) -> Option<Vec<u64>> {
        match self {
            Channel::Index { release, .. } => {
                Some(release.artifacts.iter().map(|a| a.size).collect())
            }
            Channel::Cells(_) => None,
        }
    }

    /// What the run tells about the release (nothing for a Cells server that offered nothing).
    pub(super) fn info(&self) -> Option<ReleaseInfo> {
        match self {
            Channel::Index { verified, release } => Some(ReleaseInfo {
                product: verified.index.product.clone(),
                version: release.version.to_string(),
                channel: verified.index.channel.clone(),
                key_id: verified.key_id.clone(),
                expires: verified.index.expires.to_string(),
            }),
            Channel::Cells(c) => c.release.as_ref().map(|r| ReleaseInfo {
                product: c.package.clone(),
                version: r.version.clone(),
                channel: c.channel.clone(),
                key_id: c
                    .keys
                    .iter()
                    .map(|k| format!("RSA-{} {}", k.bits(), k.what))
                    .collect::<Vec<_>>()
                    .join(", "),
                expires: String::new(),
            }),
        }
    }

    /// Where `artifact` is downloaded from.
    pub(super) fn artifact_url(&self, artifact: &Artifact) -> Result<Url, ReleaseError> {
        match self {
            Channel::Index { verified, .. } => verified.artifact_url(artifact),
            // Checked to be an absolute http(s) URL when the release was built.
            Channel::Cells(c) => Url::parse(&artifact.url).map_err(|e| ReleaseError::Artifact {
                what: format!("BinaryURL {:?} from {}", artifact.url, c.source.endpoint),
                reason: e.to_string(),
            }),
        }
    }

    /// `product version os/arch`, for the download's progress line.
    pub(super) fn describe(&self, artifact: &Artifact) -> String {
        let (product, version) = match self {
            Channel::Index { verified, release } => (&verified.index.product, &release.version),
            Channel::Cells(c) => (
                &c.package,
                c.release.as_ref().map_or(&c.package, |r| &r.version),
            ),
        };
        format!("{product} {version} {}/{}", artifact.os, artifact.arch)
    }

    /// Checks a downloaded artifact beyond its size and sha256: a Cells binary must carry a
    /// `BinarySignature` that verifies with one of the configured keys.
    pub(super) fn check_bytes(&self, artifact: &Artifact, bytes: &[u8]) -> Result<(), RunError> {
        let Channel::Cells(c) = self else {
            return Ok(());
        };
        let version = c.release.as_ref().map_or("", |r| r.version.as_str());
        let refused = |reason: String| {
            RunError::Release(ReleaseError::Cells(cells::CellsError::Refused {
                package: c.package.clone(),
                version: version.to_owned(),
                url: artifact.url.clone(),
                reason: format!(
                    "{}/{}: {reason}; no host was changed",
                    artifact.os, artifact.arch
                ),
            }))
        };
        let package = cells::package_for(&c.offered, version, &artifact.os, &artifact.arch)
            .ok_or_else(|| refused("no such binary was offered".into()))?;
        cells::verify_binary(package, bytes, &c.keys).map_err(refused)
    }
}

/// Every channel the hosts follow, before any host is contacted: each channel index fetched
/// and verified once, and its release chosen; each Cells source and its keys checked.
pub(super) async fn verify_channels(
    inputs: &[HostInput],
    args: Option<&UpgradeArgs>,
    fetch: &FetchOptions,
) -> Result<Channels, RunError> {
    let mut channels: Channels = BTreeMap::new();
    for input in inputs {
        let Some(r) = &input.release else { continue };
        if channels.contains_key(r) {
            continue;
        }
        if let Some(source) = CellsSource::parse(&r.source) {
            let source = source.map_err(ReleaseError::Cells)?;
            let keys = cells::keys_from_entries(&r.public_keys).map_err(ReleaseError::Cells)?;
            channels.insert(
                r.clone(),
                Channel::Cells(Box::new(CellsChannel {
                    source,
                    channel: r.channel.clone(),
                    package: r.package.clone(),
                    keys,
                    asked: false,
                    offered: Vec::new(),
                    release: None,
                })),
            );
            continue;
        }
        let keys = TrustedKeys::from_entries(&r.public_keys)?;
        let source = Source::parse(&r.source)?;
        let history = IndexHistory::from_env()?;
        let now = jiff::Timestamp::now();
        let verified =
            fetch_current_index(&source, &r.channel, &keys, now, fetch, &history).await?;
        let version = args.and_then(|a| a.version.as_deref());
        let release = verified
            .index
            .select(version, args.is_some_and(|a| a.pre))?
            .clone();
        channels.insert(
            r.clone(),
            Channel::Index {
                verified: Box::new(verified),
                release,
            },
        );
    }
    Ok(channels)
}

/// What a probed host asks a Cells server: its version (`0.0.0` when it reported none that is
/// semver, which asks for everything), os and arch.
pub(super) fn cells_question(probe: &Probe) -> (String, String, String) {
    let version = probe
        .version
        .as_ref()
        .map_or_else(|| "0.0.0".to_owned(), ToString::to_string);
    (version, probe.os.clone(), probe.arch.clone())
}

/// Asks each Cells server the questions of its probed hosts, one request per distinct
/// question, and chooses the fleet's release: `--version` exactly, else the newest offered
/// (pre-releases with `--pre` or on the `dev` channel). A server that cannot be reached, that
/// answers anything but 200, or offers a chosen binary without checksum or signature stops the
/// run before any host is changed.
pub(super) async fn ask_cells(
    channels: &mut Channels,
    questions: &[(ReleaseSettings, (String, String, String))],
    args: Option<&UpgradeArgs>,
    fetch: &FetchOptions,
) -> Result<(), RunError> {
    for (settings, channel) in channels.iter_mut() {
        let Channel::Cells(c) = channel else { continue };
        let asked: BTreeSet<&(String, String, String)> = questions
            .iter()
            .filter(|(s, _)| s == settings)
            .map(|(_, q)| q)
            .collect();
        let client = http_client(&c.source.endpoint, fetch)?;
        let requests: Vec<UpdateRequest> = asked
            .iter()
            .map(|(version, os, arch)| UpdateRequest {
                channel: c.channel.clone(),
                package_name: c.package.clone(),
                current_version: version.clone(),
                goos: os.clone(),
                goarch: arch.clone(),
            })
            .collect();
        let source = &c.source;
        let client = &client;
        let answers: Vec<_> = stream::iter(requests.into_iter().map(|req| async move {
            let resp = tokio::time::timeout(
                fetch.total_timeout,
                cells::check_for_updates(client, source, &req),
            )
            .await
            .map_err(|_| cells::CellsError::BadAnswer {
                url: source.endpoint.to_string(),
                reason: format!("no answer within {:?}", fetch.total_timeout),
            })??;
            Ok::<_, cells::CellsError>((req, resp))
        }))
        .buffer_unordered(CELLS_REQUESTS_AT_ONCE)
        .collect()
        .await;
        let answers = answers
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReleaseError::Cells)?;
        let url = c.source.endpoint.to_string();
        c.offered = cells::merge_offers(&url, &c.package, &answers).map_err(ReleaseError::Cells)?;
        c.asked = true;
        let wanted = args.and_then(|a| a.version.as_deref());
        let pre = args.is_some_and(|a| a.pre) || c.channel == "dev";
        c.release = match (cells::select(&c.offered, wanted, pre), wanted) {
            (Some(p), _) => {
                Some(cells::release_of(&url, &c.offered, &p.version).map_err(ReleaseError::Cells)?)
            }
            (None, None) => None,
            (None, Some(v)) => {
                let at_it = |(version, _, _): &&(String, String, String)| {
                    let parse = |t: &str| semver::Version::parse(t.trim_start_matches('v')).ok();
                    parse(version).zip(parse(v)).is_some_and(|(a, b)| a == b)
                };
                if asked.iter().all(at_it) {
                    // Every host already runs it: nothing to fetch, each is unchanged.
                    None
                } else {
                    let mut offered: Vec<&str> =
                        c.offered.iter().map(|p| p.version.as_str()).collect();
                    offered.sort_unstable();
                    offered.dedup();
                    return Err(ReleaseError::VersionNotFound {
                        product: c.package.clone(),
                        channel: c.channel.clone(),
                        version: v.to_owned(),
                        nearest: if offered.is_empty() {
                            "none: nothing newer than the hosts run is offered".into()
                        } else {
                            offered.join(", ")
                        },
                    }
                    .into());
                }
            }
        };
    }
    Ok(())
}
