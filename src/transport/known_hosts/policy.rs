//! What to do with a [`HostKeyStatus`]: `fleetup_host_key_checking` and OpenSSH's
//! `StrictHostKeyChecking`.

use std::fmt;
use std::path::Path;

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

/// Applies `policy` to `status` for the key `key` presented by `host` (the name connected to)
/// on `port`. `record_file` is where accept-new records keys (the first user known_hosts file):
/// it appears in the messages. `Err` is the message explaining the refusal: it names host and
/// port, the fingerprints, the `file:line`, and for an unknown host how to add it.
///
/// - `Strict`: `Known` only.
/// - `AcceptNew`: `Known`; `Unknown` → record. `Changed`, `Revoked` and `CertAuthorityOnly`
///   always refused.
/// - `Off`: everything but `Revoked` (the caller warns loudly; nothing is recorded).
pub fn decide(
    status: &HostKeyStatus,
    policy: HostKeyPolicy,
    host: &str,
    port: u16,
    key: &PublicKey,
    record_file: &Path,
) -> Result<Decision, String> {
    let target = format!("{host} port {port}");
    let found = fingerprint(key);
    match (status, policy) {
        (HostKeyStatus::Revoked { location }, _) => Err(format!(
            "REVOKED HOST KEY: the {} host key of {target} ({found}) is marked @revoked in \
             {location}; someone may be using a stolen key to impersonate this host. Refusing \
             to connect, whatever the host key checking.",
            key.algorithm()
        )),
        (HostKeyStatus::Known, _) => Ok(Decision::Accept),
        (_, HostKeyPolicy::Off) => Ok(Decision::Accept),
        (HostKeyStatus::CertAuthorityOnly { locations }, _) => Err(format!(
            "no host key on file for {target}: only @cert-authority line(s) cover it ({}), and \
             fleetup does not support host certificates (host key checking: {policy}; \
             accept-new does not record a key for a host meant to be trusted through a \
             certificate authority). It presented the {} key {found}: verify that fingerprint \
             out of band, then add the key itself with `ssh-keyscan -p {port} {} >> {}`.",
            locations.join(", "),
            key.algorithm(),
            shell_word(host),
            shell_word(&record_file.display().to_string()),
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
            Err(format!(
                "HOST KEY CHANGED for {target}: it presented the {} key {found}, but the key(s) \
                 on file are {}. Someone may be intercepting the connection (man-in-the-middle), \
                 or the host key was really replaced. Refusing to connect (host key checking: \
                 {policy}). If the change is expected, verify the new fingerprint out of band, \
                 remove the old entry with `ssh-keygen -R {} -f FILE` and add the new key.",
                key.algorithm(),
                on_file.join(", "),
                shell_word(&super::lookup_name(host, port)),
            ))
        }
        (HostKeyStatus::Unknown, HostKeyPolicy::AcceptNew) => Ok(Decision::AcceptAndRecord),
        (HostKeyStatus::Unknown, HostKeyPolicy::Strict) => Err(format!(
            "unknown host key for {target}: its {} key {found} is not in {} (host key checking: \
             strict). Add it with `ssh-keyscan -p {port} {} >> {}` — and verify the fingerprint \
             out of band (for example `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host) \
             before trusting it — or set fleetup_host_key_checking=accept-new to record keys of \
             new hosts on first contact.",
            key.algorithm(),
            record_file.display(),
            shell_word(host),
            shell_word(&record_file.display().to_string()),
        )),
    }
}

/// A word quoted for a POSIX shell when it needs it (messages show commands to paste).
fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_owned(), |q| q.into_owned())
}
