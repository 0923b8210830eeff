//! What the steps need to know about one host, read once from its inventory variables and
//! validated: a bad value fails that host (named), never the run.

use std::time::Duration;

use serde_json::Value;

use crate::compress::CompressPolicy;
use crate::inventory::vars::{boolean, number, string};
use crate::inventory::{Vars, check_user_name};

/// `fleetup_setcap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetcapPolicy {
    /// When the old binary carried `cap_net_bind_service` or `fleetup_bind_port` < 1024.
    Auto,
    Always,
    Never,
}

/// The per-host settings of the steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// `fleetup_binary`: absolute path of the binary (may be a symlink).
    pub binary: String,
    /// `fleetup_version_command`, shlex-split; `{binary}` is substituted per word.
    pub version_command: Vec<String>,
    /// `fleetup_service`: a systemd unit.
    pub service: Option<String>,
    /// `fleetup_restart_command`: run with `sh -c`.
    pub restart_command: Option<String>,
    /// `fleetup_restart` (default: true when a service or a restart command is set).
    pub restart: bool,
    pub setcap: SetcapPolicy,
    /// `fleetup_bind_port`.
    pub bind_port: Option<u16>,
    /// `fleetup_health_url`: `curl -fsS` from the host, 2xx is healthy.
    pub health_url: Option<String>,
    /// `fleetup_health_command`: `sh -c`, exit 0 is healthy.
    pub health_command: Option<String>,
    /// `fleetup_health_timeout` (default 30 s): retried until then.
    pub health_timeout: Duration,
    /// `fleetup_backups` (default 3, at least 1).
    pub backups: usize,
    /// `ansible_become` + `ansible_become_user` (default `root`).
    pub become_user: Option<String>,
    /// `fleetup_command_timeout` (default 60 s): any single command.
    pub command_timeout: Duration,
    /// `fleetup_restart_timeout` (default 60 s).
    pub restart_timeout: Duration,
    /// `fleetup_transfer_timeout` (default 600 s): the stage command, bytes included.
    pub transfer_timeout: Duration,
    /// `fleetup_lock_stale_after` (default 3600 s).
    pub lock_stale_after: Duration,
    /// `fleetup_compress` (default `none`): how the artifact travels.
    pub compress: CompressPolicy,
}

pub const DEFAULT_VERSION_COMMAND: &str = "{binary} --version";

/// Longest `fleetup_binary`: Linux's `PATH_MAX` is 4096 bytes with the final NUL.
pub const MAX_PATH_BYTES: usize = 4095;
/// Longest command string (`fleetup_version_command`, `fleetup_restart_command`,
/// `fleetup_health_command`): each travels as one argv word, and Linux refuses words over
/// 128 KiB.
pub const MAX_COMMAND_BYTES: usize = 32 * 1024;
/// Longest `fleetup_health_url`.
pub const MAX_URL_BYTES: usize = 8192;
/// Longest `fleetup_service`: systemd's `UNIT_NAME_MAX` is 256 with the final NUL.
pub const MAX_UNIT_BYTES: usize = 255;
/// Longest timeout or lock age accepted, in seconds (a week): beyond it a value is a mistake,
/// and durations stay far from overflowing when margins are added to them.
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;
/// Most backups kept beside a binary.
pub const MAX_BACKUPS: u64 = 1000;

impl HostSettings {
    /// Settings for a binary with every other value at its default.
    pub fn for_binary(binary: &str) -> Self {
        let mut vars = Vars::new();
        vars.insert("fleetup_binary".into(), Value::String(binary.into()));
        Self::from_vars(&vars).expect("defaults are valid")
    }

    /// Reads and validates a host's variables; `Err` names the variable.
    ///
    /// Values that are not commands (the binary's path, the unit, the URL, the become user,
    /// numbers) are checked here and then only ever passed as argv words or as positional
    /// parameters of constant scripts, never as shell code. The three commands
    /// (`fleetup_version_command`, split into words and run without a shell;
    /// `fleetup_restart_command` and `fleetup_health_command`, run with `sh -c`) are commands
    /// by design: only their length is capped.
    pub fn from_vars(vars: &Vars) -> Result<Self, String> {
        let binary = string(vars, "fleetup_binary")?.ok_or(
            "fleetup_binary is not set (the absolute path of the binary on the host): set it \
                 in the inventory, for a group or a host (`fleetup_binary: /usr/local/bin/app`)",
        )?;
        check_path("fleetup_binary", &binary)?;
        let version_text = string(vars, "fleetup_version_command")?
            .unwrap_or_else(|| DEFAULT_VERSION_COMMAND.to_owned());
        check_command_length("fleetup_version_command", &version_text)?;
        let version_command = split_command("fleetup_version_command", &version_text)?;
        let service = string(vars, "fleetup_service")?;
        if let Some(s) = &service {
            check_unit_name(s).map_err(|why| format!("fleetup_service {s:?}: {why}"))?;
        }
        let restart_command = string(vars, "fleetup_restart_command")?;
        if let Some(c) = &restart_command {
            check_command_length("fleetup_restart_command", c)?;
        }
        let restart = boolean(vars, "fleetup_restart")?
            .unwrap_or(service.is_some() || restart_command.is_some());
        if restart && service.is_none() && restart_command.is_none() {
            return Err(
                "fleetup_restart is true but neither fleetup_service nor fleetup_restart_command is set"
                    .into(),
            );
        }
        let setcap = match vars.get("fleetup_setcap") {
            None | Some(Value::Null) => SetcapPolicy::Auto,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("auto") => SetcapPolicy::Auto,
            _ => match boolean(vars, "fleetup_setcap")? {
                Some(true) => SetcapPolicy::Always,
                _ => SetcapPolicy::Never,
            },
        };
        let bind_port = number(vars, "fleetup_bind_port")?
            .map(|n| u16::try_from(n).map_err(|_| format!("fleetup_bind_port {n} is not a port")))
            .transpose()?;
        let health_url = string(vars, "fleetup_health_url")?;
        if let Some(u) = &health_url {
            check_health_url(u)?;
        }
        let health_command = string(vars, "fleetup_health_command")?;
        if let Some(c) = &health_command {
            check_command_length("fleetup_health_command", c)?;
        }
        let secs = |name: &str, default: u64| -> Result<Duration, String> {
            let n = number(vars, name)?.unwrap_or(default);
            if n == 0 {
                return Err(format!("{name} must be at least 1 second"));
            }
            if n > MAX_SECONDS {
                return Err(format!(
                    "{name} {n} is more than a week ({MAX_SECONDS} seconds)"
                ));
            }
            Ok(Duration::from_secs(n))
        };
        let backups = number(vars, "fleetup_backups")?.unwrap_or(3);
        if backups == 0 {
            return Err("fleetup_backups must be at least 1 (rollback needs a backup)".into());
        }
        if backups > MAX_BACKUPS {
            return Err(format!(
                "fleetup_backups {backups} is more than {MAX_BACKUPS}"
            ));
        }
        let become_user = if boolean(vars, "ansible_become")?.unwrap_or(false) {
            if let Some(method) = string(vars, "ansible_become_method")? {
                if method != "sudo" {
                    return Err(format!(
                        "ansible_become_method {method:?} is not supported: fleetup becomes with `sudo -n` only"
                    ));
                }
            }
            let user = string(vars, "ansible_become_user")?.unwrap_or_else(|| "root".into());
            check_user_name(&user)
                .map_err(|why| format!("ansible_become_user {user:?} is not a user name: {why}"))?;
            Some(user)
        } else {
            None
        };
        Ok(Self {
            binary,
            version_command,
            service,
            restart_command,
            restart,
            setcap,
            bind_port,
            health_url,
            health_command,
            health_timeout: secs("fleetup_health_timeout", 30)?,
            backups: usize::try_from(backups).unwrap_or(usize::MAX),
            become_user,
            command_timeout: secs("fleetup_command_timeout", 60)?,
            restart_timeout: secs("fleetup_restart_timeout", 60)?,
            transfer_timeout: secs("fleetup_transfer_timeout", 600)?,
            lock_stale_after: secs("fleetup_lock_stale_after", 3600)?,
            compress: string(vars, "fleetup_compress")?
                .map_or(Ok(CompressPolicy::None), |v| CompressPolicy::parse(&v))?,
        })
    }

    /// The version command for the binary at `path`: `{binary}` replaced in every word, the
    /// path staying one argv word whatever it contains.
    pub fn version_argv(&self, path: &str) -> Vec<String> {
        self.version_command
            .iter()
            .map(|w| w.replace("{binary}", path))
            .collect()
    }

    /// Whether a restart or a health check follows the swap (and so can fail it).
    pub fn has_health(&self) -> bool {
        self.health_url.is_some() || self.health_command.is_some()
    }
}

/// Splits a user's command string as a POSIX shell would split words (quotes honoured, no
/// expansion); it is then run without a shell.
pub fn split_command(name: &str, text: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(text)
        .ok_or_else(|| format!("{name} {text:?}: unbalanced quotes or trailing backslash"))?;
    if words.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if words.iter().any(|w| w.contains('\0')) {
        return Err(format!("{name} contains a NUL byte"));
    }
    Ok(words)
}

fn check_path(name: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{name} {path:?} is not an absolute path"));
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        let what = match c {
            '\n' | '\r' => "a newline",
            '\0' => "a NUL",
            _ => "a control character",
        };
        return Err(format!("{name} {path:?} contains {what} ({c:?})"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "{name} is {} bytes long: a path has at most {MAX_PATH_BYTES}",
            path.len()
        ));
    }
    if path.ends_with('/') {
        return Err(format!("{name} {path:?} names a directory"));
    }
    Ok(())
}

fn check_command_length(name: &str, text: &str) -> Result<(), String> {
    if text.len() > MAX_COMMAND_BYTES {
        return Err(format!(
            "{name} is {} bytes long: at most {MAX_COMMAND_BYTES} are accepted",
            text.len()
        ));
    }
    Ok(())
}

/// A systemd unit name as `systemctl restart` is given it: ASCII letters, digits and `:-_.\@`
/// (systemd's own set), not starting with `-` (an option). Glob characters are refused:
/// `systemctl restart 'app*'` would restart every loaded unit that matches.
pub fn check_unit_name(unit: &str) -> Result<(), String> {
    if unit.starts_with('-') {
        return Err("starts with '-' (systemctl would read it as an option)".into());
    }
    if unit.len() > MAX_UNIT_BYTES {
        return Err(format!(
            "longer than {MAX_UNIT_BYTES} bytes, systemd's limit"
        ));
    }
    if let Some(c) = unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\' | '@')))
    {
        return Err(format!(
            "contains {c:?}: a unit name has only ASCII letters, digits and :-_.\\@"
        ));
    }
    Ok(())
}

/// `fleetup_health_url`: an http(s) URL with a host, given to `curl --url` as one argv word.
/// Refused: whitespace and control characters (percent-encode them), credentials (they would
/// show in the host's process list and in fleetup's reports), and `{}` `[]` outside an IPv6
/// address (curl reads them as URL globs).
pub fn check_health_url(u: &str) -> Result<(), String> {
    const NAME: &str = "fleetup_health_url";
    if u.len() > MAX_URL_BYTES {
        return Err(format!(
            "{NAME} is {} bytes long: at most {MAX_URL_BYTES} are accepted",
            u.len()
        ));
    }
    if let Some(c) = u.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{NAME} {u:?} contains {c:?}: percent-encode it"));
    }
    let parsed = url::Url::parse(u).map_err(|e| format!("{NAME} {u:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{NAME} {u:?} must be http or https"));
    }
    if parsed.host().is_none() {
        return Err(format!("{NAME} {u:?} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{NAME} must not hold credentials: they would be on the host's process list and in \
             reports (use fleetup_health_command with a credentials file instead)"
        ));
    }
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let outside_ipv6 = match (authority.find('['), authority.rfind(']')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &authority[..a], &authority[b + 1..]),
        _ => authority.to_owned(),
    };
    if let Some(c) = outside_ipv6
        .chars()
        .chain(tail.chars())
        .find(|c| matches!(c, '{' | '}' | '[' | ']'))
    {
        return Err(format!(
            "{NAME} {u:?} contains {c:?}, which curl reads as a URL glob: percent-encode it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testutil::vars;
    use serde_json::json;

    #[test]
    fn defaults() {
        let s = HostSettings::for_binary("/opt/app/bin/app");
        assert_eq!(s.version_argv("/x y/a'b"), ["/x y/a'b", "--version"]);
        assert!(!s.restart);
        assert_eq!(s.setcap, SetcapPolicy::Auto);
        assert_eq!(s.backups, 3);
        assert_eq!(s.become_user, None);
        assert_eq!(s.health_timeout, Duration::from_secs(30));
    }

    #[test]
    fn version_command_is_split_then_substituted_per_word() {
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": "/a/b",
            "fleetup_version_command": "env LANG=C '{binary}' version --bin={binary}",
        })))
        .unwrap();
        assert_eq!(
            s.version_argv("/p/$(rm x) y"),
            [
                "env",
                "LANG=C",
                "/p/$(rm x) y",
                "version",
                "--bin=/p/$(rm x) y"
            ]
        );
        let err = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": "/a/b", "fleetup_version_command": "'{binary} --version",
        })))
        .unwrap_err();
        assert!(err.contains("unbalanced"), "{err}");
    }

    #[test]
    fn restart_and_become_and_setcap() {
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": "/a/b", "fleetup_service": "app.service",
            "ansible_become": "yes", "fleetup_setcap": "false", "fleetup_bind_port": "80",
        })))
        .unwrap();
        assert!(s.restart);
        assert_eq!(s.become_user.as_deref(), Some("root"));
        assert_eq!(s.setcap, SetcapPolicy::Never);
        assert_eq!(s.bind_port, Some(80));
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": "/a/b", "fleetup_restart_command": "x", "fleetup_restart": false,
            "fleetup_setcap": true,
        })))
        .unwrap();
        assert!(!s.restart);
        assert_eq!(s.setcap, SetcapPolicy::Always);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (v, needle) in [
            (
                json!({}),
                "fleetup_binary is not set (the absolute path of the binary on the host): set it",
            ),
            (json!({"fleetup_binary": "bin/app"}), "not an absolute path"),
            (json!({"fleetup_binary": "/a\nb"}), "newline"),
            (json!({"fleetup_binary": "/a\u{1b}b"}), "control character"),
            (
                json!({"fleetup_binary": "/a", "fleetup_restart": true}),
                "fleetup_restart",
            ),
            (
                json!({"fleetup_binary": "/a", "fleetup_backups": 0}),
                "fleetup_backups",
            ),
            (
                json!({"fleetup_binary": "/a", "fleetup_bind_port": 70000}),
                "fleetup_bind_port",
            ),
            (
                json!({"fleetup_binary": "/a", "fleetup_health_url": "file:///x"}),
                "http",
            ),
            (
                json!({"fleetup_binary": "/a", "ansible_become": true, "ansible_become_user": "-x"}),
                "ansible_become_user",
            ),
        ] {
            let err = HostSettings::from_vars(&vars(v)).unwrap_err();
            assert!(err.contains(needle), "{err} !~ {needle}");
        }
    }

    #[test]
    fn values_that_are_not_commands_are_kept_literally() {
        let path = "/opt/a b/'q'\"d\"/$(touch x);`id`|&<>*?~!#%^{a,b}[c]/-x/app name";
        let url = "http://127.0.0.1:8080/h;touch$IFS/x/$(id)`id`'\"?a=1&b=$(x)#f";
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": path,
            "fleetup_health_url": url,
            "fleetup_service": "app@inst\\x2d1.service",
            "ansible_become": true,
            "ansible_become_user": "#1000",
        })))
        .unwrap();
        assert_eq!(s.binary, path);
        assert_eq!(s.health_url.as_deref(), Some(url));
        assert_eq!(s.version_argv(path), [path, "--version"]);
        assert_eq!(s.become_user.as_deref(), Some("#1000"));
        // IPv6 brackets are the one place a URL may hold `[`/`]`.
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": "/a", "fleetup_health_url": "http://[::1]:8080/health",
        })))
        .unwrap();
        assert_eq!(s.health_url.as_deref(), Some("http://[::1]:8080/health"));
    }

    #[test]
    fn hostile_values_are_refused_naming_the_variable() {
        let long = |n: usize| "a".repeat(n);
        for (v, name, needle) in [
            (
                json!({"fleetup_service": "app;touch x"}),
                "fleetup_service",
                "';'",
            ),
            (
                json!({"fleetup_service": "$(touch x)"}),
                "fleetup_service",
                "'$'",
            ),
            (
                json!({"fleetup_service": "-H evil"}),
                "fleetup_service",
                "option",
            ),
            (json!({"fleetup_service": "app*"}), "fleetup_service", "'*'"),
            (
                json!({"fleetup_service": "a\nb"}),
                "fleetup_service",
                "'\\n'",
            ),
            (
                json!({"fleetup_service": long(256)}),
                "fleetup_service",
                "255",
            ),
            (
                json!({"fleetup_health_url": "-K/etc/passwd"}),
                "fleetup_health_url",
                "not a URL",
            ),
            (
                json!({"fleetup_health_url": "http://h/a\n;touch x"}),
                "fleetup_health_url",
                "'\\n'",
            ),
            (
                json!({"fleetup_health_url": "http://h/a b"}),
                "fleetup_health_url",
                "' '",
            ),
            (
                json!({"fleetup_health_url": "http://h/{a,b}"}),
                "fleetup_health_url",
                "glob",
            ),
            (
                json!({"fleetup_health_url": "http://h/[1-9]"}),
                "fleetup_health_url",
                "glob",
            ),
            (
                json!({"fleetup_health_url": "http://u:secret@h/"}),
                "fleetup_health_url",
                "credentials",
            ),
            (
                json!({"fleetup_health_url": format!("http://h/{}", long(8192))}),
                "fleetup_health_url",
                "8192",
            ),
            (
                json!({"ansible_become": true, "ansible_become_user": "root;touch x"}),
                "ansible_become_user",
                "';'",
            ),
            (
                json!({"ansible_become": true, "ansible_become_user": "$(touch x)"}),
                "ansible_become_user",
                "'$'",
            ),
            (
                json!({"ansible_become": true, "ansible_become_user": "-s"}),
                "ansible_become_user",
                "option",
            ),
            (
                json!({"ansible_become": true, "ansible_become_method": "su"}),
                "ansible_become_method",
                "sudo",
            ),
            (
                json!({"ansible_become": "yes; touch x"}),
                "ansible_become",
                "boolean",
            ),
            (
                json!({"fleetup_binary": format!("/{}", long(4095))}),
                "fleetup_binary",
                "4095",
            ),
            (
                json!({"fleetup_version_command": long(32 * 1024 + 1)}),
                "fleetup_version_command",
                "at most",
            ),
            (
                json!({"fleetup_restart_command": long(32 * 1024 + 1)}),
                "fleetup_restart_command",
                "at most",
            ),
            (
                json!({"fleetup_health_command": long(32 * 1024 + 1)}),
                "fleetup_health_command",
                "at most",
            ),
            (
                json!({"fleetup_command_timeout": "60; touch x"}),
                "fleetup_command_timeout",
                "whole number",
            ),
            (
                json!({"fleetup_command_timeout": u64::MAX}),
                "fleetup_command_timeout",
                "week",
            ),
            (
                json!({"fleetup_health_timeout": 604_801}),
                "fleetup_health_timeout",
                "week",
            ),
            (
                json!({"fleetup_lock_stale_after": "18446744073709551615"}),
                "fleetup_lock_stale_after",
                "week",
            ),
            (json!({"fleetup_backups": 1001}), "fleetup_backups", "1000"),
            (
                json!({"fleetup_bind_port": "80;touch x"}),
                "fleetup_bind_port",
                "whole number",
            ),
            (
                json!({"fleetup_setcap": "yes;touch x"}),
                "fleetup_setcap",
                "boolean",
            ),
        ] {
            let mut v = v;
            if v.get("fleetup_binary").is_none() {
                v["fleetup_binary"] = json!("/opt/app/app");
            }
            let err = HostSettings::from_vars(&vars(v.clone())).unwrap_err();
            assert!(err.contains(name) && err.contains(needle), "{v}: {err}");
        }
        // At the limits, accepted.
        let s = HostSettings::from_vars(&vars(json!({
            "fleetup_binary": format!("/{}", long(4094)),
            "fleetup_command_timeout": 604_800,
            "fleetup_backups": 1000,
            "fleetup_service": long(255),
        })))
        .unwrap();
        assert_eq!(s.command_timeout, Duration::from_secs(MAX_SECONDS));
    }
}
