//! Checks shared by the fuzz targets: what must hold of any inventory a parser accepted.
//!
//! A target's first duty is not to panic, hang or blow up memory on any input; these checks
//! add the invariants the rest of fleetup relies on, so that a parser accepting something
//! inconsistent is found too. Each failed check panics, which libFuzzer reports as a crash.
//! [`catch_stack_overflow`] makes a stack overflow a reported crash as well.

use std::collections::HashSet;

use fleetup::inventory::{ALL, Inventory, export, select};

/// Inventories with more hosts are only parsed and reconciled (see [`check_inventory`]).
pub const DEEP_CHECK_HOSTS: usize = 10_000;

/// Reconciles an inventory a parser accepted, as `load` does, and walks every view of it that
/// fleetup computes (variables, groups, `--list`, `--graph`, the `all` pattern), checking
/// that they agree.
pub fn check_inventory(mut inv: Inventory) {
    inv.reconcile();
    // Every check is linear in the hosts, but a range of a million hosts (the most fleetup
    // takes) makes them take longer than the timeout under instrumentation: such an
    // inventory is only parsed and reconciled.
    if inv.host_count() > DEEP_CHECK_HOSTS {
        return;
    }
    let hosts: Vec<String> = inv.hosts().map(|h| h.name.clone()).collect();
    let host_set: HashSet<&str> = hosts.iter().map(String::as_str).collect();
    assert_eq!(host_set.len(), hosts.len(), "host names are unique");

    // A host is in a group's list exactly when the group is in the host's list, once.
    let mut members: HashSet<(&str, &str)> = HashSet::new();
    for g in inv.groups() {
        for h in &g.hosts {
            assert!(
                inv.host(h).is_some(),
                "group {} lists unknown host {h}",
                g.name
            );
            assert!(
                members.insert((&g.name, h)),
                "group {} lists {h} twice",
                g.name
            );
        }
        for c in g.children.iter().chain(&g.parents) {
            assert!(
                inv.group(c).is_some(),
                "group {} links unknown group {c}",
                g.name
            );
        }
        if g.name != ALL {
            assert!(
                !g.parents.is_empty(),
                "group {} is reachable from all",
                g.name
            );
        }
    }
    let mut memberships = 0;
    for h in inv.hosts() {
        for g in &h.groups {
            assert!(
                inv.group(g).is_some(),
                "host {} in unknown group {g}",
                h.name
            );
            assert!(
                members.contains(&(g.as_str(), h.name.as_str())),
                "group {g} lists host {}",
                h.name
            );
            memberships += 1;
        }
        let _ = inv.host_vars(&h.name);
        let groups = inv.host_groups(&h.name);
        assert!(groups.iter().any(|g| g == ALL), "host {} is in all", h.name);
    }
    assert_eq!(
        memberships,
        members.len(),
        "every listed host has the group in its list"
    );
    for g in inv.groups() {
        let _ = inv.group_vars(&g.name);
        let _ = inv.depth(&g.name);
    }

    // `all` holds every host, once.
    let everyone = inv.group_hosts(ALL);
    assert_eq!(everyone.len(), hosts.len(), "all lists every host once");
    assert!(everyone.iter().all(|h| host_set.contains(h.as_str())));

    // The `all` pattern selects exactly that (unless a host is itself named `all`).
    if inv.host(ALL).is_none() {
        match select(&inv, ALL) {
            Ok(selected) => assert_eq!(selected, everyone, "pattern all"),
            Err(e) => assert!(
                hosts.is_empty(),
                "pattern all failed on a non-empty inventory: {e}"
            ),
        }
    }

    let list = export::list(&inv, &everyone);
    serde_json::to_string(&list).expect("--list serializes");
    let _ = export::graph(&inv, ALL, &everyone);
}

/// Makes a stack overflow in the target a crash that libFuzzer reports and saves the input of.
///
/// libFuzzer's `main` is not Rust's, so Rust's guard-page handler is not installed, and
/// libFuzzer's own SIGSEGV handler runs on the overflowed stack: the process just dies, with
/// no reproducer. This gives the main thread an alternate signal stack and a SIGSEGV/SIGBUS
/// handler that runs on it (libFuzzer keeps `SA_ONSTACK` and calls this handler first) and
/// aborts, which libFuzzer reports as a deadly signal, writing the input to `crash-…`.
/// Call it from the target's `init:`.
pub fn catch_stack_overflow() {
    extern "C" fn on_fault(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        const MSG: &[u8] = b"\n==fleetup-fuzz: SIGSEGV/SIGBUS (a stack overflow?): aborting\n";
        // SAFETY: write(2) and abort(3) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::abort();
        }
    }
    const ALT_STACK_BYTES: usize = 1 << 20;
    let stack = Box::leak(vec![0u8; ALT_STACK_BYTES].into_boxed_slice());
    // SAFETY: the alternate stack lives for the rest of the process (leaked); the handler only
    // calls async-signal-safe functions.
    unsafe {
        let ss = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_BYTES,
        };
        assert_eq!(
            libc::sigaltstack(&ss, std::ptr::null_mut()),
            0,
            "sigaltstack"
        );
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(signal, &action, std::ptr::null_mut()),
                0,
                "sigaction"
            );
        }
    }
}
