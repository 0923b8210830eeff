//! `fleetup config`: every setting of the configuration, its effective value and where it
//! comes from (a flag, a `FLEETUP_*` variable, the file and line, or the default).

use std::io::Write;

use serde_json::{Value, json};

use crate::cli::{OutputFormat, Settings};
use crate::config::{self, Config, Key, Source};
use crate::release::cache::Cache;
use crate::run::{Outcome, RunError, refuse_host_formats, write_json};

pub fn run(s: &Settings) -> Result<Outcome, RunError> {
    let mut out = std::io::stdout().lock();
    match s.output {
        OutputFormat::Json => write_json(&mut out, &to_json(&s.config))?,
        OutputFormat::Jsonl => writeln!(out, "{}", to_json(&s.config))?,
        // A configured `output = "junit"` is for the fleet commands: the command that shows
        // the configuration must still work.
        _ => {
            refuse_host_formats(s, "config", "has none: use text or json")?;
            render_text(&mut out, &s.config)?;
        }
    }
    Ok(Outcome::Success)
}

/// The value of `key` for a person; `None` when it is not set (the built-in behaviour, which
/// [`default_text`] describes).
fn value_text(c: &Config, key: Key) -> Option<String> {
    let paths = |p: &[std::path::PathBuf]| {
        p.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match key {
        Key::Inventory => (!c.inventory.value.is_empty()).then(|| paths(&c.inventory.value)),
        Key::Forks => Some(c.forks.value.to_string()),
        Key::Serial => c.serial.value.as_ref().map(ToString::to_string),
        Key::Output => Some(config::output_name(c.output.value)),
        Key::KnownHosts => c.known_hosts.value.as_deref().map(paths),
        Key::HostKeyChecking => c.host_key_checking.value.map(|p| p.to_string()),
        Key::CacheDir => c.cache_dir.value.as_ref().map(|p| p.display().to_string()),
    }
}

/// What applies when `key` is not set.
fn default_text(key: Key) -> String {
    match key {
        Key::Inventory => "(none: pass -i)".into(),
        Key::Serial => "(fleetup_serial of the inventory, else all hosts at once)".into(),
        Key::KnownHosts => "(fleetup_known_hosts of the host, else ~/.ssh/config's \
                            UserKnownHostsFile, else ~/.ssh/known_hosts ~/.ssh/known_hosts2)"
            .into(),
        Key::HostKeyChecking => "(fleetup_host_key_checking of the host, else ~/.ssh/config's \
                                 StrictHostKeyChecking, else strict)"
            .into(),
        Key::CacheDir => match default_cache_dir() {
            Ok(dir) => format!(
                "{} ($XDG_CACHE_HOME/fleetup, else ~/.cache/fleetup)",
                dir.display()
            ),
            Err(e) => format!("(none: {e})"),
        },
        Key::Forks | Key::Output => String::new(),
    }
}

/// The cache used when `cache_dir` is not set.
fn default_cache_dir() -> Result<std::path::PathBuf, crate::release::ReleaseError> {
    Cache::default_dir(
        std::env::var_os("XDG_CACHE_HOME").map(Into::into),
        std::env::var_os("HOME").map(Into::into),
    )
}

fn render_text(out: &mut impl Write, c: &Config) -> std::io::Result<()> {
    let searched: Vec<String> = c.searched.iter().map(|p| p.display().to_string()).collect();
    match &c.file {
        Some(f) => writeln!(
            out,
            "configuration file: {} (searched: {})",
            f.display(),
            searched.join(", ")
        )?,
        None => writeln!(
            out,
            "configuration file: none found (searched: {})",
            searched.join(", ")
        )?,
    }
    writeln!(out)?;
    let rows: Vec<(&str, String, String)> = Key::ALL
        .into_iter()
        .map(|k| {
            (
                k.name(),
                c.source(k).to_string(),
                value_text(c, k).unwrap_or_else(|| default_text(k)),
            )
        })
        .collect();
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(7);
    let source_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(6);
    writeln!(out, "{:name_w$}  {:source_w$}  VALUE", "SETTING", "SOURCE")?;
    for (name, source, value) in rows {
        writeln!(out, "{name:name_w$}  {source:source_w$}  {value}")?;
    }
    for w in &c.warnings {
        writeln!(out, "\nwarning: {w}")?;
    }
    Ok(())
}

/// The value of `key` as JSON: `null` when not set.
fn value_json(c: &Config, key: Key) -> Value {
    let paths =
        |p: &[std::path::PathBuf]| -> Value { p.iter().map(|p| p.display().to_string()).collect() };
    match key {
        Key::Inventory => paths(&c.inventory.value),
        Key::Forks => c.forks.value.into(),
        Key::Serial => c
            .serial
            .value
            .as_ref()
            .map_or(Value::Null, |s| s.to_string().into()),
        Key::Output => config::output_name(c.output.value).into(),
        Key::KnownHosts => c.known_hosts.value.as_deref().map_or(Value::Null, paths),
        Key::HostKeyChecking => c
            .host_key_checking
            .value
            .map_or(Value::Null, |p| p.as_str().into()),
        // The directory used, set or not (`null`: none can be found).
        Key::CacheDir => match &c.cache_dir.value {
            Some(p) => p.display().to_string().into(),
            None => default_cache_dir().map_or(Value::Null, |p| p.display().to_string().into()),
        },
    }
}

fn source_json(s: &Source) -> Value {
    match s {
        Source::Default => json!({"kind": "default"}),
        Source::File { path, line } => {
            json!({"kind": "file", "file": path.display().to_string(), "line": line})
        }
        Source::Env(name) => json!({"kind": "env", "env": name}),
        Source::Flag(name) => json!({"kind": "flag", "flag": name}),
    }
}

fn to_json(c: &Config) -> Value {
    let settings: serde_json::Map<String, Value> = Key::ALL
        .into_iter()
        .map(|k| {
            (
                k.name().to_owned(),
                json!({"value": value_json(c, k), "source": source_json(c.source(k))}),
            )
        })
        .collect();
    json!({
        "file": c.file.as_ref().map(|f| f.display().to_string()),
        "searched": c.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "settings": settings,
        "warnings": c.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Environment, Flags};

    #[test]
    fn text_is_a_table_with_a_row_per_key_and_json_has_every_key() {
        let c = config::load(
            &Environment::default(),
            &Flags {
                forks: Some(7),
                ..Flags::default()
            },
        )
        .unwrap();
        let mut buf = Vec::new();
        render_text(&mut buf, &c).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(rows.len(), 1 + Key::ALL.len(), "{text}");
        let value_col = rows[0].find("VALUE").unwrap();
        for (row, key) in rows[1..].iter().zip(Key::ALL) {
            assert!(row.starts_with(key.name()), "{text}");
            assert_eq!(&row[value_col - 2..value_col], "  ", "aligned: {text}");
        }
        assert!(
            text.contains("forks              flag -f/--forks  7"),
            "{text}"
        );
        let doc = to_json(&c);
        for key in Key::ALL {
            assert!(
                doc["settings"][key.name()]["source"]["kind"].is_string(),
                "{doc}"
            );
        }
        assert_eq!(doc["settings"]["forks"]["value"], 7);
        assert_eq!(doc["settings"]["forks"]["source"]["flag"], "-f/--forks");
        assert_eq!(doc["settings"]["serial"]["value"], Value::Null);
        assert_eq!(doc["file"], Value::Null);
    }
}
