//! A stand-in Pydio Cells update server for the tests: a real HTTP server (see [`HttpServer`])
//! that answers Cells' `POST <endpoint>` update checks from a catalog of published binaries,
//! serves those binaries as files, and signs them with an RSA key made by the `openssl` CLI —
//! the way a real Cells update server does (the protocol is in `src/release/cells.rs`).
//!
//! ```text
//! let cells = CellsServer::start();
//! let p = cells.publish("stable", "PydioHome", "4.4.5", "linux", "amd64", &bytes);
//! cells.misbehave(&p, Quirk::SignedByOtherKey);     // per binary
//! cells.set_answer(Answer::problem("down", "db"));  // the whole server
//! inventory: fleetup_source: cells.source_url(), fleetup_public_keys: cells.keys.quirk
//! ```
//!
//! Answers are written as protojson writes them: `BinarySize` (int64) as a JSON string,
//! `ReleaseDate` (int32) as a number, zero values omitted, `Status` as the enum name — plus
//! fields a client does not know (`ChangeLog`, `License`, `Future`) to prove they are ignored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::http::{Fault, HttpServer};

/// Where Cells posts when the source URL has no path.
pub const DEFAULT_ENDPOINT: &str = "/a/update-server/";

/// The signing key and its public half in every PEM shape, as files (and their text).
#[derive(Debug, Clone)]
pub struct CellsKeys {
    /// The private key that signs the binaries (`openssl genrsa 2048`).
    pub private: PathBuf,
    /// Cells' own shape: a bare PKCS#1 `RSAPublicKey` under a `PUBLIC KEY` label.
    pub quirk: PathBuf,
    /// Standard SubjectPublicKeyInfo (`openssl rsa -pubout`).
    pub spki: PathBuf,
    /// PKCS#1 under its own label (`RSA PUBLIC KEY`, `openssl rsa -RSAPublicKey_out`).
    pub pkcs1: PathBuf,
    pub quirk_pem: String,
    pub spki_pem: String,
    pub pkcs1_pem: String,
    /// Another key pair ([`Quirk::SignedByOtherKey`] signs with it): its private key, its
    /// public key in Cells' shape and as SPKI.
    pub other_private: PathBuf,
    pub other_quirk_pem: String,
    pub other_spki: PathBuf,
}

/// A way one published binary misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quirk {
    /// `BinarySignature` made with another RSA key (over the right bytes).
    SignedByOtherKey,
    /// `BinarySignature` omitted.
    NoSignature,
    /// `BinaryChecksum` omitted.
    NoChecksum,
    /// `BinaryChecksum` of other bytes than the served file (the signature stays right).
    ChecksumOfOtherBytes,
    /// `BinarySignature` with the right key over other bytes (the checksum stays right).
    SignatureOverOtherBytes,
    /// The served file has a byte flipped after checksum and signature were made
    /// ([`Fault::FlipByte`] on its path, mid-file).
    TamperedAfterSigning,
    /// `BinaryHashType` says this instead of `sha256`.
    HashType(String),
    /// `BinarySize` announces this instead of the real size.
    Size(u64),
    /// `IsPatch: true` (a bsdiff patch, which a client must never apply as a binary).
    Patch,
}

/// How the whole server answers update checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Answer {
    /// From the catalog (the default).
    #[default]
    Catalog,
    /// `500` with `{"Title": …, "Detail": …}`, as Cells' server reports errors.
    Problem { title: String, detail: String },
    /// This status and body (`application/json` header, whatever the body is).
    Raw { status: u16, body: Vec<u8> },
    /// `200` with a body that is not JSON (a truncated update response).
    Garbage,
}

impl Answer {
    pub fn problem(title: &str, detail: &str) -> Self {
        Self::Problem {
            title: title.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// `status` with a short JSON body.
    pub fn status(status: u16) -> Self {
        Self::Raw {
            status,
            body: format!(r#"{{"error":"status {status} on purpose"}}"#).into_bytes(),
        }
    }
}

/// One published binary, as the server announces it (before any [`Quirk`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Index in the catalog (for [`CellsServer::misbehave`]).
    pub id: usize,
    pub channel: String,
    pub package_name: String,
    pub version: String,
    pub os: String,
    pub arch: String,
    /// Path on the server: `bin/<package>/<version>/<os>-<arch>/cells`.
    pub path: String,
    /// The absolute `BinaryURL`.
    pub url: String,
    /// The file on disk (under the served root).
    pub file: PathBuf,
    pub size: u64,
    /// Lower-case hex sha256 of the binary.
    pub sha256_hex: String,
    /// `BinaryChecksum`: base64 of the raw sha256.
    pub checksum: String,
    /// `BinarySignature`: base64 of `openssl dgst -sha256 -sign`.
    pub signature: String,
    pub release_date: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    published: Published,
    quirks: Vec<Quirk>,
    checksum: Option<String>,
    signature: Option<String>,
}

#[derive(Debug, Default)]
struct Catalog {
    entries: Vec<Entry>,
    answer: Answer,
}

/// The server; dropping it stops it and removes its files.
#[derive(Debug)]
pub struct CellsServer {
    http: HttpServer,
    dir: tempfile::TempDir,
    endpoint: String,
    catalog: Arc<Mutex<Catalog>>,
    pub keys: CellsKeys,
}

impl CellsServer {
    /// Answers at the default endpoint (`/a/update-server/`, what `cells+http://HOST:PORT/`
    /// means).
    pub fn start() -> Self {
        Self::start_at(DEFAULT_ENDPOINT)
    }

    /// Answers at `endpoint` (e.g. `/mirror/cells/`; a trailing `/` is added as Cells adds it,
    /// and an empty path or `/` means the default, as for Cells).
    pub fn start_at(endpoint: &str) -> Self {
        super::require_tool("openssl", "apt-get install openssl");
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::create_dir_all(&keys_dir).unwrap();
        let keys = make_keys(&keys_dir);
        let endpoint = match endpoint.trim_matches('/') {
            "" => DEFAULT_ENDPOINT.to_owned(),
            path => format!("/{path}/"),
        };
        let http = HttpServer::start(&www);
        let catalog = Arc::new(Mutex::new(Catalog::default()));
        let c = catalog.clone();
        http.set_post_handler(
            &endpoint,
            Arc::new(move |body: &[u8]| answer(&c.lock().unwrap(), body)),
        );
        Self {
            http,
            dir,
            endpoint,
            catalog,
            keys,
        }
    }

    /// `cells+http://127.0.0.1:PORT/` (with the endpoint's path when it is not the default).
    pub fn source_url(&self) -> String {
        let base = format!("cells+{}", self.http.base_url());
        if self.endpoint == DEFAULT_ENDPOINT {
            base
        } else {
            format!("{base}{}", self.endpoint.trim_start_matches('/'))
        }
    }

    /// The path update checks are posted to (`/a/update-server/`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `http://127.0.0.1:PORT/<endpoint>` — what a client posts to.
    pub fn endpoint_url(&self) -> String {
        self.http.url(&self.endpoint)
    }

    /// The underlying HTTP server: request counts per path, and [`Fault`]s on the endpoint or
    /// a binary's path.
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Publishes `bytes` as `package_name` `version` for `os`/`arch` in `channel`: stores the
    /// file, checksums and signs it.
    pub fn publish(
        &self,
        channel: &str,
        package_name: &str,
        version: &str,
        os: &str,
        arch: &str,
        bytes: &[u8],
    ) -> Published {
        let path = format!("bin/{package_name}/{version}/{os}-{arch}/cells");
        let file = self.dir.path().join("www").join(&path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
        let digest = Sha256::digest(bytes);
        let signature = BASE64.encode(sign(&self.keys.private, &file));
        let mut cat = self.catalog.lock().unwrap();
        let published = Published {
            id: cat.entries.len(),
            channel: channel.to_owned(),
            package_name: package_name.to_owned(),
            version: version.to_owned(),
            os: os.to_owned(),
            arch: arch.to_owned(),
            url: self.http.url(&path),
            path,
            file,
            size: bytes.len() as u64,
            sha256_hex: hex::encode(digest),
            checksum: BASE64.encode(digest),
            signature,
            // A fixed date per entry: answers are reproducible.
            release_date: 1_700_000_000 + 86_400 * cat.entries.len() as i64,
        };
        cat.entries.push(Entry {
            checksum: Some(published.checksum.clone()),
            signature: Some(published.signature.clone()),
            published: published.clone(),
            quirks: Vec::new(),
        });
        published
    }

    /// Makes the published binary `p` misbehave from now on (quirks add up).
    pub fn misbehave(&self, p: &Published, quirk: Quirk) {
        let scratch = self.dir.path().join("keys").join(format!("other-{}", p.id));
        let other_bytes = || {
            let mut other = std::fs::read(&p.file).unwrap();
            other.extend_from_slice(b"other bytes");
            std::fs::write(&scratch, &other).unwrap();
            other
        };
        let mut cat = self.catalog.lock().unwrap();
        let e = &mut cat.entries[p.id];
        match &quirk {
            Quirk::SignedByOtherKey => {
                e.signature = Some(BASE64.encode(sign(&self.keys.other_private, &p.file)));
            }
            Quirk::NoSignature => e.signature = None,
            Quirk::NoChecksum => e.checksum = None,
            Quirk::ChecksumOfOtherBytes => {
                e.checksum = Some(BASE64.encode(Sha256::digest(other_bytes())));
            }
            Quirk::SignatureOverOtherBytes => {
                other_bytes();
                e.signature = Some(BASE64.encode(sign(&self.keys.private, &scratch)));
            }
            Quirk::TamperedAfterSigning => {
                self.http.set_fault(&p.path, Fault::FlipByte(p.size / 2));
            }
            Quirk::HashType(_) | Quirk::Size(_) | Quirk::Patch => {}
        }
        e.quirks.push(quirk);
    }

    /// How the server answers update checks from now on.
    pub fn set_answer(&self, answer: Answer) {
        self.catalog.lock().unwrap().answer = answer;
    }

    /// Every update-check body received, parsed (a body that is not JSON comes back as a
    /// JSON string of its text), in order.
    pub fn requests(&self) -> Vec<Value> {
        self.http
            .posts(&self.endpoint)
            .iter()
            .map(|b| {
                serde_json::from_slice(b)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))
            })
            .collect()
    }

    /// How many update checks asked with this `CurrentVersion`, `GOOS` and `GOARCH`.
    pub fn count_requests(&self, current_version: &str, goos: &str, goarch: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r["CurrentVersion"] == current_version && r["GOOS"] == goos && r["GOARCH"] == goarch
            })
            .count()
    }

    /// How many times the binary `p` was downloaded (GET requests for its path).
    pub fn downloads(&self, p: &Published) -> usize {
        self.http.requests(&p.path)
    }
}

/// The answer to one update-check body.
fn answer(cat: &Catalog, body: &[u8]) -> (u16, Vec<u8>) {
    match &cat.answer {
        Answer::Catalog => {}
        Answer::Problem { title, detail } => {
            return (500, to_vec(&json!({"Title": title, "Detail": detail})));
        }
        Answer::Raw { status, body } => return (*status, body.clone()),
        Answer::Garbage => {
            return (
                200,
                br#"{"Channel":"stable","AvailableBinaries":[{"PackageName":"Pydio"#.to_vec(),
            );
        }
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (
            400,
            to_vec(&json!({"Title": "bad request", "Detail": "the body is not JSON"})),
        );
    };
    let field = |name: &str| req.get(name).and_then(Value::as_str).unwrap_or("");
    let channel = field("Channel");
    let current = parse_version(field("CurrentVersion"));
    let offered: Vec<Value> = cat
        .entries
        .iter()
        .filter(|e| {
            let p = &e.published;
            p.channel == channel
                && p.package_name == field("PackageName")
                && p.os == field("GOOS")
                && p.arch == field("GOARCH")
                && match (&current, parse_version(&p.version)) {
                    (None, _) => true,
                    (Some(cur), Some(v)) => v.cmp_precedence(cur).is_gt(),
                    (Some(_), None) => false,
                }
        })
        .map(package_json)
        .collect();
    let mut out = Map::new();
    if !channel.is_empty() {
        out.insert("Channel".into(), channel.into());
    }
    if !offered.is_empty() {
        out.insert("AvailableBinaries".into(), offered.into());
    }
    (200, to_vec(&Value::Object(out)))
}

fn parse_version(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.trim().trim_start_matches('v')).ok()
}

/// One `Package` as protojson writes it.
fn package_json(e: &Entry) -> Value {
    let p = &e.published;
    let mut size = p.size;
    let mut hash_type = "sha256".to_owned();
    let mut patch = false;
    for q in &e.quirks {
        match q {
            Quirk::Size(n) => size = *n,
            Quirk::HashType(h) => hash_type.clone_from(h),
            Quirk::Patch => patch = true,
            _ => {}
        }
    }
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        let zero = match &v {
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        };
        if !zero {
            m.insert(k.to_owned(), v);
        }
    };
    put("PackageName", p.package_name.clone().into());
    put("Version", p.version.clone().into());
    put("ReleaseDate", p.release_date.into());
    put("Label", format!("Pydio Cells {}", p.version).into());
    put(
        "Description",
        format!("## Pydio Cells {}\n\n* fixes and *improvements*", p.version).into(),
    );
    put(
        "ChangeLog",
        format!("https://example.invalid/changelog/{}", p.version).into(),
    );
    put("License", "AGPL".into());
    put("BinaryURL", p.url.clone().into());
    put(
        "BinaryChecksum",
        e.checksum.clone().unwrap_or_default().into(),
    );
    put(
        "BinarySignature",
        e.signature.clone().unwrap_or_default().into(),
    );
    put("BinaryHashType", hash_type.into());
    put("BinarySize", size.to_string().into());
    put("BinaryOS", p.os.clone().into());
    put("BinaryArch", p.arch.clone().into());
    put("IsPatch", patch.into());
    if patch {
        put("PatchAlgorithm", "bsdiff".into());
    }
    put("Status", "Released".into());
    put(
        "Future",
        json!({"Mirrors": ["https://mirror.invalid/"], "Weight": 3}),
    );
    Value::Object(m)
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Runs `openssl args` in `dir` and returns its stdout; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The raw RSA PKCS#1 v1.5 SHA-256 signature of `file` with the private key `key`.
pub fn sign(key: &Path, file: &Path) -> Vec<u8> {
    let dir = file.parent().unwrap();
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    )
}

fn make_keys(dir: &Path) -> CellsKeys {
    let gen_key = |name: &str| {
        let private = dir.join(format!("{name}.pem"));
        openssl(dir, &["genrsa", "-out", private.to_str().unwrap(), "2048"]);
        let spki = String::from_utf8(openssl(
            dir,
            &["rsa", "-in", private.to_str().unwrap(), "-pubout"],
        ))
        .unwrap();
        let pkcs1 = String::from_utf8(openssl(
            dir,
            &["rsa", "-in", private.to_str().unwrap(), "-RSAPublicKey_out"],
        ))
        .unwrap();
        assert!(
            pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"),
            "{pkcs1}"
        );
        // Cells' shape: the same PKCS#1 body under the SPKI label.
        let quirk = pkcs1.replace("RSA PUBLIC KEY", "PUBLIC KEY");
        (private, spki, pkcs1, quirk)
    };
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (private, spki_pem, pkcs1_pem, quirk_pem) = gen_key("signer");
    let (other_private, other_spki_pem, _, other_quirk_pem) = gen_key("other");
    CellsKeys {
        private,
        quirk: write("cells-public.pem", &quirk_pem),
        spki: write("spki-public.pem", &spki_pem),
        pkcs1: write("pkcs1-public.pem", &pkcs1_pem),
        quirk_pem,
        spki_pem,
        pkcs1_pem,
        other_private,
        other_spki: write("other-spki-public.pem", &other_spki_pem),
        other_quirk_pem,
    }
}
