//! One module per command: each loads what it needs, calls the library, and renders the result.
//! They return a [`crate::run::Outcome`] or a [`crate::run::RunError`]; `run.rs` maps both to
//! messages and exit codes.

pub mod config;
pub mod docs;
pub mod fleet;
pub mod inventory;
pub mod release;
pub mod releases;
