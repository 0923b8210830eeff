//! Token and `~` expansion, `ProxyJump` parsing and `Include` globs.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{Found, HostConfig, JumpHost};
use crate::transport::known_hosts::glob_match;

/// Parses a `ProxyJump` value: `none`, or comma-separated `[user@]host[:port]` or
/// `ssh://[user@]host[:port]` hops (IPv6 addresses in brackets), first hop first.
pub fn parse_proxy_jump(value: &str) -> Result<Vec<JumpHost>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    value.split(',').map(parse_jump).collect()
}

fn parse_jump(hop: &str) -> Result<JumpHost, String> {
    let bad = |why: &str| format!("ProxyJump: bad jump host {hop:?}: {why}");
    let spec = match hop.strip_prefix("ssh://") {
        Some(rest) => {
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains('/') {
                return Err(bad("an ssh:// URI cannot have a path"));
            }
            rest
        }
        None => hop,
    };
    let (user, host_port) = match spec.rsplit_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, spec),
    };
    if user.is_some_and(str::is_empty) {
        return Err(bad("empty user"));
    }
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("junk after ']'"))?,
                ),
            ),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    if host.starts_with('-') || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("not a host name"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(bad("bad port")),
        },
    };
    Ok(JumpHost {
        user: user.map(str::to_owned),
        host: host.to_owned(),
        port,
    })
}

/// Expands `pattern`'s `*`/`?` components like glob(3): sorted, a leading `.` matched only by
/// a literal `.`. A pattern without wildcards is returned as is (whether or not it exists).
pub(super) fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = match component {
            Component::Normal(part) => part,
            other => {
                for path in &mut paths {
                    path.push(other.as_os_str());
                }
                continue;
            }
        };
        let Some(text) = part.to_str().filter(|t| t.contains(['*', '?'])) else {
            for path in &mut paths {
                path.push(part);
            }
            continue;
        };
        let mut next = Vec::new();
        for dir in &paths {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.') || text.starts_with('.'))
                .filter(|name| glob_match(text, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| dir.join(name)));
        }
        paths = next;
    }
    Ok(paths)
}

/// Values for the `%` tokens of `IdentityFile` and `UserKnownHostsFile`.
struct Tokens<'a> {
    home: &'a Path,
    host: &'a str,
    alias: &'a str,
    port: u16,
    remote_user: Option<&'a str>,
    local_user: Option<&'a str>,
}

fn need<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("cannot expand {what}: the local user is unknown ($USER unset)"))
}

/// `%%` and `%h` only (what `HostName` accepts).
fn expand_hostname(value: &str, alias: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('h') => out.push_str(alias),
            Some(t) => return Err(format!("HostName {value:?}: unknown token %{t}")),
            None => return Err(format!("HostName {value:?}: '%' at the end")),
        }
    }
    Ok(out)
}

/// `~`, then `%` tokens and `${VAR}`, as ssh expands `IdentityFile` and `UserKnownHostsFile`.
fn expand_path(value: &str, option: &str, t: &Tokens<'_>) -> Result<PathBuf, String> {
    let err = |why: String| format!("{option} {value:?}: {why}");
    let home = t.home.to_string_lossy();
    let tilded = if value == "~" {
        home.to_string()
    } else if let Some(rest) = value.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else if value.starts_with('~') {
        return Err(err(
            "~user paths are not supported (write the full path)".into()
        ));
    } else {
        value.to_owned()
    };
    let mut out = String::new();
    let mut chars = tilded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str(&home),
                Some('h') => out.push_str(t.host),
                Some('n') => out.push_str(t.alias),
                Some('p') => out.push_str(&t.port.to_string()),
                Some('r') => out.push_str(match t.remote_user {
                    Some(user) => user,
                    None => need(t.local_user, "%r").map_err(err)?,
                }),
                Some('u') => out.push_str(need(t.local_user, "%u").map_err(err)?),
                Some(other) => {
                    return Err(err(format!(
                        "token %{other} is not supported by fleetup (it expands %%, %d, %h, \
                         %n, %p, %r, %u and ${{VAR}})"
                    )));
                }
                None => return Err(err("'%' at the end".into())),
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let value = std::env::var(&name)
                    .map_err(|_| err(format!("environment variable ${{{name}}} is not set")))?;
                out.push_str(&value);
            }
            c => out.push(c),
        }
    }
    Ok(PathBuf::from(out))
}

/// Turns the raw values found for `alias` into a [`HostConfig`].
pub(super) fn finish(
    found: Found,
    alias: &str,
    home: &Path,
    local_user: Option<&str>,
) -> Result<HostConfig, String> {
    let hostname = found
        .hostname
        .as_deref()
        .map(|h| expand_hostname(h, alias).map(|h| h.to_ascii_lowercase()))
        .transpose()?;
    let resolved_host = hostname
        .clone()
        .unwrap_or_else(|| alias.to_ascii_lowercase());
    let tokens = Tokens {
        home,
        host: &resolved_host,
        alias,
        port: found.port.unwrap_or(22),
        remote_user: found.user.as_deref(),
        local_user,
    };
    let identity_files = found
        .identity_files
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("none"))
        .map(|f| expand_path(f, "IdentityFile", &tokens))
        .collect::<Result<Vec<_>, _>>()?;
    let user_known_hosts_files = match &found.user_known_hosts_files {
        None => None,
        Some(files) if files.len() == 1 && files[0].eq_ignore_ascii_case("none") => {
            Some(Vec::new())
        }
        Some(files) => Some(
            files
                .iter()
                .map(|f| expand_path(f, "UserKnownHostsFile", &tokens))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let (proxy_jump, proxy_command) = found.proxy.unwrap_or_default();
    Ok(HostConfig {
        hostname,
        user: found.user,
        port: found.port,
        identity_files_configured: !found.identity_files.is_empty(),
        identity_files,
        proxy_jump,
        proxy_command,
        user_known_hosts_files,
        strict_host_key_checking: found.strict_host_key_checking,
    })
}
