//! From a host's inventory variables to an SSH target: Ansible's connection variables, then
//! `~/.ssh/config` as OpenSSH would apply it, then fleetup's host-key policy over the
//! known_hosts files. Every value that will reach the network or a file name is checked here,
//! so a bad one fails that host (named) and not the whole run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::known_hosts::{self, Decision, HostKeyPolicy, KnownHosts};
use super::ssh::{HostKeyVerifier, JumpTarget, SshTarget};
use super::ssh_config::{JumpHost, SshConfig, parse_proxy_jump};
use crate::inventory::vars::{list, number, string};
use crate::inventory::{Vars, check_host_name, check_user_name};

/// What every host's connection shares: the controller's ssh_config and home directory, and
/// fleetup's configuration.
#[derive(Debug)]
pub struct SshDefaults {
    pub ssh_config: SshConfig,
    pub home: PathBuf,
    /// `known_hosts` of the configuration ([`crate::config`]): the files of the hosts without
    /// `fleetup_known_hosts`, before ssh_config's `UserKnownHostsFile`.
    pub known_hosts_files: Option<Vec<PathBuf>>,
    /// `host_key_checking` of the configuration: the policy of the hosts without
    /// `fleetup_host_key_checking`, before ssh_config's `StrictHostKeyChecking`.
    pub host_key_checking: Option<HostKeyPolicy>,
    /// The controller's user, the default remote user as with OpenSSH.
    pub local_user: String,
    pub connect_timeout: Duration,
    /// known_hosts files read once per run, shared by every host that uses them (so a key
    /// recorded by accept-new for one host is seen by the next).
    known_hosts: Mutex<HashMap<Vec<PathBuf>, Arc<Mutex<KnownHosts>>>>,
}

impl SshDefaults {
    /// The known_hosts of `files`, read on first use.
    fn known_hosts(&self, files: &[PathBuf]) -> Result<Arc<Mutex<KnownHosts>>, String> {
        let mut cache = self.known_hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = cache.get(files) {
            return Ok(Arc::clone(k));
        }
        let loaded = KnownHosts::load(files)?;
        for w in loaded.warnings() {
            tracing::warn!("known_hosts: {w}");
        }
        let k = Arc::new(Mutex::new(loaded));
        cache.insert(files.to_vec(), Arc::clone(&k));
        Ok(k)
    }

    /// Reads `~/.ssh/config` (a missing file is empty), with the configuration `run`
    /// installed ([`crate::config::installed`]).
    pub fn from_environment() -> Result<Self, String> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("HOME is not set: cannot find ~/.ssh")?;
        let ssh_config = SshConfig::load(&home.join(".ssh/config"))?;
        let local_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "root".to_owned());
        let config = crate::config::installed();
        Ok(Self {
            ssh_config,
            home,
            known_hosts_files: config.and_then(|c| c.known_hosts.value.clone()),
            host_key_checking: config.and_then(|c| c.host_key_checking.value),
            local_user,
            connect_timeout: Duration::from_secs(10),
            known_hosts: Mutex::default(),
        })
    }
}

/// A value fleetup puts on a command line or in a connection, checked as host names are
/// ([`check_host_name`]), with the variable named in the error.
fn check_word(what: &str, value: &str) -> Result<(), String> {
    check_host_name(value).map_err(|why| format!("{what} {value:?}: {why}"))
}

/// An address fleetup connects to (resolved, then written in known_hosts when accept-new
/// records it): a DNS name or an IP address — ASCII letters, digits and `.-_:%` (`%` for an
/// IPv6 zone), and not starting with `-`. Anything else (`;`, `$`, quotes, brackets, a
/// `-oProxyCommand=…`) is in no host name and is refused, naming where it came from.
fn check_address(what: &str, value: &str) -> Result<(), String> {
    check_word(what, value)?;
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%')))
    {
        return Err(format!(
            "{what} {value:?}: contains {c:?}, which is in no host name or IP address"
        ));
    }
    Ok(())
}

/// A remote user name ([`check_user_name`]), with the variable named in the error.
fn check_user(what: &str, value: &str) -> Result<(), String> {
    check_user_name(value).map_err(|why| format!("{what} {value:?} is not a user name: {why}"))
}

/// `ansible_port` as Ansible accepts it: a number or a string of digits.
fn port_var(vars: &Vars) -> Result<Option<u16>, String> {
    match number(vars, "ansible_port")? {
        None => Ok(None),
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or(format!(
                "ansible_port must be a port number (1-65535), not {p}"
            )),
    }
}

fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

/// The ProxyJump a host asks for, with the variable it came from: `fleetup_jump_host`, else
/// `-o ProxyJump=…` or `-J …` in `ansible_ssh_common_args`/`ansible_ssh_extra_args` (so an
/// Ansible inventory's bastion works unchanged), else none (ssh_config may still give one).
/// A `ProxyCommand` in those arguments (other than `none`) is refused when no
/// `fleetup_jump_host` says how to reach the host: fleetup runs no local command for a
/// connection, and connecting directly instead would not be what the inventory asks.
fn jump_var(vars: &Vars) -> Result<Option<(String, &'static str)>, String> {
    if let Some(j) = string(vars, "fleetup_jump_host")? {
        return Ok(Some((j, "fleetup_jump_host")));
    }
    for name in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        let Some(args) = string(vars, name)? else {
            continue;
        };
        let words = shlex::split(&args).ok_or(format!("{name}: unbalanced quotes"))?;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let option = if w == "-o" {
                it.next().map(String::as_str)
            } else {
                w.strip_prefix("-o")
            };
            if let Some(o) = option
                && option_value(o, "proxycommand").is_some_and(|v| !v.eq_ignore_ascii_case("none"))
            {
                return Err(format!(
                    "{name} sets a ProxyCommand, which fleetup does not run: use ProxyJump \
                     (-J, or fleetup_jump_host)"
                ));
            }
            let value = if w == "-J" {
                it.next().cloned()
            } else if let Some(o) = option {
                option_value(o, "proxyjump")
            } else {
                w.strip_prefix("-J")
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            if let Some(v) = value {
                return Ok(Some((v, name)));
            }
        }
    }
    Ok(None)
}

/// The value of `-o KEY=VALUE` (or `KEY VALUE`) when KEY is `key` (lowercase).
fn option_value(option: &str, key: &str) -> Option<String> {
    let (k, value) = option.split_once(['=', ' '])?;
    k.trim()
        .eq_ignore_ascii_case(key)
        .then(|| value.trim().to_owned())
}

/// The SSH target for inventory host `name` with merged variables `vars`.
pub fn ssh_target(name: &str, vars: &Vars, d: &SshDefaults) -> Result<SshTarget, String> {
    let given_host = string(vars, "ansible_host")?;
    let alias = given_host.clone().unwrap_or_else(|| name.to_owned());
    let alias = alias.as_str();
    check_word("ansible_host", alias)?;
    let cfg = d.ssh_config.resolve(alias)?;
    if cfg.proxy_command.is_some() {
        return Err(format!(
            "~/.ssh/config gives {alias} a ProxyCommand, which fleetup does not run; use ProxyJump"
        ));
    }
    let (address, from) = match (&cfg.hostname, &given_host) {
        (Some(h), _) => (h.clone(), "HostName (from ~/.ssh/config)"),
        (None, Some(h)) => (h.clone(), "ansible_host"),
        (None, None) => (name.to_owned(), "host name (no ansible_host)"),
    };
    check_address(from, &address)?;
    let port = port_var(vars)?.or(cfg.port).unwrap_or(22);
    let user = match string(vars, "ansible_user")? {
        Some(u) => {
            check_user("ansible_user", &u)?;
            u
        }
        None => {
            let u = cfg.user.clone().unwrap_or_else(|| d.local_user.clone());
            check_user("user (ssh_config User, else the local user)", &u)?;
            u
        }
    };

    let mut identity_files: Vec<PathBuf> = Vec::new();
    if let Some(key) =
        string(vars, "ansible_ssh_private_key_file")?.or(string(vars, "ansible_private_key_file")?)
    {
        identity_files.push(expand_home(&key, &d.home));
    }
    identity_files.extend(cfg.identity_files.iter().cloned());
    let use_default_identities = identity_files.is_empty() && !cfg.identity_files_configured;

    let (jumps, jump_from): (Vec<JumpHost>, &str) = match jump_var(vars)? {
        Some((spec, from)) => (
            parse_proxy_jump(&spec).map_err(|e| format!("{from}: {e}"))?,
            from,
        ),
        None => (cfg.proxy_jump.clone(), "ProxyJump (from ~/.ssh/config)"),
    };
    let jump = jumps
        .iter()
        .map(|j| jump_target(j, &user, d).map_err(|e| format!("{jump_from}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;

    let known_files: Vec<PathBuf> = {
        let given = list(vars, "fleetup_known_hosts")?;
        if !given.is_empty() {
            given.iter().map(|f| expand_home(f, &d.home)).collect()
        } else if let Some(files) = &d.known_hosts_files {
            files.clone()
        } else if let Some(files) = &cfg.user_known_hosts_files {
            files.clone()
        } else {
            vec![
                d.home.join(".ssh/known_hosts"),
                d.home.join(".ssh/known_hosts2"),
            ]
        }
    };
    let policy = match string(vars, "fleetup_host_key_checking")? {
        Some(p) => {
            HostKeyPolicy::parse(&p).map_err(|e| format!("fleetup_host_key_checking: {e}"))?
        }
        None => match (d.host_key_checking, &cfg.strict_host_key_checking) {
            (Some(p), _) => p,
            (None, Some(p)) => HostKeyPolicy::parse(p)
                .map_err(|e| format!("StrictHostKeyChecking (from ~/.ssh/config): {e}"))?,
            (None, None) => HostKeyPolicy::Strict,
        },
    };
    let known = d.known_hosts(&known_files)?;
    let host_key_algorithms = Some(
        known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .preferred_algorithms(&address, port, &russh::Preferred::DEFAULT.key),
    );
    let record_file = known_files
        .first()
        .cloned()
        .unwrap_or_else(|| d.home.join(".ssh/known_hosts"));

    // Jump connections are shared between hosts that trust and authenticate alike.
    let share_jumps =
        format!("{known_files:?} {policy:?} {identity_files:?} {use_default_identities}");
    let mut target = SshTarget::new(
        name,
        address,
        user,
        verifier(name, known, policy, known_files, record_file, &jump),
    );
    target.share_jumps = Some(share_jumps);
    target.port = port;
    target.identity_files = identity_files;
    target.use_default_identities = use_default_identities;
    target.jump = jump;
    target.connect_timeout = d.connect_timeout;
    target.host_key_algorithms = host_key_algorithms;
    Ok(target)
}

/// A hop of a jump chain, resolved through ssh_config like the target.
fn jump_target(j: &JumpHost, target_user: &str, d: &SshDefaults) -> Result<JumpTarget, String> {
    check_word("jump host", &j.host)?;
    let cfg = d.ssh_config.resolve(&j.host)?;
    let address = cfg.hostname.unwrap_or_else(|| j.host.clone());
    check_address("jump host name", &address)?;
    let user = j
        .user
        .clone()
        .or(cfg.user)
        .unwrap_or_else(|| target_user.to_owned());
    check_user("jump host user", &user)?;
    Ok(JumpTarget {
        address,
        port: j.port.or(cfg.port).unwrap_or(22),
        user,
    })
}

/// The host-key check for one host's connection (each hop calls it with its own address).
/// `jump` is the host's jump chain: a hop's refusal message tells how to scan its key from
/// the hop before it.
fn verifier(
    name: &str,
    known: Arc<Mutex<KnownHosts>>,
    policy: HostKeyPolicy,
    files: Vec<PathBuf>,
    record_file: PathBuf,
    jump: &[JumpTarget],
) -> HostKeyVerifier {
    let name = name.to_owned();
    let chain: Vec<(String, String, u16)> = jump
        .iter()
        .map(|j| (j.user.clone(), j.address.clone(), j.port))
        .collect();
    Arc::new(
        move |address: &str, port: u16, key: &russh::keys::PublicKey| {
            // The hops before this one: none for the first jump host, all of them for the
            // host itself.
            let before = chain
                .iter()
                .position(|(_, a, p)| a == address && *p == port)
                .unwrap_or(chain.len());
            let lookup = known_hosts::Lookup {
                host: address,
                port,
                files: &files,
                record_file: &record_file,
                via: &chain[..before],
            };
            let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
            let status = known.check(address, port, key);
            match known_hosts::decide(&status, policy, &lookup, key)? {
                Decision::Accept => {
                    if policy == HostKeyPolicy::Off {
                        tracing::warn!(host = %name, "host key checking is OFF for {address}:{port}: accepting {} unverified", known_hosts::fingerprint(key));
                    }
                }
                Decision::AcceptAndRecord => {
                    known_hosts::append(&record_file, address, port, key).map_err(|e| {
                        format!(
                            "cannot record the new host key in {}: {e}",
                            record_file.display()
                        )
                    })?;
                    if let Ok(line) = known_hosts::entry_line(address, port, key) {
                        known.add_text(&record_file, &line);
                    }
                    tracing::warn!(host = %name, "accept-new: recorded the host key of {address}:{port} ({}) in {}", known_hosts::fingerprint(key), record_file.display());
                }
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testutil::vars;
    use serde_json::json;

    fn defaults(config: &str) -> (tempfile::TempDir, SshDefaults) {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::write(home.path().join(".ssh/config"), config).unwrap();
        let ssh_config =
            SshConfig::load_with(&home.path().join(".ssh/config"), home.path(), Some("me"))
                .unwrap();
        let d = SshDefaults {
            ssh_config,
            home: home.path().to_path_buf(),
            known_hosts_files: None,
            host_key_checking: None,
            local_user: "me".into(),
            connect_timeout: Duration::from_secs(5),
            known_hosts: Mutex::default(),
        };
        (home, d)
    }

    /// known_hosts and host-key policy: the host's variable, then fleetup's configuration, then
    /// ssh_config, then the default (read through the jump-sharing key, which names both).
    #[test]
    fn configured_known_hosts_and_policy_sit_between_variables_and_ssh_config() {
        let ssh = "Host *\n  UserKnownHostsFile /cfg/known\n  StrictHostKeyChecking no\n";
        let trust = |d: &SshDefaults, v: serde_json::Value| {
            ssh_target("web1", &vars(v), d)
                .unwrap()
                .share_jumps
                .unwrap()
        };
        let (_h, mut d) = defaults(ssh);
        let plain = trust(&d, json!({}));
        assert!(
            plain.starts_with("[\"/cfg/known\"] Off "),
            "ssh_config: {plain}"
        );
        d.known_hosts_files = Some(vec![PathBuf::from("/fleetup/known")]);
        d.host_key_checking = Some(HostKeyPolicy::AcceptNew);
        let configured = trust(&d, json!({}));
        assert!(
            configured.starts_with("[\"/fleetup/known\"] AcceptNew "),
            "configuration beats ssh_config: {configured}"
        );
        let var = trust(
            &d,
            json!({"fleetup_known_hosts": "/var/known", "fleetup_host_key_checking": "strict"}),
        );
        assert!(
            var.starts_with("[\"/var/known\"] Strict "),
            "the host's variables beat the configuration: {var}"
        );
        let (_h, d) = defaults("");
        let default = trust(&d, json!({}));
        assert!(
            default.contains(".ssh/known_hosts\", ") && default.contains("] Strict "),
            "{default}"
        );
    }

    #[test]
    fn ansible_variables_beat_ssh_config_which_beats_defaults() {
        let (_h, d) = defaults(
            "Host web1\n  HostName 10.0.0.1\n  User cfguser\n  Port 2200\n  IdentityFile ~/.ssh/cfgkey\n",
        );
        let t = ssh_target("web1", &Vars::new(), &d).unwrap();
        assert_eq!(
            (t.address.as_str(), t.port, t.user.as_str()),
            ("10.0.0.1", 2200, "cfguser")
        );
        assert!(
            t.identity_files[0].ends_with(".ssh/cfgkey"),
            "{:?}",
            t.identity_files
        );
        assert!(!t.use_default_identities);

        let v = vars(
            json!({"ansible_host": "web1", "ansible_port": "2222", "ansible_user": "deploy", "ansible_ssh_private_key_file": "~/k"}),
        );
        let t = ssh_target("inventory-name", &v, &d).unwrap();
        assert_eq!(
            (t.name.as_str(), t.address.as_str(), t.port, t.user.as_str()),
            ("inventory-name", "10.0.0.1", 2222, "deploy")
        );
        assert_eq!(t.identity_files[0], d.home.join("k"));

        let t = ssh_target("other", &Vars::new(), &d).unwrap();
        assert_eq!(
            (t.address.as_str(), t.port, t.user.as_str()),
            ("other", 22, "me")
        );
        assert!(t.use_default_identities);
    }

    #[test]
    fn jump_hosts_from_fleetup_var_ansible_args_or_ssh_config() {
        let (_h, d) = defaults(
            "Host bastion\n  HostName 192.0.2.7\n  User jumper\nHost behind\n  ProxyJump bastion,hop2:2022\n",
        );
        let t = ssh_target("behind", &Vars::new(), &d).unwrap();
        assert_eq!(t.jump.len(), 2);
        assert_eq!(
            (
                t.jump[0].address.as_str(),
                t.jump[0].user.as_str(),
                t.jump[0].port
            ),
            ("192.0.2.7", "jumper", 22)
        );
        assert_eq!((t.jump[1].address.as_str(), t.jump[1].port), ("hop2", 2022));

        let v = vars(
            json!({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o ProxyJump=ops@gw:2222"}),
        );
        let t = ssh_target("h", &v, &d).unwrap();
        assert_eq!(
            (
                t.jump[0].address.as_str(),
                t.jump[0].user.as_str(),
                t.jump[0].port
            ),
            ("gw", "ops", 2222)
        );

        let v = vars(json!({"fleetup_jump_host": "gw2", "ansible_ssh_common_args": "-J gw"}));
        assert_eq!(ssh_target("h", &v, &d).unwrap().jump[0].address, "gw2");
    }

    #[test]
    fn bad_values_fail_the_host_with_the_variable_named() {
        let (_h, d) = defaults("Host proxied\n  ProxyCommand nc %h %p\n");
        for (v, needle) in [
            (
                json!({"ansible_host": "-oProxyCommand=evil"}),
                "ansible_host",
            ),
            (json!({"ansible_user": "-x"}), "ansible_user"),
            (json!({"ansible_user": "a b"}), "ansible_user"),
            (json!({"ansible_port": 70000}), "ansible_port"),
            (json!({"ansible_port": "22; reboot"}), "ansible_port"),
            (
                json!({"fleetup_host_key_checking": "maybe"}),
                "fleetup_host_key_checking: invalid host key checking \"maybe\"",
            ),
            (json!({"fleetup_jump_host": "-oProxyCommand=x"}), "jump"),
        ] {
            let err = ssh_target("h", &vars(v.clone()), &d).unwrap_err();
            assert!(err.contains(needle), "{v}: {err}");
        }
        let err = ssh_target("proxied", &Vars::new(), &d).unwrap_err();
        assert!(err.contains("ProxyCommand"), "{err}");
    }

    #[test]
    fn shell_metacharacters_in_connection_values_are_refused_naming_the_variable() {
        let (_h, d) = defaults("Host aliased\n  HostName 10.0.0.9\n");
        for (v, needle) in [
            (
                json!({"ansible_host": "10.0.0.1;touch${IFS}x"}),
                "ansible_host \"10.0.0.1;touch${IFS}x\": contains ';'",
            ),
            (json!({"ansible_host": "$(touch${IFS}x)"}), "ansible_host"),
            (json!({"ansible_host": "`touch${IFS}x`"}), "ansible_host"),
            (json!({"ansible_host": "h'\"q"}), "ansible_host"),
            (json!({"ansible_host": "a\ntouch x"}), "ansible_host"),
            (json!({"ansible_host": "[::1]"}), "ansible_host"),
            (json!({"ansible_user": "root;touch${IFS}x"}), "ansible_user"),
            (json!({"ansible_user": "$(touch${IFS}x)"}), "ansible_user"),
            (json!({"ansible_user": "../../etc/ssh/key"}), "ansible_user"),
            (
                json!({"fleetup_jump_host": "gw;touch${IFS}x"}),
                "fleetup_jump_host",
            ),
            (
                json!({"fleetup_jump_host": "root@$(touch${IFS}x)"}),
                "fleetup_jump_host",
            ),
            (
                json!({"fleetup_jump_host": "-oProxyCommand=touch${IFS}x@gw"}),
                "fleetup_jump_host",
            ),
            (
                json!({"fleetup_jump_host": "gw,-oProxyCommand=x"}),
                "fleetup_jump_host",
            ),
            (
                json!({"ansible_ssh_common_args": "-J 'gw;touch${IFS}x'"}),
                "ansible_ssh_common_args",
            ),
            (
                json!({"ansible_ssh_common_args": "-o ProxyCommand=\"touch x\""}),
                "ProxyCommand",
            ),
            (
                json!({"ansible_ssh_extra_args": "-oProxyCommand=touch${IFS}x"}),
                "ansible_ssh_extra_args sets a ProxyCommand",
            ),
            (
                json!({"ansible_ssh_common_args": "-o 'proxycommand touch x'"}),
                "ProxyCommand",
            ),
            (
                json!({"ansible_ssh_common_args": "-o ProxyCommand=none -o ProxyJump=-x"}),
                "ansible_ssh_common_args: ProxyJump: bad jump host",
            ),
            (json!({"ansible_port": "22;touch${IFS}x"}), "ansible_port"),
        ] {
            let err = ssh_target("h", &vars(v.clone()), &d).unwrap_err();
            assert!(err.contains(needle), "{v}: {err}");
        }
        // The inventory name is the address when there is no ansible_host: checked the same.
        let err = ssh_target("web$(touch${IFS}x)", &Vars::new(), &d).unwrap_err();
        assert!(
            err.contains("host name (no ansible_host)") && err.contains("'$'"),
            "{err}"
        );
        // An alias resolved by ssh_config is fine; IPv6 and zones too.
        assert_eq!(
            ssh_target("aliased", &Vars::new(), &d).unwrap().address,
            "10.0.0.9"
        );
        for ok in ["fe80::1%eth0", "::1", "web_01.example.com", "192.0.2.1"] {
            let t = ssh_target("h", &vars(json!({"ansible_host": ok})), &d).unwrap();
            assert_eq!(t.address, ok);
        }
        let t = ssh_target(
            "h",
            &vars(json!({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no -J ops@gw"})),
            &d,
        )
        .unwrap();
        assert_eq!(
            (t.jump[0].user.as_str(), t.jump[0].address.as_str()),
            ("ops", "gw")
        );
        // `ProxyCommand none` is no proxy command; fleetup_jump_host overrides the arguments.
        let t = ssh_target(
            "h",
            &vars(json!({"ansible_ssh_common_args": "-o ProxyCommand=none"})),
            &d,
        )
        .unwrap();
        assert!(t.jump.is_empty());
        let t = ssh_target(
            "h",
            &vars(json!({"ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p gw'", "fleetup_jump_host": "gw2"})),
            &d,
        )
        .unwrap();
        assert_eq!(t.jump[0].address, "gw2");
    }
}
