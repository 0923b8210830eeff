//! Controller defaults, as `ansible.cfg` gives them to Ansible: a TOML file, `FLEETUP_*`
//! environment variables, and the command line's flags, resolved once into a [`Config`] whose
//! every value knows where it came from ([`Source`]). See docs/configuration.md.
//!
//! Precedence, first that is set: a flag, then a `FLEETUP_*` variable, then the configuration
//! file, then the built-in default. The file is the **first found** of `./fleetup.toml` and
//! `$XDG_CONFIG_HOME/fleetup/config.toml` (`~/.config/fleetup/config.toml` when
//! `XDG_CONFIG_HOME` is unset or relative); the others are not read, so a project's file means
//! the same for everyone who runs it, whatever their own file says.
//!
//! A key the file does not know, a value of the wrong type or out of range, a `FLEETUP_*`
//! variable that does not parse: each is an error naming the file, line and key (or the
//! variable), never a value silently ignored.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::ValueEnum;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::cli::{DEFAULT_FORKS, MAX_FORKS, OutputFormat};
use crate::orchestrate::SerialSpec;
use crate::transport::known_hosts::HostKeyPolicy;

/// The project file, looked for in the current directory.
pub const LOCAL_FILE: &str = "fleetup.toml";
/// The user file, under `$XDG_CONFIG_HOME` (or `~/.config`).
pub const USER_FILE: &str = "fleetup/config.toml";

/// One setting of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Inventory,
    Forks,
    Serial,
    Output,
    KnownHosts,
    HostKeyChecking,
    CacheDir,
}

impl Key {
    /// Every key, in the order `fleetup config` shows them.
    pub const ALL: [Key; 7] = [
        Key::Inventory,
        Key::Forks,
        Key::Serial,
        Key::Output,
        Key::KnownHosts,
        Key::HostKeyChecking,
        Key::CacheDir,
    ];

    /// The key in the file.
    pub fn name(self) -> &'static str {
        match self {
            Key::Inventory => "inventory",
            Key::Forks => "forks",
            Key::Serial => "serial",
            Key::Output => "output",
            Key::KnownHosts => "known_hosts",
            Key::HostKeyChecking => "host_key_checking",
            Key::CacheDir => "cache_dir",
        }
    }

    /// The environment variable that overrides the file.
    pub fn env(self) -> &'static str {
        match self {
            Key::Inventory => "FLEETUP_INVENTORY",
            Key::Forks => "FLEETUP_FORKS",
            Key::Serial => "FLEETUP_SERIAL",
            Key::Output => "FLEETUP_OUTPUT",
            Key::KnownHosts => "FLEETUP_KNOWN_HOSTS",
            Key::HostKeyChecking => "FLEETUP_HOST_KEY_CHECKING",
            Key::CacheDir => "FLEETUP_CACHE_DIR",
        }
    }

    /// The flag that beats everything, when there is one.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Key::Inventory => Some("-i/--inventory"),
            Key::Forks => Some("-f/--forks"),
            Key::Serial => Some("--serial"),
            Key::Output => Some("--output"),
            Key::KnownHosts | Key::HostKeyChecking | Key::CacheDir => None,
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Other `FLEETUP_*` variables fleetup reads (not settings of this file): not typos.
const OTHER_ENV: &[&str] = &[
    "FLEETUP_LOG",
    "FLEETUP_SSH_PASSPHRASE",
    "FLEETUP_KEY_PASSWORD",
];

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nothing set it.
    Default,
    /// The configuration file, at this line.
    File { path: PathBuf, line: usize },
    /// This environment variable.
    Env(&'static str),
    /// This command-line flag.
    Flag(&'static str),
}

impl Source {
    /// `default`, `file`, `env` or `flag`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File { .. } => "file",
            Source::Env(_) => "env",
            Source::Flag(_) => "flag",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// An effective value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// The effective controller defaults. `None` in an optional setting is "not set": the
/// built-in behaviour applies (see each field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The configuration file read, if one was found.
    pub file: Option<PathBuf>,
    /// Every place a file was looked for, in order.
    pub searched: Vec<PathBuf>,
    /// The inventory sources when no `-i` is given; `-i` replaces the whole list.
    pub inventory: Setting<Vec<PathBuf>>,
    pub forks: Setting<usize>,
    /// Rolling batches when there is no `--serial` and no `fleetup_serial` variable; `None`:
    /// every host in one batch.
    pub serial: Setting<Option<SerialSpec>>,
    pub output: Setting<OutputFormat>,
    /// known_hosts files for the hosts without `fleetup_known_hosts`; `None`: ssh_config's
    /// `UserKnownHostsFile`, else `~/.ssh/known_hosts` and `~/.ssh/known_hosts2`.
    pub known_hosts: Setting<Option<Vec<PathBuf>>>,
    /// Host-key policy for the hosts without `fleetup_host_key_checking`; `None`:
    /// ssh_config's `StrictHostKeyChecking`, else strict.
    pub host_key_checking: Setting<Option<HostKeyPolicy>>,
    /// The download cache; `None`: `$XDG_CACHE_HOME/fleetup`, else `~/.cache/fleetup`.
    pub cache_dir: Setting<Option<PathBuf>>,
    /// Things worth saying that are not errors (an unknown `FLEETUP_*` variable).
    pub warnings: Vec<String>,
}

impl Default for Config {
    /// Built-in defaults only.
    fn default() -> Self {
        Self {
            file: None,
            searched: Vec::new(),
            inventory: Setting::new(Vec::new(), Source::Default),
            forks: Setting::new(DEFAULT_FORKS, Source::Default),
            serial: Setting::new(None, Source::Default),
            output: Setting::new(OutputFormat::Text, Source::Default),
            known_hosts: Setting::new(None, Source::Default),
            host_key_checking: Setting::new(None, Source::Default),
            cache_dir: Setting::new(None, Source::Default),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// The source of `key`.
    pub fn source(&self, key: Key) -> &Source {
        match key {
            Key::Inventory => &self.inventory.source,
            Key::Forks => &self.forks.source,
            Key::Serial => &self.serial.source,
            Key::Output => &self.output.source,
            Key::KnownHosts => &self.known_hosts.source,
            Key::HostKeyChecking => &self.host_key_checking.source,
            Key::CacheDir => &self.cache_dir.source,
        }
    }
}

/// The flags that override the configuration, as given on the command line (`None`, empty:
/// not given).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub inventory: Vec<PathBuf>,
    pub forks: Option<usize>,
    pub serial: Option<String>,
    pub output: Option<OutputFormat>,
}

/// What the configuration is read from: the current directory and the environment. The
/// default is neither (built-in defaults only).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The directory `fleetup.toml` is looked for in: `Some("")` is the process's current
    /// directory (and the file's name, with the paths in it, stays relative); `None`: nowhere.
    pub cwd: Option<PathBuf>,
    /// Environment variables (`FLEETUP_*`, `HOME`, `XDG_CONFIG_HOME`).
    pub vars: BTreeMap<String, OsString>,
}

impl Environment {
    /// This process's environment, from its current directory.
    pub fn process() -> Self {
        Self {
            cwd: Some(PathBuf::new()),
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .filter(|(k, _)| {
                    k.starts_with("FLEETUP_") || ["HOME", "XDG_CONFIG_HOME"].contains(&k.as_str())
                })
                .collect(),
        }
    }

    /// A variable, `None` when unset or empty (an empty `FLEETUP_FORKS=` is "not set").
    fn var(&self, name: &str) -> Option<&OsString> {
        self.vars.get(name).filter(|v| !v.is_empty())
    }

    /// An absolute directory from a variable (the XDG rule: relative values are ignored).
    fn absolute(&self, name: &str) -> Option<PathBuf> {
        self.var(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }

    /// The candidate files, in the order they are tried.
    pub fn candidates(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.cwd.iter().map(|d| d.join(LOCAL_FILE)).collect();
        if let Some(x) = self.absolute("XDG_CONFIG_HOME") {
            out.push(x.join(USER_FILE));
        } else if let Some(h) = self.absolute("HOME") {
            out.push(h.join(".config").join(USER_FILE));
        }
        out
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {why}", path.display())]
    Read { path: PathBuf, why: String },
    #[error("{}:{line}: invalid TOML: {why}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}:{line}: unknown key `{key}`{hint} (the keys are: {})", path.display(), known_keys())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        /// `, did you mean …?` or an explanation; may be empty.
        hint: String,
    },
    #[error("{}:{line}: {key}: {why}", path.display())]
    Value {
        path: PathBuf,
        line: usize,
        key: &'static str,
        why: String,
    },
    #[error("{name}: {why}")]
    Env { name: &'static str, why: String },
}

fn known_keys() -> String {
    Key::ALL.map(Key::name).join(", ")
}

/// Reads the configuration of `env` and applies `flags` over it.
pub fn load(env: &Environment, flags: &Flags) -> Result<Config, ConfigError> {
    let searched = env.candidates();
    let file = searched
        .iter()
        .find(|p| std::fs::metadata(p).is_ok())
        .cloned();
    let from_file = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                path: path.clone(),
                why: e.to_string(),
            })?;
            parse_file(path, &text, env)?
        }
        None => Layer::default(),
    };
    let from_env = env_layer(env)?;
    let mut config = resolve(flags, from_env, from_file);
    config.file = file;
    config.searched = searched;
    config.warnings = unknown_env_vars(env);
    Ok(config)
}

/// The values one place (the file, or the environment) sets.
#[derive(Debug, Default)]
struct Layer {
    inventory: Option<Setting<Vec<PathBuf>>>,
    forks: Option<Setting<usize>>,
    serial: Option<Setting<SerialSpec>>,
    output: Option<Setting<OutputFormat>>,
    known_hosts: Option<Setting<Vec<PathBuf>>>,
    host_key_checking: Option<Setting<HostKeyPolicy>>,
    cache_dir: Option<Setting<PathBuf>>,
}

/// Flag, else environment, else file, else default: key by key.
fn resolve(flags: &Flags, env: Layer, file: Layer) -> Config {
    fn pick<T>(
        flag: Option<Setting<T>>,
        env: Option<Setting<T>>,
        file: Option<Setting<T>>,
    ) -> Option<Setting<T>> {
        flag.or(env).or(file)
    }
    fn optional<T>(s: Option<Setting<T>>) -> Setting<Option<T>> {
        match s {
            Some(s) => Setting::new(Some(s.value), s.source),
            None => Setting::new(None, Source::Default),
        }
    }
    let d = Config::default();
    let flag = |key: Key| Source::Flag(key.flag().unwrap_or_default());
    let inventory_flag = (!flags.inventory.is_empty())
        .then(|| Setting::new(flags.inventory.clone(), flag(Key::Inventory)));
    let forks_flag = flags.forks.map(|f| Setting::new(f, flag(Key::Forks)));
    let output_flag = flags.output.map(|o| Setting::new(o, flag(Key::Output)));
    // A bad --serial is reported by the command that runs batches, as before.
    let serial_flag = flags
        .serial
        .as_deref()
        .and_then(|s| SerialSpec::parse(s).ok())
        .map(|s| Setting::new(s, flag(Key::Serial)));
    Config {
        inventory: pick(inventory_flag, env.inventory, file.inventory).unwrap_or(d.inventory),
        forks: pick(forks_flag, env.forks, file.forks).unwrap_or(d.forks),
        serial: optional(pick(serial_flag, env.serial, file.serial)),
        output: pick(output_flag, env.output, file.output).unwrap_or(d.output),
        known_hosts: optional(env.known_hosts.or(file.known_hosts)),
        host_key_checking: optional(env.host_key_checking.or(file.host_key_checking)),
        cache_dir: optional(env.cache_dir.or(file.cache_dir)),
        ..d
    }
}

/// The line (from 1) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses the configuration file `path` whose content is `text`.
fn parse_file(path: &Path, text: &str, env: &Environment) -> Result<Layer, ConfigError> {
    let table = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        why: e.message().trim().to_owned(),
    })?;
    let table = table.into_inner();
    // Relative paths in the file are relative to the file's directory, as in ansible.cfg
    // (for ./fleetup.toml, the current directory).
    let base = path.parent().unwrap_or(Path::new(""));
    let mut entries: Vec<(&Spanned<std::borrow::Cow<'_, str>>, &Spanned<DeValue<'_>>)> =
        table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut layer = Layer::default();
    for (key, value) in entries {
        let line = line_of(text, key.span().start);
        let Some(k) = Key::from_name(key.get_ref()) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                line,
                key: key.get_ref().to_string(),
                hint: unknown_key_hint(key.get_ref(), value.get_ref()),
            });
        };
        let bad = |why: String| ConfigError::Value {
            path: path.to_path_buf(),
            line: line_of(text, value.span().start),
            key: k.name(),
            why,
        };
        let source = Source::File {
            path: path.to_path_buf(),
            line,
        };
        let file_path = |s: &str| -> Result<PathBuf, String> {
            let p = expand_home(s, env)?;
            Ok(if p.is_absolute() { p } else { base.join(p) })
        };
        let v = value.get_ref();
        match k {
            Key::Inventory => {
                let paths = strings(v)
                    .map_err(bad)?
                    .iter()
                    .map(|s| file_path(s))
                    .collect::<Result<_, _>>()
                    .map_err(bad)?;
                layer.inventory = Some(Setting::new(paths, source));
            }
            Key::Forks => {
                let n = match v {
                    DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                        .map_err(|e| bad(e.to_string()))?,
                    other => {
                        return Err(bad(format!(
                            "expected an integer, found {}",
                            other.type_str()
                        )));
                    }
                };
                layer.forks = Some(Setting::new(forks(n).map_err(bad)?, source));
            }
            Key::Serial => {
                let spec = SerialSpec::from_json(&to_json(v).map_err(bad)?)
                    .map_err(|e| bad(e.to_string()))?;
                layer.serial = Some(Setting::new(spec, source));
            }
            Key::Output => {
                let DeValue::String(s) = v else {
                    return Err(bad(format!("expected a string, found {}", v.type_str())));
                };
                layer.output = Some(Setting::new(output(s).map_err(bad)?, source));
            }
            Key::KnownHosts => {
                let list = strings(v).map_err(bad)?;
                if list.is_empty() {
                    return Err(bad(
                        "is empty: name at least one file, or leave the key out".into(),
                    ));
                }
                let paths = list
                    .iter()
                    .map(|s| file_path(s))
                    .collect::<Result<_, _>>()
                    .map_err(bad)?;
                layer.known_hosts = Some(Setting::new(paths, source));
            }
            Key::HostKeyChecking => {
                let policy = match v {
                    // ansible.cfg's `host_key_checking = False`.
                    DeValue::Boolean(true) => HostKeyPolicy::Strict,
                    DeValue::Boolean(false) => HostKeyPolicy::Off,
                    DeValue::String(s) => HostKeyPolicy::parse(s).map_err(bad)?,
                    other => {
                        return Err(bad(format!(
                            "expected strict, accept-new or off, found {}",
                            other.type_str()
                        )));
                    }
                };
                layer.host_key_checking = Some(Setting::new(policy, source));
            }
            Key::CacheDir => {
                let DeValue::String(s) = v else {
                    return Err(bad(format!("expected a path, found {}", v.type_str())));
                };
                let dir = non_empty(s).and_then(file_path).map_err(bad)?;
                layer.cache_dir = Some(Setting::new(dir, source));
            }
        }
    }
    Ok(layer)
}

/// What to add to "unknown key": the nearest known key, or why a table is not a key.
fn unknown_key_hint(key: &str, value: &DeValue<'_>) -> String {
    if let Some(near) = Key::ALL
        .into_iter()
        .map(Key::name)
        .filter(|k| edit_distance(k, &key.to_ascii_lowercase().replace('-', "_")) <= 2)
        .min_by_key(|k| edit_distance(k, key))
    {
        return format!(", did you mean `{near}`?");
    }
    if value.is_table() {
        return " (the file has no [sections]: write the keys at the top)".into();
    }
    String::new()
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// A string, or an array of strings.
fn strings(v: &DeValue<'_>) -> Result<Vec<String>, String> {
    match v {
        DeValue::String(s) => Ok(vec![non_empty(s)?.to_owned()]),
        DeValue::Array(items) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => non_empty(s).map(str::to_owned),
                other => Err(format!(
                    "expected an array of strings, found an array holding {}",
                    other.type_str()
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a string or an array of strings, found {}",
            other.type_str()
        )),
    }
}

fn non_empty(s: &str) -> Result<&str, String> {
    if s.trim().is_empty() {
        Err("an empty path".into())
    } else if s.contains('\0') {
        Err("a path with a NUL byte".into())
    } else {
        Ok(s)
    }
}

/// A TOML value as the JSON `fleetup_serial` takes (integers, strings, arrays of them).
fn to_json(v: &DeValue<'_>) -> Result<serde_json::Value, String> {
    Ok(match v {
        DeValue::String(s) => serde_json::Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map_err(|e| e.to_string())?
            .into(),
        DeValue::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| to_json(i.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(format!(
                "expected an integer, a string such as \"1,10%,25%\" or an array, found {}",
                other.type_str()
            ));
        }
    })
}

fn forks(n: i64) -> Result<usize, String> {
    usize::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_FORKS).contains(n))
        .ok_or_else(|| format!("must be between 1 and {MAX_FORKS}, not {n}"))
}

fn output(s: &str) -> Result<OutputFormat, String> {
    OutputFormat::from_str(s, false).map_err(|_| {
        let names: Vec<String> = OutputFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_owned())
            .collect();
        format!("unknown output {s:?}: expected one of {}", names.join(", "))
    })
}

/// The name `--output` gives this format.
pub fn output_name(o: OutputFormat) -> String {
    o.to_possible_value()
        .map_or_else(|| format!("{o:?}"), |p| p.get_name().to_owned())
}

/// `~/x` with `HOME` (a path from the file or a variable: no shell expanded it).
fn expand_home(s: &str, env: &Environment) -> Result<PathBuf, String> {
    let rest = match s.strip_prefix("~/") {
        Some(rest) => rest,
        None if s == "~" => "",
        None => return Ok(PathBuf::from(s)),
    };
    match env.absolute("HOME") {
        Some(home) => Ok(home.join(rest)),
        None => Err(format!(
            "{s:?} starts with ~, but HOME is not set to an absolute path"
        )),
    }
}

/// The `FLEETUP_*` variables that are set.
fn env_layer(env: &Environment) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for key in Key::ALL {
        let name = key.env();
        let Some(raw) = env.var(name) else { continue };
        let bad = |why: String| ConfigError::Env { name, why };
        let value = raw
            .to_str()
            .ok_or_else(|| bad("is not valid UTF-8".into()))?
            .trim();
        let source = Source::Env(name);
        // Several paths are separated by commas, as in ANSIBLE_INVENTORY.
        let paths = |value: &str| -> Result<Vec<PathBuf>, String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| expand_home(p, env))
                .collect()
        };
        match key {
            Key::Inventory => {
                layer.inventory = Some(Setting::new(paths(value).map_err(bad)?, source));
            }
            Key::Forks => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| bad(format!("expected a number of hosts, not {value:?}")))?;
                layer.forks = Some(Setting::new(forks(n).map_err(bad)?, source));
            }
            Key::Serial => {
                let spec = SerialSpec::parse(value).map_err(|e| bad(e.to_string()))?;
                layer.serial = Some(Setting::new(spec, source));
            }
            Key::Output => layer.output = Some(Setting::new(output(value).map_err(bad)?, source)),
            Key::KnownHosts => {
                let list = paths(value).map_err(bad)?;
                if list.is_empty() {
                    return Err(bad("names no file".into()));
                }
                layer.known_hosts = Some(Setting::new(list, source));
            }
            Key::HostKeyChecking => {
                let policy = HostKeyPolicy::parse(value).map_err(bad)?;
                layer.host_key_checking = Some(Setting::new(policy, source));
            }
            Key::CacheDir => {
                let dir = expand_home(value, env).map_err(bad)?;
                layer.cache_dir = Some(Setting::new(dir, source));
            }
        }
    }
    Ok(layer)
}

/// A warning for each `FLEETUP_*` variable that is one or two typos away from a setting's
/// (`FLEETUP_FROKS`), which would otherwise be ignored without a word. Other `FLEETUP_*`
/// names are left alone: scripts and test harnesses use the prefix for their own variables.
fn unknown_env_vars(env: &Environment) -> Vec<String> {
    env.vars
        .keys()
        .filter(|k| k.starts_with("FLEETUP_"))
        .filter(|k| !Key::ALL.iter().any(|key| key.env() == k.as_str()))
        .filter(|k| !OTHER_ENV.contains(&k.as_str()))
        .filter_map(|k| {
            let near = Key::ALL
                .into_iter()
                .map(Key::env)
                .find(|e| edit_distance(e, k) <= 2)?;
            Some(format!(
                "environment variable {k} is not a fleetup setting and is ignored (did you mean \
                 {near}?)"
            ))
        })
        .collect()
}

/// The configuration of this process, once `run` has installed it: what the download cache
/// and the SSH defaults read, since they are built far from the command line.
static INSTALLED: OnceLock<Config> = OnceLock::new();

/// Makes `config` the process's configuration (the first call wins; a process runs one
/// command).
pub fn install(config: &Config) {
    let _ = INSTALLED.set(config.clone());
}

/// The process's configuration, if [`install`] was called (not in unit tests, nor for a
/// library user, who get the built-in behaviour).
pub fn installed() -> Option<&'static Config> {
    INSTALLED.get()
}

#[cfg(test)]
mod tests;
