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
    run::run(&settings).into()
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
