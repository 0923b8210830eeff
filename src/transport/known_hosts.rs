//! known_hosts files, matched as OpenSSH (9.x) matches them, and the host-key policy.
//!
//! # Supported
//! - Every line form of `sshd(8)`'s "SSH_KNOWN_HOSTS FILE FORMAT": comma lists of host patterns
//!   with `*` and `?`, negation `!pattern` (a matching negation excludes the whole line),
//!   `[host]:port`, hashed `|1|salt|hash` names (HMAC-SHA1 keyed with the salt, of `host` for
//!   port 22 and `[host]:port` otherwise, exactly what `ssh`/`ssh-keygen -H` write), the markers
//!   `@revoked` and `@cert-authority`, comments, blank lines, space or tab separators, keys of
//!   every type `russh::keys::ssh_key` parses (ed25519, ECDSA, RSA, sk-*; DSA when enabled).
//! - Host names and patterns are compared case-insensitively (OpenSSH lowercases both).
//! - The lookup name is `host` for port 22 and `[host]:port` otherwise, so an entry without
//!   brackets matches port 22 only (a bare `*` matches every name, as in OpenSSH). Like `ssh`,
//!   when nothing at all is on file for `[host]:port`, the key is also looked up under the bare
//!   `host` ("checking without port identifier"): it is then `Known` only when it is on file
//!   there; anything else stays `Unknown`.
//! - Result as `ssh` computes it (checked against a real `sshd` with OpenSSH 9.2): the key on
//!   file for the host → `Known`, even when other keys for the host differ; keys on file for the
//!   host but none equal to the presented one → `Changed` — **also when they are all of other
//!   types** (OpenSSH then prints "REMOTE HOST IDENTIFICATION HAS CHANGED", "Offending RSA key",
//!   and refuses even with `accept-new`). OpenSSH rarely hits that case because it asks the
//!   server for the key types it already has on file first: do the same with
//!   [`KnownHosts::preferred_algorithms`]. Nothing on file → `Unknown`.
//! - A key marked `@revoked` for the host is `Revoked` whatever else matches. fleetup is
//!   stricter than OpenSSH here: a revocation under the bare `host` also applies on other ports
//!   (OpenSSH 9.2 warns but then *adds* such a key with `accept-new`).
//! - Keys are compared by their key data (`PublicKey == PublicKey` also compares comments).
//! - Lines that do not parse are skipped, as OpenSSH does, and listed in
//!   [`KnownHosts::warnings`] — except a `@revoked` line or an unknown `@marker` (a misspelt
//!   revocation?): fleetup then refuses the whole file rather than let the revoked key in
//!   ([`KnownHosts::load`] fails naming file and line).
//! - A host with no plain key on file but matched by a `@cert-authority` line is
//!   [`HostKeyStatus::CertAuthorityOnly`], never `Unknown`: fleetup does not check host
//!   certificates, and accept-new must not record a key for a host whose trust is set up
//!   through a CA. `strict` and `accept-new` refuse it; `off` accepts it as it accepts any key.
//!
//! # Not supported
//! - Host certificates: `@cert-authority` lines are parsed and kept but never make a key
//!   `Known` (see `CertAuthorityOnly` above). [`KnownHosts::check`] takes a plain key; a host that can only present a
//!   certificate is `Unknown` to fleetup (russh advertises no certificate algorithms unless
//!   asked to, so such a host normally presents its plain key).
//! - `CheckHostIP` (off by default since OpenSSH 8.5), `HostKeyAlias`, `KnownHostsCommand`,
//!   `VerifyHostKeyDNS`, the obsolete RSA1 `bits e n` lines.
//! - Writing hashed entries: [`append`] writes plain `host`/`[host]:port` names.

mod append;
mod policy;
#[cfg(test)]
mod tests;

pub use append::{append, entry_line};
pub use policy::{Decision, HostKeyPolicy, Lookup, decide};

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::known_hosts::Marker;
use russh::keys::{Algorithm, HashAlg, PublicKey};

/// Largest known_hosts file read (bigger ones are refused, naming the file).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// How a presented host key compares with what is on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// The presented key is on file for this host (and not revoked).
    Known,
    /// Nothing is on file for this host (or, on a non-default port, only other keys under the
    /// bare host name).
    Unknown,
    /// Keys are on file for this host, none equal to the presented one (of the same type or
    /// of other types only: OpenSSH refuses both).
    Changed {
        /// `SHA256:…` fingerprints of the keys on file for the host, in file order.
        expected: Vec<String>,
        /// `SHA256:…` fingerprint of the presented key.
        found: String,
        /// `file:line` of each key in `expected`.
        locations: Vec<String>,
    },
    /// The presented key is marked `@revoked` for this host.
    Revoked {
        /// `file:line` of the `@revoked` line.
        location: String,
    },
    /// No plain key is on file for this host, but `@cert-authority` lines cover it: it is
    /// meant to be trusted through host certificates, which fleetup does not support. Not
    /// `Unknown`: accept-new must not record a key for a host whose trust is already set up
    /// another way.
    CertAuthorityOnly {
        /// `file:line` of each `@cert-authority` line that matches the host.
        locations: Vec<String>,
    },
}

/// The `SHA256:…` fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The name OpenSSH looks a host up under: `host` on port 22, `[host]:port` otherwise,
/// lowercased.
pub fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The host field of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    /// Comma-separated patterns, lowercased.
    Patterns(Vec<String>),
    /// `|1|salt|hash`.
    Hashed { salt: Vec<u8>, hash: [u8; 20] },
}

impl Hosts {
    fn parse(field: &str) -> Result<Hosts, String> {
        if let Some(rest) = field.strip_prefix("|1|") {
            let (salt, hash) = rest
                .split_once('|')
                .ok_or("hashed host name without a '|' between salt and hash")?;
            let salt = b64(salt).ok_or("hashed host name: salt is not base64")?;
            // OpenSSH refuses salts of any other length (extract_salt in hostfile.c).
            if salt.len() != 20 {
                return Err(format!(
                    "hashed host name: salt is {} bytes, not 20",
                    salt.len()
                ));
            }
            let hash: [u8; 20] = b64(hash)
                .and_then(|h| h.try_into().ok())
                .ok_or("hashed host name: hash is not 20 bytes of base64")?;
            Ok(Hosts::Hashed { salt, hash })
        } else {
            Ok(Hosts::Patterns(
                field
                    .split(',')
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>(),
            ))
        }
    }

    /// Whether `name` (already a lowercased lookup name) is matched by this field.
    fn matches(&self, name: &str) -> bool {
        match self {
            Hosts::Hashed { salt, hash } => {
                let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt)
                    .expect("HMAC takes keys of any length");
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Hosts::Patterns(patterns) => match_pattern_list(name, patterns),
        }
    }
}

fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(s).ok()
}

/// OpenSSH's `match_pattern_list`: any matching `!pattern` → no match; else any matching
/// pattern → match. Empty list elements never match.
pub(crate) fn match_pattern_list<S: AsRef<str>>(name: &str, patterns: &[S]) -> bool {
    let mut positive = false;
    for pattern in patterns {
        let pattern = pattern.as_ref();
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(negated, name) {
                return false;
            }
        } else if glob_match(pattern, name) {
            positive = true;
        }
    }
    positive
}

/// OpenSSH's `match_pattern`: `*` any run of characters (possibly empty), `?` exactly one,
/// everything else literal. Compares characters, not bytes.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative wildcard matching with one backtrack point (linear for `*` runs).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One parsed line.
#[derive(Debug, Clone)]
struct Entry {
    marker: Option<Marker>,
    hosts: Hosts,
    key: PublicKey,
    file: PathBuf,
    line: usize,
}

impl Entry {
    fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The entries of one or more known_hosts files, in file order.
#[derive(Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    warnings: Vec<String>,
    /// Lines that must not be skipped: a `@revoked` line that does not parse, or an unknown
    /// `@marker` (a misspelt `@revoked`?). Skipping them would let a revoked key in.
    errors: Vec<String>,
}

impl fmt::Debug for KnownHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownHosts")
            .field("entries", &self.entries.len())
            .field("warnings", &self.warnings)
            .field("errors", &self.errors)
            .finish()
    }
}

/// Parses one line (without its newline). `Ok(None)` for blank lines and comments.
fn parse_line(line: &str) -> Result<Option<(Option<Marker>, Hosts, PublicKey)>, String> {
    let is_sep = |c: char| c == ' ' || c == '\t';
    let line = line.trim_start_matches(is_sep);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split(is_sep).filter(|f| !f.is_empty());
    let mut first = fields.next().unwrap_or_default();
    let marker = if first.starts_with('@') {
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            other => return Err(format!("unknown marker {other:?}")),
        };
        first = fields.next().ok_or("nothing after the marker")?;
        if first.starts_with('@') {
            return Err("more than one marker".into());
        }
        Some(marker)
    } else {
        None
    };
    let hosts = Hosts::parse(first)?;
    let key_type = fields.next().ok_or("no key type")?;
    let key_b64 = fields.next().ok_or("no key")?;
    // The rest (if any) is the comment, which plays no part.
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}"))
        .map_err(|e| format!("{key_type} key does not parse: {e}"))?;
    Ok(Some((marker, hosts, key)))
}

/// Whether a line that does not parse must stop the load rather than be skipped: a
/// `@revoked` line, or any line starting with a marker other than `@cert-authority` (which
/// never makes a key acceptable, so skipping it is safe).
fn must_not_skip(line: &str) -> bool {
    let first = line
        .trim_start_matches([' ', '\t'])
        .split([' ', '\t'])
        .next()
        .unwrap_or_default();
    first.starts_with('@') && first != "@cert-authority"
}

/// Reads a whole file into memory, at most [`MAX_FILE_BYTES`]. `Ok(None)` when it does not
/// exist.
fn read_capped(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {} MiB: refusing to read it as a known_hosts file",
            path.display(),
            MAX_FILE_BYTES >> 20
        ));
    }
    Ok(Some(bytes))
}

impl KnownHosts {
    /// Reads the files in order. A missing file counts as empty; one that cannot be read (or is
    /// over [`MAX_FILE_BYTES`]) is an error naming it. Lines that do not parse are skipped and
    /// listed in [`Self::warnings`].
    ///
    /// A `@revoked` line that does not parse, or a line with an unknown `@marker`, is an
    /// error (naming file and line) instead: OpenSSH skips such lines, which lets the key a
    /// mistyped revocation meant to stop back in. fleetup fails closed.
    pub fn load(files: &[PathBuf]) -> Result<KnownHosts, String> {
        let mut known = KnownHosts::default();
        for path in files {
            if let Some(bytes) = read_capped(path)? {
                known.add_text(path, &String::from_utf8_lossy(&bytes));
            }
        }
        if !known.errors.is_empty() {
            return Err(format!(
                "{}; refusing to check host keys against a revocation that cannot be read: fix \
                 or remove the line",
                known.errors.join("; ")
            ));
        }
        Ok(known)
    }

    /// Adds the lines of one file's text (`path` is only used in locations and warnings).
    pub fn add_text(&mut self, path: &Path, text: &str) {
        for (index, line) in text.split('\n').enumerate() {
            match parse_line(line) {
                Ok(None) => {}
                Ok(Some((marker, hosts, key))) => self.entries.push(Entry {
                    marker,
                    hosts,
                    key,
                    file: path.to_path_buf(),
                    line: index + 1,
                }),
                Err(e) if must_not_skip(line) => {
                    self.errors
                        .push(format!("{}:{}: {e}", path.display(), index + 1));
                }
                Err(e) => {
                    self.warnings
                        .push(format!("{}:{}: skipped: {e}", path.display(), index + 1));
                }
            }
        }
    }

    /// Lines skipped because they do not parse, as `file:line: skipped: why`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether no entry was loaded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.hosts.matches(name))
    }

    /// The verdict for one lookup name, as OpenSSH's `check_hostkeys_by_key_or_type` gives it
    /// (before revocation, which [`Self::check`] applies over both names).
    fn status_for(&self, name: &str, key: &PublicKey) -> HostKeyStatus {
        let mut others: Vec<&Entry> = Vec::new();
        for entry in self.matching(name).filter(|e| e.marker.is_none()) {
            if entry.key.key_data() == key.key_data() {
                return HostKeyStatus::Known;
            }
            others.push(entry);
        }
        if others.is_empty() {
            return HostKeyStatus::Unknown;
        }
        HostKeyStatus::Changed {
            expected: others.iter().map(|e| fingerprint(&e.key)).collect(),
            found: fingerprint(key),
            locations: others.iter().map(|e| e.location()).collect(),
        }
    }

    fn revoked(&self, name: &str, key: &PublicKey) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.marker == Some(Marker::Revoked)
                && e.key.key_data() == key.key_data()
                && e.hosts.matches(name)
        })
    }

    /// Compares the key a host presented with what is on file for `host` (the name connected
    /// to, after ssh_config's HostName) and `port`. See the module docs for the rules.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let name = lookup_name(host, port);
        let bare = host.to_ascii_lowercase();
        // A revocation wins over everything; under the bare name too (stricter than OpenSSH).
        let revoked = self
            .revoked(&name, key)
            .or_else(|| (port != 22).then(|| self.revoked(&bare, key)).flatten());
        if let Some(entry) = revoked {
            return HostKeyStatus::Revoked {
                location: entry.location(),
            };
        }
        let status = match self.status_for(&name, key) {
            // "checking without port identifier": only an exact match counts.
            HostKeyStatus::Unknown if port != 22 => match self.status_for(&bare, key) {
                HostKeyStatus::Known => HostKeyStatus::Known,
                _ => HostKeyStatus::Unknown,
            },
            status => status,
        };
        if status != HostKeyStatus::Unknown {
            return status;
        }
        let authorities: Vec<String> = self
            .entries
            .iter()
            .filter(|e| {
                e.marker == Some(Marker::CertAuthority)
                    && (e.hosts.matches(&name) || (port != 22 && e.hosts.matches(&bare)))
            })
            .map(Entry::location)
            .collect();
        if authorities.is_empty() {
            HostKeyStatus::Unknown
        } else {
            HostKeyStatus::CertAuthorityOnly {
                locations: authorities,
            }
        }
    }

    /// The algorithms of the plain keys on file for this host (`[host]:port`, else the bare
    /// host when nothing is on file under the former), in file order, deduplicated.
    pub fn known_algorithms(&self, host: &str, port: u16) -> Vec<Algorithm> {
        let collect = |name: &str| {
            let mut algorithms: Vec<Algorithm> = Vec::new();
            for entry in self.matching(name).filter(|e| e.marker.is_none()) {
                let algorithm = entry.key.algorithm();
                if !algorithms.contains(&algorithm) {
                    algorithms.push(algorithm);
                }
            }
            algorithms
        };
        let on_file = collect(&lookup_name(host, port));
        if on_file.is_empty() && port != 22 {
            collect(&host.to_ascii_lowercase())
        } else {
            on_file
        }
    }

    /// `preferred` (e.g. `russh::Preferred::DEFAULT.key`) reordered so that the algorithms of
    /// the keys already on file for this host come first, keeping the relative order otherwise
    /// — what OpenSSH's `order_hostkeyalgs` does. Put it in `russh::client::Config::preferred.key`
    /// so that a host with, say, an RSA key on file is asked for that key and not for a new
    /// ed25519 one (which would be `Changed`). RSA on file puts every RSA signature variant
    /// first.
    pub fn preferred_algorithms(
        &self,
        host: &str,
        port: u16,
        preferred: &[Algorithm],
    ) -> Vec<Algorithm> {
        let known = self.known_algorithms(host, port);
        let rsa = |a: &Algorithm| matches!(a, Algorithm::Rsa { .. });
        let is_known = |a: &Algorithm| known.iter().any(|k| k == a || (rsa(k) && rsa(a)));
        let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) =
            preferred.iter().cloned().partition(is_known);
        first.extend(rest);
        first
    }
}
