//! Release fetching against a real HTTP server and `file://` sources: signed index checks,
//! caps, timeouts, the verified cache, resume.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetup::release::ReleaseError;
use fleetup::release::cache::Cache;
use fleetup::release::fetch::{FetchOptions, NoProgress, download};
use fleetup::release::source::{Source, VerifiedIndex, fetch_verified_index};
use fleetup::release::{Artifact, TrustedKeys};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::http::{Fault, HttpServer};
use crate::support::require_tool;

pub(crate) const ART: &str = "demoapp-2.0.0-linux-amd64";

/// A signing key made with the `minisign` crate.
pub(crate) struct Key {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

impl Key {
    pub(crate) fn new() -> Self {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Self {
            pk: kp.pk,
            sk: kp.sk,
        }
    }
    pub(crate) fn b64(&self) -> String {
        self.pk.to_base64()
    }
    fn trusted(&self) -> TrustedKeys {
        TrustedKeys::from_entries(&[self.b64()]).unwrap()
    }
    pub(crate) fn id(&self) -> String {
        // The id as minisign prints it: the key number, little-endian, upper-case hex.
        self.pk
            .keynum()
            .iter()
            .rev()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
    pub(crate) fn sign(&self, data: &[u8]) -> String {
        minisign::sign(
            Some(&self.pk),
            &self.sk,
            Cursor::new(data),
            Some("file:stable.json"),
            None,
        )
        .unwrap()
        .into_string()
    }
}

/// A release directory: two artifacts and a signed `stable.json`.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) cache_dir: tempfile::TempDir,
    pub(crate) key: Key,
    pub(crate) artifact: Vec<u8>,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn content(len: usize, seed: u32) -> Vec<u8> {
    // Incompressible enough, and different per seed.
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 11) as u8
        })
        .collect()
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().unwrap(),
            cache_dir: tempfile::tempdir().unwrap(),
            key: Key::new(),
            artifact: content(300_000, 7),
        };
        std::fs::write(f.path(ART), &f.artifact).unwrap();
        std::fs::write(f.path("demoapp-1.0.0-linux-amd64"), content(1000, 1)).unwrap();
        f.publish(&f.doc(), &f.key);
        f
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn doc(&self) -> Value {
        let old = std::fs::read(self.path("demoapp-1.0.0-linux-amd64")).unwrap();
        json!({"product": "demoapp", "channel": "stable", "expires": "2099-01-01T00:00:00Z",
          "releases": [
            {"version": "1.0.0", "date": "2026-01-01T00:00:00Z", "label": "old", "notes": "",
             "artifacts": [{"os": "linux", "arch": "amd64", "url": "demoapp-1.0.0-linux-amd64",
                            "size": old.len(), "sha256": sha256_hex(&old)}]},
            {"version": "2.0.0", "date": "2026-11-01T00:00:00Z", "label": "new", "notes": "",
             "artifacts": [{"os": "linux", "arch": "amd64", "url": ART,
                            "size": self.artifact.len(), "sha256": sha256_hex(&self.artifact)}]}]})
    }

    /// Writes `stable.json` and its signature by `key`.
    pub(crate) fn publish(&self, doc: &Value, key: &Key) {
        let bytes = serde_json::to_vec_pretty(doc).unwrap();
        std::fs::write(self.path("stable.json"), &bytes).unwrap();
        std::fs::write(self.path("stable.json.minisig"), key.sign(&bytes)).unwrap();
    }

    fn cache(&self) -> Cache {
        Cache::new(self.cache_dir.path())
    }

    fn artifact_entry(&self) -> Artifact {
        Artifact {
            os: "linux".into(),
            arch: "amd64".into(),
            url: ART.into(),
            size: self.artifact.len() as u64,
            sha256: sha256_hex(&self.artifact),
        }
    }

    /// Files in the cache's `sha256/` and `partial/` directories.
    pub(crate) fn cache_files(&self, sub: &str) -> Vec<String> {
        match std::fs::read_dir(self.cache_dir.path().join(sub)) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn opts() -> FetchOptions {
    FetchOptions {
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(20),
        retries: 0,
        allow_legacy_signatures: false,
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

async fn index(source: &str, keys: &TrustedKeys) -> Result<VerifiedIndex, ReleaseError> {
    let source = Source::parse(source).unwrap();
    fetch_verified_index(&source, "stable", keys, now(), &opts()).await
}

async fn fetch_artifact(
    f: &Fixture,
    server: &HttpServer,
    o: &FetchOptions,
) -> Result<PathBuf, ReleaseError> {
    let url = reqwest::Url::parse(&server.url(ART)).unwrap();
    download(&url, &f.artifact_entry(), &f.cache(), o, &NoProgress).await
}

#[tokio::test]
async fn http_index_verified_selected_and_artifact_cached() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let v = index(&server.base_url(), &f.key.trusted()).await.unwrap();
    assert_eq!(v.key_id, f.key.id());
    assert_eq!(v.trusted_comment, "file:stable.json");
    assert_eq!(v.url.as_str(), server.url("stable.json"));
    let versions: Vec<_> = v.index.releases.iter().map(|r| &r.version).collect();
    assert_eq!(versions, ["2.0.0", "1.0.0"], "newest first");
    let release = v.index.select(None, false).unwrap();
    let artifact = release.artifact("linux", "amd64").unwrap();
    let url = v.artifact_url(artifact).unwrap();
    assert_eq!(url.as_str(), server.url(ART));

    let cache = f.cache();
    let path = download(&url, artifact, &cache, &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(path, cache.dir().join("sha256").join(&artifact.sha256));
    assert_eq!(std::fs::read(&path).unwrap(), f.artifact);
    assert_eq!(server.requests(ART), 1);
    assert!(
        f.cache_files("partial").is_empty(),
        "{:?}",
        f.cache_files("partial")
    );

    // A verified artifact is never downloaded again: no request at all.
    let again = download(&url, artifact, &cache, &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(again, path);
    assert_eq!(
        server.requests(ART),
        1,
        "second download must not touch the network"
    );
}

#[tokio::test]
async fn file_sources_path_and_url() {
    let f = Fixture::new();
    for source in [
        f.dir.path().display().to_string(),
        format!("file://{}", f.dir.path().display()),
    ] {
        let v = index(&source, &f.key.trusted()).await.unwrap();
        let release = v.index.select(Some("v2.0.0"), false).unwrap();
        let artifact = release.artifact("linux", "amd64").unwrap();
        let url = v.artifact_url(artifact).unwrap();
        assert_eq!(url.to_file_path().unwrap(), f.path(ART));
        let path = download(&url, artifact, &f.cache(), &opts(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap(), f.artifact);
    }
}

#[tokio::test]
async fn file_source_copy_is_verified_too() {
    let f = Fixture::new();
    let mut bad = f.artifact.clone();
    bad[1234] ^= 1;
    std::fs::write(f.path(ART), &bad).unwrap();
    let url = reqwest::Url::from_file_path(f.path(ART)).unwrap();
    let e = download(&url, &f.artifact_entry(), &f.cache(), &opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::Mismatch { .. }), "{e:?}");
    assert!(f.cache_files("sha256").is_empty());
    assert!(f.cache_files("partial").is_empty());
}

#[tokio::test]
async fn index_signed_with_the_minisign_cli() {
    let minisign = require_tool("minisign", "apt-get install minisign");
    let f = Fixture::new();
    let keys = tempfile::tempdir().unwrap();
    let (pubf, secf) = (keys.path().join("k.pub"), keys.path().join("k.key"));
    let ok = std::process::Command::new(&minisign)
        .args(["-G", "-W", "-p"])
        .arg(&pubf)
        .arg("-s")
        .arg(&secf)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let ok = std::process::Command::new(&minisign)
        .args(["-S", "-s"])
        .arg(&secf)
        .arg("-m")
        .arg(f.path("stable.json"))
        .args(["-t", "signed by the minisign CLI"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let trusted = TrustedKeys::from_entries(&[pubf.display().to_string()]).unwrap();
    let v = index(&f.dir.path().display().to_string(), &trusted)
        .await
        .unwrap();
    assert_eq!(v.trusted_comment, "signed by the minisign CLI");
}

#[tokio::test]
async fn expired_index_refused() {
    let f = Fixture::new();
    let mut doc = f.doc();
    doc["expires"] = json!("2020-01-01T00:00:00Z");
    f.publish(&doc, &f.key);
    let server = HttpServer::start(f.dir.path());
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::Expired { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("2020-01-01T00:00:00Z") && msg.contains("stable.json"),
        "{msg}"
    );
}

#[tokio::test]
async fn index_signed_by_an_unknown_key_refused() {
    let f = Fixture::new();
    let stranger = Key::new();
    f.publish(&f.doc(), &stranger);
    let server = HttpServer::start(f.dir.path());
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::UntrustedKey { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&stranger.id()) && msg.contains(&f.key.id()),
        "{msg}"
    );
    // Rotation: trusting both keys accepts it.
    let both = TrustedKeys::from_entries(&[f.key.b64(), stranger.b64()]).unwrap();
    let v = index(&server.base_url(), &both).await.unwrap();
    assert_eq!(v.key_id, stranger.id());
}

#[tokio::test]
async fn tampered_index_refused() {
    let f = Fixture::new();
    let mut bytes = std::fs::read(f.path("stable.json")).unwrap();
    let at = String::from_utf8_lossy(&bytes).find("2.0.0").unwrap();
    bytes[at] = b'9'; // 2.0.0 becomes 9.0.0 after signing
    std::fs::write(f.path("stable.json"), &bytes).unwrap();
    let server = HttpServer::start(f.dir.path());
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::BadSignature { .. }), "{e:?}");
    assert!(e.to_string().contains("stable.json"), "{e}");
}

#[tokio::test]
async fn truncated_or_missing_signature_refused() {
    let f = Fixture::new();
    let sig = std::fs::read_to_string(f.path("stable.json.minisig")).unwrap();
    std::fs::write(f.path("stable.json.minisig"), &sig[..sig.len() / 2]).unwrap();
    let server = HttpServer::start(f.dir.path());
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::BadSignature { .. }), "{e:?}");

    std::fs::remove_file(f.path("stable.json.minisig")).unwrap();
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&server.url("stable.json.minisig")) && msg.contains("404"),
        "{msg}"
    );
}

#[tokio::test]
async fn signature_and_index_caps() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let sig = std::fs::read_to_string(f.path("stable.json.minisig")).unwrap();
    std::fs::write(
        f.path("stable.json.minisig"),
        format!("{sig}{}", " ".repeat(5000)),
    )
    .unwrap();
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("too large") && msg.contains("minisig"),
        "{msg}"
    );

    // An index over 1 MiB is refused before its signature is even checked.
    let mut doc = f.doc();
    doc["padding"] = json!("x".repeat(1024 * 1024));
    f.publish(&doc, &f.key);
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("too large") && msg.contains("stable.json"),
        "{msg}"
    );

    // Even without a Content-Length: an endless index stops at the cap.
    f.publish(&f.doc(), &f.key);
    server.set_fault("stable.json", Fault::Endless);
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
    assert!(
        server.wait_idle(Duration::from_secs(5)).await,
        "client stopped reading"
    );
    assert!(server.bytes_sent("stable.json") < 64 * 1024 * 1024);
}

#[tokio::test]
async fn channel_mismatch_refused() {
    let f = Fixture::new();
    let mut doc = f.doc();
    doc["channel"] = json!("dev");
    f.publish(&doc, &f.key); // a signed `dev` index served as stable.json
    let server = HttpServer::start(f.dir.path());
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::BadIndex { .. }), "{e:?}");
    assert!(e.to_string().contains("\"dev\""), "{e}");
}

#[tokio::test]
async fn http_errors_name_the_url() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    std::fs::remove_file(f.path(ART)).unwrap();
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&server.url(ART)) && msg.contains("404"),
        "{msg}"
    );

    server.set_fault("stable.json", Fault::Status(500));
    let e = index(&server.base_url(), &f.key.trusted())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&server.url("stable.json")) && msg.contains("500"),
        "{msg}"
    );

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = index(&format!("http://127.0.0.1:{port}/"), &f.key.trusted())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("connect"),
        "{msg}"
    );
}

#[tokio::test]
async fn tampered_artifact_refused_and_nothing_cached() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault(ART, Fault::FlipByte(150_000));
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    let ReleaseError::Mismatch {
        ref url,
        ref expected_sha256,
        ref actual_sha256,
        expected_size,
        actual_size,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(url, &server.url(ART));
    assert_eq!(expected_sha256, &sha256_hex(&f.artifact));
    assert_ne!(actual_sha256, expected_sha256);
    assert_eq!((expected_size, actual_size), (300_000, 300_000));
    assert!(e.to_string().contains(expected_sha256.as_str()));
    assert!(f.cache_files("sha256").is_empty());
    assert!(
        f.cache_files("partial").is_empty(),
        "{:?}",
        f.cache_files("partial")
    );
}

#[tokio::test]
async fn more_bytes_than_announced_aborted() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    // No Content-Length, the file, then bytes forever.
    server.set_fault(ART, Fault::Endless);
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("too large") && msg.contains("300001"), "{msg}");
    assert!(
        server.wait_idle(Duration::from_secs(5)).await,
        "the client must hang up (the server would keep sending)"
    );
    assert!(
        server.bytes_sent(ART) < 64 * 1024 * 1024,
        "{}",
        server.bytes_sent(ART)
    );
    assert!(f.cache_files("sha256").is_empty());
    assert!(
        f.cache_files("partial").is_empty(),
        "{:?}",
        f.cache_files("partial")
    );

    // A Content-Length larger than the index's size is refused before the body.
    server.set_fault(ART, Fault::AnnounceLength(10_000_000));
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
    assert!(server.wait_idle(Duration::from_secs(5)).await);
    assert!(f.cache_files("partial").is_empty());
}

#[tokio::test]
async fn stalled_server_hits_the_idle_timeout() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault(ART, Fault::StallAfterHeaders);
    let o = FetchOptions {
        idle_timeout: Duration::from_millis(400),
        ..opts()
    };
    let t = Instant::now();
    let e = fetch_artifact(&f, &server, &o).await.unwrap_err();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("timed out") && msg.contains(&server.url(ART)),
        "{msg}"
    );
    assert!(f.cache_files("sha256").is_empty());

    // The total deadline holds even when the idle timeout is long.
    let o = FetchOptions {
        idle_timeout: Duration::from_secs(30),
        total_timeout: Duration::from_millis(500),
        ..opts()
    };
    let t = Instant::now();
    let e = fetch_artifact(&f, &server, &o).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert!(e.to_string().contains("total deadline"), "{e}");
}

#[tokio::test]
async fn resume_after_a_broken_connection() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault_once(ART, Fault::CloseAfter(100_000));
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    assert!(e.to_string().contains("100000 of 300000"), "{e}");
    let partial = f.cache_files("partial");
    assert_eq!(partial, [format!("{}.part", sha256_hex(&f.artifact))]);
    assert!(f.cache_files("sha256").is_empty());

    let path = fetch_artifact(&f, &server, &opts()).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), f.artifact);
    assert_eq!(
        server.ranges(ART),
        [None, Some("bytes=100000-".to_owned())],
        "the second request resumes"
    );
    assert!(f.cache_files("partial").is_empty());
}

#[tokio::test]
async fn resumed_prefix_is_hashed_too() {
    // A corrupt .part left behind is caught: the hash covers the resumed prefix.
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault_once(ART, Fault::CloseAfter(100_000));
    fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    let part = f
        .cache_dir
        .path()
        .join("partial")
        .join(format!("{}.part", sha256_hex(&f.artifact)));
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    // The resumed result does not verify, so the download starts over once from byte 0.
    let path = fetch_artifact(&f, &server, &opts()).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), f.artifact);
    assert_eq!(
        server.ranges(ART),
        [None, Some("bytes=100000-".to_owned()), None]
    );
    assert!(f.cache_files("partial").is_empty());
}

#[tokio::test]
async fn resume_of_a_tampered_artifact_still_fails() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault_once(ART, Fault::CloseAfter(100_000));
    fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    server.set_fault(ART, Fault::FlipByte(200_000));
    let e = fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    assert!(matches!(e, ReleaseError::Mismatch { .. }), "{e:?}");
    assert_eq!(server.requests(ART), 3, "resume, then one fresh try");
    assert!(f.cache_files("partial").is_empty());
    assert!(f.cache_files("sha256").is_empty());
}

#[tokio::test]
async fn resume_within_one_download_and_without_range_support() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_fault_once(ART, Fault::CloseAfter(120_000));
    let o = FetchOptions {
        retries: 1,
        ..opts()
    };
    fetch_artifact(&f, &server, &o).await.unwrap();
    assert_eq!(server.ranges(ART), [None, Some("bytes=120000-".to_owned())]);

    // A server that ignores Range answers 200 with the whole file: start over, still verified.
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    server.set_ranges(false);
    server.set_fault_once(ART, Fault::CloseAfter(120_000));
    fetch_artifact(&f, &server, &opts()).await.unwrap_err();
    let path = fetch_artifact(&f, &server, &opts()).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), f.artifact);
    assert_eq!(server.requests(ART), 2);
}

#[tokio::test]
async fn damaged_cache_entry_is_downloaded_again() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let path = fetch_artifact(&f, &server, &opts()).await.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[5] ^= 1; // same size, other content
    std::fs::write(&path, bytes).unwrap();
    let again = fetch_artifact(&f, &server, &opts()).await.unwrap();
    assert_eq!(std::fs::read(again).unwrap(), f.artifact);
    assert_eq!(server.requests(ART), 2);
}

#[tokio::test]
async fn concurrent_downloads_share_one_cache() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let o = opts();
    let (a, b) = tokio::join!(
        fetch_artifact(&f, &server, &o),
        fetch_artifact(&f, &server, &o)
    );
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(f.cache_files("sha256"), [sha256_hex(&f.artifact)]);
    assert!(f.cache_files("partial").is_empty());
    let cached = std::fs::read(
        f.cache_dir
            .path()
            .join("sha256")
            .join(sha256_hex(&f.artifact)),
    );
    assert_eq!(cached.unwrap(), f.artifact);
}

#[test]
fn cache_location() {
    let d = Cache::default_dir(Some("/x/cache".into()), Some("/home/u".into())).unwrap();
    assert_eq!(d, Path::new("/x/cache/fleetup"));
    let d = Cache::default_dir(Some("relative".into()), Some("/home/u".into())).unwrap();
    assert_eq!(d, Path::new("/home/u/.cache/fleetup"));
    assert!(Cache::default_dir(None, None).is_err());
}

/// Records what a download reports.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>, std::sync::atomic::AtomicU64);

impl fleetup::release::fetch::DownloadObserver for Recorder {
    fn started(&self, _url: &str, total: u64) {
        self.0.lock().unwrap().push(format!("started {total}"));
    }
    fn advanced(&self, bytes: u64) {
        self.1.fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
    }
    fn finished(&self) {
        self.0.lock().unwrap().push("finished".into());
    }
    fn cached(&self, _url: &str) {
        self.0.lock().unwrap().push("cached".into());
    }
}

#[tokio::test]
async fn observer_sees_the_transfer_and_the_cache_hit() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let url = reqwest::Url::parse(&server.url(ART)).unwrap();
    let rec = Recorder::default();
    download(&url, &f.artifact_entry(), &f.cache(), &opts(), &rec)
        .await
        .unwrap();
    download(&url, &f.artifact_entry(), &f.cache(), &opts(), &rec)
        .await
        .unwrap();
    assert_eq!(
        *rec.0.lock().unwrap(),
        ["started 300000", "finished", "cached"]
    );
    assert_eq!(rec.1.load(std::sync::atomic::Ordering::SeqCst), 300_000);
}
