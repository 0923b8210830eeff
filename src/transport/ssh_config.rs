//! `~/.ssh/config`, read as OpenSSH (9.x) reads the options fleetup uses.
//!
//! # Supported
//! - Options: `HostName`, `User`, `Port`, `IdentityFile`, `ProxyJump`, `ProxyCommand` (only
//!   reported, so the transport can refuse it: fleetup does not run proxy commands),
//!   `UserKnownHostsFile`, `StrictHostKeyChecking`, `Include`, `Host`, `Match` (skipped, see
//!   below). Every other keyword is ignored (OpenSSH would reject unknown ones; fleetup is no
//!   validator of options it does not use).
//! - The first obtained value wins, as in OpenSSH, except `IdentityFile`, which accumulates
//!   (duplicates dropped). `UserKnownHostsFile` takes several files **on one line** and, like
//!   every other option, the first line that applies wins (checked with `ssh -G`: a second line
//!   does not add files). Whichever of `ProxyJump` and `ProxyCommand` comes first wins.
//! - `Host` lines: several patterns, `*` and `?`, `!negation` (a matching negation skips the
//!   block; only negations never match), matched case-sensitively against the alias as given,
//!   as OpenSSH does. Options before the first `Host` apply to all.
//! - Keyword and arguments separated by spaces, tabs or `=`; keywords case-insensitive; double
//!   or single quotes; backslash escapes of quotes, backslash and space; `#` comments, also at
//!   the end of a line.
//! - `Include`: several arguments, absolute or `~/` paths, relative paths under `~/.ssh`, `*`
//!   and `?` globs (sorted, a leading `.` matched only explicitly; no `[…]` classes), files that
//!   do not exist skipped, nesting up to 16 deep. Inside a `Host` block that does not apply, the
//!   included `Host` blocks never match (as OpenSSH); an included file's `Host` lines do not
//!   change the state of the including block.
//! - `Match` blocks are **not supported**: they are skipped whole (their options never apply,
//!   to any host) and a warning naming the file and line is kept in [`SshConfig::warnings`].
//! - `HostName` expands `%h` (the alias) and `%%`; the resolved host name is lowercased, as ssh
//!   does. `IdentityFile` and `UserKnownHostsFile` expand `~` and `~/`, then `%%`, `%d` (home),
//!   `%h` (resolved host name), `%n` (the alias), `%p` (port, 22 by default), `%r` (remote user,
//!   the local user by default), `%u` (local user) and `${VAR}` environment variables; any other
//!   token (`%C`, `%i`, `%j`, `%k`, `%l`, `%L`, `%T`), `~otheruser` or an unset variable is an
//!   error from [`SshConfig::resolve`].
//!
//! # Not supported
//! - `Match`, `CanonicalizeHostname`, `HostKeyAlias`, `GlobalKnownHostsFile`, the system-wide
//!   `/etc/ssh/ssh_config`, OpenSSH's owner/permission check of config files.
//! - Jump hosts are returned as written: resolving each jump host through this config (as `ssh
//!   -J` does) is the caller's job.

mod expand;
#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

pub use expand::parse_proxy_jump;

use super::known_hosts::match_pattern_list;

/// Deepest `Include` nesting (OpenSSH's `READCONF_MAX_DEPTH`).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest config file read.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// One hop of a `ProxyJump` chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// What the config says for one alias. `None`/empty means "not set": apply the defaults (the
/// alias itself, the local user, port 22, `~/.ssh/id_*`, `~/.ssh/known_hosts`, strict).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, `%h` expanded, lowercased.
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// `IdentityFile`s in order, `~` and tokens expanded; `IdentityFile none` is left out.
    pub identity_files: Vec<PathBuf>,
    /// Whether any `IdentityFile` line applied (even `none`): OpenSSH then does not try the
    /// default `~/.ssh/id_*` files (agent keys are still tried).
    pub identity_files_configured: bool,
    /// The `ProxyJump` chain, first hop first; empty for none (or `ProxyJump none`).
    pub proxy_jump: Vec<JumpHost>,
    /// `ProxyCommand`, as written, when it applies (and came before any `ProxyJump`).
    pub proxy_command: Option<String>,
    /// `UserKnownHostsFile`, `~` and tokens expanded: `None` when not set (use
    /// `~/.ssh/known_hosts`; OpenSSH also reads `~/.ssh/known_hosts2`), `Some(empty)` for
    /// `UserKnownHostsFile none`.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    /// `StrictHostKeyChecking` as written (feed it to `HostKeyPolicy::parse`).
    pub strict_host_key_checking: Option<String>,
}

/// A parsed option value (validated at load, applied at resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Opt {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    ProxyJump(Vec<JumpHost>),
    ProxyCommand(Option<String>),
    UserKnownHostsFile(Vec<String>),
    StrictHostKeyChecking(String),
}

#[derive(Debug, Clone)]
enum Item {
    Host(Vec<String>),
    /// An unsupported `Match` line: everything up to the next `Host`/`Match` is skipped.
    Match,
    Opt(Opt),
    /// The parsed files of one `Include` line, in glob order.
    Include(Vec<Vec<Item>>),
}

/// A parsed ssh_config file with its includes.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    items: Vec<Item>,
    home: PathBuf,
    local_user: Option<String>,
    warnings: Vec<String>,
}

/// Splits a config line into keyword and arguments, as OpenSSH's `strdelim` + `argv_split`.
/// `None` for blank and comment lines.
fn split_line(line: &str) -> Result<Option<(String, Vec<String>, String)>, String> {
    let line = line.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    let raw = rest.to_owned();
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            _ => {}
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.peek() {
                    Some(&n)
                        if n == '\'' || n == '"' || n == '\\' || (quote.is_none() && n == ' ') =>
                    {
                        arg.push(n);
                        chars.next();
                    }
                    _ => arg.push('\\'),
                },
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (' ' | '\t', None) => break,
                (c, _) => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        args.push(arg);
    }
    Ok(Some((keyword, args, raw)))
}

fn one_arg(keyword: &str, args: &[String]) -> Result<String, String> {
    match args {
        [one] if !one.is_empty() => Ok(one.clone()),
        [] | [_] => Err(format!("{keyword}: missing argument")),
        _ => Err(format!("{keyword}: more than one argument")),
    }
}

/// Parses one option (the keywords fleetup uses; `Ok(None)` for the others).
fn parse_opt(keyword: &str, args: &[String], raw: &str) -> Result<Option<Opt>, String> {
    Ok(Some(match keyword {
        "hostname" => Opt::HostName(one_arg("HostName", args)?),
        "user" => Opt::User(one_arg("User", args)?),
        "port" => {
            let value = one_arg("Port", args)?;
            match value.parse::<u16>() {
                Ok(port) if port > 0 => Opt::Port(port),
                _ => return Err(format!("Port: bad port {value:?}")),
            }
        }
        "identityfile" => Opt::IdentityFile(one_arg("IdentityFile", args)?),
        "proxyjump" => Opt::ProxyJump(parse_proxy_jump(&one_arg("ProxyJump", args)?)?),
        "proxycommand" => {
            // OpenSSH takes the rest of the line as it is.
            let command = raw.trim();
            if command.is_empty() {
                return Err("ProxyCommand: missing argument".into());
            }
            Opt::ProxyCommand((command != "none").then(|| command.to_owned()))
        }
        "userknownhostsfile" => {
            if args.is_empty() {
                return Err("UserKnownHostsFile: missing argument".into());
            }
            Opt::UserKnownHostsFile(args.to_vec())
        }
        "stricthostkeychecking" => {
            let value = one_arg("StrictHostKeyChecking", args)?;
            let known = ["yes", "no", "ask", "accept-new", "off", "true", "false"];
            if !known.contains(&value.to_ascii_lowercase().as_str()) {
                return Err(format!("StrictHostKeyChecking: bad value {value:?}"));
            }
            Opt::StrictHostKeyChecking(value)
        }
        _ => return Ok(None),
    }))
}

impl SshConfig {
    /// Reads `path` (a missing file is an empty config) with `$HOME` as home directory and
    /// `$USER` (else `$LOGNAME`) as local user.
    pub fn load(path: &Path) -> Result<SshConfig, String> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("cannot read ssh config: $HOME is not set")?;
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok();
        SshConfig::load_with(path, &home, user.as_deref())
    }

    /// [`Self::load`] with an explicit home directory (for `~`, `%d` and relative `Include`s)
    /// and local user (for `%u`, and `%r` without `User`).
    pub fn load_with(
        path: &Path,
        home: &Path,
        local_user: Option<&str>,
    ) -> Result<SshConfig, String> {
        let mut config = SshConfig {
            items: Vec::new(),
            home: home.to_path_buf(),
            local_user: local_user.map(str::to_owned),
            warnings: Vec::new(),
        };
        if let Some(items) = config.read_file(path, 0)? {
            config.items = items;
        }
        Ok(config)
    }

    /// Warnings (unsupported `Match` blocks), as `file:line: …`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn read_file(&mut self, path: &Path, depth: usize) -> Result<Option<Vec<Item>>, String> {
        let text = match fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                return Err(format!("{} is too large for an ssh config", path.display()));
            }
            Ok(_) => fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        };
        let text =
            String::from_utf8(text).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
        let mut items = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let at = || format!("{}:{}", path.display(), index + 1);
            let Some((keyword, args, raw)) =
                split_line(line).map_err(|e| format!("{}: {e}", at()))?
            else {
                continue;
            };
            match keyword.as_str() {
                "host" => {
                    if args.is_empty() || args.iter().any(String::is_empty) {
                        return Err(format!("{}: Host without a pattern", at()));
                    }
                    items.push(Item::Host(args));
                }
                "match" => {
                    self.warnings.push(format!(
                        "{}: Match blocks are not supported by fleetup; the options of this \
                         block are ignored for every host",
                        at()
                    ));
                    items.push(Item::Match);
                }
                "include" => {
                    if args.is_empty() {
                        return Err(format!("{}: Include without a file", at()));
                    }
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(format!("{}: Include nested too deeply", at()));
                    }
                    for arg in &args {
                        let pattern = self.include_path(arg);
                        let mut files = Vec::new();
                        for file in expand::glob(&pattern)
                            .map_err(|e| format!("{}: Include {arg}: {e}", at()))?
                        {
                            if let Some(included) = self.read_file(&file, depth + 1)? {
                                files.push(included);
                            }
                        }
                        items.push(Item::Include(files));
                    }
                }
                _ => {
                    if let Some(opt) =
                        parse_opt(&keyword, &args, &raw).map_err(|e| format!("{}: {e}", at()))?
                    {
                        items.push(Item::Opt(opt));
                    }
                }
            }
        }
        Ok(Some(items))
    }

    /// `~/x` and `~` under home, absolute paths as they are, others under `~/.ssh`.
    fn include_path(&self, arg: &str) -> PathBuf {
        if arg == "~" {
            self.home.clone()
        } else if let Some(rest) = arg.strip_prefix("~/") {
            self.home.join(rest)
        } else if Path::new(arg).is_absolute() {
            PathBuf::from(arg)
        } else {
            self.home.join(".ssh").join(arg)
        }
    }

    /// The options that apply to `alias` (the host name as given, e.g. an inventory's
    /// `ansible_host`), with OpenSSH's rules. `Err` for a token fleetup cannot expand.
    pub fn resolve(&self, alias: &str) -> Result<HostConfig, String> {
        let mut found = Found::default();
        let mut active = true;
        walk(&self.items, alias, &mut active, false, &mut found);
        expand::finish(found, alias, &self.home, self.local_user.as_deref())
    }
}

/// The raw values found for one alias, first-wins applied.
#[derive(Debug, Default)]
struct Found {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    /// `Some` once `ProxyJump` or `ProxyCommand` applied: (jumps, command).
    proxy: Option<(Vec<JumpHost>, Option<String>)>,
    user_known_hosts_files: Option<Vec<String>>,
    strict_host_key_checking: Option<String>,
}

fn apply(found: &mut Found, opt: &Opt) {
    fn first<T: Clone>(slot: &mut Option<T>, value: &T) {
        if slot.is_none() {
            *slot = Some(value.clone());
        }
    }
    match opt {
        Opt::HostName(v) => first(&mut found.hostname, v),
        Opt::User(v) => first(&mut found.user, v),
        Opt::Port(v) => first(&mut found.port, v),
        Opt::IdentityFile(v) => {
            if !found.identity_files.contains(v) {
                found.identity_files.push(v.clone());
            }
        }
        Opt::ProxyJump(jumps) => first(&mut found.proxy, &(jumps.clone(), None)),
        Opt::ProxyCommand(command) => first(&mut found.proxy, &(Vec::new(), command.clone())),
        Opt::UserKnownHostsFile(v) => first(&mut found.user_known_hosts_files, v),
        Opt::StrictHostKeyChecking(v) => first(&mut found.strict_host_key_checking, v),
    }
}

/// Walks the items as OpenSSH's `read_config_file_depth` does: `active` is whether the current
/// block applies; `never_match` is set inside an `Include` of a block that did not apply.
fn walk(items: &[Item], alias: &str, active: &mut bool, never_match: bool, found: &mut Found) {
    for item in items {
        match item {
            Item::Host(patterns) => *active = !never_match && match_pattern_list(alias, patterns),
            Item::Match => *active = false,
            Item::Opt(opt) => {
                if *active {
                    apply(found, opt);
                }
            }
            Item::Include(files) => {
                let outer = *active;
                for file in files {
                    walk(file, alias, active, never_match || !outer, found);
                    // An included file's Host/Match lines do not change the including block.
                    *active = outer;
                }
            }
        }
    }
}
