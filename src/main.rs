//! The `fleetup` binary: parse, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use fleetup::cli::{Cli, Verbosity};
use fleetup::run::{self, Outcome};

fn main() -> ExitCode {
    let settings = match Cli::parse().into_settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fleetup: {e}");
            return Outcome::NothingAttempted.into();
        }
    };
    init_tracing(settings.verbosity);
    raise_open_files_limit();
    run::run(&settings).into()
}

/// A run keeps one connection, one file descriptor, per host: a thousand hosts exceed the
/// usual soft limit of 1024 open files. Lift it to the hard limit, as Go's runtime does.
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!("cannot raise the open files limit: {e}");
        }
    }
}

fn init_tracing(verbosity: Verbosity) {
    let level = match verbosity {
        Verbosity::Quiet => "error",
        Verbosity::Normal => "warn",
        Verbosity::Verbose(1) => "info",
        Verbosity::Verbose(2) => "debug",
        Verbosity::Verbose(_) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
