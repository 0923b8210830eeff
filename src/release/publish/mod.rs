//! The publisher's side: key pairs, signatures and channel indexes, in the formats of the
//! `minisign` CLI so a publisher can mix both tools (`minisign -V` verifies what fleetup signs,
//! fleetup signs with a key made by `minisign -G`, and the other way round).
//!
//! - [`keys`]: `keygen`, loading a secret key (password-protected or not), `sign`, `verify`.
//! - [`channel`]: `publish`, adding a release to a channel index and signing it; [`args`]:
//!   its arguments (Go os/arch names, semver, `--expires`).
//!
//! Nothing here prints: every function returns what it did and `run.rs` tells the operator.
//! Verification always goes through [`crate::release::TrustedKeys`], the gate the controller
//! uses, so the publisher checks exactly what the fleet will check.

mod args;
mod channel;
mod fsutil;
mod keys;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub use args::GO_PLATFORMS;
pub use channel::{PublishPlan, PublishRequest, Published, PublishedArtifact, plan_publish};
pub use keys::{
    KeyPairWritten, KeygenRequest, SigningKey, default_secret_key, keygen, load_secret_key,
    sign_file, verify_file,
};

use super::ReleaseError;

/// Environment variable holding the secret key's password, for scripts and CI.
pub const PASSWORD_ENV: &str = "FLEETUP_KEY_PASSWORD";

/// Why a publisher command failed. Each variant names the file it was about.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file that is not what it should be (exists already, wrong format, wrong content).
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// No usable password for a secret key.
    #[error("{}: {reason}", path.display())]
    Password { path: PathBuf, reason: String },
    /// An argument that makes no sense (bad os/arch, version, name, expiry).
    #[error("{0}")]
    Usage(String),
    /// A signature that does not verify, or a key that is not the expected one.
    #[error(transparent)]
    Trust(#[from] ReleaseError),
}

pub type Result<T, E = PublishError> = std::result::Result<T, E>;

fn file_error(path: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where a secret key's password comes from: [`PASSWORD_ENV`] when set, else a prompt on the
/// terminal, else nothing — then a clear error, never a read from a stdin that may be a pipe
/// or `/dev/null` (a CI job must not hang waiting for a password nobody will type).
#[derive(Clone)]
pub struct Passwords {
    /// The value of [`PASSWORD_ENV`], if set.
    pub env: Option<String>,
    /// Whether a prompt may be shown (stdin is a terminal).
    pub terminal: bool,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("env", &self.env.as_ref().map(|_| "<set>"))
            .field("terminal", &self.terminal)
            .finish()
    }
}

/// Longest password accepted (minisign's limit).
const PASSWORD_MAX_BYTES: usize = 1024;

impl Passwords {
    /// From this process's environment and stdin.
    pub fn from_environment() -> Self {
        Self {
            env: std::env::var(PASSWORD_ENV).ok(),
            terminal: std::io::stdin().is_terminal(),
        }
    }

    /// The password for the secret key at `key`. `new` (keygen): asked twice on a terminal,
    /// and an empty one is refused (`-W` is the way to an unprotected key).
    fn get(&self, key: &Path, new: bool) -> Result<String> {
        let bad = |reason: String| PublishError::Password {
            path: key.to_owned(),
            reason,
        };
        let password = if let Some(p) = &self.env {
            p.clone()
        } else if self.terminal {
            let prompt = if new {
                format!("Password for the new secret key {}: ", key.display())
            } else {
                format!("Password for secret key {}: ", key.display())
            };
            let p = rpassword::prompt_password(prompt)
                .map_err(|e| bad(format!("cannot read a password from the terminal: {e}")))?;
            if new {
                let again = rpassword::prompt_password("Password (one more time): ")
                    .map_err(|e| bad(format!("cannot read a password from the terminal: {e}")))?;
                if again != p {
                    return Err(bad("the passwords do not match".into()));
                }
            }
            p
        } else {
            return Err(bad(format!(
                "a password is needed but there is no terminal to ask on: set {PASSWORD_ENV}{}",
                if new {
                    ", or pass -W for a key without password"
                } else {
                    ""
                }
            )));
        };
        if new && password.is_empty() {
            return Err(bad(
                "empty password refused; pass -W for a key without password".into(),
            ));
        }
        if password.len() > PASSWORD_MAX_BYTES {
            return Err(bad(format!(
                "password longer than {PASSWORD_MAX_BYTES} bytes"
            )));
        }
        Ok(password)
    }
}
