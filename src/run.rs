//! Runs one command from validated settings and says how it ended. This is the only place
//! that turns errors into the messages and exit codes the operator sees.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{BatchArgs, Command, OutputFormat, Settings};
use crate::commands;
use crate::events::Job;
use crate::inventory::{self, Inventory, InventoryError, LoadOptions};
use crate::release::ReleaseError;
use crate::release::publish::PublishError;

/// How a run ended; each maps to one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: every selected host is at the target (or was already); or a read-only command worked.
    Success,
    /// 1: at least one host failed or was rolled back.
    HostsFailed,
    /// 2: nothing was attempted: bad arguments, bad inventory, release not found or not verified.
    NothingAttempted,
    /// 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP): a signal stopped the run before every host was done;
    /// the value is the exit code, 128 + the signal's number.
    Interrupted(u8),
}

impl Outcome {
    /// The process exit code of this outcome.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::HostsFailed => 1,
            Outcome::NothingAttempted => 2,
            Outcome::Interrupted(code) => code,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(o.exit_code())
    }
}

/// Why a command could not even start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("`fleetup {0}` is not implemented yet")]
    NotImplemented(&'static str),
    /// `hint` is [`inventory::pattern::suggest`]'s: the names that come close.
    #[error("host '{name}' is not in the inventory{hint}")]
    UnknownHost { name: String, hint: String },
    #[error("group '{name}' is not in the inventory{hint}")]
    UnknownGroup { name: String, hint: String },
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error("{0}")]
    Config(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the command in `settings`; prints errors to stderr.
pub fn run(settings: &Settings) -> Outcome {
    // The download cache and the SSH defaults are built deep inside the commands: they read
    // the configuration from here.
    crate::config::install(&settings.config);
    if !matches!(settings.command, Command::Config(_)) {
        // `fleetup config` shows them in its report.
        for warning in &settings.config.warnings {
            tracing::warn!("{warning}");
        }
    }
    match dispatch(settings) {
        Ok(outcome) => outcome,
        // `fleetup inventory --list | head`: the reader left, which is not an error.
        Err(RunError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Success,
        Err(e) => {
            eprintln!("fleetup: {e}");
            if settings.output == OutputFormat::Json && fleet_command(&settings.command) {
                // A reader of `--output json` gets a document whatever happens.
                let doc = serde_json::json!({
                    "error": e.to_string(),
                    "summary": {"exit_code": 2},
                    "hosts": [],
                });
                let _ = write_json(&mut std::io::stdout().lock(), &doc);
            }
            if settings.output == OutputFormat::Html && fleet_command(&settings.command) {
                // `--output html > audit.html` leaves a page that says what happened.
                let _ = crate::report::html::write_error_page(
                    &mut std::io::stdout().lock(),
                    command_name(&settings.command),
                    &e.to_string(),
                    &crate::commands::fleet::hostname(),
                );
            }
            Outcome::NothingAttempted
        }
    }
}

/// Refuses `--output junit` or `--output html` given on the command line of a command that
/// reports no hosts (`releases`, `inventory`, `config`). Configured as the default
/// (`fleetup.toml`, `FLEETUP_OUTPUT`) they are meant for the fleet commands: such a command then
/// prints its usual text.
pub fn refuse_host_formats(s: &Settings, command: &str, instead: &str) -> Result<(), RunError> {
    let asked = matches!(s.config.output.source, crate::config::Source::Flag(_));
    match s.output {
        OutputFormat::Junit | OutputFormat::Html if asked => Err(RunError::Config(format!(
            "--output {} reports host results; `fleetup {command}` {instead}",
            crate::config::output_name(s.output)
        ))),
        _ => Ok(()),
    }
}

/// `upgrade`, `check` or `rollback`, for an error page.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Upgrade(a) if a.check => "check",
        Command::Upgrade(_) => "upgrade",
        Command::Rollback(_) => "rollback",
        _ => "check",
    }
}

fn fleet_command(c: &Command) -> bool {
    matches!(
        c,
        Command::Upgrade(_) | Command::Check(_) | Command::Rollback(_)
    )
}

fn dispatch(s: &Settings) -> Result<Outcome, RunError> {
    match &s.command {
        Command::Inventory(args) => commands::inventory::run(s, args),
        Command::Upgrade(args) if args.check => {
            commands::fleet::run(s, Job::Check, Some(args), &args.batch)
        }
        Command::Upgrade(args) => commands::fleet::run(s, Job::Upgrade, Some(args), &args.batch),
        Command::Check(_) => commands::fleet::run(s, Job::Check, None, &BatchArgs::default()),
        Command::Rollback(args) => commands::fleet::run(s, Job::Rollback, None, &args.batch),
        Command::Releases(args) => commands::releases::run(s, args),
        Command::Release(cmd) => commands::release::run(cmd),
        Command::Completions(args) => commands::docs::completions(args),
        Command::Man(args) => commands::docs::man(args),
        Command::Config(_) => commands::config::run(s),
    }
}

/// Loads the inventory and applies `--limit`: the hosts a command works on, in order.
pub fn load_selection(s: &Settings) -> Result<(Inventory, Vec<String>), RunError> {
    let inv = inventory::load(&LoadOptions {
        sources: s.inventory.clone(),
        extra_vars: s.extra_vars.clone(),
    })?;
    let selected = match s.limit.as_deref() {
        Some(pattern) => inventory::select(&inv, pattern)?,
        None => inv.group_hosts(inventory::ALL),
    };
    Ok((inv, selected))
}

/// Writes JSON the way `ansible-inventory` does (4-space indent, sorted keys, UTF-8 as is), so
/// `diff <(ansible-inventory --list) <(fleetup inventory --list)` compares like with like.
pub fn write_json(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    use serde::Serialize;
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value.serialize(&mut ser).map_err(std::io::Error::from)?;
    writeln!(out)
}

/// The async runtime for commands that talk to the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Output)
}
