//! What the steps need to know about one host, read once from its inventory variables and
//! validated: a bad value fails that host (named), never the run.

use std::time::Duration;

use serde_json::Value;

use crate::compress::CompressPolicy;
use crate::inventory::Vars;
use crate::inventory::vars::{boolean, number, string};

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

impl HostSettings {
    /// Settings for a binary with every other value at its default.
    pub fn for_binary(binary: &str) -> Self {
        let mut vars = Vars::new();
        vars.insert("fleetup_binary".into(), Value::String(binary.into()));
        Self::from_vars(&vars).expect("defaults are valid")
    }

    /// Reads and validates a host's variables; `Err` names the variable.
    pub fn from_vars(vars: &Vars) -> Result<Self, String> {
        let binary = string(vars, "fleetup_binary")?
            .ok_or("fleetup_binary is not set (the absolute path of the binary on the host)")?;
        check_path("fleetup_binary", &binary)?;
        let version_text = string(vars, "fleetup_version_command")?
            .unwrap_or_else(|| DEFAULT_VERSION_COMMAND.to_owned());
        let version_command = split_command("fleetup_version_command", &version_text)?;
        let service = string(vars, "fleetup_service")?;
        if let Some(s) = &service {
            if s.starts_with('-') || s.contains(['\0', '\n']) {
                return Err(format!("fleetup_service {s:?} is not a unit name"));
            }
        }
        let restart_command = string(vars, "fleetup_restart_command")?;
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
            let parsed = url::Url::parse(u)
                .map_err(|e| format!("fleetup_health_url {u:?} is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("fleetup_health_url {u:?} must be http or https"));
            }
        }
        let health_command = string(vars, "fleetup_health_command")?;
        let secs = |name: &str, default: u64| -> Result<Duration, String> {
            let n = number(vars, name)?.unwrap_or(default);
            if n == 0 {
                return Err(format!("{name} must be at least 1 second"));
            }
            Ok(Duration::from_secs(n))
        };
        let backups = number(vars, "fleetup_backups")?.unwrap_or(3);
        if backups == 0 {
            return Err("fleetup_backups must be at least 1 (rollback needs a backup)".into());
        }
        let become_user = if boolean(vars, "ansible_become")?.unwrap_or(false) {
            let user = string(vars, "ansible_become_user")?.unwrap_or_else(|| "root".into());
            if user.starts_with('-') || user.contains(['\0', '\n', ' ']) {
                return Err(format!("ansible_become_user {user:?} is not a user name"));
            }
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
    if path.contains(['\0', '\n', '\r']) {
        return Err(format!("{name} {path:?} contains a NUL or a newline"));
    }
    if path.ends_with('/') {
        return Err(format!("{name} {path:?} names a directory"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Vars {
        let Value::Object(map) = v else { panic!() };
        map.into_iter().collect()
    }

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
            (json!({}), "fleetup_binary is not set"),
            (json!({"fleetup_binary": "bin/app"}), "not an absolute path"),
            (json!({"fleetup_binary": "/a\nb"}), "newline"),
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
}
