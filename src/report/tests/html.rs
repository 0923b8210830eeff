use super::*;
use std::collections::BTreeSet;
use std::str::FromStr;

use crate::report::html::{
    Drift, GroupVersions, drifts, esc, group_versions, sort_versions, version_now,
};

/// A `check` report of a host on `version` (`None`: unreachable).
fn checked(host: &str, version: Option<&str>) -> HostReport {
    match version {
        Some(v) => {
            let action = if v == "1.1.0" { "none" } else { "upgrade" };
            let mut r = HostReport::new(host, action)
                .with_detail(format!("{v} -> 1.1.0: send 0.0 MiB to /opt/app"));
            r.from = Some(v.into());
            r.to = Some("1.1.0".into());
            r.channel = Some("stable".into());
            r
        }
        None => HostReport::new(host, "unreachable").with_failure(HostError {
            step: "connect".into(),
            message: "connect: connection refused".into(),
            command: None,
            status: None,
            stderr: String::new(),
        }),
    }
}

fn groups(spec: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    spec.iter()
        .map(|(g, hosts)| {
            (
                (*g).to_owned(),
                hosts.iter().map(|h| (*h).to_owned()).collect(),
            )
        })
        .collect()
}

/// web: two on 1.0.0, web03 on 0.9.0, web04 unreachable; db: one each of 1.0.0 and 1.1.0
/// (split); cache: one host; ungrouped: two hosts on different versions.
fn fleet() -> (Vec<HostReport>, Vec<(String, Vec<String>)>) {
    let reports = vec![
        checked("web01", Some("1.0.0")),
        checked("web02", Some("1.0.0")),
        checked("web03", Some("0.9.0")),
        checked("web04", None),
        checked("db01", Some("1.0.0")),
        checked("db02", Some("1.1.0")),
        checked("cache01", Some("1.1.0")),
        checked("lone1", Some("1.1.0")),
        checked("lone2", Some("0.9.0")),
    ];
    let groups = groups(&[
        ("ungrouped", &["lone1", "lone2"]),
        ("web", &["web01", "web02", "web03", "web04"]),
        ("db", &["db01", "db02"]),
        ("cache", &["cache01"]),
    ]);
    (reports, groups)
}

fn counts(g: &GroupVersions) -> Vec<(&str, usize)> {
    g.counts.iter().map(|(v, n)| (v.as_str(), *n)).collect()
}

#[test]
fn matrix_counts_hosts_per_group_and_version_with_a_total_row() {
    let (reports, groups) = fleet();
    let v = group_versions(Job::Check, &reports, &groups);
    let names: Vec<&str> = v.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["ungrouped", "web", "db", "cache", "all"]);
    let web = &v[1];
    assert_eq!(counts(web), [("0.9.0", 1), ("1.0.0", 2), ("unknown", 1)]);
    assert_eq!(web.majority.as_deref(), Some("1.0.0"));
    assert!(!web.split());
    let db = &v[2];
    assert_eq!(counts(db), [("1.0.0", 1), ("1.1.0", 1)]);
    assert_eq!(db.majority, None, "a tie has no majority");
    assert!(db.split());
    assert_eq!(v[3].majority.as_deref(), Some("1.1.0"));
    let all = &v[4];
    assert_eq!(
        counts(all),
        [("0.9.0", 2), ("1.0.0", 3), ("1.1.0", 3), ("unknown", 1)]
    );
    assert_eq!(all.counts.values().sum::<usize>(), reports.len());
    assert!(
        !all.judged && !v[0].judged,
        "all and ungrouped are not judged"
    );
    assert!(!v[0].split(), "ungrouped is not called split");
}

#[test]
fn drift_is_a_host_off_its_groups_majority_and_a_split_or_unknown_is_not() {
    let (reports, groups) = fleet();
    let v = group_versions(Job::Check, &reports, &groups);
    assert_eq!(
        drifts(Job::Check, &reports, &groups, &v),
        [Drift {
            host: "web03".into(),
            group: "web".into(),
            version: "0.9.0".into(),
            majority: "1.0.0".into(),
        }],
        "not web04 (unknown), not db (split), not lone2 (ungrouped), not all"
    );

    // One host in two groups drifts in each group where it is off the majority.
    let mut groups = groups;
    groups.push((
        "east".into(),
        vec![
            "web03".into(),
            "db01".into(),
            "cache01".into(),
            "db02".into(),
        ],
    ));
    let v = group_versions(Job::Check, &reports, &groups);
    let found: Vec<(String, String)> = drifts(Job::Check, &reports, &groups, &v)
        .into_iter()
        .map(|d| (d.host, d.group))
        .collect();
    assert_eq!(
        found,
        [
            ("web03".to_owned(), "web".to_owned()),
            ("web03".to_owned(), "east".to_owned()),
            ("db01".to_owned(), "east".to_owned()),
        ]
    );
}

#[test]
fn the_version_a_host_runs_after_each_job() {
    let mut up = upgraded("a");
    assert_eq!(version_now(Job::Upgrade, &up), Some("1.1.0"));
    up.result = "unchanged";
    assert_eq!(version_now(Job::Upgrade, &up), Some("1.0.0"));
    assert_eq!(
        version_now(Job::Upgrade, &rolled_back("b")),
        Some("1.0.0"),
        "rolled back to what it ran"
    );
    let mut lock = failed("c");
    lock.from = Some("1.0.0".into());
    assert_eq!(version_now(Job::Upgrade, &lock), Some("1.0.0"), "probe");
    lock.failure.as_mut().unwrap().step = "swap".into();
    assert_eq!(
        version_now(Job::Upgrade, &lock),
        None,
        "after the swap: unknown"
    );
    let mut back = HostReport::new("d", "rolled_back");
    back.to = Some("0.9.0".into());
    assert_eq!(version_now(Job::Rollback, &back), Some("0.9.0"));
    back.result = "failed";
    assert_eq!(version_now(Job::Rollback, &back), None);
    let mut unknown = checked("e", Some("unknown"));
    assert_eq!(version_now(Job::Check, &unknown), None);
    unknown.from = None;
    assert_eq!(version_now(Job::Check, &unknown), None);
}

#[test]
fn versions_are_sorted_newest_first_by_semver() {
    let mut v: Vec<String> = [
        "unknown",
        "1.9.0",
        "weird",
        "1.10.0",
        "2.0.0-rc.1",
        "v2.0.0",
        "0.1.0",
        "abc",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    sort_versions(&mut v);
    assert_eq!(
        v,
        [
            "v2.0.0",
            "2.0.0-rc.1",
            "1.10.0",
            "1.9.0",
            "0.1.0",
            "abc",
            "weird",
            "unknown"
        ]
    );
}

#[test]
fn html_escaping_of_hostile_text() {
    assert_eq!(
        esc("<script>alert('x')</script> & \"q\" \u{1b}[31m nul\0 é"),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; \\u{1b}[31m nul\\u{0} é"
    );
}

fn render_check() -> String {
    let (mut reports, groups) = fleet();
    // What a host or a server says lands in the page as text, never as markup.
    reports[3].failure.as_mut().unwrap().message =
        "connect: <script>alert('pwned')</script> refused".into();
    reports[3].detail = Some("connect: <script>alert('pwned')</script> refused".into());
    reports[0].detail = Some("1.0.0 -> 1.1.0: <img src=x onerror=alert(1)>".into());
    let mut s = summary(Job::Check, &reports);
    s.retry_file = None;
    s.releases = vec![release()];
    let audit = Audit {
        groups,
        taken: "2026-01-02T03:04:05Z".into(),
        controller: "ctl<1>".into(),
    };
    let mut out = Vec::new();
    write_final(
        &mut out,
        RenderOptions {
            output: OutputFormat::Html,
            color: false,
        },
        &reports,
        &s,
        &audit,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn html_page_has_the_matrix_the_drift_and_the_problems() {
    let page = render_check();
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    assert!(page.trim_end().ends_with("</html>"));
    assert!(
        page.contains("<title>fleetup check — 2026-01-02T03:04:05Z on ctl&lt;1&gt;</title>"),
        "{page}"
    );
    assert!(page.contains(r#"<time id="taken" datetime="2026-01-02T03:04:05Z">"#));
    // Matrix cells, the majority and the drifted version.
    for (group, version, n, class) in [
        ("web", "1.0.0", 2, "count majority"),
        ("web", "0.9.0", 1, "count drift"),
        ("web", "unknown", 1, "count"),
        ("web", "1.1.0", 0, "count zero"),
        ("db", "1.1.0", 1, "count"),
        ("all", "1.1.0", 3, "count"),
    ] {
        let cell = format!(
            r#"<td class="{class}" data-group="{group}" data-version="{version}" data-count="{n}">{n}</td>"#
        );
        assert!(page.contains(&cell), "no {cell} in\n{page}");
    }
    assert!(page.contains(r#"<tr data-group="db" class="split">"#));
    // Columns newest first, unknown last.
    let header = page
        .lines()
        .find(|l| l.starts_with(r#"<thead><tr><th scope="col">group</th>"#))
        .unwrap();
    let order: Vec<usize> = ["1.1.0", "1.0.0", "0.9.0", "unknown"]
        .iter()
        .map(|v| header.find(&format!(r#"data-version="{v}""#)).unwrap())
        .collect();
    assert!(order.is_sorted(), "{header}");
    // The drifted host, highlighted in the drift list and in the per-host table, and only it.
    assert!(page.contains(r#"<td class="host drift" data-host="web03">web03<span class="badge drift">drift</span></td>"#));
    assert_eq!(page.matches(r#"<td class="host drift""#).count(), 2);
    assert!(page.contains(r#"<li class="warn" data-count-of="drift" data-count="1">"#));
    assert!(page.contains(r#"<li class="" data-count-of="hosts" data-count="9">"#));
    assert!(page.contains(r#"<li class="bad" data-count-of="unreachable" data-count="1">"#));
    assert!(page.contains(r#"<li class="ok" data-count-of="upgrade" data-count="5">"#));
    // The unreachable host with its message, escaped.
    assert!(
        page.contains(r#"<tr class="problem bad" data-host="web04" data-result="unreachable">"#)
    );
    assert!(page.contains("connect: &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; refused"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // Nothing executable, nothing fetched: every `<` the hosts sent is escaped, so each `<` of
    // the page opens one of the writer's own tags, and none of them loads or runs anything.
    let tags: Vec<&str> = page
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap())
        .collect();
    let names: BTreeSet<&str> = tags
        .iter()
        .map(|t| t.split([' ', '\n']).next().unwrap().trim_start_matches('/'))
        .collect();
    let allowed = [
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p",
        "time", "span", "section", "ul", "li", "strong", "table", "thead", "tbody", "tfoot", "tr",
        "th", "td", "code", "pre",
    ];
    assert!(
        names.iter().all(|n| allowed.contains(n)),
        "unexpected tags: {names:?}"
    );
    for t in &tags {
        for attr in [" src=", " href=", " on", " style="] {
            assert!(!t.to_lowercase().contains(attr), "{attr} in <{t}>");
        }
    }
    let lower = page.to_lowercase();
    for bad in ["url(", "@import", "http://", "https://"] {
        assert!(!lower.contains(bad), "{bad} in\n{page}");
    }
    assert!(page.contains("Content-Security-Policy"));
    assert!(page.contains("demoapp 1.1.0</strong> — channel stable"));
}

#[test]
fn html_page_without_groups_has_only_the_total_row() {
    let reports = upgrade_run();
    let s = summary(Job::Upgrade, &reports);
    let page = render(OutputFormat::Html, false, &reports, &s);
    assert_eq!(page.matches("<tr data-group=").count(), 1, "{page}");
    assert!(page.contains(r#"<tr data-group="all">"#));
    assert!(page.contains(r#"id="no-drift""#));
    assert!(page.contains(r#"<th scope="col">time</th>"#));
    assert!(page.contains(
        r#"<p id="retry">retry the failures with: <code>--limit @prod.yml.retry</code></p>"#
    ));
    // web12 rolled back with 40+ lines of stderr: all of it is on the page, escaped.
    assert!(page.contains("health line 40"));
    assert!(page.contains("last: &lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;"));
}

#[test]
fn audit_takes_the_inventory_groups_that_hold_reported_hosts_in_order() {
    use crate::inventory::{Inventory, testutil::here};
    let mut inv = Inventory::new();
    inv.add_host("lone", None);
    inv.add_host("web1", Some("web"));
    inv.add_host("web2", Some("web"));
    inv.add_host("db1", Some("db"));
    inv.add_host("idle1", Some("idle"));
    inv.add_child("prod", "web", &here()).unwrap();
    inv.add_child("prod", "db", &here()).unwrap();
    inv.reconcile();
    // `--limit` left web2 out.
    let reports: Vec<HostReport> = ["lone", "web1", "db1"]
        .iter()
        .map(|h| checked(h, Some("1.0.0")))
        .collect();
    let audit = Audit::new(&inv, &reports, "ctl".into());
    assert_eq!(
        audit.groups,
        groups(&[
            ("ungrouped", &["lone"]),
            ("web", &["web1"]),
            ("db", &["db1"]),
            ("prod", &["web1", "db1"]),
        ]),
        "not all, not idle (no reported host), prod with its children's hosts"
    );
    assert_eq!(audit.controller, "ctl");
    assert!(
        jiff::Timestamp::from_str(&audit.taken).is_ok() && audit.taken.ends_with('Z'),
        "{}",
        audit.taken
    );
    assert!(!audit.taken.contains('.'), "to the second: {}", audit.taken);
}
