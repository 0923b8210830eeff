use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

/// A scratch "current directory" and "home", with `FLEETUP_*`-style variables.
struct Scratch {
    dir: tempfile::TempDir,
    vars: Vec<(String, OsString)>,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cwd")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let home = dir.path().join("home").into_os_string();
        Self {
            dir,
            vars: vec![("HOME".into(), home)],
        }
    }

    fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn local(&self, text: &str) -> PathBuf {
        let p = self.cwd().join(LOCAL_FILE);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `~/.config/fleetup/config.toml` (no XDG_CONFIG_HOME set).
    fn user(&self, text: &str) -> PathBuf {
        let p = self.home().join(".config").join(USER_FILE);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn var(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.vars.push((k.into(), v.into()));
        self
    }

    fn env(&self) -> Environment {
        Environment {
            cwd: Some(self.cwd()),
            vars: self.vars.iter().cloned().collect(),
        }
    }

    fn load(&self) -> Result<Config, ConfigError> {
        load(&self.env(), &Flags::default())
    }
}

fn file_source(path: &Path, line: usize) -> Source {
    Source::File {
        path: path.to_path_buf(),
        line,
    }
}

#[test]
fn every_key_parses_with_its_line_and_paths_relative_to_the_file() {
    let s = Scratch::new();
    let file = s.user(
        "# controller defaults\n\
         inventory = [\"inventories/prod.yml\", \"/abs/extra.ini\"]\n\
         forks = 0x10\n\
         serial = [1, \"10%\", \"25%\"]\n\
         output = \"json\"\n\
         known_hosts = \"~/.ssh/fleet_known_hosts\"\n\
         host_key_checking = \"accept-new\"\n\
         \n\
         cache_dir = \"cache\"\n",
    );
    let c = s.load().unwrap();
    let dir = file.parent().unwrap();
    assert_eq!(c.file.as_deref(), Some(file.as_path()));
    assert_eq!(
        c.inventory,
        Setting::new(
            vec![
                dir.join("inventories/prod.yml"),
                PathBuf::from("/abs/extra.ini")
            ],
            file_source(&file, 2)
        )
    );
    assert_eq!(c.forks, Setting::new(16, file_source(&file, 3)));
    assert_eq!(
        c.serial.value.as_ref().map(ToString::to_string).as_deref(),
        Some("1,10%,25%")
    );
    assert_eq!(c.serial.source, file_source(&file, 4));
    assert_eq!(
        c.output,
        Setting::new(OutputFormat::Json, file_source(&file, 5))
    );
    assert_eq!(
        c.known_hosts.value,
        Some(vec![s.home().join(".ssh/fleet_known_hosts")])
    );
    assert_eq!(c.host_key_checking.value, Some(HostKeyPolicy::AcceptNew));
    assert_eq!(c.host_key_checking.source, file_source(&file, 7));
    assert_eq!(
        c.cache_dir,
        Setting::new(Some(dir.join("cache")), file_source(&file, 9))
    );
    assert!(c.warnings.is_empty());
}

#[test]
fn nothing_set_is_the_built_in_defaults() {
    let s = Scratch::new();
    let c = s.load().unwrap();
    assert_eq!(c.file, None);
    assert_eq!(
        c.searched,
        [
            s.cwd().join("fleetup.toml"),
            s.home().join(".config/fleetup/config.toml")
        ]
    );
    assert_eq!(
        Config {
            file: None,
            searched: Vec::new(),
            ..c
        },
        Config::default()
    );
    assert_eq!(Config::default().forks.value, 50);
}

#[test]
fn the_first_file_found_wins_and_the_other_is_not_read() {
    let s = Scratch::new();
    // Broken on purpose: were it read, loading would fail.
    let user = s.user("forsk = 3\n");
    let local = s.local("forks = 7\n");
    let c = s.load().unwrap();
    assert_eq!(c.file.as_deref(), Some(local.as_path()));
    assert_eq!(c.forks, Setting::new(7, file_source(&local, 1)));
    assert_eq!(c.searched, [local.clone(), user.clone()]);

    std::fs::remove_file(&local).unwrap();
    let err = s.load().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:1: unknown key `forsk`", user.display())),
        "{err}"
    );
}

#[test]
fn xdg_config_home_is_used_when_absolute_and_ignored_when_relative() {
    let s = Scratch::new();
    let xdg = s.dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("fleetup")).unwrap();
    std::fs::write(xdg.join("fleetup/config.toml"), "forks = 9\n").unwrap();
    s.user("forks = 8\n");
    let c = s.var("XDG_CONFIG_HOME", &xdg).load().unwrap();
    assert_eq!(c.forks.value, 9);
    assert_eq!(c.file, Some(xdg.join("fleetup/config.toml")));

    let s = Scratch::new();
    s.user("forks = 8\n");
    let c = s.var("XDG_CONFIG_HOME", "relative/dir").load().unwrap();
    assert_eq!(c.forks.value, 8, "a relative XDG_CONFIG_HOME is ignored");
}

#[test]
fn the_local_file_in_the_process_directory_keeps_relative_paths_relative() {
    // `Environment::process()` looks for "fleetup.toml" relative to the current directory:
    // paths in it must stay relative too (the same files, and shorter messages).
    let c = parse_file(
        Path::new("fleetup.toml"),
        "inventory = \"inv.yml\"\ncache_dir = \"c\"\n",
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(c.inventory.unwrap().value, [PathBuf::from("inv.yml")]);
    assert_eq!(c.cache_dir.unwrap().value, PathBuf::from("c"));
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let s = Scratch::new();
    let file = s.local(
        "inventory = \"file.yml\"\nforks = 3\nserial = 2\noutput = \"jsonl\"\n\
         known_hosts = [\"kh\"]\nhost_key_checking = false\ncache_dir = \"/file/cache\"\n",
    );
    let from_file = s.load().unwrap();
    assert_eq!(from_file.forks, Setting::new(3, file_source(&file, 2)));
    assert_eq!(from_file.host_key_checking.value, Some(HostKeyPolicy::Off));

    let s = s
        .var("FLEETUP_INVENTORY", "a.yml, b.ini,")
        .var("FLEETUP_FORKS", "4")
        .var("FLEETUP_SERIAL", "1,50%")
        .var("FLEETUP_OUTPUT", "junit")
        .var("FLEETUP_KNOWN_HOSTS", "~/kh1,/kh2")
        .var("FLEETUP_HOST_KEY_CHECKING", "accept-new")
        .var("FLEETUP_CACHE_DIR", "/env/cache");
    let env = s.load().unwrap();
    assert_eq!(
        env.inventory,
        Setting::new(
            vec![PathBuf::from("a.yml"), PathBuf::from("b.ini")],
            Source::Env("FLEETUP_INVENTORY")
        )
    );
    assert_eq!(env.forks, Setting::new(4, Source::Env("FLEETUP_FORKS")));
    assert_eq!(env.serial.value.unwrap().to_string(), "1,50%");
    assert_eq!(env.output.value, OutputFormat::Junit);
    assert_eq!(
        env.known_hosts.value,
        Some(vec![s.home().join("kh1"), PathBuf::from("/kh2")])
    );
    assert_eq!(
        env.host_key_checking,
        Setting::new(
            Some(HostKeyPolicy::AcceptNew),
            Source::Env("FLEETUP_HOST_KEY_CHECKING")
        )
    );
    assert_eq!(env.cache_dir.value, Some(PathBuf::from("/env/cache")));

    let flags = Flags {
        inventory: vec![PathBuf::from("flag.yml")],
        forks: Some(5),
        serial: Some("3".into()),
        output: Some(OutputFormat::Text),
    };
    let c = load(&s.env(), &flags).unwrap();
    assert_eq!(
        c.inventory,
        Setting::new(
            vec![PathBuf::from("flag.yml")],
            Source::Flag("-i/--inventory")
        ),
        "-i replaces the configured list"
    );
    assert_eq!(c.forks, Setting::new(5, Source::Flag("-f/--forks")));
    assert_eq!(c.serial.source, Source::Flag("--serial"));
    assert_eq!(
        c.output,
        Setting::new(OutputFormat::Text, Source::Flag("--output"))
    );
    // No flag for these: the environment still wins.
    assert_eq!(c.cache_dir.source, Source::Env("FLEETUP_CACHE_DIR"));
}

#[test]
fn an_empty_variable_is_unset() {
    let s = Scratch::new();
    s.local("forks = 3\n");
    let c = s.var("FLEETUP_FORKS", "").load().unwrap();
    assert_eq!(c.forks.value, 3);
}

#[test]
fn unknown_keys_name_file_line_and_key_with_a_suggestion() {
    let s = Scratch::new();
    let file = s.local("forks = 3\n\n# comment\nhost_key_cheking = \"strict\"\nzzz = 1\n");
    let err = s.load().unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownKey {
            path: file.clone(),
            line: 4,
            key: "host_key_cheking".into(),
            hint: ", did you mean `host_key_checking`?".into(),
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("keys are: inventory, forks, serial, output, known_hosts"),
        "{text}"
    );

    s.local("known-hosts = \"x\"\n");
    let err = s.load().unwrap_err().to_string();
    assert!(err.contains("did you mean `known_hosts`?"), "{err}");

    s.local("# ansible.cfg habit\n[defaults]\nforks = 3\n");
    let err = s.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:2: unknown key `defaults` (the file has no [sections]: write the keys at the \
             top) (the keys are: {})",
            file.display(),
            known_keys()
        )
    );
}

#[test]
fn bad_values_name_file_line_and_key() {
    let s = Scratch::new();
    for (text, line, key, why) in [
        ("forks = 0\n", 1, "forks", "between 1 and 5000, not 0"),
        ("\nforks = 6000\n", 2, "forks", "not 6000"),
        (
            "forks = \"ten\"\n",
            1,
            "forks",
            "expected an integer, found string",
        ),
        (
            "output = \"xml\"\n",
            1,
            "output",
            "expected one of text, json",
        ),
        (
            "host_key_checking = \"maybe\"\n",
            1,
            "host_key_checking",
            "invalid host key checking",
        ),
        ("serial = \"0%\"\n", 1, "serial", ""),
        ("serial = 1.5\n", 1, "serial", "found float"),
        (
            "inventory = 5\n",
            1,
            "inventory",
            "expected a string or an array of strings",
        ),
        (
            "inventory = [\"a\", 5]\n",
            1,
            "inventory",
            "array holding integer",
        ),
        ("inventory = [\"\"]\n", 1, "inventory", "an empty path"),
        ("known_hosts = []\n", 1, "known_hosts", "is empty"),
        ("cache_dir = true\n", 1, "cache_dir", "expected a path"),
    ] {
        let file = s.local(text);
        let err = s.load().unwrap_err();
        let ConfigError::Value {
            path,
            line: l,
            key: k,
            why: w,
        } = &err
        else {
            panic!("{text:?}: {err:?}");
        };
        assert_eq!((path, *l, *k), (&file, line, key), "{text:?}");
        assert!(w.contains(why), "{text:?}: {w}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:{line}: {key}: ", file.display())),
            "{err}"
        );
    }
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let s = Scratch::new();
    let file = s.local("forks = 3\nforks = 4\n");
    let err = s.load().unwrap_err();
    assert!(
        matches!(&err, ConfigError::Syntax { path, line: 2, .. } if *path == file),
        "a duplicate key: {err:?}"
    );
    s.local("inventory = [\"a\"\n");
    let err = s.load().unwrap_err().to_string();
    assert!(err.contains("invalid TOML"), "{err}");
}

#[test]
fn a_config_path_that_is_a_directory_is_an_error_not_skipped() {
    let s = Scratch::new();
    std::fs::create_dir(s.cwd().join(LOCAL_FILE)).unwrap();
    s.user("forks = 8\n");
    let err = s.load().unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
}

#[test]
fn bad_variables_are_errors_naming_the_variable() {
    for (name, value, why) in [
        ("FLEETUP_FORKS", "ten", "expected a number of hosts"),
        ("FLEETUP_FORKS", "0", "between 1 and"),
        ("FLEETUP_OUTPUT", "xml", "unknown output"),
        (
            "FLEETUP_HOST_KEY_CHECKING",
            "maybe",
            "invalid host key checking",
        ),
        ("FLEETUP_SERIAL", "0", ""),
        ("FLEETUP_KNOWN_HOSTS", ",", "names no file"),
    ] {
        let err = Scratch::new().var(name, value).load().unwrap_err();
        assert!(
            matches!(&err, ConfigError::Env { name: n, why: w } if *n == name && w.contains(why)),
            "{name}={value}: {err:?}"
        );
        assert!(err.to_string().starts_with(&format!("{name}: ")), "{err}");
    }
    let err = Scratch::new()
        .var("FLEETUP_CACHE_DIR", "~/c")
        .var("HOME", "")
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("HOME is not set"), "{err}");
}

#[test]
fn unknown_fleetup_variables_are_warned_about() {
    let c = Scratch::new()
        .var("FLEETUP_FROKS", "3")
        .var("FLEETUP_LOG", "debug")
        .var("FLEETUP_SSH_PASSPHRASE", "x")
        .var("FLEETUP_TEST_NO_INSTALL", "1")
        .load()
        .unwrap();
    assert_eq!(
        c.warnings,
        [
            "environment variable FLEETUP_FROKS is not a fleetup setting and is ignored (did you \
          mean FLEETUP_FORKS?)"
        ]
    );
    assert_eq!(c.forks.value, 50);
}

#[test]
fn edit_distance_counts_edits() {
    assert_eq!(edit_distance("forks", "forks"), 0);
    assert_eq!(edit_distance("forks", "forsk"), 2);
    assert_eq!(edit_distance("serial", "serials"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
}
