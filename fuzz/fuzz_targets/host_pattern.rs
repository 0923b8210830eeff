//! Host patterns (`--limit`) against a fixed inventory (tests/corpus/patterns.ini), and the
//! host range expander on the same text.
#![no_main]

use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

use fleetup::inventory::{Inventory, ini, range, select};
use libfuzzer_sys::fuzz_target;

static INVENTORY: LazyLock<Inventory> = LazyLock::new(|| {
    let mut inv = Inventory::new();
    let text = include_str!("../../tests/corpus/patterns.ini");
    ini::parse(&mut inv, Path::new("patterns.ini"), text).expect("the fixed inventory parses");
    inv.reconcile();
    inv
});

fuzz_target!(init: fleetup_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    // `@file` reads a file named by the pattern: not something to point a fuzzer at (the
    // property tests cover limit files).
    if !pattern.contains('@') {
        let inv = &*INVENTORY;
        if let Ok(hosts) = select(inv, pattern) {
            assert!(!hosts.is_empty(), "{pattern:?}: a selection is never empty");
            let unique: HashSet<&String> = hosts.iter().collect();
            assert_eq!(unique.len(), hosts.len(), "{pattern:?}: no host twice");
            for h in &hosts {
                assert!(inv.host(h).is_some(), "{pattern:?} selected unknown host {h}");
            }
        }
    }
    if let Ok(names) = range::expand(pattern) {
        assert!(!names.is_empty(), "{pattern:?}: expands to at least one name");
        assert!(names.len() <= range::MAX_HOSTS);
        for n in &names {
            assert!(!n.contains('['), "{pattern:?} expanded to {n:?}, still a range");
        }
    }
});
