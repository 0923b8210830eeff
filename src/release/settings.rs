//! Where a host's releases come from, read from its inventory variables: `fleetup_source`,
//! `fleetup_channel` (default `stable`), `fleetup_public_keys` and, for a Cells update server,
//! `fleetup_cells_package` (default `PydioHome`). Command-line flags, when given, replace them.
//! And how long fetching them may take ([`fetch_options`]).

use std::time::Duration;

use super::fetch::FetchOptions;
use crate::inventory::vars::{list, number, string};
use crate::inventory::{self, Inventory, Vars};

/// The channel a host follows and the keys it trusts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReleaseSettings {
    pub source: String,
    pub channel: String,
    pub public_keys: Vec<String>,
    /// The Cells `PackageName` asked for (only used by a `cells+` source).
    pub package: String,
}

/// The default channel, as in Pydio Cells.
pub const DEFAULT_CHANNEL: &str = "stable";

/// The Cells package asked for by default: Cells Home edition.
pub const DEFAULT_CELLS_PACKAGE: &str = "PydioHome";

/// Flags that replace the inventory's values.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub source: Option<String>,
    pub channel: Option<String>,
    pub public_keys: Vec<String>,
    pub package: Option<String>,
}

impl ReleaseSettings {
    /// Reads a host's settings; `Err` says which variable is missing or of the wrong type.
    pub fn from_vars(vars: &Vars, flags: &Overrides) -> Result<Self, String> {
        let source = match &flags.source {
            Some(s) => s.clone(),
            None => string(vars, "fleetup_source")?.ok_or(
                "fleetup_source is not set (the base URL or directory of the channel indexes): \
                 set it in the inventory, e.g. `fleetup_source: https://releases.example.com/app` \
                 in the vars of `all`, or pass -e fleetup_source=URL",
            )?,
        };
        let channel = match &flags.channel {
            Some(c) => c.clone(),
            None => string(vars, "fleetup_channel")?.unwrap_or_else(|| DEFAULT_CHANNEL.to_owned()),
        };
        let public_keys = if flags.public_keys.is_empty() {
            list(vars, "fleetup_public_keys")?
        } else {
            flags.public_keys.clone()
        };
        let package = match &flags.package {
            Some(p) => p.clone(),
            None => string(vars, "fleetup_cells_package")?
                .unwrap_or_else(|| DEFAULT_CELLS_PACKAGE.to_owned()),
        };
        if package.is_empty()
            || package.len() > 64
            || !package
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(format!(
                "fleetup_cells_package {package:?} is not a package name (PydioHome, PydioEnterprise, CellsClient: [A-Za-z0-9._-], at most 64)"
            ));
        }
        Ok(Self {
            source,
            channel,
            public_keys,
            package,
        })
    }
}

/// The fetch timeouts, in seconds, read like `fleetup_serial` from `-e` or the inventory's
/// `all` vars (the controller downloads once for all hosts, so a per-host value would mean
/// nothing): `fleetup_fetch_connect_timeout` (default 10), `fleetup_fetch_idle_timeout` (no
/// byte for that long, default 30) and `fleetup_fetch_timeout` (one index, signature or artifact
/// download with its resumptions, default 3600). A value that is not a whole number of seconds
/// of at least 1 is an error naming the variable.
pub fn fetch_options(inv: &Inventory) -> Result<FetchOptions, String> {
    let all = inv.group_vars(inventory::ALL);
    fetch_options_from(inv.extra_vars(), &all)
}

/// [`fetch_options`] on the `-e` vars and the `all` group's vars.
pub fn fetch_options_from(extra: &Vars, all: &Vars) -> Result<FetchOptions, String> {
    let mut opts = FetchOptions::default();
    for (name, field) in [
        ("fleetup_fetch_connect_timeout", &mut opts.connect_timeout),
        ("fleetup_fetch_idle_timeout", &mut opts.idle_timeout),
        ("fleetup_fetch_timeout", &mut opts.total_timeout),
    ] {
        let vars = if extra.contains_key(name) { extra } else { all };
        if let Some(secs) = number(vars, name)? {
            if secs == 0 {
                return Err(format!("{name} must be at least 1 (seconds)"));
            }
            *field = Duration::from_secs(secs);
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: serde_json::Value) -> Vars {
        match v {
            serde_json::Value::Object(map) => map.into_iter().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn reads_the_three_variables_with_the_default_channel() {
        let s = ReleaseSettings::from_vars(
            &vars(json!({"fleetup_source": "https://r.example/app", "fleetup_public_keys": ["RWQ", "/k.pub"]})),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.source, "https://r.example/app");
        assert_eq!(s.channel, "stable");
        assert_eq!(s.public_keys, ["RWQ", "/k.pub"]);
        assert_eq!(s.package, "PydioHome");
    }

    #[test]
    fn flags_replace_the_inventory() {
        let flags = Overrides {
            source: Some("/srv".into()),
            channel: Some("dev".into()),
            public_keys: vec!["k".into()],
            package: Some("PydioEnterprise".into()),
        };
        let s = ReleaseSettings::from_vars(
            &vars(json!({"fleetup_source": "x", "fleetup_channel": "stable"})),
            &flags,
        )
        .unwrap();
        assert_eq!(
            (
                s.source.as_str(),
                s.channel.as_str(),
                s.public_keys.len(),
                s.package.as_str()
            ),
            ("/srv", "dev", 1, "PydioEnterprise")
        );
    }

    #[test]
    fn missing_or_mistyped_variables_are_named() {
        let none = ReleaseSettings::from_vars(&Vars::new(), &Overrides::default()).unwrap_err();
        assert!(
            none.starts_with("fleetup_source is not set")
                && none.contains("-e fleetup_source=URL")
                && none.contains("in the vars of `all`"),
            "the fix is named: {none}"
        );
        let typed = ReleaseSettings::from_vars(
            &vars(json!({"fleetup_source": ["a"]})),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(typed.contains("must be a string"), "{typed}");
        let keys = ReleaseSettings::from_vars(
            &vars(json!({"fleetup_source": "s", "fleetup_public_keys": {"a": 1}})),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(keys.contains("fleetup_public_keys"), "{keys}");
        for bad in [json!("a/b"), json!("Pydio Home"), json!("a;b"), json!([1])] {
            let e = ReleaseSettings::from_vars(
                &vars(json!({"fleetup_source": "s", "fleetup_cells_package": bad})),
                &Overrides::default(),
            )
            .unwrap_err();
            assert!(e.contains("fleetup_cells_package"), "{bad}: {e}");
        }
    }

    #[test]
    fn fetch_timeouts_from_extra_vars_then_all_vars() {
        let none = fetch_options_from(&Vars::new(), &Vars::new()).unwrap();
        assert_eq!(none, FetchOptions::default());
        let all = vars(json!({"fleetup_fetch_timeout": 5, "fleetup_fetch_idle_timeout": "2"}));
        let extra = vars(json!({"fleetup_fetch_timeout": "7"}));
        let o = fetch_options_from(&extra, &all).unwrap();
        assert_eq!(o.total_timeout, Duration::from_secs(7), "-e wins");
        assert_eq!(o.idle_timeout, Duration::from_secs(2));
        assert_eq!(o.connect_timeout, FetchOptions::default().connect_timeout);
        for bad in [json!(0), json!("soon"), json!(-3), json!(1.5), json!([1])] {
            let e = fetch_options_from(
                &vars(json!({"fleetup_fetch_idle_timeout": bad})),
                &Vars::new(),
            )
            .unwrap_err();
            assert!(e.contains("fleetup_fetch_idle_timeout"), "{bad}: {e}");
        }
    }
}
