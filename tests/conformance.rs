//! Conformance of `fleetup inventory` with `ansible-inventory` and `ansible --list-hosts`.
//!
//! Every inventory of `tests/corpus/` and `inventories/` is read by the real ansible-core and
//! by fleetup, and the outputs are compared:
//!
//! - `--list` (optionally with `-e` and `--limit`): both JSON documents are parsed and
//!   compared as values: every key, every value with its JSON type, every list in order.
//!   fleetup prints `_meta.profile` as ansible-core 2.19 does, so nothing is ignored.
//! - `--graph`: byte for byte. With `--limit`, Ansible ignores the limit in `--graph` and
//!   fleetup does not, on purpose: there the expected text is Ansible's tree without the lines
//!   of the hosts outside the selection.
//! - Host patterns: `fleetup::inventory::select` (what `--limit` selects, in the order fleetup
//!   works in) against the `hosts (N):` list of `ansible -i INV 'PATTERN' --list-hosts`.
//!   `--list --limit` alone cannot show that order (it prints groups), so the order is checked
//!   through the library, and the CLI's `--limit` through the `--list` comparisons.
//!
//! Where Ansible's order is undefined, the hosts are compared as sets (see `Order::Set`):
//! `Group.get_hosts` walks descendants with `_walk_relationship`, which iterates a Python
//! `set` of groups from depth 2 on, so when two groups at one level both have children, the
//! order of the grandchildren's hosts depends on object ids and changes from run to run.
//!
//! Ansible processes are run several at a time (each start costs about half a second of CPU),
//! with a private `ANSIBLE_HOME` and colours and the localhost warnings off.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::support::{describe, fleetup, repo, repo_path, require_tool, run};

/// How many Ansible/fleetup processes run at once.
const WORKERS: usize = 3;

/// An `ansible-inventory --list` comparison: `-i` sources, `-e` values, `--limit`.
struct ListCase {
    sources: &'static [&'static str],
    extra: &'static [&'static str],
    limit: Option<&'static str>,
}

const fn case(sources: &'static [&'static str]) -> ListCase {
    ListCase {
        sources,
        extra: &[],
        limit: None,
    }
}

const LIST_CASES: &[ListCase] = &[
    case(&["tests/corpus/ranges.ini"]),
    case(&["tests/corpus/ranges.yml"]),
    case(&["tests/corpus/declared-later.ini"]),
    case(&["tests/corpus/nested.yml"]),
    case(&["tests/corpus/diamond.ini"]),
    case(&["tests/corpus/precedence.ini"]),
    ListCase {
        sources: &["tests/corpus/precedence.ini"],
        extra: &["w=extra x=extra"],
        limit: None,
    },
    case(&["tests/corpus/priority.yml"]),
    case(&["tests/corpus/literals.ini"]),
    case(&["tests/corpus/yaml11.yml"]),
    case(&["tests/corpus/multigroup.ini"]),
    case(&["tests/corpus/comments.ini"]),
    case(&["tests/corpus/hostport.ini"]),
    case(&["tests/corpus/hosts"]),
    case(&["tests/corpus/inventory"]),
    case(&["tests/corpus/yaml-children.yml"]),
    case(&["tests/corpus/empty-groups.yml"]),
    case(&["tests/corpus/patterns.ini"]),
    case(&["tests/corpus/glob-hosts.yml"]),
    case(&["tests/corpus/merge-a.ini", "tests/corpus/merge-b.yml"]),
    case(&["tests/corpus/merge-b.yml", "tests/corpus/merge-a.ini"]),
    case(&["tests/corpus/dir"]),
    ListCase {
        sources: &["tests/corpus/extra.yml"],
        extra: &[
            "x=cli y=cli",
            "@tests/corpus/extra-vars.yml",
            r#"{"z": {"k": [1, "a"]}, "n": 5}"#,
        ],
        limit: None,
    },
    case(&["inventories/web-db.ini"]),
    case(&["inventories/web-db.yml"]),
    case(&["examples/cells/inventory.yml"]),
    case(&["inventories/jump.yml"]),
    // --limit: groups left without selected hosts disappear, their names stay in `children`.
    ListCase {
        sources: &["tests/corpus/patterns.ini"],
        extra: &[],
        limit: Some("web:&eu"),
    },
    ListCase {
        sources: &["tests/corpus/patterns.ini"],
        extra: &[],
        limit: Some("prod:!db"),
    },
    ListCase {
        sources: &["tests/corpus/patterns.ini"],
        extra: &[],
        limit: Some("db[0]:cache1"),
    },
    ListCase {
        sources: &["tests/corpus/patterns.ini"],
        extra: &[],
        limit: Some("@tests/corpus/limit-file.txt"),
    },
    ListCase {
        sources: &["tests/corpus/multigroup.ini"],
        extra: &[],
        limit: Some("monitoring"),
    },
    ListCase {
        sources: &["tests/corpus/nested.yml"],
        extra: &[],
        limit: Some("europe:!paris"),
    },
    ListCase {
        sources: &["inventories/web-db.ini"],
        extra: &["fleetup_channel=beta"],
        limit: Some("web[0]"),
    },
];

/// `--graph` comparisons: sources and the group to start from.
const GRAPH_CASES: &[(&[&str], &str)] = &[
    (&["tests/corpus/diamond.ini"], "all"),
    (&["tests/corpus/nested.yml"], "all"),
    (&["tests/corpus/nested.yml"], "europe"),
    (&["tests/corpus/multigroup.ini"], "all"),
    (&["tests/corpus/patterns.ini"], "all"),
    (&["tests/corpus/yaml-children.yml"], "all"),
    (&["tests/corpus/dir"], "all"),
    (
        &["tests/corpus/merge-a.ini", "tests/corpus/merge-b.yml"],
        "all",
    ),
    (&["inventories/web-db.ini"], "all"),
    (&["inventories/jump.yml"], "all"),
];

/// How a pattern's hosts are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Ansible's order is defined: compare the lists.
    Exact,
    /// Ansible's order is undefined (set iteration, see the module comment) or not the one
    /// fleetup keeps: compare the sets.
    Set,
}

/// How Ansible is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// `ansible -i INV 'PATTERN' --list-hosts`: the pattern as a play's `hosts:`.
    Pattern,
    /// `ansible -i INV all --limit 'PATTERN' --list-hosts`: Ansible accepts `@file` only there,
    /// and lists the result in inventory order, not in the pattern's.
    Limit,
}

struct PatternCase {
    inventory: &'static str,
    pattern: &'static str,
    order: Order,
    ask: Ask,
}

const fn pat(inventory: &'static str, pattern: &'static str, order: Order) -> PatternCase {
    PatternCase {
        inventory,
        pattern,
        order,
        ask: Ask::Pattern,
    }
}

const P: &str = "tests/corpus/patterns.ini";
const G: &str = "tests/corpus/glob-hosts.yml";
const M: &str = "tests/corpus/multigroup.ini";
const R: &str = "tests/corpus/ranges.ini";

const PATTERN_CASES: &[PatternCase] = &[
    pat(P, "web", Order::Exact),
    pat(P, "web:db", Order::Exact),
    pat(P, "db,web", Order::Exact),
    pat(P, "db, cache ,web", Order::Exact),
    pat(P, "web db", Order::Exact),
    pat(P, "web:&eu", Order::Exact),
    // Intersections and exclusions apply after every union, wherever they are written.
    pat(P, "&web:db", Order::Exact),
    pat(P, "!web1.example.com:web", Order::Exact),
    pat(P, "eu:us:&web:!web1.example.com", Order::Exact),
    // `prod` → eu, us → eu_web, eu_db, us_web: two groups at depth 1 with children, so the
    // depth-2 walk iterates a Python set: the order is undefined.
    pat(P, "prod:!db", Order::Set),
    // `all` here has the same shape (eu, us and prod all have children).
    pat(P, "all", Order::Set),
    pat(P, "!web", Order::Set),
    pat(P, "web*", Order::Exact),
    pat(P, "*web", Order::Exact),
    pat(P, "web?.example.com", Order::Exact),
    pat(P, "[bc]*", Order::Exact),
    pat(P, r"~web[0-9]+\.", Order::Exact),
    pat(P, "~(db|cache)", Order::Exact),
    pat(P, "~.*_web", Order::Exact),
    pat(P, "web[0]", Order::Exact),
    pat(P, "web[-1]", Order::Exact),
    pat(P, "web[-4]", Order::Exact),
    pat(P, "web[1:2]", Order::Exact),
    pat(P, "web[2:]", Order::Exact),
    pat(P, "web[1:0]", Order::Exact),
    pat(P, "web[1:99]", Order::Exact),
    pat(P, "db[0-1]", Order::Exact),
    pat(P, "web:db[0]", Order::Exact),
    pat(P, "eu[1:]", Order::Exact),
    // `web*` lists the group's hosts then the matching host names, and the subscript counts
    // the repeats: index 4 is web1 again.
    pat(P, "web*[4]", Order::Exact),
    pat(P, "web1.example.com,cache1,bastion", Order::Exact),
    pat(P, "ungrouped", Order::Exact),
    pat(P, "empty:cache", Order::Exact),
    PatternCase {
        inventory: P,
        pattern: "@tests/corpus/limit-file.txt",
        order: Order::Set,
        ask: Ask::Limit,
    },
    PatternCase {
        inventory: P,
        pattern: "eu_web:cache1",
        order: Order::Set,
        ask: Ask::Limit,
    },
    // A host named like a glob is that host when written exactly; a host named like a group
    // wins over the group, but not after `&`.
    pat(G, "app*", Order::Exact),
    pat(G, "app?", Order::Exact),
    pat(G, "node?", Order::Exact),
    pat(G, "&app*", Order::Exact),
    pat(G, "web", Order::Exact),
    pat(G, "all:&web", Order::Exact),
    pat(M, "ungrouped", Order::Exact),
    pat(M, "monitoring:&web", Order::Exact),
    pat(M, "monitoring:!shared:db", Order::Exact),
    // `a*` matches the group `all` (Ansible's docstring says it cannot).
    pat(M, "a*", Order::Exact),
    pat(R, "web[0:2]", Order::Exact),
    // Not a subscript (two colons): a glob with the set [1:9:2], matching node1 and node9.
    pat(R, "node[1:9:2]", Order::Exact),
    pat(R, "~edge(8|9)-a", Order::Exact),
    pat(R, "10.0.0.*", Order::Exact),
    pat(R, "rack1u0?", Order::Exact),
];

// ---------------------------------------------------------------------------------------
// Running things.

/// Applies `f` to every item, `WORKERS` at a time, keeping the order of the results.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// A private home for Ansible, shared by the processes of one test.
struct AnsibleEnv {
    home: tempfile::TempDir,
}

impl AnsibleEnv {
    fn new() -> Self {
        require_tool("ansible-inventory", "pip install ansible-core");
        require_tool("ansible", "pip install ansible-core");
        Self {
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.current_dir(repo())
            .env("HOME", self.home.path())
            .env("ANSIBLE_HOME", self.home.path().join(".ansible"))
            .env("ANSIBLE_LOCAL_TEMP", self.home.path().join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_LOCALHOST_WARNING", "0")
            .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
            .env("ANSIBLE_CONFIG", self.home.path().join("none.cfg"))
            .env_remove("ANSIBLE_INVENTORY");
        cmd
    }
}

fn with_sources(cmd: &mut Command, sources: &[&str]) {
    for s in sources {
        cmd.arg("-i").arg(s);
    }
}

/// `ansible-inventory --list` and `fleetup inventory --list` for one case.
fn run_list(env: &AnsibleEnv, c: &ListCase) -> (Output, Output) {
    let mut a = env.command("ansible-inventory");
    let mut f = fleetup();
    with_sources(&mut a, c.sources);
    with_sources(&mut f, c.sources);
    for e in c.extra {
        a.arg("-e").arg(e);
        f.arg("-e").arg(e);
    }
    if let Some(l) = c.limit {
        a.arg("--limit").arg(l);
        f.arg("-l").arg(l);
    }
    a.arg("--list");
    f.args(["inventory", "--list"]);
    (run(&mut a), run(&mut f))
}

fn case_name(sources: &[&str], extra: &[&str], limit: Option<&str>) -> String {
    let mut s = sources
        .iter()
        .map(|s| format!("-i {s}"))
        .collect::<Vec<_>>()
        .join(" ");
    for e in extra {
        s.push_str(&format!(" -e '{e}'"));
    }
    if let Some(l) = limit {
        s.push_str(&format!(" --limit '{l}'"));
    }
    s
}

/// The first place where two JSON values differ, as a path and both sides.
fn first_diff(path: &str, ansible: &Value, ours: &Value) -> Option<String> {
    match (ansible, ours) {
        (Value::Object(a), Value::Object(o)) => {
            let mut keys: Vec<&String> = a.keys().chain(o.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = format!("{path}.{k}");
                match (a.get(k), o.get(k)) {
                    (Some(x), Some(y)) => first_diff(&p, x, y),
                    (Some(x), None) => Some(format!("{p}: missing in fleetup (ansible: {x})")),
                    (None, Some(y)) => Some(format!("{p}: only in fleetup ({y})")),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(a), Value::Array(o)) => {
            let d = a
                .iter()
                .zip(o)
                .enumerate()
                .find_map(|(i, (x, y))| first_diff(&format!("{path}[{i}]"), x, y));
            d.or_else(|| {
                (a.len() != o.len()).then(|| {
                    format!("{path}: {} items in ansible, {} in fleetup\n  ansible: {ansible}\n  fleetup: {ours}", a.len(), o.len())
                })
            })
        }
        (a, o) if a == o => None,
        (a, o) => Some(format!("{path}: ansible {a}, fleetup {o}")),
    }
}

/// The first line where two outputs differ, as `line N: ansible "…" / fleetup "…"`.
fn first_line_diff(ansible: &[u8], ours: &[u8]) -> Option<String> {
    let (a, f) = (
        String::from_utf8_lossy(ansible),
        String::from_utf8_lossy(ours),
    );
    let mut a_lines = a.lines();
    let mut f_lines = f.lines();
    for n in 1.. {
        match (a_lines.next(), f_lines.next()) {
            (None, None) => return None,
            (x, y) if x == y => {}
            (x, y) => return Some(format!("line {n}: ansible {x:?} / fleetup {y:?}")),
        }
    }
    None
}

fn parse_json(what: &str, out: &Output) -> Result<Value, String> {
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{what} printed no JSON ({e}):\n{}", describe(out)))
}

fn report(failures: &[String], total: usize, what: &str) {
    assert!(
        failures.is_empty(),
        "{} of {total} {what} differ from Ansible:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// --list

#[test]
fn list_matches_ansible_inventory_for_every_corpus_inventory() {
    let env = AnsibleEnv::new();
    assert!(
        LIST_CASES.iter().filter(|c| c.limit.is_none()).count() >= 20,
        "the corpus shrank"
    );
    let outputs = parallel(LIST_CASES, |c| run_list(&env, c));
    let mut failures = Vec::new();
    for (c, (a, f)) in LIST_CASES.iter().zip(&outputs) {
        let name = case_name(c.sources, c.extra, c.limit);
        assert!(
            a.status.success(),
            "the corpus case `{name}` is broken for Ansible:\n{}",
            describe(a)
        );
        let result = parse_json("ansible-inventory", a).and_then(|av| {
            if !f.status.success() {
                return Err(format!("fleetup failed:\n{}", describe(f)));
            }
            let fv = parse_json("fleetup", f)?;
            if let Some(d) = first_diff("", &av, &fv) {
                return Err(format!("first difference at {d}"));
            }
            // Same data; the text must be the same too, so an operator's `diff` is empty.
            first_line_diff(&a.stdout, &f.stdout)
                .map_or(Ok(()), |d| Err(format!("same JSON, different text: {d}")))
        });
        if let Err(e) = result {
            failures.push(format!("[{name}] {e}"));
        }
    }
    report(&failures, LIST_CASES.len(), "--list outputs");
}

// ---------------------------------------------------------------------------------------
// --graph

fn run_graph(
    env: &AnsibleEnv,
    sources: &[&str],
    group: &str,
    limit: Option<&str>,
) -> (Output, Output) {
    let mut a = env.command("ansible-inventory");
    let mut f = fleetup();
    with_sources(&mut a, sources);
    with_sources(&mut f, sources);
    if let Some(l) = limit {
        a.arg("--limit").arg(l);
        f.arg("-l").arg(l);
    }
    a.args(["--graph", group]);
    f.args(["inventory", "--graph", group]);
    (run(&mut a), run(&mut f))
}

fn graph_failure(name: &str, expected: &str, f: &Output) -> Option<String> {
    let ours = String::from_utf8_lossy(&f.stdout);
    if f.status.success() && ours == expected {
        return None;
    }
    let line = expected.lines().zip(ours.lines()).position(|(a, b)| a != b);
    let line = line.unwrap_or(expected.lines().count().min(ours.lines().count()));
    Some(format!(
        "[{name}] first difference on line {}:\n--- ansible\n{expected}--- fleetup\n{ours}--- fleetup stderr\n{}",
        line + 1,
        String::from_utf8_lossy(&f.stderr)
    ))
}

#[test]
fn graph_matches_ansible_inventory_byte_for_byte() {
    let env = AnsibleEnv::new();
    let outputs = parallel(GRAPH_CASES, |(sources, group)| {
        run_graph(&env, sources, group, None)
    });
    let mut failures = Vec::new();
    for ((sources, group), (a, f)) in GRAPH_CASES.iter().zip(&outputs) {
        let name = format!("{} --graph {group}", case_name(sources, &[], None));
        assert!(
            a.status.success(),
            "`{name}` is broken for Ansible:\n{}",
            describe(a)
        );
        failures.extend(graph_failure(&name, &String::from_utf8_lossy(&a.stdout), f));
    }
    report(&failures, GRAPH_CASES.len(), "--graph outputs");
}

/// Ansible draws the whole tree whatever `--limit` says; fleetup draws only the selected
/// hosts (same groups, same order).
#[test]
fn graph_with_a_limit_is_ansibles_tree_without_the_other_hosts() {
    let env = AnsibleEnv::new();
    let (sources, limit) = (
        &["tests/corpus/patterns.ini"][..],
        "eu_web:cache1:!web2.example.com",
    );
    let (a, f) = run_graph(&env, sources, "all", Some(limit));
    let (hosts, _) = list_hosts(&env, P, limit, Ask::Limit);
    assert!(a.status.success(), "{}", describe(&a));
    let mut expected = String::new();
    for line in String::from_utf8_lossy(&a.stdout).lines() {
        let name = line.rsplit("--").next().unwrap_or(line);
        if name.starts_with('@') || hosts.iter().any(|h| h == name) {
            expected.push_str(line);
            expected.push('\n');
        }
    }
    let name = format!(
        "{} --limit '{limit}' --graph",
        case_name(sources, &[], None)
    );
    if let Some(failure) = graph_failure(&name, &expected, &f) {
        panic!("{failure}");
    }
}

// ---------------------------------------------------------------------------------------
// Patterns

/// Ansible's answer for a pattern: the hosts of `--list-hosts`, and the whole output.
fn list_hosts(env: &AnsibleEnv, inventory: &str, pattern: &str, ask: Ask) -> (Vec<String>, String) {
    let mut cmd = env.command("ansible");
    cmd.arg("-i").arg(inventory);
    match ask {
        Ask::Pattern => cmd.arg(pattern),
        Ask::Limit => cmd.arg("all").arg("--limit").arg(pattern),
    };
    let out = run(cmd.arg("--list-hosts"));
    let text = describe(&out);
    assert!(
        out.status.success(),
        "ansible failed for '{pattern}':\n{text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("hosts ("));
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("no `hosts (N):` for '{pattern}':\n{text}"));
    let n: usize = header
        .trim()
        .trim_start_matches("hosts (")
        .trim_end_matches("):")
        .parse()
        .unwrap_or_else(|e| panic!("bad header {header:?} ({e}):\n{text}"));
    let hosts: Vec<String> = lines
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        hosts.len(),
        n,
        "ansible printed {n} hosts but listed {hosts:?}:\n{text}"
    );
    (hosts, text)
}

/// What fleetup selects, through the library (the order `--limit` hosts are worked in).
fn fleetup_select(inventory: &str, pattern: &str) -> Result<Vec<String>, String> {
    let opts = fleetup::inventory::LoadOptions {
        sources: vec![repo_path(inventory)],
        extra_vars: Vec::new(),
    };
    let inv = fleetup::inventory::load(&opts).map_err(|e| format!("load: {e}"))?;
    // `@file` paths are relative to the working directory, as on the command line.
    let pattern = match pattern.strip_prefix('@') {
        Some(rel) => format!("@{}", repo().join(Path::new(rel)).display()),
        None => pattern.to_owned(),
    };
    fleetup::inventory::select(&inv, &pattern).map_err(|e| e.to_string())
}

#[test]
fn patterns_select_the_hosts_ansible_selects() {
    let env = AnsibleEnv::new();
    assert!(PATTERN_CASES.len() >= 25);
    let answers = parallel(PATTERN_CASES, |c| {
        list_hosts(&env, c.inventory, c.pattern, c.ask)
    });
    let mut failures = Vec::new();
    for (c, (expected, text)) in PATTERN_CASES.iter().zip(&answers) {
        let name = format!(
            "-i {} '{}' ({:?}, {:?})",
            c.inventory, c.pattern, c.order, c.ask
        );
        assert!(
            !expected.is_empty(),
            "[{name}] the case selects nothing in Ansible:\n{text}"
        );
        match fleetup_select(c.inventory, c.pattern) {
            Err(e) => failures.push(format!("[{name}] fleetup: {e}\n  ansible: {expected:?}")),
            Ok(ours) => {
                let same = match c.order {
                    Order::Exact => ours == *expected,
                    Order::Set => {
                        let (mut a, mut b) = (ours.clone(), expected.clone());
                        a.sort();
                        b.sort();
                        a == b
                    }
                };
                if !same {
                    failures.push(format!(
                        "[{name}]\n  ansible: {expected:?}\n  fleetup: {ours:?}"
                    ));
                }
            }
        }
    }
    report(&failures, PATTERN_CASES.len(), "pattern selections");
}

// ---------------------------------------------------------------------------------------
// Patterns that match nothing: Ansible warns and goes on; fleetup stops with exit 2.

#[test]
fn a_pattern_matching_nothing_exits_2_and_names_the_term() {
    let env = AnsibleEnv::new();
    let (hosts, text) = list_hosts(&env, P, "web:nosuchgroup", Ask::Pattern);
    assert!(
        text.contains("Could not match supplied host pattern, ignoring: nosuchgroup"),
        "{text}"
    );
    assert_eq!(hosts.len(), 4, "{text}");
    for (limit, term) in [
        ("web:nosuchgroup", "'nosuchgroup'"),
        ("web:!nosuch*", "'!nosuch*'"),
        ("~^zz", "'~^zz'"),
    ] {
        let out = run(fleetup().args(["-i", P, "-l", limit, "inventory", "--list"]));
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(term) && err.contains("matches no host or group"),
            "{}",
            describe(&out)
        );
        assert!(out.stdout.is_empty(), "{}", describe(&out));
    }
}

#[test]
fn a_mistyped_group_gets_the_nearest_names() {
    let out = run(fleetup().args(["-i", P, "-l", "wbe:db", "inventory", "--list"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'wbe'") && err.contains("'web' (group)"),
        "{}",
        describe(&out)
    );
}

#[test]
fn an_empty_selection_exits_2() {
    for limit in ["empty", "web:&db:!web1.example.com", "web[99]"] {
        let out = run(fleetup().args(["-i", P, "-l", limit, "inventory", "--list"]));
        assert_eq!(out.status.code(), Some(2), "{limit}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(limit),
            "{}",
            describe(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The inventories shown in the docs

/// Every INI and YAML inventory shown in README.md and docs/inventory.md reads the same in
/// fleetup and Ansible, so the examples an operator copies cannot rot.
#[test]
fn inventories_shown_in_the_docs_match_ansible_inventory() {
    let env = AnsibleEnv::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for doc in ["README.md", "docs/inventory.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).expect("doc");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let ext = match line.trim() {
                "```ini" => "ini",
                "```yaml" => "yml",
                _ => continue,
            };
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let path = dir
                .path()
                .join(format!("{}-{}.{ext}", doc.replace('/', "_"), files.len()));
            std::fs::write(&path, body.join("\n") + "\n").expect("write");
            files.push(path);
        }
    }
    assert!(
        files.len() >= 3,
        "the docs lost their inventory examples: {files:?}"
    );
    let outputs = parallel(&files, |path| {
        let a = run(env
            .command("ansible-inventory")
            .arg("-i")
            .arg(path)
            .arg("--list"));
        let f = run(fleetup().arg("-i").arg(path).args(["inventory", "--list"]));
        (a, f)
    });
    let mut failures = Vec::new();
    for (path, (a, f)) in files.iter().zip(&outputs) {
        let name = path.file_name().unwrap().to_string_lossy();
        let unparsed = String::from_utf8_lossy(&a.stderr).contains("Unable to parse");
        if !a.status.success() || unparsed {
            failures.push(format!("[{name}] Ansible cannot read it:\n{}", describe(a)));
        } else if let Some(d) = first_line_diff(&a.stdout, &f.stdout) {
            failures.push(format!("[{name}] {d}\n{}", describe(f)));
        }
    }
    report(&failures, files.len(), "inventories in the docs");
}
