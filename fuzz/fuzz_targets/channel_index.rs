//! The channel index parser and validator (what `fleetup` reads once the signature verified),
//! then release selection on what it accepted.
#![no_main]

use std::cmp::Ordering;

use fleetup::release::ChannelIndex;
use fleetup::release::index::{compare_for_host, is_sane_name, is_sha256_hex, parse_user_version};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: fleetup_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let now: Timestamp = "2026-06-01T00:00:00Z".parse().expect("a time");
    let Ok(index) = ChannelIndex::parse("fuzz.json", "stable", data, now) else {
        return;
    };
    assert!(is_sane_name(&index.product) && index.channel == "stable");

    // Newest first, every version semver, every artifact sane.
    let versions: Vec<_> = index
        .releases
        .iter()
        .map(|r| r.semver().expect("validated versions parse"))
        .collect();
    for pair in versions.windows(2) {
        assert_eq!(pair[0].cmp_precedence(&pair[1]), Ordering::Greater, "sorted, no twins");
    }
    for r in &index.releases {
        assert!(!r.artifacts.is_empty());
        for a in &r.artifacts {
            assert!(is_sane_name(&a.os) && is_sane_name(&a.arch) && is_sha256_hex(&a.sha256));
            assert_eq!(r.artifact(&a.os, &a.arch).expect("listed artifact"), a);
        }
        let chosen = index.select(Some(&r.version), false).expect("a listed version");
        assert_eq!(chosen.version, r.version);
        let _ = compare_for_host(&r.version, &index.releases[0].version, false);
    }
    for pre in [false, true] {
        if let Ok(r) = index.select(None, pre) {
            let v = r.semver().expect("semver");
            assert!(pre || v.pre.is_empty());
            assert!(versions.iter().filter(|w| pre || w.pre.is_empty()).all(|w| w.cmp_precedence(&v) != Ordering::Greater));
        }
    }
    let _ = parse_user_version(&String::from_utf8_lossy(data));

    // What fleetup accepted, written back out, reads the same.
    let again = serde_json::to_vec(&index).expect("serializes");
    let reread = ChannelIndex::parse("again.json", "stable", &again, now).expect("re-reads");
    assert_eq!(reread, index);
});
