//! Unit tests of the INI reader. "Checked" in a comment means the expectation was compared
//! with ansible-core (`ansible-inventory -i X --list`).

use super::*;
use crate::inventory::ALL;
use serde_json::json;

fn load(text: &str) -> Result<Inventory> {
    let mut inv = Inventory::new();
    parse(&mut inv, Path::new("hosts.ini"), text)?;
    Ok(inv)
}

fn ok(text: &str) -> Inventory {
    load(text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> (usize, String) {
    match load(text) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => {
            let line = match &e {
                InventoryError::Syntax { origin, .. }
                | InventoryError::Cycle { origin, .. }
                | InventoryError::BadHostName { origin, .. }
                | InventoryError::BadGroupName { origin, .. } => origin.line,
                _ => 0,
            };
            (line, e.to_string())
        }
    }
}

fn hosts(inv: &Inventory, group: &str) -> Vec<String> {
    inv.group(group)
        .map(|g| g.hosts.clone())
        .unwrap_or_default()
}

fn var(inv: &Inventory, host: &str, key: &str) -> Value {
    inv.host(host)
        .and_then(|h| h.vars.get(key).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn hosts_before_any_section_are_ungrouped() {
    let inv = ok("top1 a=1\ntop2\n[web]\nw1\n");
    assert_eq!(hosts(&inv, UNGROUPED), ["top1", "top2"]);
    assert_eq!(hosts(&inv, "web"), ["w1"]);
    assert_eq!(var(&inv, "top1", "a"), json!(1));
}

#[test]
fn the_three_section_kinds() {
    let inv = ok("[web]\nw1\n[web:vars]\nhttp_port=8080\n[prod:children]\nweb\n[prod:hosts]\np1\n");
    assert_eq!(hosts(&inv, "web"), ["w1"]);
    assert_eq!(inv.group("web").unwrap().vars["http_port"], json!(8080));
    assert_eq!(inv.group("prod").unwrap().children, ["web"]);
    // `[g:hosts]` is accepted by Ansible's section pattern as the hosts type.
    assert_eq!(hosts(&inv, "prod"), ["p1"]);
}

#[test]
fn comments_and_blank_lines() {
    let inv = ok(
        "# c\n; c\n\n   # indented\n[web] # trailing comment\nw1 a=1 # comment b=2\nw2 x=a#b\n[web:vars] # c\n",
    );
    assert_eq!(hosts(&inv, "web"), ["w1", "w2"]);
    assert_eq!(inv.host("w1").unwrap().vars.len(), 1);
    // shlex ends the line at a `#` even inside a word (checked: x=a#b gives "a").
    assert_eq!(var(&inv, "w2", "x"), json!("a"));
}

#[test]
fn a_semicolon_after_a_header_is_not_a_comment() {
    // Only `#` may follow a header; Ansible then reads the line as a host pattern and
    // fails on the range `[web]`.
    let (line, msg) = err("[web] ; c\n");
    assert_eq!(line, 1);
    assert!(msg.contains("begin:end"), "{msg}");
}

#[test]
fn inline_values_are_python_literals() {
    let inv = ok(concat!(
        "h x=0755 y=0x1f z=1_000 f=1.5 t=True n=None l=[1,2] d=\"{'a': 1}\" s=\"'q'\" ",
        "w=\"hello world\" c=1j inf=inf e= q='it s' esc=a\\ b\n"
    ));
    assert_eq!(var(&inv, "h", "x"), json!("0755"));
    assert_eq!(var(&inv, "h", "y"), json!(31));
    assert_eq!(var(&inv, "h", "z"), json!(1000));
    assert_eq!(var(&inv, "h", "f"), json!(1.5));
    assert_eq!(var(&inv, "h", "t"), json!(true));
    assert_eq!(inv.host("h").unwrap().vars["n"], Value::Null);
    assert_eq!(var(&inv, "h", "l"), json!([1, 2]));
    assert_eq!(var(&inv, "h", "d"), json!({"a": 1}));
    assert_eq!(var(&inv, "h", "s"), json!("q"));
    assert_eq!(var(&inv, "h", "w"), json!("hello world"));
    assert_eq!(var(&inv, "h", "c"), json!("1j"));
    assert_eq!(var(&inv, "h", "inf"), json!("inf"));
    assert_eq!(var(&inv, "h", "e"), json!(""));
    assert_eq!(var(&inv, "h", "q"), json!("it s"));
    assert_eq!(var(&inv, "h", "esc"), json!("a b"));
}

#[test]
fn double_quotes_keep_backslashes_except_before_quote_and_backslash() {
    // Checked: v="a\nb" gives the four characters a \ n b; z="a\"b" gives a"b.
    let inv = ok("h v=\"a\\nb\" z=\"a\\\"b\" s='a\\nb' e=\"\"\n");
    assert_eq!(var(&inv, "h", "v"), json!("a\\nb"));
    assert_eq!(var(&inv, "h", "z"), json!("a\"b"));
    assert_eq!(var(&inv, "h", "s"), json!("a\\nb"));
    assert_eq!(var(&inv, "h", "e"), json!(""));
}

#[test]
fn vars_section_values() {
    let inv = ok(concat!(
        "[g]\nh\n[g:vars]\n",
        "v1=3\nv2=[1,2]\nv3=0755\n",
        " spaced  =  \"quoted value\"  \n",
        "v4 = hello # comment\n",
        "v5=3 # comment\n",
        "v6='a' 'b'\n",
        "v7=x=y\n",
        "v8=1, 2\n",
        "=3\n",
    ));
    let vars = &inv.group("g").unwrap().vars;
    assert_eq!(vars["v1"], json!(3));
    assert_eq!(vars["v2"], json!([1, 2]));
    assert_eq!(vars["v3"], json!("0755"));
    assert_eq!(vars["spaced"], json!("quoted value"));
    // Checked with ansible-inventory: the comment stays in a string value, and Python
    // ignores it after a literal.
    assert_eq!(vars["v4"], json!("hello # comment"));
    assert_eq!(vars["v5"], json!(3));
    assert_eq!(vars["v6"], json!("ab"));
    assert_eq!(vars["v7"], json!("x=y"));
    assert_eq!(vars["v8"], json!([1, 2]));
    // Ansible accepts an empty name (with a deprecation warning).
    assert_eq!(vars[""], json!(3));
}

#[test]
fn group_priority_is_an_integer() {
    let inv = ok("[g]\nh\n[g:vars]\nansible_group_priority='5'\n");
    // Ansible keeps the priority out of the group's variables.
    let g = inv.group("g").unwrap();
    assert_eq!(g.priority, Some(5));
    assert!(!g.vars.contains_key("ansible_group_priority"));
    let (line, msg) = err("[g]\nh\n[g:vars]\nansible_group_priority=abc\n");
    assert_eq!(line, 4);
    assert!(msg.contains("ansible_group_priority"), "{msg}");
}

#[test]
fn host_port_and_ipv6() {
    let inv = ok("h:2222\n[::1]:22\nfe80::1\n10.0.[1:2].1:2222\nw[1:2]:22\nz:0\nh:abc\n");
    assert_eq!(var(&inv, "h", "ansible_port"), json!(2222));
    assert_eq!(var(&inv, "::1", "ansible_port"), json!(22));
    assert!(inv.host("fe80::1").unwrap().vars.is_empty());
    assert_eq!(var(&inv, "10.0.2.1", "ansible_port"), json!(2222));
    assert_eq!(var(&inv, "w2", "ansible_port"), json!(22));
    // Port 0 is falsy in Python: no ansible_port (checked).
    assert!(inv.host("z").unwrap().vars.is_empty());
    // Not a port: Ansible keeps the whole word as the host name (checked).
    assert!(inv.host("h:abc").is_some());
}

#[test]
fn port_is_set_when_the_host_is_created_only() {
    // Checked: h:22 then h:23 leaves ansible_port 22; an inline ansible_port wins.
    let inv = ok("h:22\nh:23\n[g]\nh:24\ni:1 ansible_port=99\n");
    assert_eq!(var(&inv, "h", "ansible_port"), json!(22));
    assert_eq!(var(&inv, "i", "ansible_port"), json!(99));
}

#[test]
fn host_on_several_lines_merges_vars_later_wins() {
    let inv = ok("h a=1 b=1\n[g]\nh a=2 c=3\n[g2]\nh a=4\n");
    let h = inv.host("h").unwrap();
    assert_eq!(h.vars["a"], json!(4));
    assert_eq!(h.vars["b"], json!(1));
    assert_eq!(h.vars["c"], json!(3));
    assert_eq!(h.groups, [UNGROUPED, "g", "g2"]);
}

#[test]
fn ranges_in_host_lines() {
    let inv = ok("[web]\nweb[01:03].example.com user=x\ndb-[a:b]\n");
    assert_eq!(
        hosts(&inv, "web"),
        [
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db-a",
            "db-b"
        ]
    );
    assert_eq!(var(&inv, "web02.example.com", "user"), json!("x"));
    let (line, msg) = err("[web]\nok\nw[05:01]\n");
    assert_eq!(line, 3);
    assert!(msg.contains("after end"), "{msg}");
}

#[test]
fn children_declared_later_and_vars_before_the_group() {
    let inv = ok("[p:children]\nc\n[c:vars]\nx=1\n[c]\nh\n");
    assert_eq!(inv.group("p").unwrap().children, ["c"]);
    assert_eq!(inv.group("c").unwrap().vars["x"], json!(1));
    assert_eq!(hosts(&inv, "c"), ["h"]);
    let inv = ok("[v:vars]\nx=1\n[v]\nh\n");
    assert_eq!(inv.group("v").unwrap().vars["x"], json!(1));
    // A child may be declared by its own [c:children] header.
    let inv = ok("[a:children]\nb\n[b:children]\nc\n[c]\nh\n");
    assert_eq!(inv.group("a").unwrap().children, ["b"]);
    assert_eq!(inv.group("b").unwrap().children, ["c"]);
}

#[test]
fn children_may_name_groups_from_earlier_sources() {
    let mut inv = Inventory::new();
    inv.add_group("from_yaml");
    parse(&mut inv, Path::new("b.ini"), "[p:children]\nfrom_yaml\n").unwrap();
    assert_eq!(inv.group("p").unwrap().children, ["from_yaml"]);
}

#[test]
fn undeclared_groups_are_errors_at_the_first_mention() {
    // Checked: Ansible names the *last* parent but the line of the first mention.
    let (line, msg) = err("[p:children]\nc\n[q:children]\nc\n");
    assert_eq!(line, 2);
    assert!(
        msg.contains("[q:children] includes undefined group 'c'"),
        "{msg}"
    );
    let (line, msg) = err("[h]\nx\n[v:vars]\nx=1\n");
    assert_eq!(line, 3);
    assert!(
        msg.contains("[v:vars] is not valid for undefined group 'v'"),
        "{msg}"
    );
    // [c:vars] does not declare a pending child (checked).
    let (line, msg) = err("[p:children]\nc\n[c:vars]\nx=1\n");
    assert_eq!(line, 2);
    assert!(msg.contains("undefined group 'c'"), "{msg}");
}

#[test]
fn cycles_name_the_line() {
    let (line, msg) = err("[a:children]\nb\n[b:children]\na\n");
    assert_eq!(line, 4);
    assert!(msg.contains("cycle"), "{msg}");
    // The edge a -> b is made at the [b:children] header (line 5), b -> c on line 6.
    let (line, _) = err("[a:children]\nb\n[c:children]\na\n[b:children]\nc\n");
    assert_eq!(line, 6);
    let (line, _) = err("\n[a:children]\na\n");
    assert_eq!(line, 3);
    // `all` as a child is a cycle once every group is put under `all` (checked: ansible
    // fails with "creates a recursive dependency loop"); found while fuzzing.
    let (line, msg) = err("[g]\nh1\n[g:children]\nall\n");
    assert_eq!(line, 4);
    assert!(msg.contains("'all'") && msg.contains("cycle"), "{msg}");
}

#[test]
fn section_errors() {
    let (line, msg) = err("h\n[g:Vars]\n");
    assert_eq!(line, 2);
    assert!(msg.contains("unknown type 'Vars'"), "{msg}");
    let (line, msg) = err("[ok]\n[bad section]\n");
    assert_eq!(line, 2);
    assert!(
        msg.contains("invalid section entry '[bad section]'"),
        "{msg}"
    );
    assert!(err("[g:]\n").1.contains("invalid section entry"));
    assert!(err("[g:a:b]\n").1.contains("invalid section entry"));
    let (line, msg) = err("[g:children]\na b\n");
    assert_eq!(line, 2);
    assert!(msg.contains("expected group name, got: a b"), "{msg}");
    let (line, msg) = err("[g]\nh\n[g:vars]\nnovalue\n");
    assert_eq!(line, 4);
    assert!(msg.contains("expected key=value, got: novalue"), "{msg}");
}

#[test]
fn group_names_are_kept_as_written() {
    // TRANSFORM_INVALID_GROUP_CHARS=never: Ansible only warns (checked: `[g-1.x]` and
    // even `[[w]` make groups with those names).
    let inv = ok("[g-1.x]\nh\n[[w]\nh3\n");
    assert_eq!(hosts(&inv, "g-1.x"), ["h"]);
    assert_eq!(hosts(&inv, "[w"), ["h3"]);
    let inv = ok("[all:vars]\nx=1\n");
    assert_eq!(inv.group(ALL).unwrap().vars["x"], json!(1));
}

#[test]
fn option_like_names_are_refused() {
    let e = load("[ok]\n[-x]\nh\n").unwrap_err();
    assert!(
        matches!(&e, InventoryError::BadGroupName { origin, name, .. } if origin.line == 2 && name == "-x"),
        "{e}"
    );
    let e = load("[g:children]\n-x\n").unwrap_err();
    assert!(matches!(e, InventoryError::BadGroupName { .. }), "{e}");
    // Ansible accepts a host named -oProxyCommand=x; fleetup does not.
    let e = load("[g]\nok\n-oProxyCommand=x\n").unwrap_err();
    assert!(
        matches!(&e, InventoryError::BadHostName { origin, name, .. } if origin.line == 3 && name == "-oProxyCommand=x"),
        "{e}"
    );
    assert!(matches!(
        load("\"a b\"\n").unwrap_err(),
        InventoryError::BadHostName { .. }
    ));
    assert!(matches!(
        load("''\n").unwrap_err(),
        InventoryError::BadHostName { .. }
    ));
}

#[test]
fn host_line_errors() {
    let (line, msg) = err("h1\nh x=1 y\n");
    assert_eq!(line, 2);
    assert!(
        msg.contains("expected key=value host variable assignment, got: y"),
        "{msg}"
    );
    let (line, msg) = err("\n\nh x=\"unclosed\n");
    assert_eq!(line, 3);
    assert!(msg.contains("No closing quotation"), "{msg}");
    assert!(err("h x=a\\\n").1.contains("No escaped character"));
    assert!(err("h:\n").1.contains("ending in ':'"));
    assert!(err("---\n").1.contains("YAML"));
    let (line, msg) = err("a\nh x=\"{[1]: 2}\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("unhashable"), "{msg}");
    assert!(err("w[1:3\n").1.contains("unterminated"));
}

#[test]
fn python_line_splitting_counts_lines() {
    // `\r`, `\r\n` and form feeds end lines in Python's splitlines.
    let (line, _) = err("a\r\nb\rc\x0cd y\n");
    assert_eq!(line, 4);
}

#[test]
fn multi_letter_range_with_port_is_not_a_port() {
    // parse_address rejects `w[ab:cd]:22`, so Ansible expands the whole word and the
    // ":22" stays in the names.
    let inv = ok("w[ab:cd]:22\n");
    assert_eq!(hosts(&inv, UNGROUPED), ["wa:22", "wb:22", "wc:22"]);
}

#[test]
fn shlex_like_python() {
    assert_eq!(
        shlex_split("a 'b c' \"d\\\"e\" f\\ g h#c").unwrap(),
        ["a", "b c", "d\"e", "f g", "h"]
    );
    assert_eq!(shlex_split("x='' y").unwrap(), ["x=", "y"]);
    assert_eq!(shlex_split("a'b'\"c\"d").unwrap(), ["abcd"]);
    assert_eq!(shlex_split("\"a\\b\"").unwrap(), ["a\\b"]);
    assert_eq!(shlex_split("'' #x").unwrap(), [""]);
}

#[test]
fn an_inventory_lists_at_most_max_hosts() {
    // Found while fuzzing: a few lines of ranges (`[a]` `h[0:999999]`, `[b]` `h[0:999999]`, …)
    // asked for millions of host entries and gigabytes; the cap on one range did not bound
    // the whole.
    let inv = ok("a[1:999999]\nz\n");
    assert_eq!(inv.host_count(), crate::inventory::MAX_HOSTS);
    let (line, msg) = err("[g]\na[1:999999]\n[h]\na[1:2]\n");
    assert_eq!(line, 4);
    assert!(
        msg.contains("'a[1:2]'") && msg.contains("more than 1000000 hosts"),
        "{msg}"
    );
    let (line, _) = err("a[1:999999]\nb[0:1]\n");
    assert_eq!(line, 2);
}
