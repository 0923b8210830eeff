//! The stand-in Cells update server (`tests/support/cells.rs`) checked on its own, over real
//! HTTP and with the real `openssl` CLI: what it offers, how it writes it, that its checksums
//! and signatures are what Cells' server would send, and that each misbehaviour knob does what
//! it says. No lab, no fleetup binary.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fleetup::release::cells::{
    CellsError, CellsKey, CellsSource, Package, UpdateRequest, UpdateResponse, check_for_updates,
    verify_binary,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::cells::{Answer, CellsServer, Published, Quirk};
use crate::support::http::MAX_POST_BYTES;

fn body(version: &str) -> Vec<u8> {
    let mut b = format!("\x7fELF cells {version}\n").into_bytes();
    b.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    b
}

async fn post(url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

async fn check(cells: &CellsServer, req: Value) -> Value {
    let (status, body) = post(&cells.endpoint_url(), req.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn versions(answer: &Value) -> Vec<String> {
    let mut v: Vec<String> = answer["AvailableBinaries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["Version"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn home(current: &str) -> Value {
    json!({"Channel": "stable", "PackageName": "PydioHome", "CurrentVersion": current,
           "GOOS": "linux", "GOARCH": "amd64"})
}

async fn get(url: &str) -> Vec<u8> {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    resp.bytes().await.unwrap().to_vec()
}

/// `openssl dgst -sha256 -verify <pem> -signature <raw> <file>` succeeds.
fn openssl_verifies(dir: &Path, pem: &Path, signature_b64: &str, data: &[u8]) -> bool {
    let sig = dir.join("sig.bin");
    let file = dir.join("binary");
    std::fs::write(&sig, BASE64.decode(signature_b64).unwrap()).unwrap();
    std::fs::write(&file, data).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(pem)
        .arg("-signature")
        .arg(&sig)
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.success(),
        text.contains("Verified OK"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

fn entry<'a>(answer: &'a Value, p: &Published) -> &'a Value {
    answer["AvailableBinaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["BinaryURL"] == p.url.as_str())
        .unwrap_or_else(|| panic!("{} not offered: {answer}", p.version))
}

#[tokio::test]
async fn offers_only_newer_versions_for_the_requested_platform_channel_and_package() {
    let cells = CellsServer::start();
    for v in ["4.4.3", "4.4.5", "4.4.10-rc1", "4.4.10"] {
        cells.publish("stable", "PydioHome", v, "linux", "amd64", &body(v));
    }
    cells.publish("stable", "PydioHome", "4.4.6", "linux", "arm64", &body("a"));
    cells.publish(
        "stable",
        "PydioHome",
        "4.4.7",
        "darwin",
        "amd64",
        &body("d"),
    );
    cells.publish("dev", "PydioHome", "4.4.8", "linux", "amd64", &body("dev"));
    cells.publish(
        "stable",
        "PydioEnterprise",
        "4.4.9",
        "linux",
        "amd64",
        &body("e"),
    );

    let a = check(&cells, home("4.4.4")).await;
    assert_eq!(a["Channel"], "stable");
    assert_eq!(versions(&a), ["4.4.10", "4.4.10-rc1", "4.4.5"]);
    // Semver precedence: the release candidate is older than the release.
    assert_eq!(
        versions(&check(&cells, home("4.4.10-rc1")).await),
        ["4.4.10"]
    );
    assert_eq!(
        versions(&check(&cells, home("4.4.10")).await),
        Vec::<String>::new()
    );
    // An unparsable current version is offered everything for its platform.
    assert_eq!(
        versions(&check(&cells, home("not-a-version")).await),
        ["4.4.10", "4.4.10-rc1", "4.4.3", "4.4.5"]
    );
    let mut arm = home("4.4.0");
    arm["GOARCH"] = "arm64".into();
    assert_eq!(versions(&check(&cells, arm).await), ["4.4.6"]);
    let mut dev = home("4.4.0");
    dev["Channel"] = "dev".into();
    assert_eq!(versions(&check(&cells, dev).await), ["4.4.8"]);
    let mut ent = home("4.4.0");
    ent["PackageName"] = "PydioEnterprise".into();
    assert_eq!(versions(&check(&cells, ent).await), ["4.4.9"]);

    // The product's client reads the answer through the source URL the tests configure: the
    // default endpoint is what an empty path means.
    let plain = reqwest::Url::parse(cells.source_url().strip_prefix("cells+").unwrap()).unwrap();
    assert_eq!(plain.path(), "/");
    let source = CellsSource::parse(&cells.source_url()).unwrap().unwrap();
    assert_eq!(source.endpoint.as_str(), cells.endpoint_url());
    let req = UpdateRequest {
        channel: "stable".into(),
        package_name: "PydioHome".into(),
        current_version: "4.4.5".into(),
        goos: "linux".into(),
        goarch: "amd64".into(),
    };
    let resp = check_for_updates(&reqwest::Client::new(), &source, &req)
        .await
        .unwrap();
    let mut got: Vec<&str> = resp
        .available_binaries
        .iter()
        .map(|p| p.version.as_str())
        .collect();
    got.sort_unstable();
    assert_eq!(got, ["4.4.10", "4.4.10-rc1"]);
}

#[tokio::test]
async fn answers_as_protojson_writes_them() {
    let cells = CellsServer::start();
    let data = body("4.4.5");
    let p = cells.publish("stable", "PydioHome", "4.4.5", "linux", "amd64", &data);
    let a = check(&cells, home("4.4.4")).await;
    let e = entry(&a, &p);
    // int64 as a string, int32 as a number, the enum by name.
    assert_eq!(
        e["BinarySize"],
        Value::String(data.len().to_string()),
        "{e}"
    );
    assert!(e["ReleaseDate"].is_i64(), "{e}");
    assert_eq!(e["Status"], "Released");
    assert_eq!(e["BinaryHashType"], "sha256");
    assert_eq!(e["BinaryOS"], "linux");
    assert_eq!(e["BinaryArch"], "amd64");
    assert_eq!(e["PackageName"], "PydioHome");
    assert!(
        e["BinaryURL"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    // Zero values are omitted; unknown fields are present.
    for absent in ["IsPatch", "PatchAlgorithm", "ServiceName"] {
        assert!(e.get(absent).is_none(), "{absent} in {e}");
    }
    assert!(e["Future"].is_object() && e["ChangeLog"].is_string(), "{e}");
    // An empty answer omits the list, as protojson does.
    let none = check(&cells, home("9.0.0")).await;
    assert!(none.get("AvailableBinaries").is_none(), "{none}");

    // The product's parser takes it as it is.
    let (_, raw) = post(
        &cells.endpoint_url(),
        home("4.4.4").to_string().into_bytes(),
    )
    .await;
    let parsed = UpdateResponse::parse("test", &raw).unwrap();
    let pkg: &Package = &parsed.available_binaries[0];
    assert_eq!(pkg.binary_size, data.len() as u64);
    assert_eq!(pkg.release_date, p.release_date as u64);
    assert_eq!(pkg.binary_url, p.url);
}

#[tokio::test]
async fn checksum_and_signature_are_what_openssl_makes_and_checks() {
    let cells = CellsServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let data = body("4.4.5");
    let p = cells.publish("stable", "PydioHome", "4.4.5", "linux", "amd64", &data);
    let a = check(&cells, home("4.4.4")).await;
    let e = entry(&a, &p);
    let served = get(e["BinaryURL"].as_str().unwrap()).await;
    assert_eq!(served, data);
    assert_eq!(
        e["BinaryChecksum"].as_str().unwrap(),
        BASE64.encode(Sha256::digest(&served))
    );
    assert_eq!(
        BASE64
            .decode(e["BinarySignature"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    let sig = e["BinarySignature"].as_str().unwrap();
    assert!(openssl_verifies(
        scratch.path(),
        &cells.keys.spki,
        sig,
        &served
    ));
    assert!(!openssl_verifies(
        scratch.path(),
        &cells.keys.other_spki,
        sig,
        &served
    ));
    let mut flipped = served.clone();
    flipped[100] ^= 1;
    assert!(!openssl_verifies(
        scratch.path(),
        &cells.keys.spki,
        sig,
        &flipped
    ));
    assert_eq!(cells.downloads(&p), 1);

    // The product verifies it with the key in every shape, and not with the other key.
    let pkg: Package = serde_json::from_value(e.clone()).unwrap();
    for pem in [
        &cells.keys.quirk_pem,
        &cells.keys.spki_pem,
        &cells.keys.pkcs1_pem,
    ] {
        let key = CellsKey::from_pem(pem, "test").unwrap();
        verify_binary(&pkg, &served, &[key]).unwrap();
    }
    let other = CellsKey::from_pem(&cells.keys.other_quirk_pem, "other").unwrap();
    verify_binary(&pkg, &served, &[other]).unwrap_err();
}

#[tokio::test]
async fn each_quirk_spoils_what_it_says_and_nothing_else() {
    let cells = CellsServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let quirks = [
        Quirk::SignedByOtherKey,
        Quirk::NoSignature,
        Quirk::NoChecksum,
        Quirk::ChecksumOfOtherBytes,
        Quirk::SignatureOverOtherBytes,
        Quirk::TamperedAfterSigning,
        Quirk::HashType("md5".into()),
        Quirk::Size(12),
        Quirk::Patch,
    ];
    let mut published = Vec::new();
    for (i, q) in quirks.iter().enumerate() {
        let v = format!("4.5.{i}");
        let p = cells.publish("stable", "PydioHome", &v, "linux", "amd64", &body(&v));
        cells.misbehave(&p, q.clone());
        published.push(p);
    }
    let a = check(&cells, home("4.4.0")).await;
    for (q, p) in quirks.iter().zip(&published) {
        let e = entry(&a, p);
        let served = get(&p.url).await;
        let sum_ok = e["BinaryChecksum"] == BASE64.encode(Sha256::digest(&served)).as_str();
        let sig_ok = e["BinarySignature"]
            .as_str()
            .is_some_and(|s| openssl_verifies(scratch.path(), &cells.keys.spki, s, &served));
        let (want_sum, want_sig) = match q {
            Quirk::NoChecksum | Quirk::ChecksumOfOtherBytes => (false, true),
            Quirk::SignedByOtherKey | Quirk::NoSignature | Quirk::SignatureOverOtherBytes => {
                (true, false)
            }
            Quirk::TamperedAfterSigning => (false, false),
            _ => (true, true),
        };
        assert_eq!((sum_ok, sig_ok), (want_sum, want_sig), "{q:?}: {e}");
        match q {
            Quirk::NoChecksum => assert!(e.get("BinaryChecksum").is_none(), "{e}"),
            Quirk::NoSignature => assert!(e.get("BinarySignature").is_none(), "{e}"),
            Quirk::ChecksumOfOtherBytes => assert!(e["BinaryChecksum"].is_string()),
            Quirk::SignedByOtherKey => assert!(openssl_verifies(
                scratch.path(),
                &cells.keys.other_spki,
                e["BinarySignature"].as_str().unwrap(),
                &served
            )),
            Quirk::TamperedAfterSigning => {
                assert_eq!(served.len() as u64, p.size);
                assert_ne!(served, std::fs::read(&p.file).unwrap());
            }
            Quirk::HashType(h) => assert_eq!(e["BinaryHashType"], h.as_str()),
            Quirk::Size(n) => assert_eq!(e["BinarySize"], n.to_string()),
            Quirk::Patch => assert_eq!(e["IsPatch"], true),
            Quirk::SignatureOverOtherBytes => {}
        }
        if !matches!(q, Quirk::Size(_)) {
            assert_eq!(e["BinarySize"], p.size.to_string(), "{q:?}");
        }
    }
}

#[tokio::test]
async fn server_wide_failures_and_wrong_requests() {
    let cells = CellsServer::start();
    cells.publish("stable", "PydioHome", "4.4.5", "linux", "amd64", b"x");
    let url = cells.endpoint_url();
    let req = || home("4.4.4").to_string().into_bytes();

    cells.set_answer(Answer::problem("Update server down", "database is locked"));
    let (status, b) = post(&url, req()).await;
    assert_eq!(status, 500);
    let problem: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(problem["Title"], "Update server down");
    assert_eq!(problem["Detail"], "database is locked");
    // The product reports the title and detail of a 500.
    let source = CellsSource::parse(&cells.source_url()).unwrap().unwrap();
    let ureq = UpdateRequest {
        channel: "stable".into(),
        package_name: "PydioHome".into(),
        current_version: "4.4.4".into(),
        goos: "linux".into(),
        goarch: "amd64".into(),
    };
    let err = check_for_updates(&reqwest::Client::new(), &source, &ureq)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CellsError::Status { status: 500, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("database is locked"), "{err}");

    cells.set_answer(Answer::status(403));
    assert_eq!(post(&url, req()).await.0, 403);
    cells.set_answer(Answer::Garbage);
    let (status, b) = post(&url, req()).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&b).is_err());
    cells.set_answer(Answer::Catalog);
    assert_eq!(versions(&check(&cells, home("4.4.4")).await), ["4.4.5"]);

    // Not the endpoint, not a POST, not JSON.
    assert_eq!(
        post(&cells.http().url("a/update-server"), req()).await.0,
        404
    );
    assert_eq!(post(&cells.http().url("other/"), req()).await.0, 404);
    let get = reqwest::get(&url).await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(post(&url, b"{not json".to_vec()).await.0, 400);
}

#[tokio::test]
async fn a_custom_endpoint_is_where_the_source_url_points() {
    let cells = CellsServer::start_at("mirror/cells");
    assert_eq!(cells.endpoint(), "/mirror/cells/");
    assert!(
        cells.source_url().starts_with("cells+http://127.0.0.1:")
            && cells.source_url().ends_with("/mirror/cells/"),
        "{}",
        cells.source_url()
    );
    let source = CellsSource::parse(&cells.source_url()).unwrap().unwrap();
    assert_eq!(source.endpoint.as_str(), cells.endpoint_url());
    cells.publish("stable", "PydioHome", "4.4.5", "linux", "amd64", b"x");
    assert_eq!(versions(&check(&cells, home("4.4.4")).await), ["4.4.5"]);
    let default = cells.http().url("a/update-server/");
    assert_eq!(
        post(&default, home("4.4.4").to_string().into_bytes())
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn request_bodies_are_recorded_in_order() {
    let cells = CellsServer::start();
    let sent = [
        home("4.4.4"),
        home("4.4.4"),
        json!({"Channel": "dev", "PackageName": "PydioHome", "CurrentVersion": "4.4.1",
               "GOOS": "linux", "GOARCH": "arm64",
               "LicenseInfo": {"Key": "k", "Save": "true"}}),
    ];
    for r in &sent {
        check(&cells, r.clone()).await;
    }
    post(&cells.endpoint_url(), b"{oops".to_vec()).await;
    let got = cells.requests();
    assert_eq!(got[..3], sent[..]);
    assert_eq!(got[3], Value::String("{oops".into()));
    assert_eq!(cells.count_requests("4.4.4", "linux", "amd64"), 2);
    assert_eq!(cells.count_requests("4.4.1", "linux", "arm64"), 1);
    assert_eq!(cells.count_requests("4.4.1", "linux", "amd64"), 0);
}

/// A POST body longer than the cap is refused before it is read; GETs still serve files.
#[test]
fn post_bodies_are_capped() {
    let cells = CellsServer::start();
    let addr = cells
        .http()
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        cells.endpoint(),
        MAX_POST_BYTES + 1
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(cells.requests().is_empty());
}

/// Cells' public key is a bare PKCS#1 `RSAPublicKey` under the SPKI label. OpenSSL 3 reads it
/// anyway (its decoders ignore the label), so the shape is checked structurally and with a
/// strict SPKI parser; and OpenSSL turns it into a standard key.
#[test]
fn the_quirk_pem_is_pkcs1_under_the_spki_label() {
    use rsa::RsaPublicKey;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;

    let cells = CellsServer::start();
    let k = &cells.keys;
    assert!(k.quirk_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(k.spki_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(k.pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
    assert_eq!(std::fs::read_to_string(&k.quirk).unwrap(), k.quirk_pem);
    assert_ne!(k.quirk_pem, k.spki_pem);

    let der = |pem: &str| {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        BASE64.decode(b64).unwrap()
    };
    // A strict SPKI reader refuses the quirk; read as PKCS#1 it is the same key as the SPKI.
    RsaPublicKey::from_public_key_der(&der(&k.quirk_pem)).unwrap_err();
    let spki = RsaPublicKey::from_public_key_der(&der(&k.spki_pem)).unwrap();
    assert_eq!(
        RsaPublicKey::from_pkcs1_der(&der(&k.quirk_pem)).unwrap(),
        spki
    );
    RsaPublicKey::from_pkcs1_der(&der(&k.spki_pem)).unwrap_err();

    // Structure: SPKI names the algorithm, the quirk is two bare integers.
    let asn1 = |p: &Path| {
        String::from_utf8(crate::support::cells::openssl(
            p.parent().unwrap(),
            &["asn1parse", "-in", p.to_str().unwrap()],
        ))
        .unwrap()
    };
    let (q, s) = (asn1(&k.quirk), asn1(&k.spki));
    assert!(
        s.contains("rsaEncryption") && s.contains("BIT STRING"),
        "{s}"
    );
    assert!(!q.contains("rsaEncryption"), "{q}");
    assert_eq!(q.matches("prim: INTEGER").count(), 2, "{q}");

    // What an operator can run to get a standard key from Cells' one.
    let converted = crate::support::cells::openssl(
        k.quirk.parent().unwrap(),
        &["rsa", "-pubin", "-in", k.quirk.to_str().unwrap(), "-pubout"],
    );
    assert_eq!(String::from_utf8(converted).unwrap(), k.spki_pem);
}
