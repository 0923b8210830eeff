//! Expected results were checked against ansible-core 2.19.14 (`ansible-inventory -i X --list`,
//! run on the same trees) unless a comment says otherwise. Note: the INI parser is another
//! module; these tests only rely on INI files *not* producing YAML results.

use super::extra_vars::{decode_escapes, split_args, unquote};
use super::*;
use crate::inventory::{ALL, InventoryError};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;

fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn load_paths(sources: &[PathBuf], extra: &[&str]) -> Result<Inventory> {
    let opts = LoadOptions {
        sources: sources.to_vec(),
        extra_vars: extra.iter().map(|s| (*s).to_owned()).collect(),
    };
    load_with_playbook_dir(&opts, None)
}

fn to_json(vars: &Vars) -> Value {
    Value::Object(vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn names(inv: &Inventory) -> Vec<String> {
    inv.hosts().map(|h| h.name.clone()).collect()
}

#[test]
fn format_detection_by_extension_and_content() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let yml = write(r, "a.yml", "all: {hosts: {y1: }}\n");
    let yaml = write(r, "a.yaml", "all: {hosts: {y2: }}\n");
    let json = write(
        r,
        "a.json",
        "{\"all\": {\"hosts\": {\"j1\": {\"v\": 1e3}}}}",
    );
    let noext_yaml = write(r, "hosts", "web:\n  hosts:\n    n1:\n");
    // Files with other extensions go to the INI parser only (checked: ansible's yaml plugin
    // declines `.ini`, `.sh`, ...): `h_ini x=1` is a host with a var, not a YAML string.
    let ini = write(r, "h.ini", "h_ini x=1\n");
    let sh = write(r, "k.sh", "h_sh\n");
    // Extension-less text that YAML reads as a plain string is INI (`a:2222` is one scalar).
    let noext_ini = write(r, "plain", "a:2222\nb\n");
    let inv = load_paths(&[yml, yaml, json, noext_yaml, ini, sh, noext_ini], &[]).unwrap();
    let hs = names(&inv);
    for h in ["y1", "y2", "j1", "n1", "h_ini", "h_sh"] {
        assert!(hs.contains(&h.to_owned()), "{h} in {hs:?}");
    }
    assert!(!hs.iter().any(|h| h == "a:2222"), "{hs:?}");
    assert_eq!(inv.host_vars("j1")["v"], json!(1000.0));
    assert_eq!(inv.group_hosts("web"), vec!["n1"]);
}

#[test]
fn toml_and_scripts_are_refused_but_executable_text_is_read() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let toml = write(r, "i.toml", "[all.hosts]\na = {}\n");
    let e = load_paths(&[toml], &[]).unwrap_err();
    assert!(e.to_string().contains("TOML"), "{e}");
    let script = write(r, "inv.py", "#!/usr/bin/env python3\nprint('{}')\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let e = load_paths(&[script], &[]).unwrap_err();
    assert!(e.to_string().contains("scripts are not supported"), "{e}");
    // An executable inventory that is not a script: ansible's script plugin fails on it and
    // the YAML plugin reads it.
    let x = write(r, "hosts.yml", "all: {hosts: {x1: }}\n");
    fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(names(&load_paths(&[x], &[]).unwrap()), vec!["x1"]);
}

#[test]
fn missing_source_is_an_io_error_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.yml");
    let e = load_paths(std::slice::from_ref(&missing), &[]).unwrap_err();
    assert!(
        matches!(&e, InventoryError::Io { path, .. } if *path == missing),
        "{e}"
    );
    assert!(e.to_string().contains("nope.yml"), "{e}");
}

#[test]
fn missing_files_say_what_is_close_or_where_they_were_looked_for() {
    let d = tempfile::tempdir().unwrap();
    for f in ["web-db.ini", "web-db.yml", "web-db.ini.retry", "other.yml"] {
        fs::write(d.path().join(f), "").unwrap();
    }
    let err = |name: &str| {
        load_paths(&[d.path().join(name)], &[])
            .unwrap_err()
            .to_string()
    };
    let at = |f: &str| d.path().join(f).display().to_string();
    // Another extension, a typo: the near misses first, never the .retry file.
    assert!(
        err("web-db.yaml").ends_with(&format!(
            " (did you mean {}, {}?)",
            at("web-db.yml"),
            at("web-db.ini")
        )),
        "{}",
        err("web-db.yaml")
    );
    assert!(
        err("webdb.ini").ends_with(&format!(" (did you mean {}?)", at("web-db.ini"))),
        "{}",
        err("webdb.ini")
    );
    assert!(
        err("nodir/x.yml").contains("directory") && err("nodir/x.yml").contains("does not exist"),
        "{}",
        err("nodir/x.yml")
    );
    // Nothing close, a relative path: where it was read from.
    assert!(
        missing_file_hint(Path::new("surely-not-here-42.yml"))
            .starts_with(" (a relative path is read from the current directory, /"),
        "{}",
        missing_file_hint(Path::new("surely-not-here-42.yml"))
    );
    // -e @file says it is an extra vars file, not an inventory.
    let e = parse_extra_vars(&[format!("@{}", d.path().join("vars.yml").display())])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read extra vars file "), "{e}");
}

#[test]
fn host_list_sources() {
    // `-i a,b:2222,` as ansible's host_list plugin reads it.
    let inv = load_paths(&[PathBuf::from("a, b:2222,,a,")], &[]).unwrap();
    assert_eq!(names(&inv), vec!["a", "b"]);
    assert_eq!(inv.group(UNGROUPED).unwrap().hosts, vec!["a", "b"]);
    assert_eq!(inv.host_vars("b")["ansible_port"], json!(2222));
}

#[test]
fn directory_sources_in_sorted_order_skipping_ignored_names() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "b.yml", "all: {hosts: {b1: }}\n");
    write(r, "a.yml", "all: {hosts: {a1: }}\n");
    write(r, "z.json", "{\"all\": {\"hosts\": {\"z1\": null}}}");
    write(r, "sub/s.yml", "all: {hosts: {s1: }}\n");
    write(r, "x.d/f.yaml", "all: {hosts: {xd1: }}\n");
    // All skipped (checked with ansible-inventory on the same tree).
    for skipped in [
        "README.md",
        "x.cfg",
        ".hidden.yml",
        "e~",
        "c.retry",
        "d.orig",
        "e.txt",
        "f.bak",
        "g.rst",
        "h.swp",
        "i.pyc",
        ".hid/j.yml",
        "notes.md/k.yml",
    ] {
        write(r, skipped, "all: {hosts: {skipped: }}\n");
    }
    // group_vars/host_vars are not inventory sources, and a subdirectory's group_vars are not
    // variables (only those beside the top-level source are).
    write(r, "group_vars/all.yml", "z: top\n");
    write(r, "host_vars/a1.yml", "h: a1\n");
    write(r, "sub/group_vars/all.yml", "z: sub\n");
    let inv = load_paths(&[r.to_path_buf()], &[]).unwrap();
    assert_eq!(names(&inv), vec!["a1", "b1", "s1", "xd1", "z1"]);
    assert_eq!(inv.host_vars("s1")["z"], json!("top"));
    assert_eq!(inv.host_vars("a1")["h"], json!("a1"));
}

#[test]
fn ignore_rules() {
    for name in [
        ".git",
        "group_vars",
        "host_vars",
        "vars_plugins",
        "a.md",
        "a~",
        "ansible.cfg",
    ] {
        assert!(is_ignored(name), "{name}");
    }
    for name in ["hosts", "a.ini", "a.yml", "a.json", "group_vars.yml", "md"] {
        assert!(!is_ignored(name), "{name}");
    }
}

#[test]
fn sources_merge_in_order() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let one = write(
        r,
        "one.yml",
        "all:\n  hosts:\n    h: {x: 1, y: 1}\n  children:\n    web: {hosts: {h: }}\n",
    );
    let two = write(r, "two.yml", "db:\n  hosts:\n    h: {x: 2}\n    g:\n");
    let inv = load_paths(&[one, two], &[]).unwrap();
    assert_eq!(names(&inv), vec!["h", "g"]);
    let hv = inv.host_vars("h");
    assert_eq!((hv["x"].clone(), hv["y"].clone()), (json!(2), json!(1)));
    let hg = inv.host_groups("h");
    assert!(
        hg.contains(&"web".to_owned()) && hg.contains(&"db".to_owned()),
        "{hg:?}"
    );
    assert_eq!(
        inv.group(ALL).unwrap().children,
        vec![UNGROUPED, "web", "db"]
    );
}

#[test]
fn a_failed_yaml_read_leaves_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    // The YAML plugin adds `a`, then fails on line 2. Ansible keeps the half-read inventory;
    // fleetup either reads the file as INI from scratch or reports the YAML error.
    let f = write(
        d.path(),
        "i.yml",
        "all: {hosts: {a: }}\nweb: {hosts: [x]}\n",
    );
    match load_paths(&[f], &[]) {
        Ok(inv) => assert!(inv.host("a").is_none()),
        Err(InventoryError::Syntax { origin, .. }) => assert_eq!(origin.line, 2),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn which_error_when_no_parser_reads_a_file() {
    let yaml_err = || InventoryError::Syntax {
        origin: origin(Path::new("f"), 2),
        message: "yaml".into(),
    };
    let ini_err = || InventoryError::Syntax {
        origin: origin(Path::new("f"), 1),
        message: "ini".into(),
    };
    let pick = |ext: &str, text: &str| match pick_error(
        ext,
        Some(text),
        Path::new("f"),
        Some(yaml_err()),
        ini_err(),
    ) {
        InventoryError::Syntax { message, .. } => message,
        other => panic!("{other}"),
    };
    assert_eq!(pick(".yml", "a\nb"), "yaml");
    assert_eq!(pick(".json", "{"), "yaml");
    assert_eq!(pick("", "all:\n  hosts: [a]\n"), "yaml");
    assert_eq!(pick("", "[web]\na b=\"\n"), "ini");
    assert_eq!(pick("", "a\nb\n"), "ini");
}

/// The tree of the precedence check run with ansible-inventory.
fn vars_tree(r: &Path) -> PathBuf {
    let hosts = write(
        r,
        "hosts.yml",
        "\
all:
  vars: {v_all_inv: inv, v1: all_inv}
  children:
    web:
      hosts:
        h1: {v5: host_inv}
        h2:
      vars: {v1: web_inv, v2: web_inv, v3: web_inv}
    db:
      hosts: {h1: }
      vars: {v3: db_inv, v6: db_inv}
",
    );
    write(
        r,
        "group_vars/all.yml",
        "v1: all_file\nv2: all_file\nv4: all_file\n",
    );
    write(r, "group_vars/web.yml", "v4: web_yml\nvw: yml\n");
    write(r, "group_vars/web.yaml", "vw: yaml\n");
    write(r, "group_vars/db/a.yml", "v6: db_a\nvd: a\n");
    write(r, "group_vars/db/b.yml", "vd: b\n");
    write(r, "group_vars/db/sub/c.yml", "vd: sub_c\n");
    write(r, "group_vars/db/noext", "vd: noext\n");
    write(r, "group_vars/db/x.txt", "vd: txt\n");
    write(r, "group_vars/db/.h.yml", "vd: hidden\n");
    write(r, "group_vars/db/z~", "vd: tilde\n");
    write(r, "group_vars/db.d/q.yml", "vd: dotd\n");
    write(r, "group_vars/nogroup.yml", "[not, a, mapping]\n");
    write(r, "host_vars/h1", "v5: host_file\n");
    write(r, "host_vars/h1.yml", "v5: host_file_yml\nv7: hy\n");
    write(r, "host_vars/h2.yml", "");
    hosts
}

#[test]
fn group_vars_and_host_vars_precedence() {
    let d = tempfile::tempdir().unwrap();
    let hosts = vars_tree(d.path());
    let inv = load_paths(&[hosts], &[]).unwrap();
    let h1 = inv.host_vars("h1");
    let expect = json!({
        // Surprise (checked): group_vars/all.yml beats the `web` group's inventory vars.
        "v1": "all_file", "v2": "all_file",
        "v3": "web_inv", // db and web are both depth 1: by name, web wins
        "v4": "web_yml", // group files beat the all file
        "v5": "host_file", // host_vars/h1 (no extension) is found first; h1.yml is ignored
        "v6": "db_a", // a group's file beats its inventory vars
        "v_all_inv": "inv",
        "vd": "sub_c", // a directory's files in sorted order, recursively: a, b, noext, sub/c
        "vw": "yml", // web.yml is found first; web.yaml is ignored
    });
    assert_eq!(to_json(&h1), expect);
    let h2 = to_json(&inv.host_vars("h2"));
    assert_eq!(
        h2,
        json!({"v1": "all_file", "v2": "all_file", "v3": "web_inv", "v4": "web_yml", "v_all_inv": "inv", "vw": "yml"})
    );
    // export-style group vars: inventory vars then files.
    assert_eq!(inv.group_vars("web")["v2"], json!("web_inv"));
    assert_eq!(inv.group_vars("web")["vw"], json!("yml"));
}

#[test]
fn a_vars_file_that_is_not_a_mapping_is_an_error_when_used() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let hosts = write(r, "hosts.yml", "all: {hosts: {h: }}\n");
    write(r, "group_vars/all.yml", "- a\n- b\n");
    let e = load_paths(&[hosts], &[]).unwrap_err();
    assert!(e.to_string().contains("all.yml"), "{e}");
    // Falsy documents (empty, [], "") are ignored.
    write(r, "group_vars/all.yml", "[]\n");
    write(r, "host_vars/h.yml", "# nothing\n");
    assert!(load_paths(&[r.join("hosts.yml")], &[]).is_ok());
}

#[test]
fn later_sources_group_files_beat_earlier_ones_whatever_the_depth() {
    // Surprise (checked both orders with ansible-inventory): the group files are merged per
    // source, then per group, so B's shallower `prod` file beats A's deeper `web` file.
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let a = write(r, "A/inv.yml", "prod: {children: {web: {hosts: {h: }}}}\n");
    write(r, "A/group_vars/web.yml", "y: A_web\n");
    let b = write(r, "B/inv.yml", "web: {hosts: {h: }}\n");
    write(r, "B/group_vars/prod.yml", "y: B_prod\n");
    let inv = load_paths(&[a.clone(), b.clone()], &[]).unwrap();
    assert_eq!(inv.host_vars("h")["y"], json!("B_prod"));
    let inv = load_paths(&[b, a], &[]).unwrap();
    assert_eq!(inv.host_vars("h")["y"], json!("A_web"));
}

#[test]
fn playbook_dir_vars_rank_above_inventory_files_of_the_same_kind() {
    // Checked: ansible-inventory run from a directory with group_vars/all.yml applies it.
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let inv_file = write(
        r,
        "inv/i.yml",
        "all:\n  hosts: {h: }\n  children: {web: {hosts: {h: }}}\n",
    );
    write(r, "inv/group_vars/all.yml", "a: inv_all\nw: inv_all\n");
    write(r, "inv/group_vars/web.yml", "w: inv_web\n");
    write(r, "inv/host_vars/h.yml", "hv: inv\n");
    write(r, "play/group_vars/all.yml", "a: play_all\nw: play_all\n");
    write(r, "play/host_vars/h.yml", "hv: play\n");
    let opts = LoadOptions {
        sources: vec![inv_file],
        extra_vars: vec![],
    };
    let inv = load_with_playbook_dir(&opts, Some(&r.join("play"))).unwrap();
    let hv = inv.host_vars("h");
    assert_eq!(hv["a"], json!("play_all"));
    assert_eq!(hv["w"], json!("inv_web")); // any group's file beats every all file
    assert_eq!(hv["hv"], json!("play"));
}

#[test]
fn extra_vars_forms() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "ev.yml", "x: 5\nlist: [1, 2]\n");
    let empty = write(d.path(), "empty.yml", "");
    let ev =
        |args: &[&str]| parse_extra_vars(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    let v = |args: &[&str]| to_json(&ev(args).unwrap());
    // Checked with `ansible-inventory -e ...`: key=value values are strings.
    assert_eq!(v(&["x=3"]), json!({"x": "3"}));
    assert_eq!(
        v(&["x=3 y=\"a b\" z='q r' w="]),
        json!({"x": "3", "y": "a b", "z": "q r", "w": ""})
    );
    assert_eq!(v(&["foo"]), json!({"_raw_params": "foo"}));
    assert_eq!(
        v(&["x=1 foo bar"]),
        json!({"x": "1", "_raw_params": "foo bar"})
    );
    assert_eq!(v(&["x={{ a b }} y=2"]), json!({"x": "{{ a b }}", "y": "2"}));
    assert_eq!(v(&["a\\=b=c"]), json!({"a\\=b": "c"}));
    assert_eq!(v(&["x=a\\nb"]), json!({"x": "a\nb"}));
    assert_eq!(v(&["x= 1"]), json!({"x": "", "_raw_params": "1"}));
    assert_eq!(v(&["x==1"]), json!({"x": "=1"}));
    assert_eq!(v(&["=1"]), json!({"_raw_params": "=1"}));
    assert_eq!(v(&["x=1\ny=2"]), json!({"x": "1", "y": "2"}));
    assert_eq!(v(&["x=\"a\"b"]), json!({"x": "\"a\"b"}));
    assert_eq!(v(&["{\"x\": 1e3}"]), json!({"x": 1000.0}));
    assert_eq!(v(&["{x: 1e3, y: yes}"]), json!({"x": "1e3", "y": true}));
    assert_eq!(
        v(&[&format!("@{}", f.display())]),
        json!({"x": 5, "list": [1, 2]})
    );
    assert_eq!(v(&["", "x=1"]), json!({"x": "1"}));
    // Later -e replace earlier keys whole.
    assert_eq!(
        v(&["x=1", "{\"x\": 2, \"y\": 1}", "y=3"]),
        json!({"x": 2, "y": "3"})
    );

    for bad in [
        "[1]",
        "./ev.yml",
        "/etc/x.yml",
        "x=\"unterminated",
        "{bad",
        "x={{ a",
    ] {
        assert!(
            matches!(ev(&[bad]), Err(InventoryError::BadExtraVars { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        ev(&[&format!("@{}", empty.display())]),
        Err(InventoryError::BadExtraVars { .. })
    ));
    assert!(matches!(
        ev(&["@/nonexistent/x.yml"]),
        Err(InventoryError::Io { .. })
    ));
}

#[test]
fn extra_vars_beat_everything_after_load() {
    let d = tempfile::tempdir().unwrap();
    let hosts = vars_tree(d.path());
    let inv = load_paths(&[hosts], &["v5=cli", "{\"v1\": 1}"]).unwrap();
    let hv = inv.host_vars("h1");
    assert_eq!(hv["v5"], json!("cli"));
    assert_eq!(hv["v1"], json!(1));
}

#[test]
fn split_args_keeps_quotes_and_jinja_together() {
    assert_eq!(
        split_args("a=b c=\"foo bar\"").unwrap(),
        vec!["a=b", "c=\"foo bar\""]
    );
    assert_eq!(
        split_args("a={{ x | default('y z') }} b=1").unwrap(),
        vec!["a={{ x | default('y z') }}", "b=1"]
    );
    assert_eq!(split_args("a  b").unwrap(), vec!["a ", "b"]);
    assert!(split_args("a='x").is_err());
    assert_eq!(unquote("'a'"), "a");
    assert_eq!(unquote("\"a\\\""), "\"a\\\"");
    assert_eq!(decode_escapes("\\x41\\u00e9\\t\\N{DASH}"), "Aé\t\\N{DASH}");
}
