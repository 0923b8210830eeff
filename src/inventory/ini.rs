//! Ansible's INI inventory format (the `ini` inventory plugin), line by line.
//!
//! Behaviour follows ansible-core 2.19's `plugins/inventory/ini.py`:
//! - lines are Python `splitlines()` lines, stripped; blank lines and lines starting with `#`
//!   or `;` are skipped;
//! - the file starts as if with `[ungrouped]`; `[g]`, `[g:vars]`, `[g:children]` switch
//!   section (a `#` comment may follow the header);
//! - a host line is split like Python's `shlex.split(line, comments=True)`: the first word is
//!   a host pattern (`host`, `host:port`, `[v6]:port`, ranges), the others `key=value`;
//! - a `:vars` line is `key=value`, split at the first `=` and stripped, comments included
//!   (`x=3 # c` is 3, because Python ignores the comment; `x=a # c` is `"a # c"`);
//! - every value goes through `ast.literal_eval` ([`super::pyliteral`]) and stays the raw
//!   string when it is not a literal;
//! - `[g:children]` may name groups declared later, `[g:vars]` may come before `[g]`; a group
//!   never declared is an error at the end, reported at the line that first named it.
//!
//! Where fleetup is stricter than Ansible: host names starting with `-` (or empty, or with
//! whitespace) and group names starting with `-` are refused; ranges that expand to nothing
//! are refused (see [`super::range`]), and so is a host line that would take the inventory past
//! [`super::MAX_HOSTS`] hosts (the YAML reader refuses it too).

use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value;

use super::address::{self, Address};
use super::{
    Inventory, InventoryError, Origin, Result, UNGROUPED, check_host_name, pyliteral, range,
};

/// Reads one INI inventory file into `inv`.
pub fn parse(inv: &mut Inventory, path: &Path, text: &str) -> Result<()> {
    let mut parser = Parser {
        inv,
        path,
        line: 0,
        pending: IndexMap::new(),
    };
    parser.run(text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A group named before it was declared: by `[g:vars]` or as a child in `[p:children]`.
#[derive(Debug)]
struct Pending {
    line: usize,
    state: State,
    /// For a pending child: the groups that listed it, in order.
    parents: Vec<String>,
}

struct Parser<'a> {
    inv: &'a mut Inventory,
    path: &'a Path,
    line: usize,
    pending: IndexMap<String, Pending>,
}

impl Parser<'_> {
    fn origin(&self) -> Origin {
        Origin {
            file: self.path.to_path_buf(),
            line: self.line,
        }
    }

    fn syntax(&self, message: impl Into<String>) -> InventoryError {
        InventoryError::Syntax {
            origin: self.origin(),
            message: message.into(),
        }
    }

    fn run(&mut self, text: &str) -> Result<()> {
        let mut group = UNGROUPED.to_owned();
        let mut state = State::Hosts;
        for (index, raw) in py_splitlines(text).enumerate() {
            self.line = index + 1;
            let line = raw.trim_matches(py_isspace);
            if line.is_empty() || line.starts_with(['#', ';']) {
                continue;
            }
            if let Some((name, kind)) = match_section(line) {
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("vars") => State::Vars,
                    Some("children") => State::Children,
                    Some(other) => {
                        return Err(self.syntax(format!(
                            "section [{name}:{other}] has unknown type '{other}' (expected [{name}], [{name}:vars] or [{name}:children])"
                        )));
                    }
                };
                self.check_group_name(name)?;
                group = name.to_owned();
                self.declare(&group, state)?;
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                return Err(self.syntax(format!(
                    "invalid section entry '{line}': a section is [name], [name:vars] or [name:children], with no spaces or other invalid characters in the name"
                )));
            }
            match state {
                State::Hosts => self.host_line(line, &group)?,
                State::Vars => self.vars_line(line, &group)?,
                State::Children => self.child_line(line, &group)?,
            }
        }
        // Anything still pending was never declared; Ansible reports the first one, at the
        // line that first named it.
        if let Some((name, decl)) = self.pending.first() {
            self.line = decl.line;
            let message = match decl.state {
                State::Vars => format!(
                    "section [{name}:vars] is not valid for undefined group '{name}' (declare it with [{name}] or [{name}:children])"
                ),
                _ => format!(
                    "section [{}:children] includes undefined group '{name}' (declare it with [{name}] or [{name}:children])",
                    decl.parents.last().map_or("", String::as_str)
                ),
            };
            return Err(self.syntax(message));
        }
        Ok(())
    }

    fn check_group_name(&self, name: &str) -> Result<()> {
        if name.starts_with('-') {
            return Err(InventoryError::BadGroupName {
                origin: self.origin(),
                name: name.to_owned(),
                reason: "starts with '-' (it would be read as an option)".to_owned(),
            });
        }
        Ok(())
    }

    /// A section header: declares the group, or notes that `[g:vars]` came first, and links
    /// children that were waiting for this group.
    fn declare(&mut self, group: &str, state: State) -> Result<()> {
        if self.inv.group(group).is_none() {
            // `[g]` or `[g:children]` declare a group; `[g:vars]` alone does not, but the group
            // is created anyway and checked at the end. A group already waiting as a child
            // stays a pending child.
            if state == State::Vars && !self.pending.contains_key(group) {
                self.pending.insert(
                    group.to_owned(),
                    Pending {
                        line: self.line,
                        state,
                        parents: Vec::new(),
                    },
                );
            }
            self.inv.add_group(group);
        }
        if state != State::Vars {
            match self.pending.get(group).map(|p| p.state) {
                Some(State::Children) => self.add_pending_children(group)?,
                Some(_) => {
                    self.pending.shift_remove(group);
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Links a now-declared group under every parent that listed it, and those parents under
    /// theirs when they were waiting too.
    fn add_pending_children(&mut self, group: &str) -> Result<()> {
        let parents = self
            .pending
            .get(group)
            .map(|p| p.parents.clone())
            .unwrap_or_default();
        for parent in parents {
            self.inv.add_child(&parent, group, &self.origin())?;
            if self
                .pending
                .get(&parent)
                .is_some_and(|p| p.state == State::Children)
            {
                self.add_pending_children(&parent)?;
            }
        }
        self.pending.shift_remove(group);
        Ok(())
    }

    fn host_line(&mut self, line: &str, group: &str) -> Result<()> {
        let tokens = shlex_split(line)
            .map_err(|e| self.syntax(format!("error parsing host definition '{line}': {e}")))?;
        let Some((pattern, rest)) = tokens.split_first() else {
            return Err(self.syntax(format!("expected a host, got: {line}")));
        };
        let (hosts, port) = self.expand_host_pattern(pattern)?;
        let mut vars: Vec<(&str, Value)> = Vec::new();
        for token in rest {
            let Some((key, value)) = token.split_once('=') else {
                return Err(self.syntax(format!(
                    "expected key=value host variable assignment, got: {token}"
                )));
            };
            vars.push((key, self.value(value)?));
        }
        for host in &hosts {
            check_host_name(host).map_err(|reason| InventoryError::BadHostName {
                origin: self.origin(),
                name: host.clone(),
                reason,
            })?;
        }
        self.inv
            .room_for(&hosts)
            .map_err(|e| self.syntax(format!("host pattern '{pattern}': {e}")))?;
        for host in &hosts {
            // Ansible sets `ansible_port` only when it creates the host, and not for port 0.
            let new = self.inv.host(host).is_none();
            self.inv.add_host(host, Some(group));
            if let Some(port) = port.as_ref().filter(|_| new) {
                self.inv.set_host_var(host, "ansible_port", port.clone());
            }
            for (key, value) in &vars {
                self.inv.set_host_var(host, key, value.clone());
            }
        }
        Ok(())
    }

    /// The host names and port of a host pattern (Ansible's `_expand_hostpattern`).
    /// The port is the `ansible_port` value, `None` for port 0.
    fn expand_host_pattern(&self, pattern: &str) -> Result<(Vec<String>, Option<Value>)> {
        let address = address::parse(pattern).unwrap_or_else(|| Address::whole(pattern));
        let hosts = if address.host.contains('[') {
            range::expand(&address.host).map_err(|e| self.syntax(e))?
        } else {
            vec![address.host.clone()]
        };
        if address.port.is_none() && pattern.trim_matches(py_isspace).ends_with(':') {
            return Err(self.syntax(format!(
                "invalid host pattern '{pattern}': ending in ':' is not allowed, this character is reserved to provide a port"
            )));
        }
        if hosts.iter().any(|h| h.trim_matches(py_isspace) == "---") {
            return Err(self.syntax(format!(
                "invalid host pattern '{pattern}': '---' is normally a sign this is a YAML file"
            )));
        }
        Ok((hosts, address.ansible_port()))
    }

    fn vars_line(&mut self, line: &str, group: &str) -> Result<()> {
        let Some((key, value)) = line.split_once('=') else {
            return Err(self.syntax(format!("expected key=value, got: {line}")));
        };
        let key = key.trim_matches(py_isspace);
        let mut value = self.value(value.trim_matches(py_isspace))?;
        if key == "ansible_group_priority" {
            // Ansible stores `int(value)` as the group's priority and fails when Python's
            // `int()` does.
            let priority = super::python_int(&value).ok_or_else(|| {
                self.syntax(format!(
                    "ansible_group_priority must be an integer, got: {value}"
                ))
            })?;
            value = Value::from(priority);
        }
        self.inv.set_group_var(group, key, value);
        Ok(())
    }

    fn child_line(&mut self, line: &str, group: &str) -> Result<()> {
        let child = match_group_name(line)
            .ok_or_else(|| self.syntax(format!("expected group name, got: {line}")))?;
        self.check_group_name(child)?;
        if self.inv.group(child).is_some() {
            return self.inv.add_child(group, child, &self.origin());
        }
        let line = self.line;
        self.pending
            .entry(child.to_owned())
            .or_insert_with(|| Pending {
                line,
                state: State::Children,
                parents: Vec::new(),
            })
            .parents
            .push(group.to_owned());
        Ok(())
    }

    fn value(&self, text: &str) -> Result<Value> {
        match pyliteral::eval(text) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Ok(Value::String(text.to_owned())),
            Err(e) => Err(self.syntax(format!("invalid value {text}: {e}"))),
        }
    }
}

/// Python's `str.isspace()`: Unicode whitespace plus the ASCII separators 0x1c–0x1f.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.splitlines()`: every line boundary Python knows, `\r\n` counting as one.
fn py_splitlines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let is_break = |c: char| {
            matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        };
        match rest.find(is_break) {
            Some(i) => {
                let line = &rest[..i];
                let brk = rest[i..].chars().next().map_or(1, char::len_utf8);
                let len = if rest[i..].starts_with("\r\n") {
                    2
                } else {
                    brk
                };
                rest = &rest[i + len..];
                Some(line)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// `[name]` or `[name:type]`, optionally followed by a `#` comment. The name is anything but
/// `:`, `]` and whitespace; the type is word characters.
fn match_section(line: &str) -> Option<(&str, Option<&str>)> {
    let body = line.strip_prefix('[')?;
    let name_len = body
        .find(|c: char| c == ':' || c == ']' || py_isspace(c))
        .unwrap_or(body.len());
    if name_len == 0 {
        return None;
    }
    let (name, mut rest) = body.split_at(name_len);
    let mut kind = None;
    if let Some(after) = rest.strip_prefix(':') {
        let len = after
            .find(|c: char| !is_word_char(c))
            .unwrap_or(after.len());
        if len == 0 {
            return None;
        }
        kind = Some(&after[..len]);
        rest = &after[len..];
    }
    let rest = rest.strip_prefix(']')?.trim_start_matches(py_isspace);
    (rest.is_empty() || rest.starts_with('#')).then_some((name, kind))
}

/// A child line in `[g:children]`: one name, optionally followed by a `#` comment.
fn match_group_name(line: &str) -> Option<&str> {
    let len = line
        .find(|c: char| c == ':' || c == ']' || py_isspace(c))
        .unwrap_or(line.len());
    if len == 0 {
        return None;
    }
    let rest = line[len..].trim_start_matches(py_isspace);
    (rest.is_empty() || rest.starts_with('#')).then_some(&line[..len])
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `shlex.split(line, comments=True)` (POSIX mode): words split on ASCII whitespace,
/// `'…'` literal, `"…"` with `\"` and `\\` escapes, `\x` outside quotes, and a `#` outside
/// quotes ending the line, even inside a word (`a#b` is `a`).
fn shlex_split(line: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false; // a word has started (possibly empty, as in `''`)
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' => break,
            '\\' => {
                word.push(chars.next().ok_or("No escaped character")?);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("No closing quotation")? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("No closing quotation")? {
                        '"' => break,
                        '\\' => match chars.next().ok_or("No escaped character")? {
                            e @ ('"' | '\\') => word.push(e),
                            e => {
                                word.push('\\');
                                word.push(e);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests;
