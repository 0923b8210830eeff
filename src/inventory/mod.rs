//! Ansible inventories, read the way Ansible reads them, so that an operator's existing
//! `hosts.ini` or `inventory.yml` works unchanged and `fleetup inventory --list` can be diffed
//! against `ansible-inventory --list`.
//!
//! The model mirrors Ansible's `InventoryData`: named groups (with `all` and `ungrouped` always
//! present), named hosts, group → child edges, and variables on both. Parsers (`ini`, `yaml`)
//! only call the builder methods here; precedence, `ungrouped` reconciliation and pattern
//! selection live in one place each.

pub mod address;
pub mod export;
pub mod ini;
pub mod load;
pub mod pattern;
pub mod pyliteral;
pub mod range;
pub mod vars;
pub mod yaml;

#[cfg(test)]
pub(crate) mod testutil;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

pub use load::{LoadOptions, load};
pub use pattern::select;

/// Variables as Ansible holds them: names to typed values.
pub type Vars = IndexMap<String, Value>;

/// The most hosts one inventory may list (all sources together, a host counting once for each
/// group it is listed in), as many as one host range may expand to: a few lines of ranges
/// could otherwise ask for billions.
pub const MAX_HOSTS: usize = range::MAX_HOSTS;

/// The name of the group every host and group belongs to.
pub const ALL: &str = "all";
/// The group of hosts that belong to no other group.
pub const UNGROUPED: &str = "ungrouped";

/// Where something was read, for error messages that point at the line to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Every way an inventory can be wrong. Each names the file and line when it has one.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{origin}: {message}")]
    Syntax { origin: Origin, message: String },
    /// `what`: "inventory" or "extra vars file"; `hint`: for a missing file, where it was
    /// looked for and the names beside it that come close (see `load::missing_file_hint`).
    #[error("cannot read {what} {}: {source}{hint}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
        hint: String,
    },
    #[error("{origin}: adding group '{child}' as a child of '{parent}' creates a cycle")]
    Cycle {
        origin: Origin,
        parent: String,
        child: String,
    },
    #[error("{origin}: host name '{name}' is not allowed: {reason}")]
    BadHostName {
        origin: Origin,
        name: String,
        reason: String,
    },
    #[error("{origin}: group name '{name}' is not allowed: {reason}")]
    BadGroupName {
        origin: Origin,
        name: String,
        reason: String,
    },
    #[error("pattern '{pattern}' matches no host or group{hint}")]
    NoMatch { pattern: String, hint: String },
    #[error("invalid pattern '{pattern}': {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("invalid extra vars '{text}': {reason}")]
    BadExtraVars { text: String, reason: String },
}

pub type Result<T, E = InventoryError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Default)]
pub struct Host {
    pub name: String,
    /// Variables set on the host itself (inline INI vars, YAML host entries, `ansible_port`
    /// from `host:port`). Later definitions of the same host override earlier ones.
    pub vars: Vars,
    /// Groups the host was put in directly, in the order it was put in them.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub vars: Vars,
    /// Hosts put directly in this group, in order of first appearance.
    pub hosts: Vec<String>,
    /// Child groups, in order of first appearance.
    pub children: Vec<String>,
    /// Parent groups, in order of first appearance.
    pub parents: Vec<String>,
    /// `ansible_group_priority` as set in the inventory (`None`: Ansible's default, 1). Like
    /// Ansible, the inventory keeps it here rather than among the group's variables.
    pub priority: Option<i64>,
}

/// Variables read from the `group_vars/` and `host_vars/` directories of one directory (beside
/// an inventory source, or the "playbook" directory), by group and host name.
#[derive(Debug, Clone, Default)]
pub struct VarsDir {
    /// The directory holding `group_vars/` and `host_vars/`.
    pub dir: PathBuf,
    pub groups: IndexMap<String, Vars>,
    pub hosts: IndexMap<String, Vars>,
}

impl VarsDir {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            ..Self::default()
        }
    }
}

/// A whole inventory: what every `-i` source said, merged in order.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// `-e` variables: they beat everything, as in Ansible.
    extra_vars: Vars,
    /// `group_vars/`, `host_vars/` beside each inventory source, in source order.
    inventory_vars_dirs: Vec<VarsDir>,
    /// `group_vars/`, `host_vars/` of the playbook directory (for fleetup: the current directory,
    /// as `ansible`/`ansible-inventory` use it).
    playbook_vars_dir: Option<VarsDir>,
    /// Host entries made so far (a host counts once per group it was put in), for the
    /// [`MAX_HOSTS`] cap.
    entries: usize,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An empty inventory with the two groups Ansible always has.
    pub fn new() -> Self {
        let mut inv = Self {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            extra_vars: Vars::new(),
            inventory_vars_dirs: Vec::new(),
            playbook_vars_dir: None,
            entries: 0,
        };
        inv.ensure_group(ALL);
        inv.ensure_group(UNGROUPED);
        inv.link(ALL, UNGROUPED);
        inv
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn extra_vars(&self) -> &Vars {
        &self.extra_vars
    }

    pub fn set_extra_vars(&mut self, vars: Vars) {
        self.extra_vars = vars;
    }

    /// Adds the `group_vars/`/`host_vars/` of one inventory source (call in source order).
    pub fn add_inventory_vars_dir(&mut self, vars: VarsDir) {
        self.inventory_vars_dirs.push(vars);
    }

    /// Sets the `group_vars/`/`host_vars/` of the playbook directory.
    pub fn set_playbook_vars_dir(&mut self, vars: Option<VarsDir>) {
        self.playbook_vars_dir = vars;
    }

    pub fn inventory_vars_dirs(&self) -> &[VarsDir] {
        &self.inventory_vars_dirs
    }

    pub fn playbook_vars_dir(&self) -> Option<&VarsDir> {
        self.playbook_vars_dir.as_ref()
    }

    /// Declares a group (no-op when it exists). The name is checked by the parsers, which know
    /// the line to blame.
    pub fn add_group(&mut self, name: &str) {
        self.ensure_group(name);
    }

    fn ensure_group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_owned()).or_insert_with(|| Group {
            name: name.to_owned(),
            ..Group::default()
        })
    }

    /// Declares a host (no-op when it exists) and, when `group` is given, puts it in that group
    /// (declaring the group too).
    pub fn add_host(&mut self, name: &str, group: Option<&str>) {
        if !self.hosts.contains_key(name) {
            self.hosts.insert(
                name.to_owned(),
                Host {
                    name: name.to_owned(),
                    ..Host::default()
                },
            );
        }
        if let Some(group) = group {
            self.ensure_group(group);
            // A host is in a group's `hosts` exactly when the group is in the host's `groups`;
            // look in the host's list, which is short (a group's may hold a million names).
            let h = &mut self.hosts[name];
            if !h.groups.iter().any(|g| g == group) {
                h.groups.push(group.to_owned());
                self.groups[group].hosts.push(name.to_owned());
                self.entries += 1;
            }
        }
    }

    /// How many hosts the inventory holds.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Refuses to add `names` (to one group) when that would take the inventory past
    /// [`MAX_HOSTS`] hosts or host entries; the parsers call this before adding a line's hosts.
    pub(crate) fn room_for(&self, names: &[String]) -> std::result::Result<(), String> {
        let new = names
            .iter()
            .filter(|n| !self.hosts.contains_key(n.as_str()))
            .count();
        if self.hosts.len() + new > MAX_HOSTS || self.entries + names.len() > MAX_HOSTS {
            return Err(format!(
                "the inventory would list more than {MAX_HOSTS} hosts (a host counts once for \
                 each group it is listed in)"
            ));
        }
        Ok(())
    }

    /// Sets a variable on a host (which must exist).
    pub fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.vars.insert(key.to_owned(), value);
        }
    }

    /// Sets a variable on a group, declaring the group when needed. `ansible_group_priority`
    /// sets the group's priority instead (as Python's `int()` reads the value; parsers refuse
    /// values it cannot read, see [`python_int`]).
    pub fn set_group_var(&mut self, group: &str, key: &str, value: Value) {
        let g = self.ensure_group(group);
        if key == "ansible_group_priority" {
            if let Some(p) = python_int(&value) {
                g.priority = Some(p);
            }
            return;
        }
        g.vars.insert(key.to_owned(), value);
    }

    /// Makes `child` a child group of `parent`, declaring both. Refuses an edge that would
    /// make a group its own ancestor, as Ansible does. `all` is never a child: every group
    /// ends up under `all` (see [`Inventory::reconcile`]), so `all` under a group is a cycle
    /// (Ansible reports it when it reconciles).
    pub fn add_child(&mut self, parent: &str, child: &str, origin: &Origin) -> Result<()> {
        self.ensure_group(parent);
        self.ensure_group(child);
        if parent == child || child == ALL || self.ancestors(parent).contains(child) {
            return Err(InventoryError::Cycle {
                origin: origin.clone(),
                parent: parent.to_owned(),
                child: child.to_owned(),
            });
        }
        self.link(parent, child);
        Ok(())
    }

    fn link(&mut self, parent: &str, child: &str) {
        let p = &mut self.groups[parent];
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_owned());
        }
        let c = &mut self.groups[child];
        if !c.parents.iter().any(|p| p == parent) {
            c.parents.push(parent.to_owned());
        }
    }

    /// Every group above `group` (not including itself).
    pub fn ancestors(&self, group: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut todo: Vec<&str> = vec![group];
        while let Some(g) = todo.pop() {
            if let Some(g) = self.groups.get(g) {
                for p in &g.parents {
                    if seen.insert(p.clone()) {
                        todo.push(p);
                    }
                }
            }
        }
        seen
    }

    /// Ansible's `reconcile_inventory`: every group without a parent becomes a child of `all`,
    /// and hosts in no group but `all` go to `ungrouped` (and leave it when they have another).
    /// Run once after all sources are read.
    pub fn reconcile(&mut self) {
        let orphans: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != ALL && g.parents.is_empty())
            .map(|g| g.name.clone())
            .collect();
        for g in orphans {
            self.link(ALL, &g);
        }
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        // Hosts that leave `ungrouped`, taken out of its list in one pass at the end (one pass
        // per host was quadratic).
        let mut leaving: HashSet<String> = HashSet::new();
        for name in names {
            let groups = &self.hosts[&name].groups;
            let in_other = groups.iter().any(|g| g != ALL && g != UNGROUPED);
            if groups.iter().any(|g| g == UNGROUPED) {
                if in_other {
                    self.hosts[&name].groups.retain(|g| g != UNGROUPED);
                    leaving.insert(name);
                }
            } else if !in_other {
                self.add_host(&name, Some(UNGROUPED));
            }
        }
        if !leaving.is_empty() {
            self.groups[UNGROUPED]
                .hosts
                .retain(|h| !leaving.contains(h));
        }
    }

    /// Depth of a group as Ansible computes it: the longest path from `all` (which is 0).
    /// Each group's depth is computed once (a walk over every path would take exponential
    /// time on a ladder of diamonds, a few hundred bytes of inventory).
    pub fn depth(&self, group: &str) -> usize {
        fn walk<'a>(
            inv: &'a Inventory,
            g: &'a str,
            done: &mut HashMap<&'a str, usize>,
            path: &mut HashSet<&'a str>,
        ) -> usize {
            if let Some(d) = done.get(g) {
                return *d;
            }
            let Some(grp) = inv.groups.get(g) else {
                return 0;
            };
            if !path.insert(g) {
                return 0; // a cycle (the builders refuse them): stop here
            }
            let d = grp
                .parents
                .iter()
                .map(|p| walk(inv, p, done, path) + 1)
                .max()
                .unwrap_or(0);
            path.remove(g);
            done.insert(g, d);
            d
        }
        walk(self, group, &mut HashMap::new(), &mut HashSet::new())
    }

    /// Every group a host belongs to, directly or through children, `all` included.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        let Some(h) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for g in &h.groups {
            if !out.contains(g) {
                out.push(g.clone());
            }
            for a in self.ancestors(g) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        if !out.iter().any(|g| g == ALL) {
            out.push(ALL.to_owned());
        }
        out
    }

    /// The variables a host ends up with, in ansible-core's `VariableManager.get_vars` order
    /// (default `VARIABLE_PRECEDENCE`), lowest first:
    /// 1. the inventory's `all` vars, then the host's other groups' inventory vars, groups
    ///    sorted as Ansible sorts them (depth, `ansible_group_priority`, name);
    /// 2. `group_vars/all` beside each inventory source (sources in order), then the playbook
    ///    directory's;
    /// 3. the other groups' `group_vars/` files: for each inventory source in order, every
    ///    group in sorted order (so a later source beats an earlier one whatever the depth),
    ///    then the playbook directory's;
    /// 4. the host's inventory vars, its `host_vars/` files (sources, then playbook dir);
    /// 5. `-e`.
    ///
    /// Note that a `group_vars/all.yml` file beats a child group's *inventory* vars: that is
    /// Ansible's order (checked with ansible-inventory 2.19). A later value replaces an earlier
    /// one whole (Ansible's default `hash_behaviour=replace`: dicts are not merged).
    pub fn host_vars(&self, host: &str) -> Vars {
        let Some(h) = self.hosts.get(host) else {
            return Vars::new();
        };
        let mut groups: Vec<(usize, i64, String)> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != ALL)
            .map(|g| (self.depth(&g), self.groups[&g].priority.unwrap_or(1), g))
            .collect();
        groups.sort();
        let groups: Vec<&str> = groups.iter().map(|(_, _, g)| g.as_str()).collect();
        let play = self.playbook_vars_dir.iter();
        let mut vars = Vars::new();
        let mut merge = |layer: Option<&Vars>| {
            for (k, v) in layer.into_iter().flatten() {
                vars.insert(k.clone(), v.clone());
            }
        };
        merge(self.groups.get(ALL).map(|g| &g.vars));
        for g in &groups {
            merge(Some(&self.groups[*g].vars));
        }
        for d in self.inventory_vars_dirs.iter().chain(play.clone()) {
            merge(d.groups.get(ALL));
        }
        for d in &self.inventory_vars_dirs {
            for g in &groups {
                merge(d.groups.get(*g));
            }
        }
        for d in play.clone() {
            for g in &groups {
                merge(d.groups.get(*g));
            }
        }
        merge(Some(&h.vars));
        for d in self.inventory_vars_dirs.iter().chain(play) {
            merge(d.hosts.get(host));
        }
        merge(Some(&self.extra_vars));
        vars
    }

    /// A group's own variables as `ansible-inventory --list --export` shows them: its inventory
    /// vars, then its `group_vars/` files beside each inventory source, and
    /// `ansible_group_priority` when it is not 1.
    pub fn group_vars(&self, group: &str) -> Vars {
        let Some(g) = self.groups.get(group) else {
            return Vars::new();
        };
        let mut vars = g.vars.clone();
        for d in &self.inventory_vars_dirs {
            for (k, v) in d.groups.get(group).into_iter().flatten() {
                vars.insert(k.clone(), v.clone());
            }
        }
        if let Some(p) = g.priority.filter(|p| *p != 1) {
            vars.insert("ansible_group_priority".into(), Value::from(p));
        }
        vars
    }

    /// Hosts of a group and of all its descendants, in Ansible's order: the group's own hosts,
    /// then its children's (breadth first, each child in declaration order), without repeats.
    /// `all` lists every host of the inventory.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen_hosts: HashSet<&str> = HashSet::new();
        let mut seen_groups: HashSet<&str> = HashSet::new();
        let mut level: Vec<&str> = vec![group];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                if !seen_groups.insert(g) {
                    continue;
                }
                let Some(grp) = self.groups.get(g) else {
                    continue;
                };
                for h in &grp.hosts {
                    if seen_hosts.insert(h) {
                        out.push(h.clone());
                    }
                }
                next.extend(grp.children.iter().map(String::as_str));
            }
            level = next;
        }
        out
    }
}

/// Python's `int(value)` as Ansible applies it to `ansible_group_priority`: integers, booleans,
/// floats (truncated) and strings holding an integer (`" 7 "`, `"1_0"`); `None` for anything
/// Python would refuse.
pub fn python_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            #[allow(clippy::cast_possible_truncation)]
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => range::py_int(s).and_then(|v| i64::try_from(v).ok()),
        _ => None,
    }
}

/// Checks a host name the way fleetup needs it: something ssh cannot mistake for an option,
/// with no whitespace or control characters. Ansible is laxer; fleetup puts host names on
/// command lines, so it is not.
pub fn check_host_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name.starts_with('-') {
        return Err("starts with '-' (it would be read as an option)".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains {c:?}"));
    }
    if name.len() > 255 {
        return Err("longer than 255 bytes".into());
    }
    Ok(())
}

/// Longest user name accepted: Linux's `LOGIN_NAME_MAX` is 256 bytes with the final NUL.
pub const MAX_USER_NAME_BYTES: usize = 255;

/// Characters that are in no user name, but mean something to a shell, to `sudo`, to ssh_config
/// token expansion (`%r` in a path) or to a path: a value holding one is refused rather than
/// passed on.
const NOT_IN_USER_NAMES: &[char] = &[
    '/', '\'', '"', '`', ';', '&', '|', '<', '>', '(', ')', '{', '}', '[', ']', '$', '*', '?', '!',
    '~', ',', '%', '=', ':',
];

/// Checks a user name fleetup hands to SSH (`ansible_user`, a jump host's user) or to
/// `sudo -n -u` (`ansible_become_user`). Such a value always travels as data (an SSH protocol
/// field, or one argv word after `-u`), never through a shell; it is still checked so that a
/// value that is no user name fails its host with a clear message instead of reaching `sudo`
/// or sshd: not empty, not starting with `-` (an option), no whitespace, control character or
/// shell/path metacharacter, at most [`MAX_USER_NAME_BYTES`]. `@`, `.`, `_`, `-`, a backslash
/// (`DOMAIN\user`) and a leading `#` (sudo's `#UID`) are accepted.
pub fn check_user_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name.starts_with('-') {
        return Err("starts with '-' (it would be read as an option)".into());
    }
    if name.len() > MAX_USER_NAME_BYTES {
        return Err(format!("longer than {MAX_USER_NAME_BYTES} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || NOT_IN_USER_NAMES.contains(c))
    {
        return Err(format!("contains {c:?}, which is in no user name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
