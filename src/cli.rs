//! The command line, and only the command line: clap's derive structs, turned once into
//! validated [`Settings`] before any work starts. Nothing outside this module knows clap.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, ConfigError, Environment, Flags};

/// How many hosts are worked on at once unless `-f` says otherwise. Ansible's 5 is a known
/// pain; colmena uses 10 and pssh 32. fleetup's per-host cost is one SSH connection and a
/// few kilobytes, so it can afford more.
pub const DEFAULT_FORKS: usize = 50;
/// More forks than this is a typo, not a plan (and would exhaust file descriptors).
pub const MAX_FORKS: usize = 5000;

#[derive(Debug, Parser)]
#[command(
    name = "fleetup",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FLEETUP_COMMIT"), ")"),
    about = "Agentless fleet upgrader: verify a signed release once, push it over SSH, swap it in atomically, roll back when unhealthy",
    long_about = crate::help::ABOUT,
    after_help = crate::help::EXIT_CODES,
    after_long_help = crate::help::EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub inputs: InventoryInputs,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// `-i` and `-e`: repeatable, and accepted before or after the command. They are not clap
/// "global" arguments because clap then keeps only the occurrences after the command
/// (`-e a=1 upgrade -e b=2` would lose `a`); each command that reads an inventory flattens
/// this struct too, and the two are joined, those before the command first.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Inventory options")]
pub struct InventoryInputs {
    /// Inventory file or directory (INI or YAML, as Ansible reads them); repeatable, merged in order
    #[arg(short = 'i', long = "inventory", value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
    /// Variables that beat every inventory variable: `k=v k2=v2`, `@vars.yml`, or a JSON/YAML mapping; repeatable
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
}

/// The arguments of `check`.
#[derive(Debug, Args, Default)]
pub struct HostArgs {
    #[command(flatten)]
    pub inputs: InventoryInputs,
}

/// The arguments of `rollback`.
#[derive(Debug, Args, Default)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub inputs: InventoryInputs,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// How the hosts of a run that changes them are taken: batches, failure budget, retry file,
/// confirmation. See docs/rolling.md.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Rolling options")]
pub struct BatchArgs {
    /// Rolling batches: sizes or percentages of the selected hosts, the last one repeating,
    /// e.g. `1,10%,25%` (the first batch is the canary) [default: `fleetup_serial` of the
    /// inventory's `all` vars, else all hosts at once]
    #[arg(long, value_name = "SPEC")]
    pub serial: Option<String>,
    /// Stop before the next batch when more than P percent of all the selected hosts failed,
    /// were unreachable or rolled back so far [default: stop at the first failure]
    #[arg(long, value_name = "P", conflicts_with = "keep_going")]
    pub max_fail_percentage: Option<f64>,
    /// Run every batch whatever fails
    #[arg(long)]
    pub keep_going: bool,
    /// Order the hosts are taken in
    #[arg(long, value_enum, value_name = "ORDER", default_value_t = HostOrderArg::Inventory)]
    pub order: HostOrderArg,
    /// Where to write the hosts that did not end upgraded or unchanged, for `--limit @FILE`
    /// [default: beside the first inventory, with `.retry` appended]
    #[arg(long, value_name = "PATH")]
    pub retry_file: Option<PathBuf>,
    /// Do not ask for confirmation on a terminal when the whole inventory is selected
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum HostOrderArg {
    /// As the inventory lists them
    #[default]
    Inventory,
    /// By name
    Sorted,
    /// Random (a different order each run)
    Shuffle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Select hosts with an Ansible pattern: `web:db`, `web:&prod`, `all:!web03`, `web*`,
    /// `~web\d+`, `web[0:2]`, `@retry-file`
    #[arg(short = 'l', long = "limit", value_name = "PATTERN", global = true)]
    pub limit: Option<String>,
    /// Hosts worked on at once [default: `forks` of the configuration (`fleetup config`),
    /// else 50]
    #[arg(short = 'f', long = "forks", value_name = "N", global = true)]
    pub forks: Option<usize>,
    /// Output format of the report [default: `output` of the configuration, else text]
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    pub output: Option<OutputFormat>,
    /// Plain lines instead of live progress bars, even on a terminal
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Colors in the report
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More detail (repeat for more)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors and the final summary
    #[arg(short = 'q', long = "quiet", global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables and lines for people
    Text,
    /// One JSON document at the end
    Json,
    /// One JSON event per line, streamed
    Jsonl,
    /// JUnit XML for CI test reports
    Junit,
    /// A self-contained HTML page: versions per group, drift, unreachable hosts
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upgrade the selected hosts to a release (the latest on the channel unless --version)
    #[command(long_about = crate::help::UPGRADE, after_long_help = crate::help::UPGRADE_EXAMPLES)]
    Upgrade(UpgradeArgs),
    /// Dry run and audit: probe every selected host read-only and show what an upgrade would do
    #[command(long_about = crate::help::CHECK, after_long_help = crate::help::CHECK_EXAMPLES)]
    Check(HostArgs),
    /// Put the backed-up binary back on the selected hosts (and restart where configured)
    #[command(long_about = crate::help::ROLLBACK, after_long_help = crate::help::ROLLBACK_EXAMPLES)]
    Rollback(RollbackArgs),
    /// List the releases on a channel, newest first (the index's signature is verified)
    #[command(long_about = crate::help::RELEASES, after_long_help = crate::help::RELEASES_EXAMPLES)]
    Releases(ReleasesArgs),
    /// Show the selected hosts and their variables, like ansible-inventory
    #[command(long_about = crate::help::INVENTORY, after_long_help = crate::help::INVENTORY_EXAMPLES)]
    Inventory(InventoryArgs),
    /// Publisher side: make a key pair, sign and verify files (minisign format)
    #[command(subcommand, long_about = crate::help::RELEASE, after_long_help = crate::help::RELEASE_EXAMPLES)]
    Release(ReleaseCommand),
    /// Print a shell completion script: `source <(fleetup completions bash)`
    #[command(long_about = crate::help::COMPLETIONS, after_long_help = crate::help::COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory
    #[command(long_about = crate::help::MAN, after_long_help = crate::help::MAN_EXAMPLES)]
    Man(ManArgs),
    /// Show the effective settings (configuration file, FLEETUP_* variables, flags) and where
    /// each one comes from
    #[command(long_about = crate::help::CONFIG, after_long_help = crate::help::CONFIG_EXAMPLES)]
    Config(ConfigArgs),
}

/// The arguments of `config` (none of its own: the global flags show as the source they are).
#[derive(Debug, Args)]
pub struct ConfigArgs {}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write fleetup.1, fleetup-upgrade.1, … into this directory instead of printing fleetup.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub inputs: InventoryInputs,
    /// Install this exact version instead of the channel's latest
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Do not change anything: the same as `fleetup check`
    #[arg(long)]
    pub check: bool,
    /// Allow installing a version older than what a host runs
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Consider pre-releases (`2.0.0-rc.1`) when picking the newest release
    #[arg(long)]
    pub pre: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"]))]
pub struct InventoryArgs {
    #[command(flatten)]
    pub inputs: InventoryInputs,
    /// Print the inventory as JSON, in the shape of `ansible-inventory --list`
    #[arg(long)]
    pub list: bool,
    /// Draw the group tree, like `ansible-inventory --graph`
    #[arg(long)]
    pub graph: bool,
    /// Print one host's merged variables as JSON, like `ansible-inventory --host`
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// With --graph: the group to start from
    #[arg(value_name = "GROUP", requires = "graph")]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub inputs: InventoryInputs,
    /// Release source (base URL of the channel indexes: https://, http://, file://, or a path);
    /// default: `fleetup_source` of the selected hosts
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Channel name; default: `fleetup_channel` of the selected hosts, else `stable`
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// Trusted public key (`RW…` or a path to a minisign .pub file); repeatable; default:
    /// `fleetup_public_keys` of the selected hosts
    #[arg(long = "public-key", value_name = "KEY")]
    pub public_keys: Vec<String>,
    /// Also list pre-releases (`2.0.0-rc.1`)
    #[arg(long)]
    pub pre: bool,
    /// Download and verify the artifacts of a release (every os/arch) into the cache, to have
    /// them ready before an upgrade
    #[arg(long)]
    pub download: bool,
    /// With --download: this exact version instead of the newest
    #[arg(long, value_name = "VERSION", requires = "download")]
    pub version: Option<String>,
    /// Cells update server: the package asked for (PydioHome, PydioEnterprise, CellsClient);
    /// default: `fleetup_cells_package` of the selected hosts, else PydioHome
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Cells update server: list what it offers to a host running this version (default
    /// 0.0.0: everything it has)
    #[arg(long, value_name = "VERSION")]
    pub current_version: Option<String>,
    /// Cells update server: the platform asked for, as Go names it (default: this machine's)
    #[arg(long, value_name = "GOOS")]
    pub os: Option<String>,
    /// Cells update server: the architecture asked for, as Go names it (amd64, arm64, …;
    /// default: this machine's)
    #[arg(long, value_name = "GOARCH")]
    pub arch: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Make a signing key pair (minisign format, like `minisign -G`)
    #[command(long_about = crate::help::KEYGEN, after_long_help = crate::help::KEYGEN_EXAMPLES)]
    Keygen {
        /// Public key file to write
        #[arg(short = 'p', value_name = "PUBKEY", default_value = "minisign.pub")]
        public_key: PathBuf,
        /// Secret key file to write [default: ~/.minisign/minisign.key]
        #[arg(short = 's', value_name = "SECKEY")]
        secret_key: Option<PathBuf>,
        /// Do not encrypt the secret key with a password (for CI; keep the file secret)
        #[arg(short = 'W')]
        unencrypted: bool,
        /// Overwrite existing key files (minisign's `-f`; `-f` here is --forks)
        #[arg(long)]
        force: bool,
    },
    /// Sign files, writing FILE.minisig next to each (like `minisign -S`)
    #[command(long_about = crate::help::SIGN, after_long_help = crate::help::SIGN_EXAMPLES)]
    Sign {
        /// Secret key file [default: ~/.minisign/minisign.key]
        #[arg(short = 's', value_name = "SECKEY")]
        secret_key: Option<PathBuf>,
        /// Trusted comment (signed too) [default: the file name and a timestamp]
        #[arg(short = 't', value_name = "COMMENT")]
        trusted_comment: Option<String>,
        /// Untrusted comment
        #[arg(short = 'c', value_name = "COMMENT")]
        untrusted_comment: Option<String>,
        /// Files to sign
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Verify FILE against FILE.minisig (like `minisign -V`)
    #[command(long_about = crate::help::VERIFY, after_long_help = crate::help::VERIFY_EXAMPLES)]
    Verify {
        /// Public key file
        #[arg(
            short = 'p',
            value_name = "PUBKEY",
            default_value = "minisign.pub",
            conflicts_with = "public_key_string"
        )]
        public_key: PathBuf,
        /// Public key, as a base64 string (`RW…`)
        #[arg(short = 'P', value_name = "KEY")]
        public_key_string: Option<String>,
        /// Signature file [default: FILE.minisig]
        #[arg(short = 'x', value_name = "SIGFILE")]
        signature: Option<PathBuf>,
        /// Accept legacy (non-prehashed `Ed`) signatures
        #[arg(long)]
        allow_legacy: bool,
        /// File to verify
        file: PathBuf,
    },
    /// Add a release to a channel index (creating it when needed), copy its artifacts beside
    /// it, and sign the index: publishing in one command
    #[command(long_about = crate::help::PUBLISH, after_long_help = crate::help::PUBLISH_EXAMPLES)]
    Publish(PublishArgs),
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Directory that is (or will be) the release source: holds CHANNEL.json, its .minisig
    /// and the artifacts
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Channel to publish to
    #[arg(long, value_name = "NAME", default_value = "stable")]
    pub channel: String,
    /// Product name written in the index (must match an existing index's)
    #[arg(long, value_name = "NAME")]
    pub product: String,
    /// Version of the release (semver)
    #[arg(long, value_name = "VERSION")]
    pub version: String,
    /// Short label shown by `fleetup releases`
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Release notes
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
    /// How long the signed index stays valid: a duration (`90d`, `12h`) or an RFC 3339 time
    #[arg(long, value_name = "WHEN", default_value = "90d")]
    pub expires: String,
    /// Secret key file [default: ~/.minisign/minisign.key]
    #[arg(short = 's', value_name = "SECKEY")]
    pub secret_key: Option<PathBuf>,
    /// Replace a release of the same version already in the index
    #[arg(long)]
    pub replace: bool,
    /// Artifacts as OS/ARCH=FILE with Go's names, e.g. `linux/amd64=target/release/demoapp`
    #[arg(required = true, value_name = "OS/ARCH=FILE")]
    pub artifacts: Vec<String>,
}

impl Command {
    /// The `-i`/`-e` given after the command, for the commands that read an inventory.
    fn inputs(&self) -> Option<&InventoryInputs> {
        match self {
            Command::Upgrade(a) => Some(&a.inputs),
            Command::Check(a) => Some(&a.inputs),
            Command::Rollback(a) => Some(&a.inputs),
            Command::Releases(a) => Some(&a.inputs),
            Command::Inventory(a) => Some(&a.inputs),
            Command::Release(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Config(_) => None,
        }
    }
}

/// How chatty the run is; decided once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose(u8),
}

/// What the rest of fleetup works from: the command line, validated, over the configuration.
#[derive(Debug)]
pub struct Settings {
    pub inventory: Vec<PathBuf>,
    pub limit: Option<String>,
    pub forks: usize,
    pub extra_vars: Vec<String>,
    pub output: OutputFormat,
    pub progress: bool,
    pub color: ColorChoice,
    pub verbosity: Verbosity,
    pub command: Command,
    /// Every configurable setting with its source; `inventory`, `forks` and `output` above are
    /// its values.
    pub config: Config,
}

/// A command line that parsed but makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--forks must be between 1 and {MAX_FORKS}, not {0}")]
    Forks(usize),
    #[error(
        "no inventory given: pass one with -i PATH (a file or a directory), or set `inventory` \
         in fleetup.toml (docs/configuration.md)"
    )]
    NoInventory,
    #[error("--limit is empty")]
    EmptyLimit,
    #[error("--max-fail-percentage must be between 0 and 100, not {0}")]
    MaxFail(f64),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Cli {
    /// Validates the parsed command line into settings, over this process's configuration
    /// (files and `FLEETUP_*` variables).
    pub fn into_settings(self) -> Result<Settings, SettingsError> {
        self.into_settings_with(&Environment::process())
    }

    /// [`Cli::into_settings`], with the configuration read from `env`.
    pub fn into_settings_with(self, env: &Environment) -> Result<Settings, SettingsError> {
        let g = self.global;
        let mut inputs = self.inputs;
        if let Some(sub) = self.command.inputs() {
            inputs.inventory.extend(sub.inventory.iter().cloned());
            inputs.extra_vars.extend(sub.extra_vars.iter().cloned());
        }
        if let Some(f) = g.forks
            && (f == 0 || f > MAX_FORKS)
        {
            return Err(SettingsError::Forks(f));
        }
        let batch = match &self.command {
            Command::Upgrade(a) => Some(&a.batch),
            Command::Rollback(a) => Some(&a.batch),
            _ => None,
        };
        // `-i` replaces the configured inventory, it does not add to it.
        let config = config::load(
            env,
            &Flags {
                inventory: std::mem::take(&mut inputs.inventory),
                forks: g.forks,
                serial: batch.and_then(|b| b.serial.clone()),
                output: g.output,
            },
        )?;
        let needs_inventory = match &self.command {
            Command::Release(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Config(_) => false,
            // `releases` can name everything on the command line instead.
            Command::Releases(r) => r.source.is_none() || r.public_keys.is_empty(),
            _ => true,
        };
        if needs_inventory && config.inventory.value.is_empty() {
            return Err(SettingsError::NoInventory);
        }
        if let Some(p) = batch.and_then(|b| b.max_fail_percentage)
            && !(0.0..=100.0).contains(&p)
        {
            return Err(SettingsError::MaxFail(p));
        }
        if g.limit.as_deref().is_some_and(|l| l.trim().is_empty()) {
            return Err(SettingsError::EmptyLimit);
        }
        let verbosity = match (g.quiet, g.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, n) => Verbosity::Verbose(n),
        };
        Ok(Settings {
            inventory: config.inventory.value.clone(),
            limit: g.limit,
            forks: config.forks.value,
            extra_vars: inputs.extra_vars,
            output: config.output.value,
            progress: !g.no_progress,
            color: g.color,
            verbosity,
            command: self.command,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, String> {
        let cli = Cli::try_parse_from(std::iter::once("fleetup").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.into_settings_with(&Environment::default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_command() {
        let s = parse(&[
            "inventory",
            "--list",
            "-i",
            "a.ini",
            "-i",
            "b.yml",
            "-l",
            "web",
            "-f",
            "7",
        ])
        .unwrap();
        assert_eq!(
            s.inventory,
            vec![PathBuf::from("a.ini"), PathBuf::from("b.yml")]
        );
        assert_eq!(s.limit.as_deref(), Some("web"));
        assert_eq!(s.forks, 7);
    }

    #[test]
    fn repeated_inputs_before_and_after_the_command_all_count() {
        let s = parse(&[
            "-i", "a", "-e", "x=1", "upgrade", "-i", "b", "-e", "y=2", "-e", "z=3",
        ])
        .unwrap();
        assert_eq!(s.inventory, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(s.extra_vars, ["x=1", "y=2", "z=3"]);
        let s = parse(&["check", "-i", "c"]).unwrap();
        assert_eq!(s.inventory, vec![PathBuf::from("c")]);
    }

    #[test]
    fn forks_zero_and_missing_inventory_are_refused() {
        assert!(
            parse(&["-i", "x", "-f", "0", "check"])
                .unwrap_err()
                .contains("--forks")
        );
        assert!(parse(&["check"]).unwrap_err().contains("no inventory"));
        assert!(
            parse(&["-i", "x", "-l", " ", "check"])
                .unwrap_err()
                .contains("empty")
        );
    }

    /// `-i` replaces the configured inventory; without it the configured one is used; forks
    /// and output come from the configuration unless flags say otherwise.
    #[test]
    fn the_configuration_fills_in_what_the_flags_do_not_say() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fleetup.toml"),
            "inventory = [\"prod.yml\", \"extra.yml\"]\nforks = 9\noutput = \"json\"\n",
        )
        .unwrap();
        let env = Environment {
            cwd: Some(dir.path().to_path_buf()),
            ..Environment::default()
        };
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("fleetup").chain(args.iter().copied()))
                .unwrap()
                .into_settings_with(&env)
        };
        let s = parse(&["check"]).unwrap();
        assert_eq!(
            s.inventory,
            [dir.path().join("prod.yml"), dir.path().join("extra.yml")]
        );
        assert_eq!((s.forks, s.output), (9, OutputFormat::Json));
        let s = parse(&[
            "-i", "a.yml", "check", "-i", "b.yml", "-f", "2", "--output", "text",
        ])
        .unwrap();
        assert_eq!(
            s.inventory,
            [PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
        assert_eq!((s.forks, s.output), (2, OutputFormat::Text));
        assert_eq!(
            s.config.forks.source,
            crate::config::Source::Flag("-f/--forks")
        );

        std::fs::write(dir.path().join("fleetup.toml"), "forks = 9\nforsk = 1\n").unwrap();
        let err = parse(&["-i", "x", "check"]).unwrap_err().to_string();
        assert!(err.contains("fleetup.toml:2: unknown key `forsk`"), "{err}");
    }

    #[test]
    fn inventory_needs_an_action_and_quiet_conflicts_with_verbose() {
        assert!(parse(&["-i", "x", "inventory"]).is_err());
        assert!(parse(&["-i", "x", "-q", "-v", "check"]).is_err());
        let s = parse(&["-i", "x", "-vv", "check"]).unwrap();
        assert_eq!(s.verbosity, Verbosity::Verbose(2));
    }
}
