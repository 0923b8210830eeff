//! Expected values were checked against ansible-core 2.19.14 (`ansible-inventory -i X --list`)
//! unless a comment says otherwise.

use super::value::py_float_repr;
use super::*;
use crate::inventory::{ALL, Inventory, UNGROUPED};
use serde_json::json;

fn p() -> &'static Path {
    Path::new("inv.yml")
}

/// The value of `v` in a one-key YAML document `v: <text>`.
fn val(text: &str) -> Value {
    let doc = load_value(p(), &format!("v: {text}\n")).unwrap();
    doc["v"].clone()
}

fn inv(text: &str) -> Inventory {
    let mut inv = Inventory::new();
    parse(&mut inv, p(), text).unwrap();
    inv.reconcile();
    inv
}

fn err(text: &str) -> InventoryError {
    let mut inv = Inventory::new();
    parse(&mut inv, p(), text).unwrap_err()
}

fn line_of(e: &InventoryError) -> usize {
    match e {
        InventoryError::Syntax { origin, .. }
        | InventoryError::Cycle { origin, .. }
        | InventoryError::BadHostName { origin, .. }
        | InventoryError::BadGroupName { origin, .. } => origin.line,
        other => panic!("no origin in {other:?}"),
    }
}

#[test]
fn booleans_are_yaml_1_1_and_only_when_plain() {
    for t in ["yes", "Yes", "YES", "on", "On", "true", "True", "TRUE"] {
        assert_eq!(val(t), json!(true), "{t}");
    }
    for f in ["no", "No", "NO", "off", "OFF", "false", "False"] {
        assert_eq!(val(f), json!(false), "{f}");
    }
    // Mixed case and single letters are strings.
    for s in ["yEs", "y", "n", "tRue"] {
        assert_eq!(val(s), json!(s), "{s}");
    }
    assert_eq!(val("\"yes\""), json!("yes"));
    assert_eq!(val("'on'"), json!("on"));
    assert_eq!(val("!!str yes"), json!("yes"));
}

#[test]
fn integers_octal_hex_binary_sexagesimal_underscores() {
    assert_eq!(val("0755"), json!(493));
    assert_eq!(val("0o755"), json!("0o755")); // YAML 1.2 octal is a string in 1.1
    assert_eq!(val("08"), json!("08")); // not octal, not decimal: a string
    assert_eq!(val("0x1F"), json!(31));
    assert_eq!(val("-0x1f"), json!(-31));
    assert_eq!(val("0b101"), json!(5));
    assert_eq!(val("1_000"), json!(1000));
    assert_eq!(val("0_7"), json!(7));
    assert_eq!(val("+12"), json!(12));
    assert_eq!(val("1:30"), json!(90));
    assert_eq!(val("12:30:45"), json!(45045));
    assert_eq!(val("-1:30"), json!(-90));
    assert_eq!(val("'0755'"), json!("0755"));
    assert_eq!(val("!!int \"12\""), json!(12));
    assert_eq!(val("0"), json!(0));
    assert!(matches!(val("123456789012345678901234567890"), Value::Number(n) if n.is_f64()));
}

#[test]
fn floats_need_a_dot_and_a_signed_exponent() {
    assert_eq!(val("1e3"), json!("1e3"));
    assert_eq!(val("1.0e3"), json!("1.0e3"));
    assert_eq!(val("1.0e+3"), json!(1000.0));
    assert_eq!(val("1."), json!(1.0));
    assert_eq!(val(".5"), json!(0.5));
    assert_eq!(val("1_0.5"), json!(10.5));
    assert_eq!(val("1:30.5"), json!(90.5));
    assert_eq!(val("!!float 3"), json!(3.0));
    assert_eq!(val("-0.0").as_f64().map(f64::is_sign_negative), Some(true));
    assert_eq!(val(".inf"), json!("inf"));
    assert_eq!(val("-.Inf"), json!("-inf"));
    assert_eq!(val(".NaN"), json!("nan"));
    assert_eq!(val(".Nan"), json!(".Nan"));
}

#[test]
fn nulls() {
    for n in ["~", "null", "Null", "NULL", ""] {
        assert_eq!(val(n), Value::Null, "{n:?}");
    }
    assert_eq!(val("nUll"), json!("nUll"));
    assert_eq!(val("'~'"), json!("~"));
    assert_eq!(load_value(p(), "").unwrap(), Value::Null);
    assert_eq!(load_value(p(), "# nothing\n").unwrap(), Value::Null);
}

#[test]
fn timestamps_print_as_python_isoformat() {
    assert_eq!(val("2001-12-14"), json!("2001-12-14"));
    assert_eq!(val("2001-1-4"), json!("2001-1-4")); // a date needs two-digit month and day
    assert_eq!(
        val("2001-12-14t21:59:43.10-05:00"),
        json!("2001-12-14T21:59:43.100000-05:00")
    );
    assert_eq!(val("2001-12-14 21:59:43"), json!("2001-12-14T21:59:43"));
    assert_eq!(
        val("2001-12-14T21:59:43Z"),
        json!("2001-12-14T21:59:43+00:00")
    );
    assert_eq!(
        val("2001-1-4 1:02:03.0000001"),
        json!("2001-01-04T01:02:03")
    );
    assert_eq!(val("\"2001-12-14\""), json!("2001-12-14"));
    // Python refuses impossible dates; so does ansible.
    let e = load_value(p(), "a: 1\nv: 2001-02-30\n").unwrap_err();
    assert_eq!(line_of(&e), 2);
    assert_eq!(val("2000-02-29"), json!("2000-02-29"));
}

#[test]
fn block_scalars_sequences_sets_and_unknown_tags() {
    assert_eq!(val("|\n  line1\n  line2\n"), json!("line1\nline2\n"));
    assert_eq!(val(">\n  word1\n  word2\n"), json!("word1 word2\n"));
    assert_eq!(
        val("[1, \"2\", three, yes]"),
        json!([1, "2", "three", true])
    );
    assert_eq!(val("!!set {a, b}"), json!(["a", "b"]));
    let e = load_value(p(), "x: 1\nv: !custom 3\n").unwrap_err();
    assert_eq!(line_of(&e), 2);
    assert!(e.to_string().contains("!custom"), "{e}");
    // A plain `=` is PyYAML's "value" tag, which SafeLoader cannot construct.
    assert!(load_value(p(), "v: =\n").is_err());
    assert_eq!(load_value(p(), "=: 1\n").unwrap(), json!({"=": 1}));
}

#[test]
fn unsafe_re_resolves_its_value_as_plain() {
    // ansible-inventory prints {"__ansible_unsafe": "{{ x }}"}; fleetup does not template, so
    // the value is just the string.
    assert_eq!(val("!unsafe '{{ x }}'"), json!("{{ x }}"));
    // Surprise checked with ansible-inventory: `!unsafe 123` is the int 123, even quoted.
    assert_eq!(val("!unsafe 123"), json!(123));
    assert_eq!(val("!unsafe \"123\""), json!(123));
    assert_eq!(val("!unsafe [a, 1]"), json!(["a", 1]));
}

#[test]
fn vault_values_are_refused_with_file_and_line() {
    let text = "all:\n  vars:\n    a: 1\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      3132\n";
    let e = load_value(p(), text).unwrap_err();
    assert_eq!(line_of(&e), 4);
    let msg = e.to_string();
    assert!(
        msg.starts_with("inv.yml:4: vault-encrypted values are not supported"),
        "{msg}"
    );
    assert!(msg.contains("-e"), "{msg}");
    let e = err(text);
    assert_eq!(line_of(&e), 4);
    // A whole vault-encrypted file, and the JSON encoding.
    assert!(
        load_value(p(), "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
            .unwrap_err()
            .to_string()
            .contains("vault")
    );
    let e = load_value(
        p(),
        "{\"a\": {\"__ansible_vault\": \"$ANSIBLE_VAULT;1.1\"}}",
    )
    .unwrap_err();
    assert!(e.to_string().contains("vault"), "{e}");
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "\
base: &b {a: 1, b: 1}
base2: &c {b: 2, c: 2}
m1:
  <<: *b
  a: 9
m2:
  <<: [*b, *c]
m3:
  <<: [*c, *b]
alias: *b
s: &s hello
s2: *s
quoted:
  '<<': *b
";
    let v = load_value(p(), text).unwrap();
    assert_eq!(v["m1"], json!({"a": 9, "b": 1}));
    // In a list of merged mappings the first one wins.
    assert_eq!(v["m2"], json!({"a": 1, "b": 1, "c": 2}));
    assert_eq!(v["m3"], json!({"a": 1, "b": 2, "c": 2}));
    assert_eq!(v["alias"], json!({"a": 1, "b": 1}));
    assert_eq!(v["s2"], json!("hello"));
    assert_eq!(v["quoted"], json!({"<<": {"a": 1, "b": 1}}));
    assert!(load_value(p(), "a: *nope\n").is_err());
}

#[test]
fn duplicate_keys_last_wins() {
    let v = load_value(p(), "a: 1\nb: 2\na: 3\n").unwrap();
    assert_eq!(v, json!({"a": 3, "b": 2}));
    // Python dict keys: 1 and True are the same key (checked: ansible warns "duplicate mapping
    // key True" and shows key "1" with the later value).
    let v = load_value(p(), "1: one\nyes: yesval\n~: n\n1.5: f\n").unwrap();
    assert_eq!(v, json!({"1": "yesval", "null": "n", "1.5": "f"}));
}

#[test]
fn json_is_read_as_json_first() {
    // Checked: in a JSON inventory 1e3 is the float 1000.0, not YAML 1.1's string "1e3".
    let v = load_value(
        Path::new("i.json"),
        "{\"a\": 1e3, \"b\": \"yes\", \"c\": [1, 2.5, null, true]}",
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"a": 1000.0, "b": "yes", "c": [1, 2.5, null, true]})
    );
    let v = load_value(p(), "{\"u\": {\"__ansible_unsafe\": \"{{ x }}\"}}").unwrap();
    assert_eq!(v, json!({"u": "{{ x }}"}));
    // Flow YAML that is not JSON keeps YAML typing.
    assert_eq!(
        load_value(p(), "{a: 1e3, b: yes}").unwrap(),
        json!({"a": "1e3", "b": true})
    );
}

#[test]
fn syntax_errors_and_multiple_documents_name_the_line() {
    let e = load_value(p(), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
    assert!(matches!(e, InventoryError::Syntax { .. }), "{e}");
    assert!(line_of(&e) >= 2, "{e}");
    let e = load_value(p(), "a: 1\n---\nb: 2\n").unwrap_err();
    assert_eq!(line_of(&e), 2);
    assert!(e.to_string().contains("single document"), "{e}");
}

#[test]
fn groups_hosts_vars_and_ports() {
    let inv = inv("\
all:
  hosts: lone
  vars: {x: all}
  children:
    web:
      hosts:
        web1.ex.com:2222:
          x: 1
        '[::1]:99':
        db:22: {y: 2}
        bad_:33:
      vars: foo
    prod:
      children: web
      vars:
        ansible_group_priority: 7
        p: 1
");
    assert_eq!(
        inv.group_hosts("web"),
        vec!["web1.ex.com", "::1", "db", "bad_:33"]
    );
    assert_eq!(inv.group(UNGROUPED).unwrap().hosts, vec!["lone"]);
    assert_eq!(
        inv.group(ALL).unwrap().children,
        vec![UNGROUPED, "web", "prod"]
    );
    assert_eq!(inv.group("prod").unwrap().children, vec!["web"]);
    let w = inv.host_vars("web1.ex.com");
    assert_eq!(w["ansible_port"], json!(2222));
    assert_eq!(w["x"], json!(1));
    assert_eq!(w["foo"], Value::Null); // `vars: foo` is `vars: {foo: null}`
    assert_eq!(w["p"], json!(1));
    // Checked: ansible_group_priority is the group's priority, not a variable.
    assert!(!w.contains_key("ansible_group_priority"));
    assert_eq!(inv.group("prod").unwrap().priority, Some(7));
    assert_eq!(inv.host_vars("::1")["ansible_port"], json!(99));
    assert!(!inv.host_vars("bad_:33").contains_key("ansible_port"));
    assert_eq!(inv.host_vars("lone")["x"], json!("all"));
}

#[test]
fn port_only_when_the_host_is_created() {
    // Checked: `a` then `a:2200` keeps no port; `b:2201` then `b` keeps 2201; `c:0` none.
    let inv = inv("all:\n  hosts:\n    a:\n    a:2200:\n    b:2201:\n    b:\n    c:0:\n");
    assert!(!inv.host_vars("a").contains_key("ansible_port"));
    assert_eq!(inv.host_vars("b")["ansible_port"], json!(2201));
    assert!(!inv.host_vars("c").contains_key("ansible_port"));
}

#[test]
fn children_nest_to_depth_four_and_more() {
    let inv = inv("\
all:
  children:
    l1:
      vars: {v: 1, only1: x}
      children:
        l2:
          vars: {v: 2}
          children:
            l3:
              vars: {v: 3}
              children:
                l4:
                  vars: {v: 4}
                  children:
                    l5:
                      hosts:
                        deep:
");
    assert_eq!(inv.depth("l5"), 5);
    assert_eq!(inv.group_hosts("l1"), vec!["deep"]);
    let hv = inv.host_vars("deep");
    assert_eq!(hv["v"], json!(4));
    assert_eq!(hv["only1"], json!("x"));
    assert_eq!(inv.host_groups("deep").len(), 6);
}

#[test]
fn empty_entries_are_fine() {
    let inv = inv(
        "all:\n  hosts:\n    h1:\n    h2: ~\n  children:\n    empty:\n    e2: {}\n    e3:\n      hosts:\n      vars:\n",
    );
    assert_eq!(inv.group_hosts(ALL), vec!["h1", "h2"]);
    for g in ["empty", "e2", "e3"] {
        assert!(inv.group(g).is_some(), "{g}");
    }
    assert_eq!(
        inv.group(ALL).unwrap().children,
        vec![UNGROUPED, "empty", "e2", "e3"]
    );
}

#[test]
fn top_level_groups_other_than_all() {
    let inv = inv("web: {hosts: {a: }}\ndb: {children: {web: }}\n");
    assert_eq!(inv.group(ALL).unwrap().children, vec![UNGROUPED, "db"]);
    assert_eq!(inv.group("db").unwrap().children, vec!["web"]);
}

#[test]
fn strings_where_mappings_are_allowed() {
    let inv = inv("all:\n  children:\n    web:\n      hosts: w[1:1]\n      children: sub\n");
    assert!(inv.group("sub").is_some());
    assert_eq!(inv.group("web").unwrap().children, vec!["sub"]);
    assert_eq!(inv.group_hosts("web").len(), 1);
    // A string as a *group* is not converted: the group is skipped with a warning, then adding
    // it as a child fails (checked: "strgroup is not a known host nor group").
    let e = err("all:\n  children:\n    ok:\n    strgroup: hello\n");
    assert_eq!(line_of(&e), 4);
    assert!(e.to_string().contains("not a known host nor group"), "{e}");
    // ...unless a host has that name: the host joins the parent group (checked).
    let inv = inv_ok("all:\n  children:\n    g:\n      hosts: {a: }\n      children: {a: hi}\n");
    assert_eq!(inv.group("g").unwrap().hosts, vec!["a"]);
}

fn inv_ok(text: &str) -> Inventory {
    inv(text)
}

#[test]
fn invalid_sections_are_errors_unexpected_keys_warnings() {
    let e = err("all:\n  hosts: [a, b]\n");
    assert_eq!(line_of(&e), 2);
    assert!(
        e.to_string()
            .contains("invalid \"hosts\" entry for \"all\" group"),
        "{e}"
    );
    assert!(err("all:\n  vars: 3\n").to_string().contains("\"vars\""));
    // Unexpected keys and non-mapping values of other keys are only skipped.
    let inv = inv("all:\n  hostz: {a: }\n  other: 3\n  hosts: {b: }\n");
    assert_eq!(inv.group_hosts(ALL), vec!["b"]);
    assert!(inv.host("a").is_none());
}

#[test]
fn host_and_group_names_must_be_strings() {
    let e = err("all:\n  hosts:\n    1: {}\n");
    assert_eq!(line_of(&e), 3);
    assert!(e.to_string().contains("must be a string"), "{e}");
    let e = err("yes: {hosts: {a: }}\n");
    assert!(matches!(e, InventoryError::BadGroupName { .. }), "{e}");
    let e = err("all:\n  hosts:\n    a: foo\n");
    assert_eq!(line_of(&e), 3);
    let e = err("all:\n  hosts:\n    a: [1]\n");
    assert!(matches!(e, InventoryError::Syntax { .. }), "{e}");
    // fleetup is stricter than Ansible here (it accepts "-a").
    let e = err("all:\n  hosts:\n    x:\n    \"-oProxyCommand=x\":\n");
    assert!(
        matches!(&e, InventoryError::BadHostName { name, .. } if name == "-oProxyCommand=x"),
        "{e}"
    );
    assert_eq!(line_of(&e), 4);
}

#[test]
fn top_level_must_be_a_non_empty_mapping_without_plugin() {
    assert!(err("").to_string().contains("empty"));
    assert!(err("{}").to_string().contains("empty"));
    assert!(err("[a, b]").to_string().contains("invalid structure"));
    assert!(
        err("just a string")
            .to_string()
            .contains("invalid structure")
    );
    assert!(
        err("plugin: aws_ec2\nregions: [x]\n")
            .to_string()
            .contains("plugin")
    );
    // A false-y `plugin` is just a group named plugin.
    let inv = inv("plugin: ~\n");
    assert!(inv.group("plugin").is_some());
}

#[test]
fn cycles_are_errors_with_the_line() {
    let e = err("a:\n  children:\n    b:\n      children:\n        a:\n");
    assert!(matches!(e, InventoryError::Cycle { .. }), "{e}");
    // As in Ansible, `b` gets its child `a` first; the edge a -> b (line 3) closes the loop.
    assert_eq!(line_of(&e), 3);
    // `all` under a top-level group (found while fuzzing; ansible-inventory refuses it too).
    let e = err("g:\n  hosts:\n    h1:\n  children:\n    all:\n");
    assert!(matches!(e, InventoryError::Cycle { .. }), "{e}");
}

#[test]
fn bad_group_priority_is_an_error() {
    // Checked: Ansible fails with "invalid literal for int() with base 10: 'x'".
    let e = err("all:\n  children:\n    g:\n      vars: {ansible_group_priority: \"x\"}\n");
    assert_eq!(line_of(&e), 4);
    let inv = inv("all:\n  children:\n    g:\n      vars: {ansible_group_priority: \"3\"}\n");
    assert_eq!(inv.group("g").unwrap().priority, Some(3));
}

#[test]
fn non_string_var_names_become_their_json_form() {
    let inv = inv("all:\n  hosts:\n    h: {1: one, false: t, 2.5: f}\n");
    let hv = inv.host_vars("h");
    assert_eq!(hv["1"], json!("one"));
    assert_eq!(hv["false"], json!("t"));
    assert_eq!(hv["2.5"], json!("f"));
}

#[test]
fn python_float_repr() {
    assert_eq!(py_float_repr(1.5), "1.5");
    assert_eq!(py_float_repr(2.0), "2.0");
    assert_eq!(py_float_repr(1e20), "1e+20");
    assert_eq!(py_float_repr(1.5e-7), "1.5e-07");
    assert_eq!(py_float_repr(0.0001), "0.0001");
}
