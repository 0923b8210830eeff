//! fleetup: an agentless fleet upgrader.
//!
//! The binary (`main.rs`) parses the command line with [`cli`], then hands the validated
//! [`cli::Settings`] to [`run::run`], which returns the process exit code. Everything else is
//! a library the tests use directly.

pub mod cli;
pub mod commands;
pub mod compress;
pub mod config;
pub mod events;
pub mod help;
pub mod inventory;
pub mod orchestrate;
pub mod plan;
pub mod progress;
pub mod release;
pub mod report;
pub mod run;
pub mod steps;
pub mod transport;

#[cfg(test)]
mod docs_commands;
