//! The Pydio Cells update server as a release source (`fleetup_source: cells+https://…`).
//!
//! Cells asks its update server what it may install: a `POST` of an `UpdateRequest` (channel,
//! package, current version, GOOS/GOARCH) to `<url>/a/update-server/`, answered with the
//! `AvailableBinaries` for that platform. Each binary carries `BinaryChecksum` (base64 of its
//! SHA-256) and `BinarySignature` (base64 of an RSA PKCS#1 v1.5 SHA-256 signature over it),
//! checked against an RSA public key the operator configures — exactly what the Cells in-app
//! upgrade checks, no less: a binary without a checksum or a signature is refused.
//!
//! This module is the protocol and the trust; which hosts ask what is the fleet's business.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Url;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};

/// The prefix that makes a `fleetup_source` a Cells update server.
pub const SCHEME_PREFIX: &str = "cells+";
/// Longest answer read from an update server.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// Shortest RSA key accepted (Cells' own is 2048 bits).
pub const MIN_KEY_BITS: usize = 2048;

/// Why a Cells source could not be used. Each names the server or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellsError {
    #[error("Cells update server {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("Cells public key {what}: {reason}")]
    BadKey { what: String, reason: String },
    #[error(
        "Cells update server {url}: could not connect to the update server, error code was {status}{title}"
    )]
    Status {
        url: String,
        status: u16,
        /// `: <Title> (<Detail>)` from a 500's body, or empty.
        title: String,
    },
    #[error("Cells update server {url}: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("Cells {package} {version} ({url}): {reason}")]
    Refused {
        package: String,
        version: String,
        url: String,
        reason: String,
    },
}

/// A Cells update server: the endpoint requests are posted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellsSource {
    pub endpoint: Url,
}

impl CellsSource {
    /// Parses `cells+https://host[/path]` (or `cells+http://` for tests and private mirrors):
    /// an empty path or `/` becomes `/a/update-server/`, and the path always ends with `/`, as
    /// Cells builds it. `None` when `text` is not a Cells source at all.
    pub fn parse(text: &str) -> Option<Result<Self, CellsError>> {
        let rest = text.strip_prefix(SCHEME_PREFIX)?;
        let bad = |reason: &str| CellsError::BadUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        Some((|| {
            let mut url = Url::parse(rest).map_err(|e| bad(&e.to_string()))?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(bad("must be cells+https:// (or cells+http://)"));
            }
            if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
                return Err(bad("takes no query, fragment or user name"));
            }
            let path = url.path().to_owned();
            if path.is_empty() || path == "/" {
                url.set_path("/a/update-server/");
            } else if !path.ends_with('/') {
                url.set_path(&format!("{path}/"));
            }
            Ok(Self { endpoint: url })
        })())
    }
}

/// What is asked: Cells' `UpdateRequest`, field names as Cells writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRequest {
    #[serde(rename = "Channel")]
    pub channel: String,
    #[serde(rename = "PackageName")]
    pub package_name: String,
    #[serde(rename = "CurrentVersion")]
    pub current_version: String,
    #[serde(rename = "GOOS")]
    pub goos: String,
    #[serde(rename = "GOARCH")]
    pub goarch: String,
}

/// The answer: the binaries the server offers for the request's platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UpdateResponse {
    #[serde(rename = "Channel", default)]
    pub channel: String,
    #[serde(rename = "AvailableBinaries", default)]
    pub available_binaries: Vec<Package>,
}

/// One binary on offer (unknown fields are ignored; zero values may be missing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Package {
    #[serde(rename = "PackageName")]
    pub package_name: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "ReleaseDate", deserialize_with = "int_or_string")]
    pub release_date: u64,
    #[serde(rename = "Label")]
    pub label: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "BinaryURL")]
    pub binary_url: String,
    #[serde(rename = "BinaryChecksum")]
    pub binary_checksum: String,
    #[serde(rename = "BinarySignature")]
    pub binary_signature: String,
    #[serde(rename = "BinaryHashType")]
    pub binary_hash_type: String,
    #[serde(rename = "BinarySize", deserialize_with = "int_or_string")]
    pub binary_size: u64,
    #[serde(rename = "BinaryOS")]
    pub binary_os: String,
    #[serde(rename = "BinaryArch")]
    pub binary_arch: String,
    #[serde(rename = "IsPatch")]
    pub is_patch: bool,
    #[serde(rename = "Status")]
    pub status: String,
}

/// protojson writes 64-bit integers as strings; accept both, and nothing else.
fn int_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(u64),
        S(String),
    }
    match Either::deserialize(d)? {
        Either::N(n) => Ok(n),
        Either::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a non-negative integer"))),
    }
}

impl UpdateResponse {
    /// Parses a 200 answer's body.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, CellsError> {
        serde_json::from_slice(body).map_err(|e| CellsError::BadAnswer {
            url: url.to_owned(),
            reason: format!("not an update response: {e}"),
        })
    }
}

/// The error of a non-200 answer: the status, and on 500 the server's `Title` (and `Detail`).
pub fn status_error(url: &str, status: u16, body: &[u8]) -> CellsError {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(rename = "Title", default)]
        title: String,
        #[serde(rename = "Detail", default)]
        detail: String,
    }
    let mut title = String::new();
    if status == 500
        && let Ok(p) = serde_json::from_slice::<Problem>(body)
        && !p.title.trim().is_empty()
    {
        title = format!(": {}", one_line(&p.title));
        if !p.detail.trim().is_empty() {
            title.push_str(&format!(" ({})", one_line(&p.detail)));
        }
    }
    CellsError::Status {
        url: url.to_owned(),
        status,
        title,
    }
}

/// Control characters from a server shown escaped, at most 300 characters.
fn one_line(s: &str) -> String {
    s.trim()
        .chars()
        .take(300)
        .flat_map(char::escape_default)
        .collect()
}

/// Posts `req` to the server and returns its answer (capped, with the fetch timeouts).
pub async fn check_for_updates(
    client: &reqwest::Client,
    source: &CellsSource,
    req: &UpdateRequest,
) -> Result<UpdateResponse, CellsError> {
    let url = source.endpoint.as_str();
    let answer_err = |reason: String| CellsError::BadAnswer {
        url: url.to_owned(),
        reason,
    };
    let mut resp = client
        .post(source.endpoint.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(req).map_err(|e| answer_err(e.to_string()))?)
        .send()
        .await
        .map_err(|e| answer_err(format!("cannot reach it: {e}")))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| answer_err(format!("broken answer: {e}")))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(answer_err(format!(
                "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    if status != 200 {
        return Err(status_error(url, status, &body));
    }
    UpdateResponse::parse(url, &body)
}

/// An RSA public key that verifies Cells binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellsKey {
    key: RsaPublicKey,
    /// Where it came from (a path, or `inline PEM`), for messages.
    pub what: String,
}

impl CellsKey {
    /// Reads a PEM public key whatever its label says: Cells embeds a bare PKCS#1
    /// `RSAPublicKey` under a `PUBLIC KEY` label, so the body is tried as PKCS#1 and as
    /// SubjectPublicKeyInfo, under `PUBLIC KEY` or `RSA PUBLIC KEY`.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, CellsError> {
        let bad = |reason: String| CellsError::BadKey {
            what: what.to_owned(),
            reason,
        };
        let mut inside = false;
        let mut label = String::new();
        let mut body = String::new();
        for line in pem.lines().map(str::trim) {
            if let Some(l) = line
                .strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if inside || !label.is_empty() {
                    return Err(bad("more than one PEM block".into()));
                }
                inside = true;
                label = l.to_owned();
            } else if line.starts_with("-----END ") {
                if !inside {
                    return Err(bad("END before BEGIN".into()));
                }
                inside = false;
            } else if inside {
                body.push_str(line);
            }
        }
        if label.is_empty() || inside {
            return Err(bad(
                "not a PEM block (-----BEGIN PUBLIC KEY----- … -----END …)".into(),
            ));
        }
        if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
            return Err(bad(format!("a {label:?} PEM block, not a public key")));
        }
        let der = BASE64
            .decode(body.as_bytes())
            .map_err(|e| bad(format!("the PEM body is not base64: {e}")))?;
        use rsa::pkcs1::DecodeRsaPublicKey as _;
        use rsa::pkcs8::DecodePublicKey as _;
        let key = RsaPublicKey::from_pkcs1_der(&der)
            .or_else(|_| RsaPublicKey::from_public_key_der(&der))
            .map_err(|e| bad(format!("not an RSA public key (PKCS#1 or SPKI): {e}")))?;
        let bits = key.n().bit_width() as usize;
        if bits < MIN_KEY_BITS {
            return Err(bad(format!(
                "a {bits}-bit RSA key; at least {MIN_KEY_BITS} bits are required"
            )));
        }
        Ok(Self {
            key,
            what: what.to_owned(),
        })
    }

    /// The key's size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bit_width() as usize
    }
}

/// Longest key file read.
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// The keys of `fleetup_public_keys` for a Cells source: each entry a PEM inline (it holds
/// `-----BEGIN`) or the path of a PEM file. None at all is an error: there is no unsigned path.
pub fn keys_from_entries(entries: &[String]) -> Result<Vec<CellsKey>, CellsError> {
    if entries.is_empty() {
        return Err(CellsError::BadKey {
            what: "fleetup_public_keys".into(),
            reason: "no key configured: a Cells source needs the RSA public key its binaries are signed with (a PEM inline, or the path of a .pem file)".into(),
        });
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            if entry.contains("-----BEGIN") {
                return CellsKey::from_pem(entry, &format!("inline PEM #{}", i + 1));
            }
            let path = entry.trim();
            let bad = |reason: String| CellsError::BadKey {
                what: path.to_owned(),
                reason,
            };
            let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
            if !meta.is_file() || meta.len() > MAX_KEY_FILE_BYTES {
                return Err(bad(format!(
                    "not a PEM file of at most {MAX_KEY_FILE_BYTES} bytes"
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read it as text: {e}")))?;
            CellsKey::from_pem(&text, path)
        })
        .collect()
}

/// The binaries offered to a fleet's requests, merged: patches and other packages left out,
/// `BinaryOS`/`BinaryArch` taken from the request when the server left them out, one package
/// per (version, os, arch). Two different binaries offered for the same version and platform
/// are an error: the server contradicts itself.
pub fn merge_offers(
    url: &str,
    package: &str,
    answers: &[(UpdateRequest, UpdateResponse)],
) -> Result<Vec<Package>, CellsError> {
    let mut merged: Vec<Package> = Vec::new();
    for (req, resp) in answers {
        for p in &resp.available_binaries {
            if p.is_patch || (!p.package_name.is_empty() && p.package_name != package) {
                continue;
            }
            let mut p = p.clone();
            if p.binary_os.is_empty() {
                p.binary_os.clone_from(&req.goos);
            }
            if p.binary_arch.is_empty() {
                p.binary_arch.clone_from(&req.goarch);
            }
            let same = |q: &Package| {
                q.version == p.version
                    && q.binary_os == p.binary_os
                    && q.binary_arch == p.binary_arch
            };
            match merged.iter().find(|q| same(q)) {
                None => merged.push(p),
                Some(q)
                    if q.binary_checksum == p.binary_checksum
                        && q.binary_url == p.binary_url
                        && q.binary_size == p.binary_size
                        && q.binary_signature == p.binary_signature => {}
                Some(_) => {
                    return Err(CellsError::BadAnswer {
                        url: url.to_owned(),
                        reason: format!(
                            "two different binaries offered for {package} {} {}/{}",
                            one_line(&p.version),
                            one_line(&p.binary_os),
                            one_line(&p.binary_arch)
                        ),
                    });
                }
            }
        }
    }
    Ok(merged)
}

/// The release made of every offered binary of `version`: one artifact per platform, each with
/// its size, its sha256 (from `BinaryChecksum`) and its `BinaryURL` (absolute http or https).
/// A binary without checksum, signature or size is refused, as Cells refuses it.
pub fn release_of(
    url: &str,
    offered: &[Package],
    version: &str,
) -> Result<crate::release::Release, CellsError> {
    let mut artifacts = Vec::new();
    let mut first: Option<&Package> = None;
    for p in offered.iter().filter(|p| p.version == version) {
        let refuse = |reason: String| CellsError::Refused {
            package: p.package_name.clone(),
            version: one_line(&p.version),
            url: url.to_owned(),
            reason: format!(
                "{}/{}: {reason}",
                one_line(&p.binary_os),
                one_line(&p.binary_arch)
            ),
        };
        let sha256 = checksum_hex(p).map_err(refuse)?;
        if p.binary_size == 0 {
            return Err(refuse("BinarySize is missing".into()));
        }
        let bin = Url::parse(p.binary_url.trim())
            .map_err(|e| refuse(format!("BinaryURL {:?}: {e}", one_line(&p.binary_url))))?;
        if !matches!(bin.scheme(), "https" | "http") {
            return Err(refuse(format!("BinaryURL {bin} is not an http(s) URL")));
        }
        first.get_or_insert(p);
        artifacts.push(crate::release::Artifact {
            os: p.binary_os.clone(),
            arch: p.binary_arch.clone(),
            url: bin.to_string(),
            size: p.binary_size,
            sha256,
        });
    }
    let Some(p) = first else {
        return Err(CellsError::BadAnswer {
            url: url.to_owned(),
            reason: format!("no binary of version {version:?}"),
        });
    };
    let date = i64::try_from(p.release_date)
        .ok()
        .filter(|&d| d > 0)
        .and_then(|d| jiff::Timestamp::from_second(d).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok(crate::release::Release {
        version: p.version.clone(),
        date,
        label: one_line(&p.label),
        notes: p.description.chars().take(4096).collect(),
        artifacts,
    })
}

/// The package of `release` for a platform, whose signature the downloaded bytes must carry.
pub fn package_for<'a>(
    offered: &'a [Package],
    version: &str,
    os: &str,
    arch: &str,
) -> Option<&'a Package> {
    offered
        .iter()
        .find(|p| p.version == version && p.binary_os == os && p.binary_arch == arch)
}

/// The hex sha256 a package announces (from its base64 `BinaryChecksum`); refused when missing
/// or not 32 bytes, or when `BinaryHashType` names another hash.
pub fn checksum_hex(p: &Package) -> Result<String, String> {
    if p.binary_checksum.trim().is_empty() || p.binary_signature.trim().is_empty() {
        return Err(
            "missing checksum and signature infos (BinaryChecksum, BinarySignature)".into(),
        );
    }
    if !p.binary_hash_type.is_empty() && !p.binary_hash_type.eq_ignore_ascii_case("sha256") {
        return Err(format!(
            "BinaryHashType {:?} is not supported (sha256 only)",
            p.binary_hash_type
        ));
    }
    let raw = BASE64
        .decode(p.binary_checksum.trim())
        .map_err(|e| format!("BinaryChecksum is not base64: {e}"))?;
    if raw.len() != 32 {
        return Err(format!(
            "BinaryChecksum holds {} bytes, not a 32-byte SHA-256",
            raw.len()
        ));
    }
    Ok(hex::encode(raw))
}

/// Checks `BinarySignature` over `data` (the whole binary) with any of `keys`.
pub fn verify_binary(p: &Package, data: &[u8], keys: &[CellsKey]) -> Result<(), String> {
    if p.binary_signature.trim().is_empty() {
        return Err("missing checksum and signature infos (BinarySignature)".into());
    }
    let raw = BASE64
        .decode(p.binary_signature.trim())
        .map_err(|e| format!("BinarySignature is not base64: {e}"))?;
    let sig = Signature::try_from(raw.as_slice())
        .map_err(|e| format!("BinarySignature is not an RSA signature: {e}"))?;
    if keys.is_empty() {
        return Err(
            "no Cells public key configured (fleetup_public_keys: a PEM or its path)".into(),
        );
    }
    for k in keys {
        if VerifyingKey::<Sha256>::new(k.key.clone())
            .verify(data, &sig)
            .is_ok()
        {
            return Ok(());
        }
    }
    let tried: Vec<&str> = keys.iter().map(|k| k.what.as_str()).collect();
    Err(format!(
        "BinarySignature does not verify with the configured key{} ({})",
        if keys.len() == 1 { "" } else { "s" },
        tried.join(", ")
    ))
}

/// The version a fleet should move to among `offered`: the exact `wanted` version, or the
/// newest by semver (pre-releases only with `pre`, as Cells orders them: `4.4.10-rc1` <
/// `4.4.10`). Patches are never used; a version that is not semver is skipped.
pub fn select<'a>(offered: &'a [Package], wanted: Option<&str>, pre: bool) -> Option<&'a Package> {
    let parse = |v: &str| semver::Version::parse(v.trim().trim_start_matches('v')).ok();
    let usable = offered.iter().filter(|p| !p.is_patch);
    if let Some(w) = wanted {
        let w = parse(w)?;
        return usable
            .filter(|p| parse(&p.version).is_some_and(|v| v.cmp_precedence(&w).is_eq()))
            .max_by_key(|p| parse(&p.version));
    }
    usable
        .filter_map(|p| parse(&p.version).map(|v| (v, p)))
        .filter(|(v, _)| pre || v.pre.is_empty())
        .max_by(|(a, _), (b, _)| a.cmp_precedence(b))
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests;
