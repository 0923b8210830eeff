//! The configuration (`fleetup.toml`, `$XDG_CONFIG_HOME/fleetup/config.toml`, `FLEETUP_*`)
//! through the real binary, each run in a scratch directory with its own home: which file is
//! read, what beats what, what `fleetup config` shows, and that the configured inventory,
//! serial, cache directory, known_hosts and host-key policy are really the ones used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fleet::{field, install, json};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo_path, require_root, run};

/// A current directory and a home with nothing in them yet, and the user configuration
/// directory `XDG_CONFIG_HOME` points at.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["cwd", "home", "xdg/fleetup"] {
            std::fs::create_dir_all(s.path(d)).unwrap();
        }
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cwd(&self) -> PathBuf {
        self.path("cwd")
    }

    /// `./fleetup.toml`.
    fn local(&self, text: &str) -> PathBuf {
        let p = self.cwd().join("fleetup.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `$XDG_CONFIG_HOME/fleetup/config.toml`.
    fn user(&self, text: &str) -> PathBuf {
        let p = self.path("xdg/fleetup/config.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `fleetup` from the scratch directory, with no `FLEETUP_*` variable of the caller's and
    /// caches and home of its own.
    fn fleetup(&self) -> Command {
        let mut cmd = fleetup();
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FLEETUP_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(self.cwd())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"));
        cmd
    }

    /// `fleetup config --output json`, which must succeed.
    fn config(&self, env: &[(&str, &str)], args: &[&str]) -> Value {
        let out = run(self
            .fleetup()
            .envs(env.iter().copied())
            .args(args)
            .args(["config", "--output", "json"]));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        json(&out)
    }
}

fn setting<'a>(doc: &'a Value, key: &str) -> &'a Value {
    &doc["settings"][key]
}

#[test]
fn the_local_file_beats_the_user_file_env_beats_both_and_a_flag_beats_the_env() {
    let s = Scratch::new();
    let user = s.user("forks = 5\nserial = 2\n");
    let doc = s.config(&[], &[]);
    assert_eq!(doc["file"], user.display().to_string());
    assert_eq!(setting(&doc, "forks")["value"], 5);
    assert_eq!(
        setting(&doc, "forks")["source"],
        serde_json::json!({"kind": "file", "file": user.display().to_string(), "line": 1})
    );

    s.local("# the project's\nforks = 7\n");
    let doc = s.config(&[], &[]);
    assert_eq!(doc["file"], "fleetup.toml");
    assert_eq!(setting(&doc, "forks")["value"], 7);
    assert_eq!(setting(&doc, "forks")["source"]["line"], 2);
    assert_eq!(
        setting(&doc, "serial")["value"],
        Value::Null,
        "the first file found is the whole configuration: the user file's serial is not merged in"
    );
    assert_eq!(
        doc["searched"],
        serde_json::json!(["fleetup.toml", user.display().to_string()])
    );

    let doc = s.config(&[("FLEETUP_FORKS", "11")], &[]);
    assert_eq!(setting(&doc, "forks")["value"], 11);
    assert_eq!(
        setting(&doc, "forks")["source"],
        serde_json::json!({"kind": "env", "env": "FLEETUP_FORKS"})
    );

    let doc = s.config(&[("FLEETUP_FORKS", "11")], &["-f", "13"]);
    assert_eq!(setting(&doc, "forks")["value"], 13);
    assert_eq!(setting(&doc, "forks")["source"]["flag"], "-f/--forks");
}

/// The text report: a row per setting, its source and value, aligned; each kind of source.
#[test]
fn fleetup_config_shows_each_setting_with_its_source() {
    let s = Scratch::new();
    s.local("inventory = \"prod.yml\"\n\nhost_key_checking = \"accept-new\"\n");
    let out = run(s
        .fleetup()
        .env("FLEETUP_CACHE_DIR", "/srv/fleetup-cache")
        .args(["-f", "20", "config"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.starts_with("SETTING"))
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    let row = |key: &str| {
        rows.iter()
            .find(|r| r[0] == key)
            .unwrap_or_else(|| panic!("no row {key} in:\n{text}"))
            .clone()
    };
    assert_eq!(row("SETTING"), ["SETTING", "SOURCE", "VALUE"], "{text}");
    assert_eq!(
        row("inventory"),
        ["inventory", "fleetup.toml:1", "prod.yml"]
    );
    assert_eq!(
        row("host_key_checking"),
        ["host_key_checking", "fleetup.toml:3", "accept-new"]
    );
    assert_eq!(row("forks"), ["forks", "flag -f/--forks", "20"]);
    assert_eq!(
        row("cache_dir"),
        ["cache_dir", "env FLEETUP_CACHE_DIR", "/srv/fleetup-cache"]
    );
    assert_eq!(row("output"), ["output", "default", "text"]);
    assert_eq!(rows.len(), 8, "a header and seven settings:\n{text}");
    let value_at = text
        .lines()
        .find(|l| l.starts_with("SETTING"))
        .unwrap()
        .find("VALUE");
    for line in text.lines().skip_while(|l| !l.starts_with("SETTING")) {
        let at = value_at.unwrap();
        assert!(
            line[..at].ends_with("  ") && !line[at..].starts_with(' '),
            "the value column is aligned:\n{text}"
        );
    }
    assert!(
        text.starts_with("configuration file: fleetup.toml (searched: fleetup.toml, "),
        "{text}"
    );

    // A configured junit output is for the fleet commands: `fleetup config` still shows a
    // table; asked for on its command line, it is refused.
    let out = run(s.fleetup().env("FLEETUP_OUTPUT", "junit").arg("config"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("output             env FLEETUP_OUTPUT"),
        "{}",
        describe(&out)
    );
    let out = run(s.fleetup().args(["config", "--output", "junit"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn a_mistyped_key_or_bad_value_fails_every_command_with_exit_2_naming_file_line_and_key() {
    let s = Scratch::new();
    let user = s.user("forks = 5\n\nforsk = 10\n");
    for args in [
        &["config"][..],
        &["-i", "x.ini", "check"],
        &["inventory", "--list"],
    ] {
        let out = run(s.fleetup().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{}:3: unknown key `forsk`, did you mean `forks`?",
                user.display()
            )),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{}", describe(&out));
    }

    s.local("output = \"yaml\"\n");
    let out = run(s.fleetup().arg("config"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("fleetup.toml:1: output: unknown output \"yaml\""),
        "{}",
        describe(&out)
    );

    std::fs::remove_file(s.cwd().join("fleetup.toml")).unwrap();
    std::fs::remove_file(&user).unwrap();
    let out = run(s.fleetup().env("FLEETUP_FORKS", "lots").arg("config"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FLEETUP_FORKS: expected a number"),
        "{}",
        describe(&out)
    );
}

/// `fleetup inventory --list` reads the configured inventory; `-i` replaces it (does not add
/// to it); `FLEETUP_INVENTORY` beats the file.
#[test]
fn the_configured_inventory_is_the_one_listed_and_i_replaces_it() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.cwd().join("inventories")).unwrap();
    std::fs::write(
        s.cwd().join("inventories/prod.ini"),
        "[web]\nprod-web1\nprod-web2\n",
    )
    .unwrap();
    std::fs::write(s.cwd().join("staging.ini"), "[web]\nstaging-web1\n").unwrap();
    let hosts = |out: &Output| -> Vec<String> {
        assert_eq!(out.status.code(), Some(0), "{}", describe(out));
        let mut h: Vec<String> = json(out)["web"]["hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", describe(out)))
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        h.sort();
        h
    };
    let none = run(s.fleetup().args(["inventory", "--list"]));
    assert_eq!(none.status.code(), Some(2), "{}", describe(&none));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no inventory given"),
        "{}",
        describe(&none)
    );

    s.local("inventory = [\"inventories/prod.ini\"]\n");
    assert_eq!(
        hosts(&run(s.fleetup().args(["inventory", "--list"]))),
        ["prod-web1", "prod-web2"]
    );
    assert_eq!(
        hosts(&run(s.fleetup().args([
            "inventory",
            "--list",
            "-i",
            "staging.ini"
        ]))),
        ["staging-web1"],
        "-i replaces the configured inventory"
    );
    assert_eq!(
        hosts(&run(s
            .fleetup()
            .env("FLEETUP_INVENTORY", "staging.ini")
            .args(["inventory", "--list"]))),
        ["staging-web1"]
    );
}

/// The quick start's local fleet, run with no flag but the command: the configured inventory,
/// output, serial and cache directory are the ones used; the inventory's `fleetup_serial`
/// beats the configured serial.
#[test]
fn check_and_upgrade_use_the_configured_inventory_output_serial_and_cache() {
    let s = Scratch::new();
    std::os::unix::fs::symlink(repo_path("examples"), s.cwd().join("examples")).unwrap();
    let bin = |h: &str| {
        s.cwd()
            .join(format!("target/quickstart/{h}/opt/demoapp/demoapp"))
    };
    let hosts = ["web1", "web2", "db1"];
    for h in hosts {
        install(&bin(h), "1.0.0");
    }
    s.local(
        "inventory = \"examples/quickstart/inventory.yml\"\noutput = \"json\"\nserial = 1\n\
         cache_dir = \"artifacts\"\n",
    );

    let check = run(s.fleetup().arg("check"));
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let doc = json(&check);
    for h in hosts {
        assert_eq!(field(&doc, h, "action"), "upgrade", "{doc:#}");
    }

    // The inventory's fleetup_serial (here from -e) beats the configuration's serial.
    let up = run(s.fleetup().args(["upgrade", "-e", "fleetup_serial=3"]));
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    for h in hosts {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        assert_eq!(field(&doc, h, "batch"), 1, "one batch of 3: {doc:#}");
    }
    let cached: Vec<PathBuf> = std::fs::read_dir(s.cwd().join("artifacts/sha256"))
        .unwrap_or_else(|e| panic!("the configured cache_dir holds the download: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(
        !s.path("xdg-cache/fleetup").exists(),
        "nothing in XDG_CACHE_HOME"
    );

    for h in hosts {
        install(&bin(h), "1.0.0");
    }
    let up = run(s.fleetup().arg("upgrade"));
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    let mut batches: Vec<u64> = hosts
        .iter()
        .map(|h| field(&doc, h, "batch").as_u64().unwrap())
        .collect();
    batches.sort_unstable();
    assert_eq!(batches, [1, 2, 3], "serial = 1: a host per batch: {doc:#}");
}

/// `fleetup releases --download` puts the artifacts in the configured cache directory;
/// `FLEETUP_CACHE_DIR` beats the file.
#[test]
fn downloads_land_in_the_configured_cache_dir() {
    let s = Scratch::new();
    s.local("cache_dir = \"from-file\"\n");
    let download = |cmd: &mut Command| {
        let out = run(cmd
            .arg("releases")
            .arg("--source")
            .arg(repo_path("examples/quickstart/releases"))
            .arg("--public-key")
            .arg(repo_path("examples/quickstart/minisign.pub"))
            .args(["--download", "--output", "json"]));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let doc = json(&out);
        let files: Vec<PathBuf> = doc["downloaded"]
            .as_array()
            .unwrap_or_else(|| panic!("{doc:#}"))
            .iter()
            .map(|f| PathBuf::from(f["path"].as_str().unwrap()))
            .collect();
        assert!(!files.is_empty(), "{doc:#}");
        for f in &files {
            assert!(s.cwd().join(f).is_file(), "{f:?}");
        }
        files
    };
    for f in download(&mut s.fleetup()) {
        assert!(f.starts_with("from-file/sha256"), "{f:?}");
    }
    let env_dir = s.path("from-env");
    for f in download(s.fleetup().env("FLEETUP_CACHE_DIR", &env_dir)) {
        assert!(f.starts_with(env_dir.join("sha256")), "{f:?}");
    }
    assert!(!s.path("xdg-cache/fleetup").exists());
}

/// A lab host reached with the configured known_hosts and host-key policy (the inventory
/// names neither): strict from `FLEETUP_HOST_KEY_CHECKING` refuses the unknown host; the
/// file's accept-new records its key in the file's known_hosts (a path relative to the file);
/// the next strict run accepts it.
#[test]
fn lab_the_configured_known_hosts_and_host_key_policy_are_used() {
    require_root();
    let lab = Lab::start(1);
    let host = &lab.hosts()[0];
    install(&lab.opt_dir(&host.name).join("demoapp/demoapp"), "1.0.0");
    let s = Scratch::new();
    let inventory = s.cwd().join("lab.yml");
    std::fs::write(
        &inventory,
        serde_json::json!({"all": {
            "hosts": {&host.name: {"ansible_host": host.addr}},
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": lab.client_key(),
                "fleetup_binary": "/opt/demoapp/demoapp",
                "fleetup_source": repo_path("examples/quickstart/releases"),
                "fleetup_public_keys": [repo_path("examples/quickstart/minisign.pub")],
            },
        }})
        .to_string(),
    )
    .unwrap();
    // The user file, so that its relative known_hosts resolves beside it, not in the cwd.
    s.user(&format!(
        "inventory = \"{}\"\nknown_hosts = \"lab_known_hosts\"\nhost_key_checking = \"accept-new\"\n\
         output = \"json\"\n",
        inventory.display()
    ));
    let kh = s.path("xdg/fleetup/lab_known_hosts");
    std::fs::write(&kh, "").unwrap();
    let check = |env: &[(&str, &str)]| run(s.fleetup().envs(env.iter().copied()).arg("check"));

    let strict = check(&[("FLEETUP_HOST_KEY_CHECKING", "strict")]);
    assert_eq!(strict.status.code(), Some(1), "{}", describe(&strict));
    assert_eq!(field(&json(&strict), &host.name, "action"), "unreachable");
    let why = field(&json(&strict), &host.name, "reason").to_string();
    assert!(
        why.contains(&kh.display().to_string()),
        "strict names the configured known_hosts: {why}"
    );
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "");

    let accept = check(&[]);
    assert_eq!(accept.status.code(), Some(0), "{}", describe(&accept));
    assert_eq!(field(&json(&accept), &host.name, "action"), "upgrade");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(
        recorded.contains(&host.addr),
        "accept-new recorded the key in the configured file: {recorded:?}"
    );
    assert!(!s.path("home/.ssh/known_hosts").exists());

    let again = check(&[("FLEETUP_HOST_KEY_CHECKING", "strict")]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_path_unchanged(&kh, &recorded);
}

fn assert_path_unchanged(path: &Path, before: &str) {
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        before,
        "{path:?} unchanged"
    );
}
