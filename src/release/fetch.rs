//! Fetching: the capped reads of an index and its signature, and artifact downloads into the
//! [`Cache`], over `http(s)://` or from `file://`.
//!
//! Every network read has a connect timeout, an idle timeout (no byte for that long) and a
//! total deadline (reqwest's `read_timeout` is per read only, so the deadline is ours). An
//! artifact is streamed into the cache's `partial/` directory with its sha256 computed on the
//! way, stopped as soon as more than its announced size arrives, resumed with an HTTP `Range`
//! request when an earlier attempt left a part, and moved into `sha256/<hex>` only once size
//! and sha256 match. Files from a `file://` source go through the very same checks.
//!
//! Work code never prints: progress goes to a [`DownloadObserver`].

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{StatusCode, Url, header};
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, timeout, timeout_at};

use super::cache::{Cache, Part};
use super::index::is_sha256_hex;
use super::{Artifact, ReleaseError, Result};

/// Timeouts and retries for fetching. `Default` gives values for real networks; tests set
/// small ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next byte (headers or body) before giving up.
    pub idle_timeout: Duration,
    /// Longest a whole fetch may take: one index, one signature, or one artifact download
    /// with all its resumptions.
    pub total_timeout: Duration,
    /// How many times one [`download`] resumes by itself after the connection broke once some
    /// bytes had arrived (a stall or refusal before the first byte is not retried).
    pub retries: u32,
    /// Accept legacy (non-prehashed `Ed`) minisign signatures on indexes.
    pub allow_legacy_signatures: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(3600),
            retries: 2,
            allow_legacy_signatures: false,
        }
    }
}

/// Receives the progress of one download (the binary turns it into a bar or plain lines).
pub trait DownloadObserver: Send + Sync {
    /// A transfer of `total` bytes begins (again, from zero, if the server refused to resume).
    fn started(&self, url: &str, total: u64);
    /// `bytes` more bytes are in (a resumed prefix is reported once, right after `started`).
    fn advanced(&self, bytes: u64);
    /// The artifact is verified and in the cache.
    fn finished(&self);
    /// The artifact was already in the cache (verified): nothing was transferred.
    fn cached(&self, _url: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl DownloadObserver for NoProgress {
    fn started(&self, _url: &str, _total: u64) {}
    fn advanced(&self, _bytes: u64) {}
    fn finished(&self) {}
}

/// The HTTP client for `url`: connect and idle timeouts, and no proxy for loopback addresses
/// (a proxy could not reach them anyway).
pub fn http_client(url: &Url, opts: &FetchOptions) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.idle_timeout)
        .user_agent(concat!("fleetup/", env!("CARGO_PKG_VERSION")));
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        b = b.no_proxy();
    }
    b.build().map_err(|e| ReleaseError::Fetch {
        what: url.to_string(),
        reason: format!("cannot set up an HTTP client: {}", error_chain(&e)),
    })
}

/// `e` and its causes, `: `-separated, led by what kind of failure it was.
fn error_chain(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out: "
    } else if e.is_connect() {
        "cannot connect: "
    } else if e.is_body() || e.is_decode() {
        "broken response body: "
    } else {
        ""
    };
    let mut s = format!("{kind}{e}");
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

/// [`error_chain`], except that a read that timed out (reqwest's `read_timeout`, which is our
/// idle timeout) says so plainly, like our own idle timer does: both may fire first.
fn read_error(e: &reqwest::Error, idle: Duration) -> String {
    if e.is_timeout() && !e.is_connect() {
        format!("timed out: no data for {idle:?} (idle timeout)")
    } else {
        error_chain(e)
    }
}

fn fetch_err(url: &Url, reason: impl Into<String>) -> ReleaseError {
    ReleaseError::Fetch {
        what: url.to_string(),
        reason: reason.into(),
    }
}

/// The bytes at `url` (`http(s)` or `file`), refused when more than `cap`. Used for indexes
/// and signatures.
pub async fn fetch_capped(url: &Url, cap: usize, opts: &FetchOptions) -> Result<Vec<u8>> {
    let work = async {
        if url.scheme() == "file" {
            let path = file_path(url)?;
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| fetch_err(url, format!("cannot open {}: {e}", path.display())))?;
            let mut buf = Vec::new();
            file.take(cap as u64 + 1)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| fetch_err(url, format!("cannot read {}: {e}", path.display())))?;
            if buf.len() > cap {
                return Err(fetch_err(url, format!("too large: more than {cap} bytes")));
            }
            return Ok(buf);
        }
        let resp = http_client(url, opts)?
            .get(url.clone())
            .send()
            .await
            .map_err(|e| fetch_err(url, read_error(&e, opts.idle_timeout)))?;
        if resp.status() != StatusCode::OK {
            return Err(fetch_err(url, format!("HTTP {}", resp.status())));
        }
        if let Some(len) = resp.content_length().filter(|&l| l > cap as u64) {
            return Err(fetch_err(
                url,
                format!("too large: the server announces {len} bytes, at most {cap} accepted"),
            ));
        }
        let mut body = Body::Http(resp);
        let mut buf = Vec::new();
        while let Some(chunk) = body.chunk(url, opts.idle_timeout).await.map_err(|e| e.0)? {
            if buf.len() + chunk.len() > cap {
                return Err(fetch_err(url, format!("too large: more than {cap} bytes")));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    timeout(opts.total_timeout, work)
        .await
        .map_err(|_| total_timeout_err(url, opts))?
}

fn total_timeout_err(url: &Url, opts: &FetchOptions) -> ReleaseError {
    fetch_err(
        url,
        format!(
            "timed out: not done within the total deadline of {:?}",
            opts.total_timeout
        ),
    )
}

fn file_path(url: &Url) -> Result<PathBuf> {
    url.to_file_path()
        .map_err(|()| fetch_err(url, "not a local file path"))
}

/// A response body or a local file, read chunk by chunk.
enum Body {
    Http(reqwest::Response),
    File(tokio::fs::File, Vec<u8>),
}

/// A failure while reading a body; transient ones may be resumed.
struct Failure(ReleaseError, bool);

impl Body {
    async fn chunk(&mut self, url: &Url, idle: Duration) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Body::Http(resp) => match timeout(idle, resp.chunk()).await {
                Err(_) => Err(Failure(
                    fetch_err(
                        url,
                        format!("timed out: no data for {idle:?} (idle timeout)"),
                    ),
                    true,
                )),
                Ok(Err(e)) => Err(Failure(fetch_err(url, read_error(&e, idle)), true)),
                Ok(Ok(c)) => Ok(c.map(|b| b.to_vec())),
            },
            Body::File(f, buf) => {
                if buf.is_empty() {
                    buf.resize(256 * 1024, 0);
                }
                let n = f
                    .read(buf)
                    .await
                    .map_err(|e| Failure(fetch_err(url, format!("cannot read: {e}")), false))?;
                Ok((n > 0).then(|| buf[..n].to_vec()))
            }
        }
    }
}

/// Downloads `artifact` from `url` into `cache` and returns the path of the verified file.
///
/// A verified copy already in the cache is returned without any network access (its size and
/// sha256 are re-checked first). Otherwise the artifact is streamed to a partial file (resumed
/// with a `Range` request when an earlier attempt left one), never past `size` bytes, within
/// the timeouts of `opts`, and moved into the cache only when size and sha256 match. A
/// mismatch or an oversized body deletes the partial file; a broken connection keeps it for
/// the next attempt. Last, an ELF artifact must be built for the os/arch it is listed under
/// ([`super::elf`]), whether it was downloaded or found in the cache.
pub async fn download(
    url: &Url,
    artifact: &Artifact,
    cache: &Cache,
    opts: &FetchOptions,
    observer: &dyn DownloadObserver,
) -> Result<PathBuf> {
    if !is_sha256_hex(&artifact.sha256) || artifact.size == 0 {
        return Err(ReleaseError::Artifact {
            what: url.to_string(),
            reason: format!(
                "invalid artifact entry (size {}, sha256 {:?})",
                artifact.size, artifact.sha256
            ),
        });
    }
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(fetch_err(url, "only http, https and file URLs are fetched"));
    }
    if let Some(path) = cache.lookup(artifact).await? {
        check_platform(&path, url, artifact).await?;
        observer.cached(url.as_str());
        return Ok(path);
    }
    let dest = cache.artifact_path(&artifact.sha256)?;
    let deadline = Instant::now() + opts.total_timeout;
    let work = async {
        let mut part = cache.claim_part(&artifact.sha256).await?;
        if url.scheme() == "file" && part.len() > 0 {
            part.truncate().await?;
        }
        observer.started(url.as_str(), artifact.size);
        if part.len() > 0 {
            observer.advanced(part.len());
        }
        let mut retries = opts.retries;
        // A prefix left by an earlier run could itself be damaged: if the result does not
        // verify, start over from byte 0 once before calling the artifact bad.
        let mut fresh_retry = part.len() > 0;
        loop {
            transfer(url, artifact, &mut part, opts, observer, &mut retries).await?;
            let actual = part.sha256();
            if part.len() == artifact.size && actual == artifact.sha256 {
                break;
            }
            if fresh_retry {
                fresh_retry = false;
                tracing::warn!(url = %url, "resumed download does not verify; starting over");
                part.truncate().await?;
                observer.started(url.as_str(), artifact.size);
                continue;
            }
            let actual_size = part.len();
            part.discard();
            return Err(ReleaseError::Mismatch {
                url: url.to_string(),
                expected_size: artifact.size,
                expected_sha256: artifact.sha256.clone(),
                actual_size,
                actual_sha256: actual,
            });
        }
        part.commit(&dest).await?;
        Ok(dest.clone())
    };
    let path = timeout_at(deadline, work)
        .await
        .map_err(|_| total_timeout_err(url, opts))??;
    check_platform(&path, url, artifact).await?;
    observer.finished();
    Ok(path)
}

/// The artifact's bytes are what the index names; are they a binary for the os/arch it is
/// listed under? (See [`super::elf`]; the file stays in the cache: its content is right, only
/// its listing is wrong, and it is checked again on every use.)
async fn check_platform(path: &std::path::Path, url: &Url, artifact: &Artifact) -> Result<()> {
    super::elf::check_file(path, url.as_str(), &artifact.os, &artifact.arch).await
}

/// Fills `part` up to the artifact's size, resuming after transient failures that made
/// progress while `retries` lasts. On error the part is either discarded (it cannot be
/// continued) or left to go back to `<hex>.part` when dropped.
async fn transfer(
    url: &Url,
    artifact: &Artifact,
    part: &mut Part,
    opts: &FetchOptions,
    observer: &dyn DownloadObserver,
    retries: &mut u32,
) -> Result<()> {
    loop {
        let before = part.len();
        match attempt(url, artifact, part, opts, observer).await {
            Ok(()) => return Ok(()),
            Err(Failure(e, transient)) => {
                part.flush().await?;
                if !transient || part.len() > artifact.size {
                    part.discard();
                    return Err(e);
                }
                if *retries == 0 || part.len() == before {
                    // `part` goes back to `<hex>.part` when dropped: the next run resumes.
                    return Err(e);
                }
                *retries -= 1;
                tracing::info!(url = %url, have = part.len(), error = %e, "resuming download");
            }
        }
    }
}

/// One request (or one file read) appending to `part` until `artifact.size` bytes are there.
async fn attempt(
    url: &Url,
    artifact: &Artifact,
    part: &mut Part,
    opts: &FetchOptions,
    observer: &dyn DownloadObserver,
) -> Result<(), Failure> {
    let fatal = |e: ReleaseError| Failure(e, false);
    let size = artifact.size;
    if part.len() == size {
        return Ok(()); // a complete part from an earlier run: just verify it
    }
    let mut body = if url.scheme() == "file" {
        let path = file_path(url).map_err(fatal)?;
        let f = tokio::fs::File::open(&path).await.map_err(|e| {
            fatal(fetch_err(
                url,
                format!("cannot open {}: {e}", path.display()),
            ))
        })?;
        Body::File(f, Vec::new())
    } else {
        Body::Http(http_response(url, size, part, opts, observer).await?)
    };
    loop {
        let chunk = match body.chunk(url, opts.idle_timeout).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(Failure(ReleaseError::Fetch { what, reason }, transient)) => {
                let reason = format!("{reason} (after {} of {size} bytes)", part.len());
                return Err(Failure(ReleaseError::Fetch { what, reason }, transient));
            }
            Err(other) => return Err(other),
        };
        if part.len() + chunk.len() as u64 > size {
            return Err(fatal(fetch_err(
                url,
                format!(
                    "too large: more than the {size} bytes the index announces; stopped at byte {}",
                    size + 1
                ),
            )));
        }
        part.write(&chunk).await.map_err(fatal)?;
        observer.advanced(chunk.len() as u64);
    }
    if part.len() < size {
        return Err(Failure(
            fetch_err(
                url,
                format!("the transfer ended after {} of {size} bytes", part.len()),
            ),
            url.scheme() != "file",
        ));
    }
    Ok(())
}

/// Sends the GET (with `Range` when `part` has a prefix) and returns a response whose body
/// continues `part` exactly: a `206` for the right range, or a `200` after `part` was emptied.
async fn http_response(
    url: &Url,
    size: u64,
    part: &mut Part,
    opts: &FetchOptions,
    observer: &dyn DownloadObserver,
) -> Result<reqwest::Response, Failure> {
    let client = http_client(url, opts).map_err(|e| Failure(e, false))?;
    let io = |e: ReleaseError| Failure(e, false);
    let have = part.len();
    let mut req = client.get(url.clone());
    if have > 0 {
        req = req.header(header::RANGE, format!("bytes={have}-"));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Failure(fetch_err(url, read_error(&e, opts.idle_timeout)), true))?;
    let status = resp.status();
    if have > 0
        && status == StatusCode::PARTIAL_CONTENT
        && content_range_start(&resp, size) == Some(have)
    {
        return Ok(resp);
    }
    let resp = if have > 0
        && (status == StatusCode::PARTIAL_CONTENT || status == StatusCode::RANGE_NOT_SATISFIABLE)
    {
        // A range we did not ask for, or none the server can give: start over, plainly.
        drop(resp);
        restart(part, url, size, observer).await.map_err(io)?;
        client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Failure(fetch_err(url, read_error(&e, opts.idle_timeout)), true))?
    } else {
        if have > 0 && status == StatusCode::OK {
            // The server does not do ranges: the body starts at byte 0.
            restart(part, url, size, observer).await.map_err(io)?;
        }
        resp
    };
    let status = resp.status();
    if status != StatusCode::OK {
        return Err(Failure(
            fetch_err(url, format!("HTTP {status}")),
            status.is_server_error(),
        ));
    }
    if let Some(len) = resp.content_length() {
        if len > size {
            return Err(Failure(
                fetch_err(
                    url,
                    format!("too large: the server announces {len} bytes, the index {size}"),
                ),
                false,
            ));
        }
        if len < size {
            return Err(Failure(
                fetch_err(
                    url,
                    format!(
                        "the server announces {len} bytes, the index {size}: not this artifact"
                    ),
                ),
                false,
            ));
        }
    }
    Ok(resp)
}

async fn restart(
    part: &mut Part,
    url: &Url,
    size: u64,
    observer: &dyn DownloadObserver,
) -> Result<()> {
    part.truncate().await?;
    observer.started(url.as_str(), size);
    Ok(())
}

/// The first byte of a `Content-Range: bytes FIRST-LAST/TOTAL` that ends at the artifact's
/// last byte and names its size (or `*`).
fn content_range_start(resp: &reqwest::Response, size: u64) -> Option<u64> {
    let v = resp.headers().get(header::CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    let total_ok = total.trim() == "*" || total.trim().parse::<u64>().ok()? == size;
    (total_ok && last + 1 == size && first <= last).then_some(first)
}
