//! `fleetup inventory`: what fleetup sees in the inventory, in `ansible-inventory`'s shapes.

use std::io::Write;

use crate::cli::{InventoryArgs, Settings};
use crate::inventory;
use crate::inventory::pattern::{Names, suggest};
use crate::run::{Outcome, RunError, load_selection, refuse_host_formats, write_json};

pub fn run(s: &Settings, args: &InventoryArgs) -> Result<Outcome, RunError> {
    refuse_host_formats(s, "inventory", "prints JSON or a graph: leave --output out")?;
    let (inv, selected) = load_selection(s)?;
    let mut out = std::io::stdout().lock();
    if args.list {
        write_json(&mut out, &inventory::export::list(&inv, &selected))?;
    } else if args.graph {
        let group = args.group.as_deref().unwrap_or(inventory::ALL);
        if inv.group(group).is_none() {
            return Err(RunError::UnknownGroup {
                name: group.to_owned(),
                hint: suggest(&inv, group, Names::Groups),
            });
        }
        write!(out, "{}", inventory::export::graph(&inv, group, &selected))?;
    } else if let Some(host) = &args.host {
        if inv.host(host).is_none() {
            return Err(RunError::UnknownHost {
                name: host.clone(),
                hint: suggest(&inv, host, Names::Hosts),
            });
        }
        let vars: serde_json::Map<String, serde_json::Value> =
            inv.host_vars(host).into_iter().collect();
        write_json(&mut out, &serde_json::Value::Object(vars))?;
    }
    Ok(Outcome::Success)
}
