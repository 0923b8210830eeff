//! The INI inventory parser on arbitrary text (read as `load` reads a file: lossy UTF-8).
#![no_main]

use std::path::Path;

use fleetup::inventory::{Inventory, ini};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: fleetup_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut inv = Inventory::new();
    if ini::parse(&mut inv, Path::new("fuzz.ini"), &text).is_ok() {
        fleetup_fuzz::check_inventory(inv);
    }
});
