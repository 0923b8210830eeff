//! Reading `-i` sources: files (INI or YAML, detected as Ansible does), directories of them,
//! several merged in order, `group_vars/`/`host_vars/` beside them, and `-e` extra vars.
//!
//! What ansible-core 2.19 does, and fleetup with it:
//! - A directory source is read entry by entry in sorted (byte) order, recursing into
//!   subdirectories, skipping hidden entries, `group_vars`, `host_vars`, `vars_plugins` and
//!   names ending in one of [`IGNORED_SUFFIXES`] (`INVENTORY_IGNORE_EXTS`).
//! - A file goes through Ansible's plugin chain: `.yml`/`.yaml`/`.json` or no extension is
//!   tried as a YAML inventory first and, when the YAML plugin rejects it, as INI (so a
//!   plain host list in `hosts` is INI, `hosts.yml` holding `a\nb` too); other extensions are
//!   INI. `.toml` inventories and executable inventory scripts are refused (Ansible would
//!   run them with its toml/script plugins).
//! - A source that does not exist but contains a comma is a host list (`-i a,b,`).
//! - Variables files: `group_vars/<group>` and `host_vars/<host>` beside each source (the
//!   source directory, or the directory of a source file), and in the playbook directory
//!   (the current directory for `ansible`/`ansible-inventory`); see
//!   [`Inventory::host_vars`] for how they rank.
//!
//! Where fleetup stops instead of going on: Ansible only warns about a source no plugin can
//! read and continues with what it has; fleetup fails with the most relevant parser's error,
//! since upgrading a partial fleet silently is worse than stopping.

mod extra_vars;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::address::{self, Address};
use super::yaml::{self, Yaml};
use super::{
    Inventory, InventoryError, Origin, Result, UNGROUPED, Vars, VarsDir, check_host_name, ini,
};

pub use extra_vars::{parse_extra_vars, parse_kv};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-i` sources, in the order given.
    pub sources: Vec<PathBuf>,
    /// `-e` arguments, in the order given (`k=v k2=v2`, `@file`, or a JSON/YAML mapping).
    pub extra_vars: Vec<String>,
}

/// File name endings a directory source skips (ansible's default `INVENTORY_IGNORE_EXTS`:
/// `REJECT_EXTS` plus `.orig`, `.cfg`, `.retry`).
pub const IGNORED_SUFFIXES: &[&str] = &[
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// Extensions the YAML plugin takes (`yaml_extensions`), besides no extension at all.
const YAML_EXTENSIONS: &[&str] = &[".yaml", ".yml", ".json"];

/// Extensions of variables files (`YAML_FILENAME_EXTENSIONS`); `""` is "no extension".
const VARS_EXTENSIONS: &[&str] = &["", ".yml", ".yaml", ".json"];

/// Reads every source into one inventory, reconciled and with extra vars set. The current
/// directory is the playbook directory whose `group_vars/`/`host_vars/` also apply, as they do
/// for `ansible` and `ansible-inventory` run from there.
pub fn load(opts: &LoadOptions) -> Result<Inventory> {
    let cwd = std::env::current_dir().ok();
    load_with_playbook_dir(opts, cwd.as_deref())
}

/// [`load`] with an explicit playbook directory (`None`: no playbook-adjacent variables).
pub fn load_with_playbook_dir(
    opts: &LoadOptions,
    playbook_dir: Option<&Path>,
) -> Result<Inventory> {
    let mut inv = Inventory::new();
    for source in &opts.sources {
        parse_source(&mut inv, source)?;
    }
    inv.reconcile();

    let groups: Vec<String> = inv.groups().map(|g| g.name.clone()).collect();
    let hosts: Vec<String> = inv.hosts().map(|h| h.name.clone()).collect();
    for source in &opts.sources {
        let dir = if source.is_dir() {
            source.clone()
        } else if source.exists() {
            match source.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }
        } else {
            continue; // a host list
        };
        let vars = read_vars_dir(&dir, &groups, &hosts)?;
        inv.add_inventory_vars_dir(vars);
    }
    if let Some(dir) = playbook_dir {
        let vars = read_vars_dir(dir, &groups, &hosts)?;
        inv.set_playbook_vars_dir(Some(vars));
    }

    let extra = parse_extra_vars(&opts.extra_vars)?;
    inv.set_extra_vars(extra);
    Ok(inv)
}

fn io_error(path: &Path, source: std::io::Error) -> InventoryError {
    file_error("inventory", path, source)
}

/// A file that could not be read, with a hint when it does not exist.
fn file_error(what: &'static str, path: &Path, source: std::io::Error) -> InventoryError {
    let hint = if source.kind() == std::io::ErrorKind::NotFound {
        missing_file_hint(path)
    } else {
        String::new()
    };
    InventoryError::Io {
        what,
        path: path.to_path_buf(),
        source,
        hint,
    }
}

/// For a path that does not exist: `" (did you mean inventories/web-db.yml?)"` when a name
/// beside it comes close (a typo, another extension), else where it was looked for — a
/// relative path is read from the current directory, which is often the surprise.
pub(crate) fn missing_file_hint(path: &Path) -> String {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(wanted) = path.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
        return String::new();
    };
    let stem = |n: &str| n.split('.').next().unwrap_or(n).to_owned();
    let Ok(entries) = fs::read_dir(dir) else {
        let shown = if dir == Path::new(".") {
            ".".to_owned()
        } else {
            dir.display().to_string()
        };
        return format!(" (directory {shown} does not exist either)");
    };
    let mut near: Vec<(usize, String)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !is_ignored(n))
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let d = strsim::osa_distance(&wanted, &lower);
            let limit = (wanted.chars().count() / 4).max(1);
            // The same name with another extension comes after the near misses.
            let same_stem = stem(&lower) == stem(&wanted);
            (d <= limit || same_stem).then(|| (d.min(limit + 1), name))
        })
        .collect();
    near.sort();
    if !near.is_empty() {
        let names: Vec<String> = near
            .iter()
            .take(3)
            .map(|(_, n)| {
                if dir == Path::new(".") && path.parent() != Some(Path::new(".")) {
                    n.clone()
                } else {
                    dir.join(n).display().to_string()
                }
            })
            .collect();
        return format!(" (did you mean {}?)", names.join(", "));
    }
    if path.is_relative() {
        if let Ok(cwd) = std::env::current_dir() {
            return format!(
                " (a relative path is read from the current directory, {})",
                cwd.display()
            );
        }
    }
    String::new()
}

fn origin(path: &Path, line: usize) -> Origin {
    Origin {
        file: path.to_path_buf(),
        line,
    }
}

/// Whether a directory source skips this entry (ansible's `IGNORED` regex, default settings).
pub fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn parse_source(inv: &mut Inventory, source: &Path) -> Result<()> {
    let meta = match fs::metadata(source) {
        Ok(m) => m,
        Err(e) => {
            let text = source.to_string_lossy();
            if text.contains(',') {
                return parse_host_list(inv, &text);
            }
            return Err(io_error(source, e));
        }
    };
    if meta.is_dir() {
        let mut names: Vec<OsString> = fs::read_dir(source)
            .map_err(|e| io_error(source, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| io_error(source, e))?;
        names.sort();
        for name in names {
            if is_ignored(&name.to_string_lossy()) {
                continue;
            }
            parse_source(inv, &source.join(name))?;
        }
        Ok(())
    } else {
        parse_file(inv, source)
    }
}

/// `-i host1,host2:2222,` (ansible's `host_list` plugin): hosts go to `ungrouped`; an entry
/// that is not a valid address is taken whole; ranges are not expanded.
fn parse_host_list(inv: &mut Inventory, text: &str) -> Result<()> {
    let at = origin(Path::new(text), 1);
    for entry in text.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        // `allow_ranges=False`: an address with a range is not an address.
        let address = match address::parse(entry) {
            Some(a) if !a.host.contains('[') => a,
            _ => Address::whole(entry),
        };
        let host = &address.host;
        if inv.host(host).is_some() {
            continue;
        }
        check_host_name(host).map_err(|reason| InventoryError::BadHostName {
            origin: at.clone(),
            name: host.clone(),
            reason,
        })?;
        inv.add_host(host, Some(UNGROUPED));
        if let Some(port) = address.ansible_port() {
            inv.set_host_var(host, "ansible_port", port);
        }
    }
    Ok(())
}

fn is_executable(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// The file's extension with its dot, as Python's `os.path.splitext` gives it (`""` if none).
fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default()
}

/// One inventory file through Ansible's plugin chain (`script`, `yaml`, `ini`, `toml`).
fn parse_file(inv: &mut Inventory, path: &Path) -> Result<()> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    let meta = fs::metadata(path).map_err(|e| io_error(path, e))?;
    let utf8 = std::str::from_utf8(&bytes).ok();
    let text = String::from_utf8_lossy(&bytes);
    let ext = extension(path);
    if is_executable(&meta) && text.starts_with("#!") {
        return Err(InventoryError::Syntax {
            origin: origin(path, 1),
            message: "inventory scripts are not supported; save the output of `<script> --list` \
                      as a .json file and use that"
                .into(),
        });
    }
    if ext == ".toml" {
        return Err(InventoryError::Syntax {
            origin: origin(path, 1),
            message: "TOML inventories are not supported; use the YAML or INI format".into(),
        });
    }
    let yaml_candidate = ext.is_empty() || YAML_EXTENSIONS.contains(&ext.as_str());
    let mut yaml_error = None;
    if let (true, Some(text)) = (yaml_candidate, utf8) {
        let mut trial = inv.clone();
        match yaml::parse(&mut trial, path, text) {
            Ok(()) => {
                *inv = trial;
                return Ok(());
            }
            Err(e) => yaml_error = Some(e),
        }
    }
    let mut trial = inv.clone();
    match ini::parse(&mut trial, path, &text) {
        Ok(()) => {
            if let Some(e) = yaml_error {
                tracing::debug!(
                    "{}: not a YAML inventory ({e}), read as INI",
                    path.display()
                );
            }
            *inv = trial;
            Ok(())
        }
        Err(ini_error) => Err(pick_error(&ext, utf8, path, yaml_error, ini_error)),
    }
}

/// When neither plugin reads a file, the error to show: the YAML one for a YAML extension,
/// or for an extension-less file that is a YAML mapping (it was meant as YAML); else INI's.
fn pick_error(
    ext: &str,
    utf8: Option<&str>,
    path: &Path,
    yaml_error: Option<InventoryError>,
    ini_error: InventoryError,
) -> InventoryError {
    let Some(yaml_error) = yaml_error else {
        return ini_error;
    };
    let meant_as_yaml = !ext.is_empty()
        || utf8.is_some_and(|t| {
            yaml::load_doc(path, t).is_ok_and(|d| matches!(d.value, Yaml::Map(_)))
        });
    if meant_as_yaml { yaml_error } else { ini_error }
}

/// Loads the `group_vars/` and `host_vars/` files under `dir` for the given names (ansible's
/// `host_group_vars` plugin).
pub fn read_vars_dir(dir: &Path, groups: &[String], hosts: &[String]) -> Result<VarsDir> {
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = VarsDir::new(&real);
    for (sub, names, is_group) in [("group_vars", groups, true), ("host_vars", hosts, false)] {
        let base = real.join(sub);
        match fs::metadata(&base) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                tracing::warn!("found {} that is not a directory, skipping", base.display());
                continue;
            }
            Err(_) => continue,
        }
        for name in names {
            // Ansible skips entity names that start with the path separator.
            if name.starts_with('/') {
                continue;
            }
            let mut vars: Option<Vars> = None;
            for file in find_vars_files(&base, name) {
                if let Some(v) = load_vars_file(&file)? {
                    vars.get_or_insert_with(Vars::new).extend(v);
                }
            }
            if let Some(vars) = vars {
                let map = if is_group {
                    &mut out.groups
                } else {
                    &mut out.hosts
                };
                map.insert(name.clone(), vars);
            }
        }
    }
    Ok(out)
}

/// ansible's `DataLoader.find_vars_files`: the first of `<name>`, `<name>.yml`, `<name>.yaml`,
/// `<name>.json` that exists wins alone (so `web.yaml` is ignored when `web.yml` exists, and
/// `web.yml` when a `web/` directory exists); a directory gives all its files, recursively, in
/// sorted order, skipping hidden files, backups (`~`) and other extensions.
pub fn find_vars_files(base: &Path, name: &str) -> Vec<PathBuf> {
    for ext in VARS_EXTENSIONS {
        let mut full = base.join(name).into_os_string();
        full.push(ext);
        let full = PathBuf::from(full);
        if full.exists() {
            return if full.is_dir() {
                dir_vars_files(&full)
            } else {
                vec![full]
            };
        }
    }
    Vec::new()
}

fn dir_vars_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<OsString> = entries
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    let mut found = Vec::new();
    for name in names {
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.ends_with('~') {
            continue;
        }
        let full = dir.join(&name);
        let ext = extension(Path::new(&name));
        if full.is_dir() && ext.is_empty() {
            found.extend(dir_vars_files(&full));
        } else if full.is_file() && VARS_EXTENSIONS.contains(&ext.as_str()) {
            found.push(full);
        }
    }
    found
}

/// One variables file: `None` when it is empty (or otherwise "falsy"), an error unless it is a
/// mapping.
fn load_vars_file(path: &Path) -> Result<Option<Vars>> {
    let text = fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let doc = yaml::load_doc(path, &text)?;
    if yaml::is_empty_doc(&doc) {
        return Ok(None);
    }
    yaml::mapping_to_vars(&doc)
        .map(Some)
        .ok_or_else(|| InventoryError::Syntax {
            origin: origin(path, doc.line),
            message: "a variables file must hold a mapping".into(),
        })
}

#[cfg(test)]
mod tests;
