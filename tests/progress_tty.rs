//! What fleetup shows on a real terminal: the quick start's local fleet upgraded inside a tmux
//! pane (a real pseudo-terminal, with a screen to read back), through `script` (which keeps
//! every byte written, escape codes included). Live bars by default, plain lines with
//! `--no-progress`, and the whole-inventory question asked and answered on that terminal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fleet::install;
use crate::support::{repo_path, require_tool};

const INVENTORY: &str = "examples/quickstart/inventory.yml";
const HOSTS: [&str; 3] = ["web1", "web2", "db1"];
/// Each host's health check takes a second: long enough to see its line mid-run.
const SLOW_HEALTH: &str = r#"{"fleetup_health_command": "sleep 1"}"#;
const WAIT: Duration = Duration::from_secs(120);

fn demoapp(version: &str) -> String {
    std::fs::read_to_string(repo_path("examples/quickstart/demoapp.in"))
        .unwrap()
        .replace("@VERSION@", version)
}

/// The quick start's three local hosts in a scratch directory, at 1.0.0.
struct QuickStart {
    dir: tempfile::TempDir,
}

impl QuickStart {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(repo_path("examples"), dir.path().join("examples")).unwrap();
        let qs = Self { dir };
        for h in HOSTS {
            install(&qs.bin(h), "1.0.0");
        }
        qs
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn bin(&self, host: &str) -> PathBuf {
        self.path()
            .join(format!("target/quickstart/{host}/opt/demoapp/demoapp"))
    }

    fn assert_all_at(&self, version: &str, why: &str) {
        for h in HOSTS {
            assert_eq!(
                std::fs::read_to_string(self.bin(h)).unwrap(),
                demoapp(version),
                "{h}: {why}"
            );
        }
    }
}

/// `fleetup args…` running in its own tmux server and pane, under `script`.
struct Terminal {
    dir: tempfile::TempDir,
}

impl Terminal {
    const COLUMNS: u16 = 200;
    const ROWS: u16 = 50;

    fn start(qs: &QuickStart, args: &[&str]) -> Self {
        require_tool("tmux", "apt-get install tmux");
        require_tool("script", "apt-get install bsdutils (util-linux's script)");
        let dir = tempfile::tempdir().unwrap();
        let term = Self { dir };
        let fleetup = env!("CARGO_BIN_EXE_fleetup");
        let mut words = vec![fleetup, "-i", INVENTORY];
        words.extend_from_slice(args);
        let command = shlex::try_join(words).unwrap();
        let quote = |p: &Path| shlex::try_quote(p.to_str().unwrap()).unwrap().into_owned();
        let shell = format!(
            "cd {cwd} && export XDG_CACHE_HOME={cache} NO_COLOR=1 && unset FLEETUP_LOG; \
             script -qfec {command} {typescript}; echo $? > {status}; exec sleep 3600",
            cwd = quote(qs.path()),
            cache = quote(&qs.path().join("cache")),
            command = shlex::try_quote(&command).unwrap(),
            typescript = quote(&term.typescript_path()),
            status = quote(&term.status_path()),
        );
        let (columns, rows) = (Self::COLUMNS.to_string(), Self::ROWS.to_string());
        term.tmux(&[
            "new-session",
            "-d",
            "-x",
            &columns,
            "-y",
            &rows,
            "-s",
            "fleetup",
            &shell,
        ]);
        term
    }

    fn typescript_path(&self) -> PathBuf {
        self.dir.path().join("typescript")
    }

    fn status_path(&self) -> PathBuf {
        self.dir.path().join("status")
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(self.dir.path().join("tmux.sock"))
            .args(["-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux {args:?}: {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the pane shows now, trailing blanks dropped.
    fn screen(&self) -> String {
        let text = self.tmux(&["capture-pane", "-p", "-t", "fleetup"]);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        lines.join("\n").trim_end().to_owned()
    }

    /// Polls the screen until `ready` holds; the screen then.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let began = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                began.elapsed() < WAIT,
                "no {what} on the screen after {WAIT:?}:\n{screen}\n--- typescript\n{}",
                self.typescript()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for fleetup to end; its exit code.
    fn exit_code(&self) -> i32 {
        let began = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(self.status_path()) {
                if s.ends_with('\n') {
                    return s.trim().parse().unwrap();
                }
            }
            assert!(
                began.elapsed() < WAIT,
                "fleetup still runs after {WAIT:?}:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every byte fleetup wrote to the terminal (after `script`'s header line).
    fn typescript(&self) -> String {
        let raw = std::fs::read(self.typescript_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&raw).into_owned();
        match text.split_once('\n') {
            Some((header, rest)) if header.starts_with("Script started") => rest.to_owned(),
            _ => text,
        }
    }

    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "fleetup", "-l", text]);
        self.tmux(&["send-keys", "-t", "fleetup", "Enter"]);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.dir.path().join("tmux.sock"))
            .arg("kill-server")
            .output();
    }
}

/// `text` without its escape sequences (CSI, OSC and two-byte ones) and carriage returns.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn has_line(screen: &str, start: &str) -> bool {
    screen.lines().any(|l| l.starts_with(start))
}

#[test]
fn strip_ansi_keeps_only_the_text() {
    assert_eq!(
        strip_ansi("\x1b[2K\rbatch 1/3 \x1b[1A\x1b]0;title\x07ok\r\n"),
        "batch 1/3 ok\n"
    );
}

#[test]
fn live_bars_on_a_terminal_and_plain_lines_with_no_progress() {
    let qs = QuickStart::new();
    let live = Terminal::start(
        &qs,
        &["upgrade", "--serial", "1", "--yes", "-e", SLOW_HEALTH],
    );

    // Mid-run: the overall bar, and the line of the host being checked.
    let frame = live.wait_for("web2's health line", |s| has_line(s, "  web2  health"));
    println!("a live frame:\n{frame}");
    assert!(
        has_line(&frame, "batch 2/3 ━━━━━━━━━━━━━"),
        "the overall bar:\n{frame}"
    );
    assert!(
        frame.contains("  1/3 hosts  0 failed"),
        "the overall bar:\n{frame}"
    );
    assert!(
        has_line(&frame, "web1 upgraded 1.0.0 -> 1.1.0 in "),
        "web1's end, above the bars:\n{frame}"
    );
    assert!(
        has_line(&frame, "batch 2/3: web2"),
        "the batch, above the bars:\n{frame}"
    );
    assert!(
        !frame.contains("web2 health ok"),
        "no step lines in live mode:\n{frame}"
    );

    assert_eq!(live.exit_code(), 0, "{}", live.screen());
    let end = live.wait_for("the summary", |s| has_line(s, "3 upgraded · "));
    for h in HOSTS {
        assert_eq!(
            end.lines()
                .filter(|l| l.starts_with(&format!("{h} upgraded 1.0.0 -> 1.1.0 in ")))
                .count(),
            1,
            "one line for {h}'s end:\n{end}"
        );
    }
    assert!(
        !end.contains(" hosts  0 failed") && !end.contains("health    "),
        "the bars are gone at the end:\n{end}"
    );
    let bytes = live.typescript();
    assert!(
        bytes.contains("\x1b[2K") || bytes.contains("\x1b[1A"),
        "a terminal gets live bars (escape codes):\n{bytes:?}"
    );
    let text = strip_ansi(&bytes);
    assert!(text.contains("hosts  0 failed"), "{text}");
    assert!(text.contains("  web1  health    "), "{text}");
    qs.assert_all_at("1.1.0", "upgraded with bars");

    // The same terminal with --no-progress: one plain line per event, no escape code at all.
    for h in HOSTS {
        install(&qs.bin(h), "1.0.0");
    }
    let plain = Terminal::start(&qs, &["--no-progress", "upgrade", "--serial", "1", "--yes"]);
    assert_eq!(plain.exit_code(), 0, "{}", plain.screen());
    plain.wait_for("the summary", |s| has_line(s, "3 upgraded · "));
    let bytes = plain.typescript();
    assert!(
        !bytes.contains('\x1b'),
        "no escape codes with --no-progress:\n{bytes:?}"
    );
    let lines: Vec<&str> = bytes.split("\r\n").collect();
    for start in [
        "upgrade 3 hosts in 3 batches (1, 1, 1)",
        "release demoapp 1.1.0 (stable, signed by ",
        "batch 1/3: web1",
        "web1 probe ok: 1.0.0",
        "web1 stage ok:",
        "web1 swap ok: backup demoapp.fleetup-bak-1.0.0-",
        "web1 upgraded 1.0.0 -> 1.1.0 in ",
        "batch 1/3 done: 0 failed so far",
        "batch 3/3: db1",
        "db1 upgraded 1.0.0 -> 1.1.0 in ",
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(start)).count(),
            1,
            "one line {start:?} in:\n{}",
            lines.join("\n")
        );
    }
    assert!(
        !bytes.contains(" hosts  0 failed"),
        "no bar with --no-progress"
    );
    qs.assert_all_at("1.1.0", "upgraded with plain lines");
}

#[test]
fn the_whole_inventory_is_upgraded_only_when_confirmed_on_the_terminal() {
    let qs = QuickStart::new();
    let question = "Upgrade the whole inventory (3 hosts) to demoapp 1.1.0 (channel stable)?";

    let asked = Terminal::start(&qs, &["upgrade"]);
    let screen = asked.wait_for("the question", |s| s.contains(question));
    let last = screen.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(question) && last.ends_with("[y/N]"),
        "the question is the last line, the bars hidden:\n{screen}"
    );
    assert!(
        !screen.contains("probing ") && !screen.contains("downloading "),
        "no bar while asking:\n{screen}"
    );
    asked.type_line("n");
    assert_eq!(asked.exit_code(), 2, "{}", asked.screen());
    let end = asked.wait_for("the refusal", |s| {
        s.contains("fleetup: not confirmed: nothing was changed")
    });
    assert!(
        !end.contains("hosts  0 failed") && !has_line(&end, "batch 1/"),
        "nothing ran:\n{end}"
    );
    qs.assert_all_at("1.0.0", "not confirmed");

    let yes = Terminal::start(&qs, &["upgrade", "--yes"]);
    assert_eq!(yes.exit_code(), 0, "{}", yes.screen());
    let end = yes.wait_for("the summary", |s| has_line(s, "3 upgraded · "));
    assert!(
        !strip_ansi(&yes.typescript()).contains("Upgrade the whole inventory"),
        "--yes: no question:\n{end}"
    );
    qs.assert_all_at("1.1.0", "--yes");
}
