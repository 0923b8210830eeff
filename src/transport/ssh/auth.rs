//! Public-key authentication, in OpenSSH's order: the identity files given, the agent, the
//! default keys. Encrypted keys take their passphrase from the target, `FLEETUP_SSH_PASSPHRASE`
//! or a prompt on a terminal (never a hang when there is none). RSA keys sign with the best
//! SHA-2 hash the server announces (OpenSSH ≥ 8.8 refuses SHA-1 `ssh-rsa`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::{Client, PASSPHRASE_ENV, SshTarget};

/// Passphrases typed at the prompt, per key file, so a fleet run asks once per key.
fn prompted() -> &'static Mutex<HashMap<PathBuf, String>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Serialises prompts: many hosts connecting at once must not all ask at the same time.
fn prompt_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// Loads a private key, decrypting it when needed. `Err` is a one-line reason.
async fn load_key(path: &Path, target: &SshTarget) -> Result<PrivateKey, String> {
    let text = tokio::fs::read_to_string(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "it does not exist (check ansible_ssh_private_key_file, or IdentityFile in \
             ~/.ssh/config)"
                .to_owned()
        } else {
            format!("cannot read it: {e}")
        }
    })?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => return Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(format!("not a usable private key: {e}")),
    }
    let decrypt = |pass: &str, source: &str| {
        russh::keys::decode_secret_key(&text, Some(pass)).map_err(|e| {
            format!("encrypted, and the passphrase from {source} does not open it: {e}")
        })
    };
    if let Some(pass) = &target.passphrase {
        return decrypt(pass, "the configuration");
    }
    if let Ok(pass) = std::env::var(PASSPHRASE_ENV) {
        return decrypt(&pass, PASSPHRASE_ENV);
    }
    let _turn = prompt_lock().lock().await;
    let cached = prompted().lock().ok().and_then(|c| c.get(path).cloned());
    if let Some(pass) = cached {
        return decrypt(&pass, "the prompt");
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "encrypted, and no passphrase: set {PASSPHRASE_ENV} (stdin is not a terminal, so none can be asked)"
        ));
    }
    let question = format!("Passphrase for {}: ", path.display());
    let pass = tokio::task::spawn_blocking(move || rpassword::prompt_password(question))
        .await
        .map_err(|e| format!("the passphrase prompt failed: {e}"))?
        .map_err(|e| format!("the passphrase prompt failed: {e}"))?;
    let key = decrypt(&pass, "the prompt")?;
    if let Ok(mut c) = prompted().lock() {
        c.insert(path.to_owned(), pass);
    }
    Ok(key)
}

fn fingerprint(key: &russh::keys::PublicKey) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

/// The RSA hash to sign with: the best SHA-2 the server announces in `server-sig-algs`.
async fn rsa_hash(handle: &Handle<Client>, cache: &mut Option<Option<HashAlg>>) -> Option<HashAlg> {
    if let Some(h) = *cache {
        return h;
    }
    let h = match handle.best_supported_rsa_hash().await {
        Ok(Some(h)) => h,
        // No server-sig-algs: an old server; SHA-256 is what every OpenSSH since 7.2 accepts.
        _ => Some(HashAlg::Sha256),
    };
    *cache = Some(h);
    h
}

/// The default identity files that exist: `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let dir = PathBuf::from(home).join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Authenticates `user` on `handle`; `Err` says which methods and keys were tried and why each
/// did not work.
pub(super) async fn authenticate(
    handle: &mut Handle<Client>,
    user: &str,
    target: &SshTarget,
) -> Result<(), String> {
    let mut tried: Vec<String> = Vec::new();
    let mut hash_cache = None;

    let defaults = if target.use_default_identities {
        default_identities()
    } else {
        Vec::new()
    };

    // 1. The identity files given.
    for path in &target.identity_files {
        if try_file(
            handle,
            user,
            path,
            "identity file",
            target,
            &mut hash_cache,
            &mut tried,
        )
        .await?
        {
            return Ok(());
        }
    }

    // 2. The agent.
    if target.use_agent {
        let agent = match &target.agent_socket {
            Some(sock) => AgentClient::connect_uds(sock)
                .await
                .map_err(|e| (sock.display().to_string(), e)),
            None => AgentClient::connect_env()
                .await
                .map_err(|e| ("SSH_AUTH_SOCK".to_owned(), e)),
        };
        match agent {
            Err((at, e)) => tried.push(format!("agent ({at}): not available: {e}")),
            Ok(mut agent) => match agent.request_identities().await {
                Err(e) => tried.push(format!("agent: cannot list its keys: {e}")),
                Ok(ids) if ids.is_empty() => tried.push("agent: holds no keys".into()),
                Ok(ids) => {
                    for id in ids {
                        let AgentIdentity::PublicKey { key, .. } = id else {
                            continue; // certificates are not offered
                        };
                        let hash = if key.algorithm().is_rsa() {
                            rsa_hash(handle, &mut hash_cache).await
                        } else {
                            None
                        };
                        let label = format!("agent key {}", fingerprint(&key));
                        match handle
                            .authenticate_publickey_with(user, key, hash, &mut agent)
                            .await
                        {
                            Ok(AuthResult::Success) => return Ok(()),
                            Ok(AuthResult::Failure { .. }) => {
                                tried.push(format!("{label}: refused"));
                            }
                            Err(e) => tried.push(format!("{label}: {e}")),
                        }
                    }
                }
            },
        }
    }

    // 3. The default keys.
    for path in defaults {
        if target.identity_files.contains(&path) {
            continue;
        }
        if try_file(
            handle,
            user,
            &path,
            "default key",
            target,
            &mut hash_cache,
            &mut tried,
        )
        .await?
        {
            return Ok(());
        }
    }

    if tried.is_empty() {
        tried.push(
            "no key to offer (no identity file, agent disabled, no default key in ~/.ssh)".into(),
        );
    }
    Err(format!("no key was accepted; tried: {}", tried.join("; ")))
}

/// What to do when no key was accepted: the usual causes, and the command that installs a
/// key on the host (`ssh-copy-id`, with the key fleetup offers first when there is one).
pub(super) fn what_to_do(target: &SshTarget, user: &str, address: &str, port: u16) -> String {
    let key = target
        .identity_files
        .iter()
        .find(|p| p.is_file())
        .or(target.identity_files.first())
        .map(|p| {
            let public = format!("{}.pub", p.display());
            shlex::try_quote(&public).map_or(public.clone(), |q| q.into_owned())
        })
        .unwrap_or_else(|| "~/.ssh/id_ed25519.pub".to_owned());
    let dest = format!("{user}@{address}");
    format!(
        "Check the user (ansible_user) and the key (ansible_ssh_private_key_file, or a key in \
         the ssh-agent), and that its public key is in ~{user}/.ssh/authorized_keys on the \
         host, e.g. with `ssh-copy-id -i {key} -p {port} {dest}`"
    )
}

/// Offers one key file; `Ok(true)` when accepted. `Err` only when the connection broke.
async fn try_file(
    handle: &mut Handle<Client>,
    user: &str,
    path: &Path,
    kind: &str,
    target: &SshTarget,
    hash_cache: &mut Option<Option<HashAlg>>,
    tried: &mut Vec<String>,
) -> Result<bool, String> {
    let label = format!("{kind} {}", path.display());
    let key = match load_key(path, target).await {
        Ok(k) => k,
        Err(reason) => {
            tried.push(format!("{label}: {reason}"));
            return Ok(false);
        }
    };
    let hash = if key.algorithm().is_rsa() {
        rsa_hash(handle, hash_cache).await
    } else {
        None
    };
    let label = format!("{label} ({})", fingerprint(key.public_key()));
    match handle
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
        .await
    {
        Ok(AuthResult::Success) => Ok(true),
        Ok(AuthResult::Failure { .. }) => {
            tried.push(format!("{label}: refused"));
            Ok(false)
        }
        Err(e) => Err(format!("{label}: {e}; tried before: {}", tried.join("; "))),
    }
}
