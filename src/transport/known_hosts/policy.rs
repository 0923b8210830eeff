//! What to do with a [`HostKeyStatus`]: `fleetup_host_key_checking` and OpenSSH's
//! `StrictHostKeyChecking`.

use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::PublicKey;

use super::{HostKeyStatus, fingerprint};

/// How strictly host keys are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Only keys on file are accepted (fleetup's default).
    #[default]
    Strict,
    /// Unknown hosts are accepted and their key recorded; changed and revoked keys refused.
    AcceptNew,
    /// Anything but a revoked key is accepted and nothing is recorded. The caller must warn
    /// loudly. (OpenSSH's `StrictHostKeyChecking no` also records unknown keys; fleetup does
    /// not write anything when checking is off.)
    Off,
}

impl HostKeyPolicy {
    /// fleetup's values (`strict`, `accept-new`, `off`) and OpenSSH's `StrictHostKeyChecking`
    /// values (`yes`/`true` → strict, `accept-new`, `no`/`false`/`off` → off, and `ask` →
    /// strict, since nobody is there to answer). Case-insensitive, as in OpenSSH.
    pub fn parse(value: &str) -> Result<HostKeyPolicy, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "strict" | "yes" | "true" | "ask" => Ok(HostKeyPolicy::Strict),
            "accept-new" => Ok(HostKeyPolicy::AcceptNew),
            "off" | "no" | "false" => Ok(HostKeyPolicy::Off),
            _ => Err(format!(
                "invalid host key checking {value:?}: expected strict, accept-new or off \
                 (or StrictHostKeyChecking's yes, ask, accept-new, no)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
            HostKeyPolicy::Off => "off",
        }
    }
}

impl fmt::Display for HostKeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller does with an accepted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Accept,
    /// Go on, and record the key with [`super::append`] in the user known_hosts file.
    AcceptAndRecord,
}

/// Where a host's key was looked up: what the messages of [`decide`] name.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The name connected to (after ssh_config's `HostName`).
    pub host: &'a str,
    pub port: u16,
    /// The known_hosts files read, in order.
    pub files: &'a [PathBuf],
    /// Where accept-new records keys (the first user known_hosts file), and where the
    /// suggested `ssh-keyscan` appends.
    pub record_file: &'a Path,
    /// The jump hosts this host is reached through, first first, as (user, address, port):
    /// the suggested `ssh-keyscan` then runs on the last of them.
    pub via: &'a [(String, String, u16)],
}

/// Applies `policy` to `status` for the key `key` presented by `at.host` on `at.port`. `Err`
/// is the message explaining the refusal: it names host and port, the fingerprints, the
/// `file:line`, and what to do — for an unknown host the exact `ssh-keyscan` command that adds
/// its key (after checking the fingerprint out of band), for a changed key a warning first.
///
/// - `Strict`: `Known` only.
/// - `AcceptNew`: `Known`; `Unknown` → record. `Changed`, `Revoked` and `CertAuthorityOnly`
///   always refused.
/// - `Off`: everything but `Revoked` (the caller warns loudly; nothing is recorded).
pub fn decide(
    status: &HostKeyStatus,
    policy: HostKeyPolicy,
    at: &Lookup<'_>,
    key: &PublicKey,
) -> Result<Decision, String> {
    let (host, port) = (at.host, at.port);
    let target = format!("{host} port {port}");
    let found = fingerprint(key);
    let algorithm = key.algorithm();
    let check_on_host = match host_key_file(key) {
        Some(file) => format!("on the host: `ssh-keygen -lf {file}`"),
        None => "on the host: `ssh-keygen -lf` on its /etc/ssh/ssh_host_*_key.pub".to_owned(),
    };
    match (status, policy) {
        (HostKeyStatus::Revoked { location }, _) => Err(format!(
            "REVOKED HOST KEY: the {algorithm} host key of {target} ({found}) is marked @revoked \
             in {location}; someone may be using a stolen key to impersonate this host. Refusing \
             to connect, whatever the host key checking."
        )),
        (HostKeyStatus::Known, _) => Ok(Decision::Accept),
        (_, HostKeyPolicy::Off) => Ok(Decision::Accept),
        (HostKeyStatus::CertAuthorityOnly { locations }, _) => Err(format!(
            "no host key on file for {target}: only @cert-authority line(s) cover it ({}), and \
             fleetup does not support host certificates (host key checking: {policy}; \
             accept-new does not record a key for a host meant to be trusted through a \
             certificate authority). It presented the {algorithm} key {found}: check that \
             fingerprint out of band ({check_on_host}), then add the key itself with `{}`.",
            locations.join(", "),
            keyscan(at, key),
        )),
        (
            HostKeyStatus::Changed {
                expected,
                found,
                locations,
            },
            _,
        ) => {
            let on_file: Vec<String> = expected
                .iter()
                .zip(locations)
                .map(|(fp, at)| format!("{fp} ({at})"))
                .collect();
            // `file:line` → the files to remove the old entries from.
            let mut files: Vec<&str> = locations
                .iter()
                .map(|l| l.rsplit_once(':').map_or(l.as_str(), |(f, _)| f))
                .collect();
            files.dedup();
            let remove: Vec<String> = files
                .iter()
                .map(|f| {
                    format!(
                        "`ssh-keygen -R {} -f {}`",
                        shell_word(&super::lookup_name(host, port)),
                        shell_word(f)
                    )
                })
                .collect();
            Err(format!(
                "HOST KEY CHANGED for {target}: it presented the {algorithm} key {found}, but the \
                 key(s) on file are {}. Someone may be intercepting the connection \
                 (man-in-the-middle), or the host key was really replaced (a reinstall). \
                 Refusing to connect (host key checking: {policy}). Do NOT just scan the key \
                 again: first confirm out of band that {found} is the host's new key \
                 ({check_on_host}). Only then remove the old entry with {} and add the new key \
                 with `{}`.",
                on_file.join(", "),
                remove.join(" and "),
                keyscan(at, key),
            ))
        }
        (HostKeyStatus::Unknown, HostKeyPolicy::AcceptNew) => Ok(Decision::AcceptAndRecord),
        (HostKeyStatus::Unknown, HostKeyPolicy::Strict) => {
            let files: Vec<String> = at.files.iter().map(|f| f.display().to_string()).collect();
            Err(format!(
                "unknown host key for {target}: its {algorithm} key {found} is not in {} (the \
                 known_hosts files read; host key checking: strict). Check that fingerprint \
                 out of band ({check_on_host}), then add the key with `{}` — or set \
                 fleetup_host_key_checking=accept-new to record the keys of new hosts on first \
                 contact.",
                if files.is_empty() {
                    at.record_file.display().to_string()
                } else {
                    files.join(", ")
                },
                keyscan(at, key),
            ))
        }
    }
}

/// `ssh-keyscan`'s name for the type of `key` (its `-t`), when it has one.
fn keyscan_type(key: &PublicKey) -> Option<&'static str> {
    let name = key.algorithm();
    let name = name.as_str();
    Some(match name {
        "ssh-ed25519" => "ed25519",
        "sk-ssh-ed25519@openssh.com" => "ed25519-sk",
        "sk-ecdsa-sha2-nistp256@openssh.com" => "ecdsa-sk",
        "ssh-dss" => "dsa",
        _ if name.starts_with("ecdsa-sha2-") => "ecdsa",
        _ if name == "ssh-rsa" || name.starts_with("rsa-sha2-") => "rsa",
        _ => return None,
    })
}

/// The host's own file of that key type, where its fingerprint can be read on the host.
fn host_key_file(key: &PublicKey) -> Option<String> {
    let t = keyscan_type(key)?;
    (!t.ends_with("-sk")).then(|| format!("/etc/ssh/ssh_host_{t}_key.pub"))
}

/// The command that appends `key`'s type of host key of `at` to the record file: run here, or
/// on the last jump host when the host is reached through jump hosts (it may be reachable
/// only from there).
fn keyscan(at: &Lookup<'_>, key: &PublicKey) -> String {
    let mut scan = format!("ssh-keyscan -p {}", at.port);
    if let Some(t) = keyscan_type(key) {
        scan.push_str(&format!(" -t {t}"));
    }
    scan.push(' ');
    scan.push_str(&shell_word(at.host));
    let record = shell_word(&at.record_file.display().to_string());
    let Some(((user, address, port), before)) = at.via.split_last() else {
        return format!("{scan} >> {record}");
    };
    let mut ssh = "ssh".to_owned();
    if !before.is_empty() {
        let hops: Vec<String> = before
            .iter()
            .map(|(u, a, p)| match a.contains(':') {
                true => format!("{u}@[{a}]:{p}"),
                false => format!("{u}@{a}:{p}"),
            })
            .collect();
        ssh.push_str(&format!(" -J {}", shell_word(&hops.join(","))));
    }
    format!(
        "{ssh} -p {port} {} {} >> {record}",
        shell_word(&format!("{user}@{address}")),
        shell_word(&scan)
    )
}

/// A word quoted for a POSIX shell when it needs it (messages show commands to paste).
fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_owned(), |q| q.into_owned())
}
