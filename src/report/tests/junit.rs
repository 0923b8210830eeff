use super::*;
use crate::report::junit::{attr, text};

#[test]
fn xml_escaping_of_nasty_text() {
    let nasty =
        "a & b < c > d \"q\" 'a' ]]> \u{1b}[31m nul\0 \u{7} \u{fffe} tab\tcr\r\nlone\rend é 🚀";
    assert_eq!(
        text(nasty),
        "a &amp; b &lt; c &gt; d &quot;q&quot; &apos;a&apos; ]]&gt; \\u{1b}[31m nul\\u{0} \\u{7} \\u{fffe} tab\tcr\nlone\\u{d}end é 🚀"
    );
    assert_eq!(
        attr("line 1\nline\t2 <&>"),
        "line 1&#10;line&#9;2 &lt;&amp;&gt;"
    );
    // Round trip through a real parser: well-formed, and the reader gets the visible text.
    let doc = format!(
        "<r a=\"{}\">{}</r>",
        attr(&format!("{nasty}\nsecond")),
        text(nasty)
    );
    let parsed = roxmltree::Document::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let root = parsed.root_element();
    assert_eq!(root.text(), Some(visible(nasty).as_str()));
    assert_eq!(
        root.attribute("a"),
        Some(visible(&format!("{nasty}\nsecond")).as_str())
    );
}

#[test]
fn junit_one_testcase_per_host_with_failures_and_skips() {
    let mut reports = upgrade_run();
    reports.push(
        HostReport::new("web30", "skipped").with_detail("not started: the run stopped after 1/2"),
    );
    let mut s = summary(Job::Upgrade, &reports);
    s.stopped = Some("too many failures".into());
    let out = render(OutputFormat::Junit, false, &reports, &s);
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("fleetup upgrade"));
    assert_eq!(suite.attribute("tests"), Some("7"));
    assert_eq!(suite.attribute("failures"), Some("3"));
    assert_eq!(suite.attribute("skipped"), Some("1"));
    assert_eq!(suite.attribute("time"), Some("42.000"));
    let cases: Vec<roxmltree::Node> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "web01", "web12", "web20", "web03", "web02", "web09", "web30"
        ]
    );
    assert!(
        cases
            .iter()
            .all(|c| c.attribute("classname") == Some("fleetup.upgrade"))
    );
    let case = |name: &str| {
        *cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap()
    };
    assert_eq!(case("web12").attribute("time"), Some("41.250"));
    let failure = case("web12")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("type"), Some("rolled_back"));
    assert_eq!(
        failure.attribute("message"),
        Some("health: still failing after 2 attempt(s)")
    );
    let body = failure.text().unwrap();
    assert!(body.starts_with("web12 rolled_back — health: "), "{body}");
    for i in 1..=40 {
        assert!(body.contains(&format!("    health line {i}\n")), "{body}");
    }
    assert!(
        body.contains("last: <b>&\"'</b> ]]> \\u{1b}[31mred"),
        "{body}"
    );
    assert!(body.contains("rolled back to 1.0.0"), "{body}");
    for name in ["web03", "web09"] {
        assert!(
            case(name).children().any(|n| n.has_tag_name("failure")),
            "{name}"
        );
    }
    for name in ["web01", "web20", "web02"] {
        assert_eq!(case(name).children().filter(|n| n.is_element()).count(), 0);
    }
    let skipped = case("web30")
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .unwrap();
    assert_eq!(
        skipped.attribute("message"),
        Some("not started: the run stopped after 1/2")
    );
    let props: Vec<(&str, &str)> = suite
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
        .collect();
    assert!(props.contains(&("exit_code", "1")), "{props:?}");
    assert!(
        props.contains(&("stopped", "too many failures")),
        "{props:?}"
    );
    assert!(
        props.contains(&("retry_file", "prod.yml.retry")),
        "{props:?}"
    );
    assert!(
        props
            .iter()
            .any(|(n, v)| *n == "release" && v.starts_with("demoapp 1.1.0 (stable")),
        "{props:?}"
    );
}

#[test]
fn junit_check_fails_blocked_refused_and_unreachable_hosts() {
    let reports = vec![
        HostReport::new("a", "upgrade").with_detail("restart demoapp"),
        HostReport::new("b", "none"),
        HostReport::new("c", "blocked").with_detail("no space"),
        HostReport::new("d", "refuse").with_detail("would downgrade"),
        HostReport::new("e", "unreachable").with_detail("timeout"),
    ];
    let out = render(
        OutputFormat::Junit,
        false,
        &reports,
        &summary(Job::Check, &reports),
    );
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    let failed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.parent().unwrap().attribute("name").unwrap())
        .collect();
    assert_eq!(failed, ["c", "d", "e"]);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("fleetup check"));
    assert_eq!(suite.attribute("failures"), Some("3"));
    let out_a = doc
        .descendants()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap();
    assert_eq!(out_a.text(), Some("restart demoapp"));
    assert!(out.contains("classname=\"fleetup.check\""));
}

#[test]
fn junit_of_nasty_host_output_is_well_formed() {
    let mut r = HostReport::new("web<&>\"'", "failed").with_failure(HostError {
        step: "stage".into(),
        message: "bad ]]> \u{1b}[1m\0".into(),
        command: Some("printf '\\0' <x >y".into()),
        status: None,
        stderr: "\0\u{1}\u{1b}[2J]]><![CDATA[ x ]]>\r\n&amp;\n".into(),
    });
    r.seconds = f64::from(3u8) / 7.0;
    let reports = vec![r];
    let out = render(
        OutputFormat::Junit,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(case.attribute("name"), Some("web<&>\"'"));
    assert_eq!(case.attribute("time"), Some("0.429"));
    let body = case.first_element_child().unwrap().text().unwrap();
    assert!(
        body.contains("\\u{0}\\u{1}\\u{1b}[2J]]><![CDATA[ x ]]>\n    &amp;"),
        "{body}"
    );
}
