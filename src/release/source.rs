//! Release sources: where channel indexes and artifacts come from (`fleetup_source`), and the
//! one function that turns a source and a channel into a verified, validated index.
//!
//! A source is an `https://` or `http://` base URL, a `file:///abs/dir` URL, or a plain
//! directory path (absolute, or relative to the current directory). The channel `stable`
//! lives at `<source>/stable.json`, its signature at `<source>/stable.json.minisig`.
//!
//! Artifact URLs in an index are resolved against the index's URL. An http(s) source may
//! name absolute http(s) URLs (a CDN); a file source may name absolute `file://` URLs. A
//! relative artifact URL of a file source must stay inside the source directory: no `..`
//! out of it, no absolute path — even though the index is signed, a publisher's mistake
//! (or a stolen key) should not read `../../etc/shadow` into the cache.

use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use reqwest::Url;

use super::fetch::{FetchOptions, fetch_capped};
use super::history::{IndexHistory, index_time};
use super::index::{MAX_INDEX_BYTES, is_sane_name};
use super::trust::MAX_SIGNATURE_BYTES;
use super::{Artifact, ChannelIndex, ReleaseError, Result, TrustedKeys};

/// A release source. Its base URL always ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    base: Url,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base.as_str())
    }
}

impl Source {
    /// Parses `fleetup_source`: `https://…`, `http://…`, `file:///abs/dir`, or a directory
    /// path (relative to the current directory). Anything else — another scheme, an empty
    /// string, control characters, a query or fragment — is [`ReleaseError::BadSource`].
    pub fn parse(text: &str) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| ReleaseError::BadSource {
            url: text.to_owned(),
            reason: format!("cannot read the current directory: {e}"),
        })?;
        Self::parse_in(text, &cwd)
    }

    /// [`Source::parse`] with relative paths taken from `cwd`.
    pub fn parse_in(text: &str, cwd: &Path) -> Result<Self> {
        let bad = |reason: &str| ReleaseError::BadSource {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().is_empty() {
            return Err(bad("empty"));
        }
        if text.chars().any(char::is_control) {
            return Err(bad("holds a control character (NUL, newline, …)"));
        }
        let mut base = match Url::parse(text) {
            Ok(url) => match url.scheme() {
                "http" | "https" => {
                    if url.host_str().is_none_or(str::is_empty) {
                        return Err(bad("no host"));
                    }
                    url
                }
                "file" => {
                    if url
                        .host_str()
                        .is_some_and(|h| !h.is_empty() && h != "localhost")
                    {
                        return Err(bad("a file URL must be file:///absolute/path"));
                    }
                    let path = url
                        .to_file_path()
                        .map_err(|()| bad("not a local absolute path"))?;
                    Url::from_directory_path(&path).map_err(|()| bad("not an absolute path"))?
                }
                other => {
                    return Err(bad(&format!(
                        "scheme {other:?} is not supported (use https://, http://, file:// or a path)"
                    )));
                }
            },
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let path = Path::new(text);
                let abs = if path.is_absolute() {
                    path.to_owned()
                } else {
                    cwd.join(path)
                };
                Url::from_directory_path(&abs).map_err(|()| bad("not a usable path"))?
            }
            Err(e) => return Err(bad(&format!("not a URL: {e}"))),
        };
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("a source URL cannot have a query (?) or fragment (#)"));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        // Reparsing resolves `.` and `..` segments once and for all.
        let base = Url::parse(base.as_str()).map_err(|e| bad(&format!("not a URL: {e}")))?;
        Ok(Self { base })
    }

    /// The base URL (ends with `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// True for a `file://` source (also when it was given as a path).
    pub fn is_file(&self) -> bool {
        self.base.scheme() == "file"
    }

    /// `<source>/<channel>.json`. A channel is `[A-Za-z0-9._-]+` without `..`.
    pub fn index_url(&self, channel: &str) -> Result<Url> {
        if !is_sane_name(channel) {
            return Err(ReleaseError::BadSource {
                url: self.base.to_string(),
                reason: format!(
                    "channel {channel:?} is not a channel name ([A-Za-z0-9._-], no `..`)"
                ),
            });
        }
        self.base
            .join(&format!("{channel}.json"))
            .map_err(|e| ReleaseError::BadSource {
                url: self.base.to_string(),
                reason: format!("channel {channel:?}: {e}"),
            })
    }

    /// `<source>/<channel>.json.minisig`.
    pub fn signature_url(&self, channel: &str) -> Result<Url> {
        let index = self.index_url(channel)?;
        let mut sig = index.clone();
        sig.set_path(&format!("{}.minisig", index.path()));
        Ok(sig)
    }

    /// Resolves an artifact's `url` from the index at `index_url` (see the module comment for
    /// what is allowed).
    pub fn artifact_url(&self, index_url: &Url, artifact_url: &str) -> Result<Url> {
        let refuse = |reason: String| ReleaseError::Artifact {
            what: format!("artifact URL {artifact_url:?} in {index_url}"),
            reason,
        };
        match Url::parse(artifact_url) {
            Ok(abs) => match (abs.scheme(), self.is_file()) {
                ("http" | "https", false) => Ok(abs),
                ("file", true) => {
                    abs.to_file_path()
                        .map_err(|()| refuse("not a local absolute path".into()))?;
                    Ok(abs)
                }
                (scheme, _) => Err(refuse(format!(
                    "a {scheme}: URL is not allowed for a {} source",
                    self.base.scheme()
                ))),
            },
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                if !self.is_file() {
                    return index_url
                        .join(artifact_url)
                        .map_err(|e| refuse(e.to_string()));
                }
                if artifact_url.starts_with('/')
                    || artifact_url.contains(['\\', '?', '#'])
                    || artifact_url.split('/').any(|seg| seg == "..")
                {
                    return Err(refuse(
                        "a file source's artifacts must be relative paths inside its directory (no `..`, no absolute path; use a file:// URL for a file elsewhere)".into(),
                    ));
                }
                let joined = index_url
                    .join(artifact_url)
                    .map_err(|e| refuse(e.to_string()))?;
                let dir = self.dir().expect("file source");
                let path = joined
                    .to_file_path()
                    .map_err(|()| refuse("not a local path".into()))?;
                if !path.starts_with(&dir) || path.components().any(|c| c == Component::ParentDir) {
                    return Err(refuse(format!(
                        "resolves to {}, outside the source directory {}",
                        path.display(),
                        dir.display()
                    )));
                }
                Ok(joined)
            }
            Err(e) => Err(refuse(format!("not a URL: {e}"))),
        }
    }

    /// The directory of a file source.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.is_file() {
            self.base.to_file_path().ok()
        } else {
            None
        }
    }
}

/// A channel index whose signature verified under a trusted key, and that passed validation.
#[derive(Debug, Clone)]
pub struct VerifiedIndex {
    pub index: ChannelIndex,
    /// Id of the trusted key that signed it.
    pub key_id: String,
    /// The signature's trusted comment.
    pub trusted_comment: String,
    /// When it was published: the later of its `published` field and its signature's
    /// `timestamp:` (see [`super::history`]), if it has either.
    pub published: Option<Timestamp>,
    /// Where the index was read.
    pub url: Url,
    pub source: Source,
}

impl VerifiedIndex {
    /// The URL to download `artifact` (of this index) from.
    pub fn artifact_url(&self, artifact: &Artifact) -> Result<Url> {
        self.source.artifact_url(&self.url, &artifact.url)
    }
}

/// Fetches `<source>/<channel>.json` and its `.minisig` (capped at [`MAX_INDEX_BYTES`] and
/// [`MAX_SIGNATURE_BYTES`]), verifies the signature over the exact bytes with `keys` before
/// reading them, then parses and validates the index against `channel` and `now`.
pub async fn fetch_verified_index(
    source: &Source,
    channel: &str,
    keys: &TrustedKeys,
    now: Timestamp,
    opts: &FetchOptions,
) -> Result<VerifiedIndex> {
    let url = source.index_url(channel)?;
    let sig_url = source.signature_url(channel)?;
    let sig = fetch_capped(&sig_url, MAX_SIGNATURE_BYTES, opts)
        .await
        .map_err(|e| missing_channel(e, source, channel))?;
    let sig = String::from_utf8(sig).map_err(|_| ReleaseError::BadSignature {
        what: sig_url.to_string(),
        reason: "not a minisign signature (not UTF-8 text)".into(),
    })?;
    let bytes = fetch_capped(&url, MAX_INDEX_BYTES, opts).await?;
    let verified = keys.verify(url.as_str(), &bytes, &sig, opts.allow_legacy_signatures)?;
    let index = ChannelIndex::parse(url.as_str(), channel, &bytes, now)?;
    let published = index_time(&index, &verified.trusted_comment);
    Ok(VerifiedIndex {
        index,
        key_id: verified.key_id,
        trusted_comment: verified.trusted_comment,
        published,
        url,
        source: source.clone(),
    })
}

/// A channel signature that is not there (no file, HTTP 404) most often means a mistyped
/// channel or source: the error says so, and for a directory source lists its channels.
fn missing_channel(e: ReleaseError, source: &Source, channel: &str) -> ReleaseError {
    let ReleaseError::Fetch { what, reason } = e else {
        return e;
    };
    let missing = if source.is_file() {
        source
            .base()
            .to_file_path()
            .is_ok_and(|dir| !dir.join(format!("{channel}.json.minisig")).exists())
    } else {
        reason.starts_with("HTTP 404")
    };
    if !missing {
        return ReleaseError::Fetch { what, reason };
    }
    let there = if source.is_file() {
        let dir = source.base().to_file_path().ok();
        match dir.as_deref().map(channels_in) {
            None => String::new(),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                " (the source directory does not exist)".to_owned()
            }
            Some(Err(e)) => format!(" (cannot list the source directory: {e})"),
            Some(Ok(found)) if found.is_empty() => {
                " (the source directory holds no signed channel index at all)".to_owned()
            }
            Some(Ok(found)) => format!(" (the channels there: {})", found.join(", ")),
        }
    } else {
        String::new()
    };
    ReleaseError::Fetch {
        what,
        reason: format!(
            "{reason}: no channel {channel:?} at {source}{there}; check the channel \
             (fleetup_channel, --channel) and the source (fleetup_source, --source), or publish \
             the channel there with `fleetup release publish --channel {channel}`"
        ),
    }
}

/// The channels of a directory source: each `NAME.json` with its `NAME.json.minisig`, sorted.
fn channels_in(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut found: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let channel = name.strip_suffix(".json.minisig")?.to_owned();
            dir.join(format!("{channel}.json"))
                .is_file()
                .then_some(channel)
        })
        .collect();
    found.sort();
    Ok(found)
}

/// [`fetch_verified_index`], then the replay check: an index older than one `history` already
/// accepted from the same URL is refused ([`ReleaseError::Replayed`]); a newer one is
/// remembered. What the fleet commands use.
pub async fn fetch_current_index(
    source: &Source,
    channel: &str,
    keys: &TrustedKeys,
    now: Timestamp,
    opts: &FetchOptions,
    history: &IndexHistory,
) -> Result<VerifiedIndex> {
    let verified = fetch_verified_index(source, channel, keys, now, opts).await?;
    history.accept(&verified.url, verified.published)?;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(s: &str) -> Result<Source> {
        Source::parse_in(s, Path::new("/work/here"))
    }

    #[test]
    fn a_missing_channel_says_so_and_lists_the_channels_there() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "stable.json",
            "stable.json.minisig",
            "dev.json",
            "dev.json.minisig",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::write(dir.path().join("half.json"), "").unwrap();
        let source = Source::parse(&dir.path().display().to_string()).unwrap();
        let fetch = |reason: &str| ReleaseError::Fetch {
            what: "sig".into(),
            reason: reason.into(),
        };
        let e = missing_channel(fetch("cannot open …: No such file"), &source, "beta").to_string();
        assert!(
            e.contains("no channel \"beta\" at file://")
                && e.contains("(the channels there: dev, stable)")
                && e.contains("fleetup_channel")
                && e.contains("fleetup release publish --channel beta"),
            "{e}"
        );
        // A signature that is there but unreadable is another problem: left as it was.
        let e = missing_channel(fetch("cannot read: EIO"), &source, "stable").to_string();
        assert_eq!(e, "sig: cannot read: EIO");
        let gone = Source::parse("/nonexistent/fleetup-releases").unwrap();
        let e = missing_channel(fetch("cannot open"), &gone, "stable").to_string();
        assert!(e.contains("(the source directory does not exist)"), "{e}");

        let http = src("https://releases.example.com/app").unwrap();
        let e = missing_channel(fetch("HTTP 404 Not Found"), &http, "beta").to_string();
        assert!(
            e.starts_with(
                "sig: HTTP 404 Not Found: no channel \"beta\" at https://releases.example.com/app/;"
            ),
            "{e}"
        );
        let e = missing_channel(fetch("HTTP 500 Internal Server Error"), &http, "beta");
        assert_eq!(e.to_string(), "sig: HTTP 500 Internal Server Error");
        let other = ReleaseError::NoTrustedKey;
        assert!(matches!(
            missing_channel(other, &http, "beta"),
            ReleaseError::NoTrustedKey
        ));
    }

    #[test]
    fn parses_sources() {
        assert_eq!(
            src("https://example.com/rel").unwrap().base().as_str(),
            "https://example.com/rel/"
        );
        assert_eq!(
            src("http://127.0.0.1:8080/").unwrap().base().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            src("file:///srv/releases").unwrap().base().as_str(),
            "file:///srv/releases/"
        );
        assert_eq!(
            src("/srv/releases/").unwrap().base().as_str(),
            "file:///srv/releases/"
        );
        assert_eq!(
            src("releases").unwrap().base().as_str(),
            "file:///work/here/releases/"
        );
        assert_eq!(
            src("../up/rel").unwrap().base().as_str(),
            "file:///work/up/rel/"
        );
        assert!(src("/srv/rel").unwrap().is_file());
        assert!(!src("https://x/").unwrap().is_file());
    }

    #[test]
    fn refuses_bad_sources() {
        for s in [
            "",
            "   ",
            "ftp://example.com/x",
            "a\0b",
            "https://x/a\nb",
            "file://otherhost/x",
            "https://x/?q=1",
            "https://",
            "ssh:x",
        ] {
            let e = src(s).unwrap_err();
            assert!(matches!(e, ReleaseError::BadSource { .. }), "{s:?}: {e:?}");
        }
    }

    #[test]
    fn index_urls_and_channel_names() {
        let s = src("https://example.com/rel").unwrap();
        assert_eq!(
            s.index_url("stable").unwrap().as_str(),
            "https://example.com/rel/stable.json"
        );
        assert_eq!(
            s.signature_url("dev-1.x").unwrap().as_str(),
            "https://example.com/rel/dev-1.x.json.minisig"
        );
        for bad in ["", "..", "a/b", "../x", "a b", "x?y", "a..b", "é"] {
            assert!(s.index_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn artifact_urls_http() {
        let s = src("https://example.com/rel").unwrap();
        let idx = s.index_url("stable").unwrap();
        let u = |a: &str| s.artifact_url(&idx, a);
        assert_eq!(
            u("demo-1").unwrap().as_str(),
            "https://example.com/rel/demo-1"
        );
        assert_eq!(
            u("bin/demo 1").unwrap().as_str(),
            "https://example.com/rel/bin/demo%201"
        );
        assert_eq!(
            u("https://cdn.example.net/d").unwrap().as_str(),
            "https://cdn.example.net/d"
        );
        assert_eq!(
            u("../other/d").unwrap().as_str(),
            "https://example.com/other/d"
        );
        assert!(u("file:///etc/passwd").is_err());
        assert!(u("ftp://x/y").is_err());
    }

    #[test]
    fn artifact_urls_file() {
        let s = src("/srv/rel").unwrap();
        let idx = s.index_url("stable").unwrap();
        let u = |a: &str| s.artifact_url(&idx, a);
        assert_eq!(
            u("demo-1").unwrap().to_file_path().unwrap(),
            Path::new("/srv/rel/demo-1")
        );
        assert_eq!(
            u("sub/demo-1").unwrap().to_file_path().unwrap(),
            Path::new("/srv/rel/sub/demo-1")
        );
        assert_eq!(
            u("file:///opt/demo").unwrap().to_file_path().unwrap(),
            Path::new("/opt/demo")
        );
        for bad in [
            "../../etc/passwd",
            "sub/../../x",
            "%2e%2e/%2e%2e/etc/passwd",
            "sub/%2E%2E/%2e%2e/x",
            "/etc/passwd",
            "//host/x",
            "https://example.com/x",
            "a\\..\\b",
        ] {
            assert!(u(bad).is_err(), "{bad:?} must be refused: {:?}", u(bad));
        }
    }
}
