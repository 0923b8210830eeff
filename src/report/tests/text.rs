use super::*;

#[test]
fn text_puts_failures_first_then_keeps_the_run_order() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    assert_eq!(
        table_hosts(&out),
        ["web03", "web09", "web12", "web01", "web20", "web02"],
        "{out}"
    );
    assert!(
        out.starts_with(
            "release  demoapp 1.1.0 (stable, signed by FCA91662B2E1BF44, index expires 2036-11-26T00:00:00Z)\n"
        ),
        "{out}"
    );
}

#[test]
fn text_columns_are_as_wide_as_their_data_and_lines_have_no_trailing_space() {
    let reports = vec![upgraded("a-rather-long-host-name"), upgraded("b")];
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "HOST                     FROM   TO     RESULT     TIME  DETAIL"
    );
    assert_eq!(
        lines[2],
        "a-rather-long-host-name  1.0.0  1.1.0  upgraded  9.1 s"
    );
    assert_eq!(
        lines[3],
        "b                        1.0.0  1.1.0  upgraded  9.1 s"
    );
    assert!(out.lines().all(|l| l == l.trim_end()), "{out}");
}

#[test]
fn text_counts_in_a_fixed_order_with_the_exit_code_then_stop_and_retry() {
    let reports = upgrade_run();
    let mut s = summary(Job::Upgrade, &reports);
    s.stopped = Some("2 of 6 hosts failed after batch 1".into());
    let out = render(OutputFormat::Text, false, &reports, &s);
    assert!(
        out.contains(
            "\n2 upgraded · 1 unchanged · 1 rolled back · 1 failed · 1 unreachable · 0 skipped   (exit 1)\n\
             stopped: 2 of 6 hosts failed after batch 1\n\
             retry the failures with: --limit @prod.yml.retry\n"
        ),
        "{out}"
    );
}

#[test]
fn text_shows_each_failure_in_full_step_command_and_every_line_of_stderr() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    let block = out
        .split("\n\n")
        .find(|b| b.starts_with("web12 "))
        .unwrap_or_else(|| panic!("no block for web12:\n{out}"));
    assert!(
        block.starts_with("web12 rolled_back — health: still failing after 2 attempt(s)\n"),
        "{block}"
    );
    assert!(
        block.contains("  command (exit 1):\n    sh -c 'curl -fsS http://localhost/'\n"),
        "{block}"
    );
    assert!(block.contains("  stderr (41 lines, in full):\n    health line 1\n"));
    for i in 1..=40 {
        assert!(block.contains(&format!("    health line {i}\n")), "{block}");
    }
    // The rollback that followed, said once (not the cause again).
    assert!(
        block
            .trim_end()
            .ends_with("\n  rolled back to 1.0.0 (/opt/app.fleetup-bak-1.0.0)"),
        "{block}"
    );
    assert_eq!(block.matches("health line 7\n").count(), 1, "{block}");
    // Blocks come in the table's order; the unreachable host has one too.
    let heads: Vec<&str> = out
        .split("\n\n")
        .skip(1)
        .map(|b| b.split(' ').next().unwrap())
        .collect();
    assert_eq!(heads, ["web03", "web09", "web12"], "{out}");
    assert!(out.contains("\n\nweb09 unreachable — connect: timeout after 10 s"));
    assert!(out.contains("\n\nweb03 failed — probe: fleetup_binary /opt/app is a directory\n  command (exit 0):\n    sh -c 'probe'\n  stderr: (empty)"));
}

#[test]
fn text_has_no_escape_codes_without_color_even_from_a_host_stderr() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(!out.contains('\0'), "{out}");
    assert!(
        out.contains("\\u{1b}[31mred\\u{1b}[0m nul\\u{0} bell\\u{7}"),
        "{out}"
    );
}

#[test]
fn text_colors_results_and_the_header_when_asked() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Text,
        true,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    assert!(out.contains("\u{1b}[1mHOST"), "{out}");
    assert!(out.contains("\u{1b}[31mfailed\u{1b}[0m"), "{out}");
    assert!(out.contains("\u{1b}[32mupgraded\u{1b}[0m"), "{out}");
    assert!(out.contains("\u{1b}[33mrolled_back\u{1b}[0m"), "{out}");
    assert!(
        out.contains("\u{1b}[32m2 upgraded\u{1b}[0m · "),
        "nonzero counts colored: {out}"
    );
    assert!(out.contains(" · 0 skipped "), "zero counts plain: {out}");
    // Colors do not shift the columns: the same text once the codes are taken out.
    let plain = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    let stripped = regex::Regex::new("\u{1b}\\[[0-9;]*m")
        .unwrap()
        .replace_all(&out, "");
    assert_eq!(stripped, plain);
}

#[test]
fn text_check_has_its_own_table_and_counts() {
    let mut up = HostReport::new("web01", "upgrade").with_detail("restart demoapp");
    up.from = Some("4.4.3".into());
    up.to = Some("4.4.10".into());
    let mut none = HostReport::new("web02", "none").with_detail("already at target");
    none.from = Some("4.4.10".into());
    none.to = Some("4.4.10".into());
    let blocked = HostReport::new("web03", "blocked").with_detail("41 MiB free, 96 MiB needed");
    let unreachable = HostReport::new("web04", "unreachable").with_failure(HostError {
        step: "connect".into(),
        message: "connect timeout after 10 s".into(),
        command: None,
        status: None,
        stderr: String::new(),
    });
    let reports = vec![up, none, blocked, unreachable];
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Check, &reports),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..6],
        [
            "HOST   CURRENT  TARGET  ACTION       WHY",
            "web04  —        —       unreachable  connect: connect timeout after 10 s",
            "web03  —        —       blocked      41 MiB free, 96 MiB needed",
            "web01  4.4.3    4.4.10  upgrade      restart demoapp",
            "web02  4.4.10   4.4.10  none         already at target",
        ],
        "{out}"
    );
    assert_eq!(
        lines[6],
        "4 hosts: 1 to upgrade, 1 up to date, 1 blocked, 1 unreachable — nothing was changed   (exit 1)"
    );
}

#[test]
fn text_rollback_counts_rolled_back_as_success() {
    let mut back = HostReport::new("web01", "rolled_back").with_detail("restored /opt/x.bak");
    back.to = Some("1.0.0".into());
    let reports = vec![back, failed("web02")];
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Rollback, &reports),
    );
    assert_eq!(table_hosts(&out), ["web02", "web01"], "{out}");
    assert!(
        out.contains("\n1 rolled back · 1 failed · 0 unreachable · 0 skipped   (exit 1)\n"),
        "{out}"
    );
    assert!(!out.contains("\n\nweb01"), "a success has no block: {out}");
}

#[test]
fn text_skipped_hosts_are_in_the_table_but_get_no_block() {
    let reports = vec![
        failed("web01"),
        HostReport::new("web02", "skipped")
            .with_detail("not started: the run stopped after batch 1/2"),
    ];
    let out = render(
        OutputFormat::Text,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    assert_eq!(table_hosts(&out), ["web01", "web02"], "{out}");
    assert!(out.contains("not started: the run stopped after batch 1/2"));
    assert!(!out.contains("\n\nweb02"), "{out}");
}
