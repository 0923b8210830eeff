//! Runs one command from validated settings and says how it ended. This is the only place
//! that turns errors into the messages and exit codes the operator sees.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Command, InventoryArgs, PublishArgs, ReleaseCommand, Settings};
use crate::inventory::{self, Inventory, InventoryError, LoadOptions};
use crate::release::publish::{self, Passwords, PublishError};

/// How a run ended; each maps to one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: every selected host is at the target (or was already); or a read-only command worked.
    Success,
    /// 1: at least one host failed or was rolled back.
    HostsFailed,
    /// 2: nothing was attempted: bad arguments, bad inventory, release not found or not verified.
    NothingAttempted,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(match o {
            Outcome::Success => 0,
            Outcome::HostsFailed => 1,
            Outcome::NothingAttempted => 2,
        })
    }
}

/// Why a command could not even start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("`fleetup {0}` is not implemented yet")]
    NotImplemented(&'static str),
    #[error("host '{0}' is not in the inventory")]
    UnknownHost(String),
    #[error("group '{0}' is not in the inventory")]
    UnknownGroup(String),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the command in `settings`; prints errors to stderr.
pub fn run(settings: &Settings) -> Outcome {
    match dispatch(settings) {
        Ok(outcome) => outcome,
        // `fleetup inventory --list | head`: the reader left, which is not an error.
        Err(RunError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Success,
        Err(e) => {
            eprintln!("fleetup: {e}");
            Outcome::NothingAttempted
        }
    }
}

fn dispatch(s: &Settings) -> Result<Outcome, RunError> {
    match &s.command {
        Command::Inventory(args) => inventory_command(s, args),
        Command::Upgrade(_) => Err(RunError::NotImplemented("upgrade")),
        Command::Check => Err(RunError::NotImplemented("check")),
        Command::Rollback => Err(RunError::NotImplemented("rollback")),
        Command::Releases(_) => Err(RunError::NotImplemented("releases")),
        Command::Release(cmd) => release_command(cmd),
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

fn inventory_command(s: &Settings, args: &InventoryArgs) -> Result<Outcome, RunError> {
    let (inv, selected) = load_selection(s)?;
    let mut out = std::io::stdout().lock();
    if args.list {
        write_json(&mut out, &inventory::export::list(&inv, &selected))?;
    } else if args.graph {
        let group = args.group.as_deref().unwrap_or(inventory::ALL);
        if inv.group(group).is_none() {
            return Err(RunError::UnknownGroup(group.to_owned()));
        }
        write!(out, "{}", inventory::export::graph(&inv, group, &selected))?;
    } else if let Some(host) = &args.host {
        if inv.host(host).is_none() {
            return Err(RunError::UnknownHost(host.clone()));
        }
        let vars: serde_json::Map<String, serde_json::Value> =
            inv.host_vars(host).into_iter().collect();
        write_json(&mut out, &serde_json::Value::Object(vars))?;
    }
    Ok(Outcome::Success)
}

/// `fleetup release …`: the publisher's commands. Each prints what it wrote on stdout.
fn release_command(cmd: &ReleaseCommand) -> Result<Outcome, RunError> {
    let mut out = std::io::stdout().lock();
    let secret_key = |given: &Option<std::path::PathBuf>| match given {
        Some(p) => Ok(p.clone()),
        None => publish::default_secret_key(),
    };
    match cmd {
        ReleaseCommand::Keygen {
            public_key,
            secret_key: sk,
            unencrypted,
            force,
        } => {
            let sk = secret_key(sk)?;
            let written = publish::keygen(
                &publish::KeygenRequest {
                    public_key,
                    secret_key: &sk,
                    unencrypted: *unencrypted,
                    force: *force,
                },
                &Passwords::from_environment(),
            )?;
            writeln!(
                out,
                "wrote secret key {} ({}) and public key {}",
                written.secret_key.display(),
                if written.encrypted {
                    "password-protected"
                } else {
                    "NOT password-protected"
                },
                written.public_key.display()
            )?;
            writeln!(
                out,
                "key id {}; trust it with fleetup_public_keys: [\"{}\"]",
                written.key_id, written.public_key_base64
            )?;
        }
        ReleaseCommand::Sign {
            secret_key: sk,
            trusted_comment,
            untrusted_comment,
            files,
        } => {
            let key = publish::load_secret_key(&secret_key(sk)?, &Passwords::from_environment())?;
            for file in files {
                let sig = publish::sign_file(
                    &key,
                    file,
                    trusted_comment.as_deref(),
                    untrusted_comment.as_deref(),
                )?;
                writeln!(out, "wrote {} (key id {})", sig.display(), key.key_id())?;
            }
        }
        ReleaseCommand::Verify {
            public_key,
            public_key_string,
            signature,
            allow_legacy,
            file,
        } => {
            let key = match public_key_string {
                Some(k) => k.clone(),
                None => public_key.to_string_lossy().into_owned(),
            };
            let verified = publish::verify_file(&key, file, signature.as_deref(), *allow_legacy)?;
            writeln!(out, "Signature and comment signature verified")?;
            writeln!(out, "Trusted comment: {}", verified.trusted_comment)?;
        }
        ReleaseCommand::Publish(args) => publish_command(&mut out, args)?,
    }
    Ok(Outcome::Success)
}

/// `fleetup release publish`: every argument is checked before the password is asked for.
fn publish_command(out: &mut impl Write, args: &PublishArgs) -> Result<(), RunError> {
    let plan = publish::plan_publish(
        &publish::PublishRequest {
            dir: &args.dir,
            channel: &args.channel,
            product: &args.product,
            version: &args.version,
            label: args.label.as_deref(),
            notes: args.notes.as_deref(),
            expires: &args.expires,
            replace: args.replace,
            artifacts: &args.artifacts,
        },
        jiff::Timestamp::now(),
    )?;
    let sk = match &args.secret_key {
        Some(p) => p.clone(),
        None => publish::default_secret_key()?,
    };
    let key = publish::load_secret_key(&sk, &Passwords::from_environment())?;
    let done = plan.execute(&key)?;
    for a in &done.artifacts {
        writeln!(
            out,
            "{} {} ({}/{}, {} bytes, sha256 {})",
            if a.already_there { "kept" } else { "wrote" },
            a.path.display(),
            a.os,
            a.arch,
            a.size,
            a.sha256
        )?;
    }
    writeln!(
        out,
        "{} {} {} on channel {}: wrote {} ({} release{}, expires {}) and {} (key id {})",
        if done.replaced {
            "replaced"
        } else {
            "published"
        },
        done.product,
        done.version,
        done.channel,
        done.index.display(),
        done.releases,
        if done.releases == 1 { "" } else { "s" },
        done.expires,
        done.signature.display(),
        done.key_id
    )?;
    Ok(())
}

/// Writes JSON the way `ansible-inventory` does (4-space indent, sorted keys, UTF-8 as is), so
/// `diff <(ansible-inventory --list) <(fleetup inventory --list)` compares like with like.
fn write_json(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    use serde::Serialize;
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value.serialize(&mut ser).map_err(std::io::Error::from)?;
    writeln!(out)
}
