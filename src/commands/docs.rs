//! `fleetup completions SHELL` and `fleetup man`: generated from the command line's own
//! definition, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::run::{Outcome, RunError};

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Outcome, RunError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "fleetup", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(Outcome::Success)
}

/// Prints `fleetup.1`, or writes every page (`fleetup.1`, `fleetup-upgrade.1`, …) into
/// `args.dir`.
pub fn man(args: &ManArgs) -> Result<Outcome, RunError> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::stdout()
                .lock()
                .write_all(&examples_heading(&out))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)?;
            let mut names: Vec<String> = std::fs::read_dir(dir)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("fleetup") && n.ends_with(".1"))
                .collect();
            names.sort();
            for name in &names {
                let path = dir.join(name);
                let page = std::fs::read(&path)?;
                std::fs::write(&path, examples_heading(&page))?;
            }
            writeln!(
                std::io::stdout().lock(),
                "wrote {} man pages in {}: {}",
                names.len(),
                dir.display(),
                names.join(" ")
            )?;
        }
    }
    Ok(Outcome::Success)
}

/// clap_mangen puts `after_long_help` — the examples (src/help.rs) — under a section it calls
/// `EXTRA`; a manual page calls it `EXAMPLES`.
fn examples_heading(page: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(page)
        .replace("\n.SH EXTRA\n", "\n.SH EXAMPLES\n")
        .into_bytes()
}
