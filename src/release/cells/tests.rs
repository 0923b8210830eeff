use std::path::Path;
use std::process::Command;

use super::*;

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A private key of `bits` in `dir/name.pem`, its public key in the three PEM shapes.
struct Keys {
    spki: String,
    pkcs1: String,
    cells_quirk: String,
}

fn keys(dir: &Path, name: &str, bits: &str) -> Keys {
    let pem = format!("{name}.pem");
    openssl(dir, &["genrsa", "-out", &pem, bits]);
    let spki = String::from_utf8(openssl(dir, &["rsa", "-in", &pem, "-pubout"])).unwrap();
    let pkcs1 =
        String::from_utf8(openssl(dir, &["rsa", "-in", &pem, "-RSAPublicKey_out"])).unwrap();
    let cells_quirk = pkcs1.replace("RSA PUBLIC KEY", "PUBLIC KEY");
    Keys {
        spki,
        pkcs1,
        cells_quirk,
    }
}

fn package(data: &[u8], signature: &str) -> Package {
    use sha2::Digest as _;
    Package {
        package_name: "PydioHome".into(),
        version: "4.4.5".into(),
        binary_checksum: BASE64.encode(sha2::Sha256::digest(data)),
        binary_signature: signature.into(),
        binary_size: data.len() as u64,
        ..Package::default()
    }
}

#[test]
fn source_urls_as_cells_builds_them() {
    let e = |t: &str| CellsSource::parse(t).unwrap().unwrap().endpoint.to_string();
    assert_eq!(
        e("cells+https://updatecells.pydio.com/"),
        "https://updatecells.pydio.com/a/update-server/"
    );
    assert_eq!(
        e("cells+https://updatecells.pydio.com"),
        "https://updatecells.pydio.com/a/update-server/"
    );
    assert_eq!(
        e("cells+http://127.0.0.1:8080/mirror"),
        "http://127.0.0.1:8080/mirror/"
    );
    assert!(CellsSource::parse("https://example.com/").is_none());
    for bad in [
        "cells+ftp://x/",
        "cells+https://x/?q=1",
        "cells+https://u@x/",
        "cells+nothing",
    ] {
        assert!(CellsSource::parse(bad).unwrap().is_err(), "{bad}");
    }
}

#[test]
fn request_and_answer_in_cells_field_names() {
    let req = UpdateRequest {
        channel: "stable".into(),
        package_name: "PydioHome".into(),
        current_version: "4.4.3".into(),
        goos: "linux".into(),
        goarch: "amd64".into(),
    };
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        serde_json::json!({"Channel": "stable", "PackageName": "PydioHome",
            "CurrentVersion": "4.4.3", "GOOS": "linux", "GOARCH": "amd64"})
    );
    let body = br#"{"Channel":"stable","AvailableBinaries":[
        {"PackageName":"PydioHome","Version":"4.4.5","ReleaseDate":"1700000000",
         "BinarySize":"123","BinaryURL":"https://d/cells","BinaryOS":"linux","Unknown":{"x":1}},
        {"Version":"4.4.6","BinarySize":456,"IsPatch":true,"Status":"Released"}]}"#;
    let r = UpdateResponse::parse("u", body).unwrap();
    assert_eq!(r.available_binaries.len(), 2);
    assert_eq!(r.available_binaries[0].binary_size, 123);
    assert_eq!(r.available_binaries[0].release_date, 1_700_000_000);
    assert_eq!(r.available_binaries[1].binary_size, 456);
    assert!(r.available_binaries[1].is_patch);
    assert!(UpdateResponse::parse("u", br#"{"AvailableBinaries":[{"BinarySize":"-1"}]}"#).is_err());
    assert!(UpdateResponse::parse("u", b"<html>").is_err());
    assert_eq!(
        UpdateResponse::parse("u", b"{}")
            .unwrap()
            .available_binaries,
        []
    );
}

#[test]
fn non_200_answers_name_the_status_and_the_title_of_a_500() {
    let e = status_error(
        "https://u/",
        500,
        br#"{"Title":"no such package","Detail":"PydioX"}"#,
    );
    assert_eq!(
        e.to_string(),
        "Cells update server https://u/: could not connect to the update server, error code was 500: no such package (PydioX)"
    );
    let e = status_error("https://u/", 404, br#"{"Title":"ignored"}"#);
    assert!(e.to_string().ends_with("error code was 404"), "{e}");
    let e = status_error("https://u/", 500, b"\x1b[31mnot json");
    assert!(e.to_string().ends_with("error code was 500"), "{e}");
}

#[test]
fn keys_in_every_pem_shape_and_signatures_as_openssl_makes_them() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path(), "signer", "2048");
    let other = keys(dir.path(), "other", "2048");
    let data = b"cells binary 4.4.5\x7fELF...".repeat(1000);
    std::fs::write(dir.path().join("cells"), &data).unwrap();
    let sig = BASE64.encode(openssl(
        dir.path(),
        &["dgst", "-sha256", "-sign", "signer.pem", "cells"],
    ));
    let p = package(&data, &sig);

    for (shape, pem) in [
        ("spki", &k.spki),
        ("pkcs1", &k.pkcs1),
        ("cells", &k.cells_quirk),
    ] {
        let key = CellsKey::from_pem(pem, shape).unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_eq!(key.bits(), 2048);
        verify_binary(&p, &data, &[key]).unwrap_or_else(|e| panic!("{shape}: {e}"));
    }
    let good = CellsKey::from_pem(&k.cells_quirk, "good").unwrap();
    let wrong = CellsKey::from_pem(&other.spki, "wrong").unwrap();
    // Any configured key may verify; a wrong key alone may not.
    verify_binary(&p, &data, &[wrong.clone(), good.clone()]).unwrap();
    let e = verify_binary(&p, &data, std::slice::from_ref(&wrong)).unwrap_err();
    assert!(e.contains("does not verify") && e.contains("wrong"), "{e}");
    // One byte changed: refused.
    let mut tampered = data.clone();
    tampered[7] ^= 1;
    assert!(verify_binary(&p, &tampered, std::slice::from_ref(&good)).is_err());
    // Missing or garbage signature: refused.
    let e = verify_binary(&package(&data, ""), &data, std::slice::from_ref(&good)).unwrap_err();
    assert!(e.contains("missing"), "{e}");
    assert!(verify_binary(&package(&data, "%%%"), &data, std::slice::from_ref(&good)).is_err());
    assert!(
        verify_binary(&p, &data, &[])
            .unwrap_err()
            .contains("no Cells public key")
    );

    let small = keys(dir.path(), "small", "1024");
    let e = CellsKey::from_pem(&small.spki, "small").unwrap_err();
    assert!(e.to_string().contains("1024-bit"), "{e}");
    assert!(CellsKey::from_pem("not a key", "x").is_err());
    let private = std::fs::read_to_string(dir.path().join("signer.pem")).unwrap();
    assert!(CellsKey::from_pem(&private, "private").is_err());
}

#[test]
fn checksums_are_base64_sha256_and_required() {
    let data = b"abc";
    let p = package(data, "c2ln");
    assert_eq!(
        checksum_hex(&p).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let mut missing = p.clone();
    missing.binary_checksum.clear();
    assert!(checksum_hex(&missing).unwrap_err().contains("missing"));
    let mut unsigned = p.clone();
    unsigned.binary_signature.clear();
    assert!(checksum_hex(&unsigned).unwrap_err().contains("missing"));
    let mut short = p.clone();
    short.binary_checksum = BASE64.encode([1u8; 20]);
    assert!(checksum_hex(&short).unwrap_err().contains("20 bytes"));
    let mut md5 = p;
    md5.binary_hash_type = "md5".into();
    assert!(checksum_hex(&md5).is_err());
}

#[test]
fn selection_in_semver_order_as_cells_sorts() {
    let offer = |versions: &[(&str, bool)]| -> Vec<Package> {
        versions
            .iter()
            .map(|(v, patch)| Package {
                version: (*v).into(),
                is_patch: *patch,
                ..Package::default()
            })
            .collect()
    };
    let o = offer(&[
        ("4.4.9", false),
        ("4.4.10-rc1", false),
        ("4.4.10", false),
        ("4.4.11", true),
        ("not-a-version", false),
    ]);
    assert_eq!(select(&o, None, false).unwrap().version, "4.4.10");
    assert_eq!(select(&o, None, true).unwrap().version, "4.4.10");
    let rc = offer(&[("4.4.9", false), ("4.4.10-rc1", false)]);
    assert_eq!(select(&rc, None, false).unwrap().version, "4.4.9");
    assert_eq!(select(&rc, None, true).unwrap().version, "4.4.10-rc1");
    assert_eq!(select(&o, Some("4.4.9"), false).unwrap().version, "4.4.9");
    assert_eq!(
        select(&o, Some("v4.4.10-rc1"), false).unwrap().version,
        "4.4.10-rc1"
    );
    assert!(
        select(&o, Some("4.4.11"), false).is_none(),
        "patches are never used"
    );
    assert!(select(&o, Some("4.5.0"), false).is_none());
    assert!(select(&[], None, true).is_none());
}

fn request(version: &str, os: &str, arch: &str) -> UpdateRequest {
    UpdateRequest {
        channel: "stable".into(),
        package_name: "PydioHome".into(),
        current_version: version.into(),
        goos: os.into(),
        goarch: arch.into(),
    }
}

fn offered(version: &str, os: &str, arch: &str, data: &[u8]) -> Package {
    Package {
        version: version.into(),
        binary_os: os.into(),
        binary_arch: arch.into(),
        binary_url: format!("https://dl.example/{version}/{os}-{arch}/cells"),
        release_date: 1_700_000_000,
        label: "Cells\nHome".into(),
        ..package(data, "c2ln")
    }
}

#[test]
fn offers_merge_into_one_binary_per_version_and_platform() {
    let a = offered("4.4.5", "linux", "amd64", b"five");
    let mut no_platform = offered("4.4.4", "", "", b"four");
    no_platform.package_name = String::new();
    let mut patch = offered("4.4.6", "linux", "amd64", b"six");
    patch.is_patch = true;
    let mut other_package = offered("9.9.9", "linux", "amd64", b"nine");
    other_package.package_name = "PydioEnterprise".into();
    let answers = vec![
        (
            request("4.4.3", "linux", "amd64"),
            UpdateResponse {
                channel: "stable".into(),
                available_binaries: vec![a.clone(), no_platform, patch, other_package],
            },
        ),
        (
            request("4.4.4", "linux", "amd64"),
            UpdateResponse {
                channel: "stable".into(),
                available_binaries: vec![a.clone()],
            },
        ),
    ];
    let merged = merge_offers("u", "PydioHome", &answers).unwrap();
    let keys: Vec<(&str, &str, &str)> = merged
        .iter()
        .map(|p| {
            (
                p.version.as_str(),
                p.binary_os.as_str(),
                p.binary_arch.as_str(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("4.4.5", "linux", "amd64"), ("4.4.4", "linux", "amd64")],
        "the same binary twice is one; the platform comes from the request; patches and other packages are left out"
    );

    let mut contradiction = answers;
    let mut other_bytes = a;
    other_bytes.binary_checksum = package(b"evil", "").binary_checksum;
    contradiction[1].1.available_binaries = vec![other_bytes];
    let e = merge_offers("u", "PydioHome", &contradiction).unwrap_err();
    assert!(
        e.to_string()
            .contains("two different binaries offered for PydioHome 4.4.5 linux/amd64"),
        "{e}"
    );
}

#[test]
fn a_release_has_one_artifact_per_platform_and_refuses_what_cells_refuses() {
    let offer = vec![
        offered("4.4.5", "linux", "amd64", b"amd"),
        offered("4.4.5", "linux", "arm64", b"arm"),
        offered("4.4.4", "linux", "amd64", b"old"),
    ];
    let r = release_of("u", &offer, "4.4.5").unwrap();
    assert_eq!(r.version, "4.4.5");
    assert_eq!(r.date, "2023-11-14T22:13:20Z");
    assert_eq!(r.label, "Cells\\nHome", "control characters escaped");
    assert_eq!(r.artifacts.len(), 2);
    let amd = r.artifact("linux", "amd64").unwrap();
    assert_eq!(amd.size, 3);
    assert_eq!(
        amd.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"amd"))
    );
    assert_eq!(amd.url, "https://dl.example/4.4.5/linux-amd64/cells");
    assert!(
        package_for(&offer, "4.4.5", "linux", "arm64").is_some_and(|p| p.binary_arch == "arm64")
    );

    let refused = |edit: &dyn Fn(&mut Package), want: &str| {
        let mut p = offered("4.4.5", "linux", "amd64", b"amd");
        edit(&mut p);
        let e = release_of("u", &[p], "4.4.5").unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
        assert!(e.contains("4.4.5") && e.contains("linux/amd64"), "{e}");
    };
    refused(
        &|p| p.binary_signature.clear(),
        "missing checksum and signature",
    );
    refused(
        &|p| p.binary_checksum.clear(),
        "missing checksum and signature",
    );
    refused(&|p| p.binary_size = 0, "BinarySize is missing");
    refused(
        &|p| p.binary_url = "file:///etc/shadow".into(),
        "not an http(s) URL",
    );
    refused(&|p| p.binary_url = "cells".into(), "BinaryURL");
    refused(&|p| p.binary_hash_type = "md5".into(), "sha256 only");
    assert!(release_of("u", &offer, "4.4.9").is_err());
}

#[test]
fn keys_inline_or_from_files_and_none_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path(), "k", "2048");
    let path = dir.path().join("cells.pem");
    std::fs::write(&path, &k.cells_quirk).unwrap();
    let loaded = keys_from_entries(&[k.spki, path.display().to_string()]).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].what, "inline PEM #1");
    assert_eq!(loaded[1].what, path.display().to_string());
    assert_eq!(
        CellsKey {
            what: String::new(),
            ..loaded[0].clone()
        },
        CellsKey {
            what: String::new(),
            ..loaded[1].clone()
        },
        "the same key inline (SPKI) and from a file (Cells' quirk)"
    );

    let none = keys_from_entries(&[]).unwrap_err().to_string();
    assert!(
        none.contains("fleetup_public_keys") && none.contains("RSA public key"),
        "{none}"
    );
    let missing = keys_from_entries(&["/nonexistent/k.pem".into()])
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("/nonexistent/k.pem") && missing.contains("cannot read"),
        "{missing}"
    );
    let minisign =
        keys_from_entries(&["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into()])
            .unwrap_err()
            .to_string();
    assert!(
        minisign.contains("cannot read"),
        "a minisign key is not a Cells key: {minisign}"
    );
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'A'; (MAX_KEY_FILE_BYTES + 1) as usize]).unwrap();
    assert!(keys_from_entries(&[big.display().to_string()]).is_err());
}
