//! Minisign signatures and public keys as fleetup reads them (src/release/trust.rs, through
//! minisign-verify). The input is `<.minisig text> NUL <signed data>`; the trusted key is the
//! quick start's (examples/quickstart/minisign.pub), so the seed built from its signed
//! `stable.json` verifies and mutations explore the paths around a valid signature. The
//! signature text is also read as a `.pub` file.
#![no_main]

use std::sync::LazyLock;

use fleetup::release::{ChannelIndex, TrustedKeys};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<TrustedKeys> = LazyLock::new(|| {
    let file = include_str!("../../examples/quickstart/minisign.pub");
    let key = file.lines().nth(1).expect("a key line");
    TrustedKeys::from_entries(&[key]).expect("the quick start key")
});

fuzz_target!(init: fleetup_fuzz::catch_stack_overflow(), |input: &[u8]| {
    let (sig, data) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let Ok(sig) = std::str::from_utf8(sig) else {
        return;
    };
    let _ = TrustedKeys::from_public_key_file_text("fuzz.pub", sig);
    for allow_legacy in [false, true] {
        if let Ok(v) = KEYS.verify("fuzz.json", data, sig, allow_legacy) {
            assert_eq!(KEYS.ids(), [v.key_id]);
            let now = "2026-06-01T00:00:00Z".parse().expect("a time");
            let _ = ChannelIndex::parse("fuzz.json", "stable", data, now);
        }
    }
});
