//! Property tests of pattern selection: random inventories (hosts `h0…`, groups `g0…` with
//! random membership and child groups) and random patterns over their names, evaluated both
//! by [`select`] and by a reference model written here from the rules in the module docs;
//! plus the algebra every selection obeys (union, intersection, difference, term order,
//! `all`, `!`, `@file`), checked on `select` alone.

use std::collections::HashSet;

use proptest::prelude::*;

use super::select;
use crate::inventory::testutil::here;
use crate::inventory::{ALL, Inventory, UNGROUPED};

/// A random inventory: which groups each host is directly in, and each group's children
/// (only groups with a higher index, so there is no cycle).
#[derive(Debug, Clone)]
struct Fleet {
    membership: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

fn fleet() -> impl Strategy<Value = Fleet> {
    (1usize..9, 1usize..6).prop_flat_map(|(hosts, groups)| {
        let membership = prop::collection::vec(
            prop::sample::subsequence((0..groups).collect::<Vec<_>>(), 0..=groups.min(3)),
            hosts,
        );
        let children = (0..groups)
            .map(|g| {
                prop::sample::subsequence(
                    ((g + 1)..groups).collect::<Vec<_>>(),
                    0..=(groups - g - 1).min(2),
                )
            })
            .collect::<Vec<_>>();
        (membership, children).prop_map(|(membership, children)| Fleet {
            membership,
            children,
        })
    })
}

impl Fleet {
    fn host(i: usize) -> String {
        format!("h{i}")
    }

    fn group(i: usize) -> String {
        format!("g{i}")
    }

    fn inventory(&self) -> Inventory {
        let mut inv = Inventory::new();
        for g in 0..self.children.len() {
            inv.add_group(&Self::group(g));
        }
        for (g, kids) in self.children.iter().enumerate() {
            for k in kids {
                inv.add_child(&Self::group(g), &Self::group(*k), &here())
                    .unwrap();
            }
        }
        for (h, groups) in self.membership.iter().enumerate() {
            inv.add_host(&Self::host(h), None);
            for g in groups {
                inv.add_host(&Self::host(h), Some(&Self::group(*g)));
            }
        }
        inv.reconcile();
        inv
    }

    /// The model's groups in the inventory's order: `all`, `ungrouped`, then `g0…`.
    fn group_names(&self) -> Vec<String> {
        let mut names = vec![ALL.to_owned(), UNGROUPED.to_owned()];
        names.extend((0..self.children.len()).map(Self::group));
        names
    }

    /// A group's direct children: `all` has `ungrouped` then every group without a parent.
    fn kids(&self, group: &str) -> Vec<String> {
        if group == ALL {
            let mut kids = vec![UNGROUPED.to_owned()];
            kids.extend(
                (0..self.children.len())
                    .filter(|g| !self.children.iter().any(|c| c.contains(g)))
                    .map(Self::group),
            );
            return kids;
        }
        match group
            .strip_prefix('g')
            .and_then(|i| i.parse::<usize>().ok())
        {
            Some(i) => self.children[i].iter().map(|k| Self::group(*k)).collect(),
            None => Vec::new(),
        }
    }

    /// Hosts put directly in a group, in host order.
    fn own_hosts(&self, group: &str) -> Vec<String> {
        (0..self.membership.len())
            .filter(|h| match group {
                ALL => false,
                UNGROUPED => self.membership[*h].is_empty(),
                g => self.membership[*h].iter().any(|m| Self::group(*m) == g),
            })
            .map(Self::host)
            .collect()
    }

    /// A group's hosts: its own, then its descendants' level by level, without repeats.
    fn members(&self, group: &str) -> Vec<String> {
        let (mut out, mut seen) = (Vec::new(), HashSet::new());
        let mut level = vec![group.to_owned()];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                if !seen.insert(g.clone()) {
                    continue;
                }
                for h in self.own_hosts(&g) {
                    if !out.contains(&h) {
                        out.push(h);
                    }
                }
                next.extend(self.kids(&g));
            }
            level = next;
        }
        out
    }
}

/// A subscript as written after a group name.
#[derive(Debug, Clone, Copy)]
enum Sub {
    Index(i64),
    Range(i64, Option<i64>),
    OldRange(i64, i64),
}

/// The name part of a term.
#[derive(Debug, Clone)]
enum Name {
    Host(usize),
    Group(usize, Option<Sub>),
    All(Option<Sub>),
    Ungrouped,
    /// `*`, `g*`, `h*`, `g<i>*`, `h<i>*`.
    Glob(&'static str, Option<usize>),
}

#[derive(Debug, Clone)]
struct Term {
    op: &'static str,
    name: Name,
}

fn sub() -> impl Strategy<Value = Option<Sub>> {
    prop_oneof![
        2 => Just(None),
        1 => (-4i64..6).prop_map(|i| Some(Sub::Index(i))),
        1 => (0i64..5, prop::option::of(0i64..5)).prop_map(|(i, j)| Some(Sub::Range(i, j))),
        1 => (0i64..5, 0i64..5).prop_map(|(i, j)| Some(Sub::OldRange(i, j))),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    prop_oneof![
        3 => (0usize..9).prop_map(Name::Host),
        3 => (0usize..6, sub()).prop_map(|(g, s)| Name::Group(g, s)),
        1 => sub().prop_map(Name::All),
        1 => Just(Name::Ungrouped),
        1 => (prop::sample::select(vec!["", "g", "h"]), prop::option::of(0usize..9))
            .prop_map(|(p, i)| Name::Glob(p, if p.is_empty() { None } else { i })),
    ]
}

/// A term without a set operator: what `a` and `b` are in the algebra properties.
fn plain_term() -> impl Strategy<Value = Term> {
    name().prop_map(|name| Term { op: "", name })
}

fn term() -> impl Strategy<Value = Term> {
    (prop::sample::select(vec!["", "", "&", "!"]), name()).prop_map(|(op, name)| Term { op, name })
}

impl Term {
    /// The term as written, with indices taken modulo the fleet's sizes so that every name
    /// exists.
    fn text(&self, fleet: &Fleet) -> String {
        let (hosts, groups) = (fleet.membership.len(), fleet.children.len());
        let sub = |s: &Option<Sub>| match s {
            None => String::new(),
            Some(Sub::Index(i)) => format!("[{i}]"),
            Some(Sub::Range(i, Some(j))) => format!("[{i}:{j}]"),
            Some(Sub::Range(i, None)) => format!("[{i}:]"),
            Some(Sub::OldRange(i, j)) => format!("[{i}-{j}]"),
        };
        let name = match &self.name {
            Name::Host(h) => Fleet::host(h % hosts),
            Name::Group(g, s) => format!("{}{}", Fleet::group(g % groups), sub(s)),
            Name::All(s) => format!("{ALL}{}", sub(s)),
            Name::Ungrouped => UNGROUPED.to_owned(),
            Name::Glob(p, None) => format!("{p}*"),
            Name::Glob(p, Some(i)) => {
                let n = if *p == "g" { i % groups } else { i % hosts };
                format!("{p}{n}*")
            }
        };
        format!("{}{name}", self.op)
    }
}

/// The model's subscript: `None` for an index out of range.
fn apply(hosts: Vec<String>, s: Option<Sub>) -> Option<Vec<String>> {
    let Some(s) = s else { return Some(hosts) };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let n = hosts.len() as i64;
    let index = |i: i64| {
        let i = if i < 0 { i + n } else { i };
        (0..n).contains(&i).then(|| vec![hosts[i as usize].clone()])
    };
    let slice = |i: i64, j: Option<i64>| {
        let end = (j.unwrap_or(n - 1) + 1).min(n);
        let start = i.min(n);
        Some(if start < end {
            hosts[start as usize..end as usize].to_vec()
        } else {
            Vec::new()
        })
    };
    match s {
        Sub::Index(i) | Sub::Range(i, Some(0)) | Sub::OldRange(i, 0) => index(i),
        Sub::Range(i, j) => slice(i, j),
        Sub::OldRange(i, j) => slice(i, Some(j)),
    }
}

/// The model's hosts for one term's name (duplicates kept, as before a subscript); `None`
/// when a subscript is out of range.
fn model_term(fleet: &Fleet, term: &Term) -> Option<Vec<String>> {
    let (hosts, groups) = (fleet.membership.len(), fleet.children.len());
    match &term.name {
        Name::Host(h) => Some(vec![Fleet::host(h % hosts)]),
        Name::Group(g, s) => apply(fleet.members(&Fleet::group(g % groups)), *s),
        Name::All(s) => apply(fleet.members(ALL), *s),
        Name::Ungrouped => Some(fleet.members(UNGROUPED)),
        Name::Glob(..) => {
            // A glob matches group names, every match bringing its hosts, then host names.
            let text = term.text(fleet);
            let prefix = text.trim_start_matches(['&', '!']).trim_end_matches('*');
            let mut out: Vec<String> = fleet
                .group_names()
                .iter()
                .filter(|g| g.starts_with(prefix))
                .flat_map(|g| fleet.members(g))
                .collect();
            out.extend(
                (0..hosts)
                    .map(Fleet::host)
                    .filter(|h| h.starts_with(prefix)),
            );
            Some(out)
        }
    }
}

/// The model of `select`: plain terms unite (first occurrence kept; `all` when there is
/// none), then `&` terms intersect and `!` terms subtract, whatever order they were written
/// in. `None` where `select` must fail.
fn model(fleet: &Fleet, terms: &[Term]) -> Option<Vec<String>> {
    let mut hosts: Vec<String> = Vec::new();
    let plain: Vec<&Term> = terms.iter().filter(|t| t.op.is_empty()).collect();
    if plain.is_empty() {
        hosts = fleet.members(ALL);
    }
    for t in plain {
        for h in model_term(fleet, t)? {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    for t in terms.iter().filter(|t| t.op == "&") {
        let keep: HashSet<String> = model_term(fleet, t)?.into_iter().collect();
        hosts.retain(|h| keep.contains(h));
    }
    for t in terms.iter().filter(|t| t.op == "!") {
        let drop: HashSet<String> = model_term(fleet, t)?.into_iter().collect();
        hosts.retain(|h| !drop.contains(h));
    }
    (!hosts.is_empty()).then_some(hosts)
}

fn pattern(fleet: &Fleet, terms: &[Term], sep: &str) -> String {
    terms
        .iter()
        .map(|t| t.text(fleet))
        .collect::<Vec<_>>()
        .join(sep)
}

fn set(hosts: &[String]) -> HashSet<&String> {
    hosts.iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn select_agrees_with_the_model(
        fleet in fleet(),
        terms in prop::collection::vec(term(), 1..5),
        sep in prop::sample::select(vec![":", ",", ", "]),
    ) {
        let p = pattern(&fleet, &terms, sep);
        let got = select(&fleet.inventory(), &p).ok();
        prop_assert_eq!(got, model(&fleet, &terms), "pattern {}", p);
    }

    #[test]
    fn set_algebra(fleet in fleet(), a in plain_term(), b in plain_term()) {
        let inv = fleet.inventory();
        let (a, b) = (a.text(&fleet), b.text(&fleet));
        let sel = |p: &str| select(&inv, p).ok();
        let everyone = sel(ALL).expect("every fleet has a host");
        let (Some(sa), sb) = (sel(&a), sel(&b)) else {
            return Ok(());
        };
        // `all` holds every selection.
        prop_assert!(set(&sa).is_subset(&set(&everyone)));
        // `!b` alone is everything but `b`; `a:!b` is `a` without `b`.
        if let Some(sb) = &sb {
            let not_b: Vec<String> = everyone.iter().filter(|h| !sb.contains(h)).cloned().collect();
            prop_assert_eq!(sel(&format!("!{b}")), (!not_b.is_empty()).then_some(not_b));
        }
        let Some(sb) = sb else { return Ok(()) };
        // Union: `a`'s hosts, then `b`'s new ones.
        let mut union = sa.clone();
        union.extend(sb.iter().filter(|h| !sa.contains(h)).cloned());
        prop_assert_eq!(sel(&format!("{a}:{b}")), Some(union.clone()));
        prop_assert_eq!(sel(&format!("{a},{b}")), Some(union));
        // Union is commutative as a set.
        let ba = sel(&format!("{b}:{a}")).expect("non-empty");
        let ab = sel(&format!("{a}:{b}")).expect("non-empty");
        prop_assert_eq!(set(&ab), set(&ba));
        // Intersection and difference keep `a`'s order, and `&`/`!` terms may come first.
        let inter: Vec<String> = sa.iter().filter(|h| sb.contains(h)).cloned().collect();
        let diff: Vec<String> = sa.iter().filter(|h| !sb.contains(h)).cloned().collect();
        let inter = (!inter.is_empty()).then_some(inter);
        let diff = (!diff.is_empty()).then_some(diff);
        for p in [format!("{a}:&{b}"), format!("&{b}:{a}"), format!("&{b},{a}")] {
            prop_assert_eq!(&sel(&p), &inter, "pattern {}", p);
        }
        for p in [format!("{a}:!{b}"), format!("!{b}:{a}"), format!("!{b}, {a}")] {
            prop_assert_eq!(&sel(&p), &diff, "pattern {}", p);
        }
    }

    #[test]
    fn a_limit_file_is_its_lines_as_terms(
        fleet in fleet(),
        terms in prop::collection::vec(term(), 1..5),
    ) {
        let inv = fleet.inventory();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("limit");
        let lines: Vec<String> = terms.iter().map(|t| format!("  {}\n", t.text(&fleet))).collect();
        std::fs::write(&file, lines.concat()).unwrap();
        let from_file = select(&inv, &format!("@{}", file.display())).ok();
        prop_assert_eq!(from_file, select(&inv, &pattern(&fleet, &terms, ",")).ok());
    }
}
