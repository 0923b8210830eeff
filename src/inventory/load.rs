//! Reading `-i` sources: files (INI or YAML, detected as Ansible does), directories of them,
//! several merged in order, and `-e` extra vars.

use std::path::PathBuf;

use super::{Inventory, Result};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-i` sources, in the order given.
    pub sources: Vec<PathBuf>,
    /// `-e` arguments, in the order given (`k=v k2=v2`, `@file`, or a JSON/YAML mapping).
    pub extra_vars: Vec<String>,
}

/// Reads every source into one inventory, reconciled and with extra vars set.
pub fn load(opts: &LoadOptions) -> Result<Inventory> {
    let _ = opts;
    let mut inv = Inventory::new();
    inv.reconcile();
    Ok(inv)
}
