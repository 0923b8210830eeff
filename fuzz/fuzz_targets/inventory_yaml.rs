//! The YAML (and JSON) inventory parser, and the YAML 1.1 loader the variables files go
//! through, on arbitrary UTF-8 text (`load` gives the YAML plugin UTF-8 only).
#![no_main]

use std::path::Path;

use fleetup::inventory::{Inventory, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: fleetup_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yml");
    if let Ok(value) = yaml::load_value(path, text) {
        serde_json::to_string(&value).expect("a loaded value serializes");
    }
    let mut inv = Inventory::new();
    if yaml::parse(&mut inv, path, text).is_ok() {
        fleetup_fuzz::check_inventory(inv);
    }
});
