//! Index validation, release choice and downgrade logic.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn now() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn artifact(os: &str, arch: &str) -> Value {
    json!({"os": os, "arch": arch, "url": format!("demo-{os}-{arch}"), "size": 10, "sha256": SHA})
}

fn release(version: &str) -> Value {
    json!({"version": version, "date": "2026-01-01T00:00:00Z", "label": "l", "notes": "n",
           "artifacts": [artifact("linux", "amd64"), artifact("linux", "arm64")]})
}

fn doc(versions: &[&str]) -> Value {
    json!({"product": "demoapp", "channel": "stable", "expires": "2030-01-01T00:00:00Z",
           "releases": versions.iter().map(|v| release(v)).collect::<Vec<_>>()})
}

fn parse(v: &Value) -> Result<ChannelIndex> {
    ChannelIndex::parse("test.json", "stable", v.to_string().as_bytes(), now())
}

fn parse_err(v: &Value) -> String {
    parse(v).expect_err("must be refused").to_string()
}

#[test]
fn parses_sorts_newest_first_and_ignores_unknown_fields() {
    let mut d = doc(&["2.9.0", "2.10.0", "2.0.0-rc.1", "2.0.0", "1.0.0"]);
    d["future_field"] = json!({"x": 1});
    d["releases"][0]["artifacts"][0]["extra"] = json!(true);
    let index = parse(&d).unwrap();
    let order: Vec<&str> = index.releases.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(order, ["2.10.0", "2.9.0", "2.0.0", "2.0.0-rc.1", "1.0.0"]);
}

#[test]
fn date_label_notes_are_optional() {
    let d = json!({"product": "p", "channel": "stable", "expires": "2030-01-01T00:00:00+02:00",
                   "releases": [{"version": "1.0.0", "artifacts": [artifact("linux", "amd64")]}]});
    let index = parse(&d).unwrap();
    assert_eq!(index.releases[0].date, "");
}

#[test]
fn semver_ordering() {
    let index = parse(&doc(&["2.9.0", "2.10.0"])).unwrap();
    assert_eq!(index.select(None, false).unwrap().version, "2.10.0");
    let index = parse(&doc(&["2.0.0", "2.0.0-rc.1"])).unwrap();
    assert_eq!(index.select(None, true).unwrap().version, "2.0.0");
    let index = parse(&doc(&["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0-beta.9"])).unwrap();
    assert_eq!(index.select(None, true).unwrap().version, "2.0.0-rc.2");
}

#[test]
fn newest_skips_prereleases_unless_asked() {
    let index = parse(&doc(&["1.0.0", "2.0.0-rc.1"])).unwrap();
    assert_eq!(index.select(None, false).unwrap().version, "1.0.0");
    assert_eq!(index.select(None, true).unwrap().version, "2.0.0-rc.1");
}

#[test]
fn only_prereleases_or_none() {
    let index = parse(&doc(&["2.0.0-rc.1"])).unwrap();
    let e = index.select(None, false).unwrap_err().to_string();
    assert!(
        e.contains("only pre-releases") && e.contains("2.0.0-rc.1"),
        "{e}"
    );
    let index = parse(&doc(&[])).unwrap();
    let e = index.select(None, true).unwrap_err().to_string();
    assert!(e.contains("no release"), "{e}");
}

#[test]
fn exact_version() {
    let index = parse(&doc(&["1.0.0", "2.0.0-rc.1", "2.0.0"])).unwrap();
    assert_eq!(index.select(Some("1.0.0"), false).unwrap().version, "1.0.0");
    assert_eq!(
        index.select(Some("v1.0.0"), false).unwrap().version,
        "1.0.0"
    );
    assert_eq!(
        index.select(Some("1.0.0+b7"), false).unwrap().version,
        "1.0.0"
    );
    // Naming a pre-release is asking for it.
    assert_eq!(
        index.select(Some("2.0.0-rc.1"), false).unwrap().version,
        "2.0.0-rc.1"
    );
}

#[test]
fn exact_version_not_found_lists_nearest() {
    let index = parse(&doc(&[
        "1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "3.0.0",
    ]))
    .unwrap();
    let e = index.select(Some("1.2.5"), false).unwrap_err();
    assert!(matches!(e, ReleaseError::VersionNotFound { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("no version 1.2.5") && e.contains("nearest: 1.1.0, 1.2.0, 1.3.0, 1.4.0"),
        "{e}"
    );
    let e = index.select(Some("9.0.0"), false).unwrap_err().to_string();
    assert!(e.contains("nearest: 1.4.0, 3.0.0"), "{e}");
    let e = index.select(Some("latest"), false).unwrap_err().to_string();
    assert!(e.contains("not a semver version"), "{e}");
}

#[test]
fn artifact_for_os_arch() {
    let index = parse(&doc(&["1.0.0"])).unwrap();
    let r = index.select(None, false).unwrap();
    assert_eq!(
        r.artifact("linux", "arm64").unwrap().url,
        "demo-linux-arm64"
    );
    let e = r.artifact("darwin", "arm64").unwrap_err();
    assert!(matches!(e, ReleaseError::NoArtifact { .. }));
    let e = e.to_string();
    assert!(
        e.contains("darwin/arm64") && e.contains("linux/amd64, linux/arm64"),
        "{e}"
    );
}

#[test]
fn downgrade_logic() {
    assert_eq!(
        compare_for_host("1.0.0", "2.0.0", false).unwrap(),
        Change::Upgrade
    );
    assert_eq!(
        compare_for_host("v2.0.0\n", "2.0.0", false).unwrap(),
        Change::Same
    );
    assert_eq!(
        compare_for_host("2.0.0+build1", "2.0.0", false).unwrap(),
        Change::Same
    );
    assert_eq!(
        compare_for_host("2.0.0-rc.1", "2.0.0", false).unwrap(),
        Change::Upgrade
    );
    assert_eq!(
        compare_for_host("2.9.0", "2.10.0", false).unwrap(),
        Change::Upgrade
    );
    let e = compare_for_host("2.10.0", "2.9.0", false).unwrap_err();
    assert!(matches!(e, ReleaseError::Downgrade { .. }), "{e:?}");
    assert!(e.to_string().contains("--allow-downgrade"));
    assert_eq!(
        compare_for_host("2.10.0", "2.9.0", true).unwrap(),
        Change::Downgrade
    );
    let e = compare_for_host("2.0.0", "2.0.0-rc.1", false).unwrap_err();
    assert!(matches!(e, ReleaseError::Downgrade { .. }));
}

#[test]
fn non_semver_host_version() {
    let e = compare_for_host("devel-abc123", "2.0.0", false).unwrap_err();
    assert!(
        matches!(e, ReleaseError::UnknownHostVersion { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("devel-abc123"));
    assert_eq!(
        compare_for_host("devel-abc123", "2.0.0", true).unwrap(),
        Change::Unknown
    );
    assert!(compare_for_host("", "2.0.0", false).is_err());
}

#[test]
fn expired_index_names_both_times() {
    let mut d = doc(&["1.0.0"]);
    d["expires"] = json!("2026-05-31T23:59:59Z");
    let e = parse(&d).unwrap_err();
    assert!(matches!(e, ReleaseError::Expired { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("2026-05-31T23:59:59Z") && e.contains("2026-06-01T00:00:00Z"),
        "{e}"
    );
    d["expires"] = json!("2026-06-01T00:00:00Z");
    assert!(matches!(parse(&d), Err(ReleaseError::Expired { .. })));
}

#[test]
fn refusals() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit, &str)] = &[
        ("empty product", |d| d["product"] = json!(""), "product"),
        ("odd product", |d| d["product"] = json!("a b"), "product"),
        ("product ..", |d| d["product"] = json!(".."), "product"),
        ("empty channel", |d| d["channel"] = json!(""), "channel"),
        ("other channel", |d| d["channel"] = json!("dev"), "\"dev\""),
        (
            "expires not rfc3339",
            |d| d["expires"] = json!("2030-01-01"),
            "RFC 3339",
        ),
        (
            "expires garbage",
            |d| d["expires"] = json!("soon"),
            "RFC 3339",
        ),
        (
            "missing expires",
            |d| {
                d.as_object_mut().unwrap().remove("expires");
            },
            "expires",
        ),
        (
            "version not semver",
            |d| d["releases"][0]["version"] = json!("2.0"),
            "not semver",
        ),
        (
            "leading v in index",
            |d| d["releases"][0]["version"] = json!("v2.0.0"),
            "not semver",
        ),
        (
            "duplicate version",
            |d| d["releases"][1]["version"] = json!("1.0.0"),
            "twice",
        ),
        (
            "duplicate with build",
            |d| d["releases"][1]["version"] = json!("1.0.0+b2"),
            "twice",
        ),
        (
            "bad date",
            |d| d["releases"][0]["date"] = json!("yesterday"),
            "date",
        ),
        (
            "no artifacts",
            |d| d["releases"][0]["artifacts"] = json!([]),
            "no artifact",
        ),
        (
            "upper-case sha",
            |d| d["releases"][0]["artifacts"][0]["sha256"] = json!(SHA.to_uppercase()),
            "sha256",
        ),
        (
            "short sha",
            |d| d["releases"][0]["artifacts"][0]["sha256"] = json!(&SHA[1..]),
            "sha256",
        ),
        (
            "non-hex sha",
            |d| d["releases"][0]["artifacts"][0]["sha256"] = json!(SHA.replace('a', "g")),
            "sha256",
        ),
        (
            "size 0",
            |d| d["releases"][0]["artifacts"][0]["size"] = json!(0),
            "size 0",
        ),
        (
            "size too big",
            |d| d["releases"][0]["artifacts"][0]["size"] = json!(MAX_ARTIFACT_BYTES + 1),
            "size",
        ),
        (
            "negative size",
            |d| d["releases"][0]["artifacts"][0]["size"] = json!(-1),
            "not a channel index",
        ),
        (
            "empty url",
            |d| d["releases"][0]["artifacts"][0]["url"] = json!(""),
            "url",
        ),
        (
            "NUL in url",
            |d| d["releases"][0]["artifacts"][0]["url"] = json!("a\u{0}b"),
            "control",
        ),
        (
            "newline in url",
            |d| d["releases"][0]["artifacts"][0]["url"] = json!("a\nb"),
            "control",
        ),
        (
            "empty os",
            |d| d["releases"][0]["artifacts"][0]["os"] = json!(""),
            "os",
        ),
        (
            "empty arch",
            |d| d["releases"][0]["artifacts"][0]["arch"] = json!(""),
            "arch",
        ),
        (
            "duplicate os/arch",
            |d| d["releases"][0]["artifacts"][1]["arch"] = json!("amd64"),
            "linux/amd64 is listed twice",
        ),
        (
            "not json",
            |d| *d = json!("just a string"),
            "not a channel index",
        ),
    ];
    for (name, edit, needle) in cases {
        let mut d = doc(&["1.0.0", "2.0.0"]);
        edit(&mut d);
        let e = parse_err(&d);
        assert!(e.contains(needle), "{name}: {e}");
        assert!(
            e.starts_with("test.json"),
            "{name}: error names the file: {e}"
        );
    }
}

#[test]
fn index_size_cap() {
    let mut d = doc(&["1.0.0"]);
    d["releases"][0]["notes"] = json!("x".repeat(MAX_INDEX_BYTES));
    let e = parse_err(&d);
    assert!(e.contains("more than the 1048576"), "{e}");
}

#[test]
fn largest_artifact_size_accepted() {
    let mut d = doc(&["1.0.0"]);
    d["releases"][0]["artifacts"][0]["size"] = json!(MAX_ARTIFACT_BYTES);
    parse(&d).unwrap();
}

#[test]
fn user_versions() {
    assert_eq!(
        parse_user_version(" v1.2.3 \n").unwrap().to_string(),
        "1.2.3"
    );
    assert!(parse_user_version("vv1.2.3").is_none());
    assert!(parse_user_version("1.2").is_none());
}

#[test]
fn published_is_optional_and_must_be_rfc3339() {
    let d = doc(&["1.0.0"]);
    let index = parse(&d).unwrap();
    assert_eq!((index.published.as_str(), index.published_at()), ("", None));
    // Absent, it is not written back either: an old index round-trips unchanged.
    assert!(
        serde_json::to_value(&index)
            .unwrap()
            .get("published")
            .is_none()
    );

    let mut d = doc(&["1.0.0"]);
    d["published"] = json!("2026-05-01T12:00:00Z");
    let index = parse(&d).unwrap();
    assert_eq!(
        index.published_at(),
        Some("2026-05-01T12:00:00Z".parse().unwrap())
    );
    assert_eq!(
        serde_json::to_value(&index).unwrap()["published"],
        "2026-05-01T12:00:00Z"
    );

    d["published"] = json!("last tuesday");
    let e = parse_err(&d);
    assert!(e.contains("published") && e.contains("RFC 3339"), "{e}");
}
