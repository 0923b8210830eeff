//! `fleetup release keygen | sign | verify | publish`: the publisher's side.

use std::io::Write;

use crate::cli::{PublishArgs, ReleaseCommand};
use crate::release::publish::{self, Passwords};
use crate::run::{Outcome, RunError};

/// `fleetup release …`: the publisher's commands. Each prints what it wrote on stdout.
pub fn run(cmd: &ReleaseCommand) -> Result<Outcome, RunError> {
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
