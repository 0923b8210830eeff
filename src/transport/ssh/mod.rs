//! The SSH transport, with russh: one connection per host (through a chain of jump hosts when
//! configured), one session channel per command on it.
//!
//! - Host keys are checked by a [`HostKeyVerifier`] the caller supplies, for every hop under
//!   that hop's own address and port. There is no default that accepts everything.
//! - Authentication: the identity files given, then the agent, then `~/.ssh/id_ed25519`,
//!   `id_ecdsa`, `id_rsa` (see [`auth`]). RSA keys sign with SHA-2.
//! - Timeouts: `connect_timeout` bounds each hop's TCP connect, key exchange and
//!   authentication; every command has its own timeout (the channel is closed and the remote
//!   process sent `KILL`); keepalives detect a dead peer.

mod auth;
mod exec;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::PublicKey;
use russh::{Disconnect, cipher};

use super::{CommandOutput, RemoteCommand, Transport, TransportError};

/// Decides whether a host key is trusted: `(address, port, key)` → `Ok(())` or the reason it
/// is not (unknown host, changed key, revoked …). Called once per hop.
pub type HostKeyVerifier = Arc<dyn Fn(&str, u16, &PublicKey) -> Result<(), String> + Send + Sync>;

/// Environment variable holding the passphrase of encrypted private keys.
pub const PASSPHRASE_ENV: &str = "FLEETUP_SSH_PASSPHRASE";

/// A jump host (`ProxyJump`): reached first, it opens a TCP channel to the next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpTarget {
    pub address: String,
    pub port: u16,
    pub user: String,
}

/// Where and how to connect to one host.
#[derive(Clone)]
pub struct SshTarget {
    /// The inventory name (for messages).
    pub name: String,
    /// The address or DNS name to connect to; also the name its host key is checked under.
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Private keys (OpenSSH format) tried first, in order.
    pub identity_files: Vec<PathBuf>,
    /// Try the keys of the ssh-agent after the identity files.
    pub use_agent: bool,
    /// The agent's socket; `None`: `SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
    /// Then try `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
    pub use_default_identities: bool,
    /// The passphrase of encrypted keys; `None`: `FLEETUP_SSH_PASSPHRASE`, else a prompt when
    /// stdin is a terminal (once per key file per process), else the key is skipped and said so.
    pub passphrase: Option<String>,
    /// Jump hosts, first reached first; the target is reached through the last one.
    pub jump: Vec<JumpTarget>,
    /// Bound on each hop's TCP connect + key exchange + authentication.
    pub connect_timeout: Duration,
    /// Keepalive after this long without traffic; the connection is dropped after 3 unanswered.
    pub keepalive_interval: Duration,
    /// Ciphers in order of preference; `None`: AES-GCM first when the CPU has AES instructions,
    /// else ChaCha20-Poly1305 first.
    pub ciphers: Option<Vec<String>>,
    /// Host key algorithms to ask for, in order (None = russh's default). Asking first for the
    /// types already in known_hosts avoids a spurious "key changed" for a host that has several.
    pub host_key_algorithms: Option<Vec<russh::keys::Algorithm>>,
    pub verifier: HostKeyVerifier,
    /// When set, the connections to the jump hosts are shared with every other target of this
    /// process that has the same value and the same chain (one connection to a bastion
    /// instead of one per host behind it: a bastion's sshd refuses connections beyond its
    /// `MaxStartups`, 10 by default). The value must describe everything the jump connection
    /// depends on: host key trust, credentials, ciphers. `None`: never shared.
    pub share_jumps: Option<String>,
}

impl std::fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTarget")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("identity_files", &self.identity_files)
            .field("use_agent", &self.use_agent)
            .field("agent_socket", &self.agent_socket)
            .field("use_default_identities", &self.use_default_identities)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<set>"))
            .field("jump", &self.jump)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("ciphers", &self.ciphers)
            .field("share_jumps", &self.share_jumps.is_some())
            .finish_non_exhaustive()
    }
}

impl SshTarget {
    /// A target on port 22 with the agent and default keys enabled, a 30 s connect timeout
    /// and 15 s keepalives.
    pub fn new(
        name: impl Into<String>,
        address: impl Into<String>,
        user: impl Into<String>,
        verifier: HostKeyVerifier,
    ) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            port: 22,
            user: user.into(),
            identity_files: Vec::new(),
            use_agent: true,
            agent_socket: None,
            use_default_identities: true,
            passphrase: None,
            jump: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(15),
            ciphers: None,
            host_key_algorithms: None,
            verifier,
            share_jumps: None,
        }
    }
}

/// Whether this CPU has AES instructions (then AES-GCM beats ChaCha20-Poly1305).
pub fn cpu_has_aes() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The cipher preference used when [`SshTarget::ciphers`] is `None`.
pub fn default_ciphers() -> Vec<String> {
    let gcm = [cipher::AES_256_GCM, cipher::AES_128_GCM];
    let rest = [
        cipher::AES_256_CTR,
        cipher::AES_192_CTR,
        cipher::AES_128_CTR,
    ];
    let order: Vec<cipher::Name> = if cpu_has_aes() {
        gcm.into_iter()
            .chain([cipher::CHACHA20_POLY1305])
            .chain(rest)
            .collect()
    } else {
        [cipher::CHACHA20_POLY1305]
            .into_iter()
            .chain(gcm)
            .chain(rest)
            .collect()
    };
    order.iter().map(|n| n.as_ref().to_owned()).collect()
}

fn cipher_names(wanted: &[String]) -> Result<Vec<cipher::Name>, String> {
    let known = [
        cipher::AES_256_GCM,
        cipher::AES_128_GCM,
        cipher::CHACHA20_POLY1305,
        cipher::AES_256_CTR,
        cipher::AES_192_CTR,
        cipher::AES_128_CTR,
    ];
    wanted
        .iter()
        .map(|w| {
            known
                .iter()
                .find(|k| k.as_ref() == w.as_str())
                .copied()
                .ok_or_else(|| format!("unsupported cipher {w:?}"))
        })
        .collect()
}

/// russh's client configuration for a target.
fn client_config(target: &SshTarget) -> Result<Arc<client::Config>, String> {
    let ciphers = cipher_names(&target.ciphers.clone().unwrap_or_else(default_ciphers))?;
    let mut preferred = russh::Preferred {
        cipher: ciphers.into(),
        ..Default::default()
    };
    if let Some(keys) = &target.host_key_algorithms {
        preferred.key = keys.clone().into();
    }
    Ok(Arc::new(client::Config {
        preferred,
        // Large windows and packets: one upload stream should not wait on window adjusts.
        window_size: 16 * 1024 * 1024,
        maximum_packet_size: 65535,
        channel_buffer_size: 256,
        keepalive_interval: Some(target.keepalive_interval),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    }))
}

/// Why a connection attempt stopped inside russh's handshake.
#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    HostKey(String),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandlerError::Ssh(e) => write!(f, "{e}"),
            HandlerError::HostKey(r) => write!(f, "{r}"),
        }
    }
}

/// The russh handler of one hop: checks the host key with the verifier, records the cipher.
struct Client {
    address: String,
    port: u16,
    verifier: HostKeyVerifier,
    cipher: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => {
                (self.verifier)(&self.address, self.port, key).map_err(HandlerError::HostKey)?;
                Ok(true)
            }
            russh::keys::PublicKeyOrCertificate::Certificate(_) => Err(HandlerError::HostKey(
                "the server presented a host certificate; only plain host keys are supported"
                    .into(),
            )),
        }
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        names: &russh::Names,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        if let Ok(mut c) = self.cipher.lock() {
            *c = Some(names.cipher.as_ref().to_owned());
        }
        Ok(())
    }
}

/// One hop of the chain as seen by the connection code.
struct Hop<'a> {
    address: &'a str,
    port: u16,
    user: &'a str,
}

/// An authenticated SSH connection to one host; every command of that host runs on it.
pub struct SshTransport {
    name: String,
    address: String,
    handle: Handle<Client>,
    /// The jump hosts' connections, first first; they carry `handle`'s TCP stream. Shared
    /// ones (see [`SshTarget::share_jumps`]) are left open for the other hosts.
    jumps: Vec<(Arc<Handle<Client>>, bool)>,
    cipher: Arc<Mutex<Option<String>>>,
    /// Bounds the commands running at once on the connection: OpenSSH refuses sessions past
    /// `MaxSessions` (10 by default); two are left for the kill of a timed-out command.
    sessions: tokio::sync::Semaphore,
}

/// Most commands run at once on one connection (the others wait their turn).
pub const MAX_CONCURRENT_COMMANDS: usize = 8;

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("jumps", &self.jumps.len())
            .field("cipher", &self.cipher())
            .finish_non_exhaustive()
    }
}

impl SshTransport {
    /// Connects (through the jump hosts, each checked and authenticated in turn), checks the
    /// target's host key under its own address, and authenticates.
    pub async fn connect(target: SshTarget) -> Result<SshTransport, TransportError> {
        let config = client_config(&target).map_err(|reason| TransportError::Connect {
            host: target.name.clone(),
            address: format!("{}:{}", target.address, target.port),
            reason,
        })?;
        let mut hops: Vec<Hop<'_>> = target
            .jump
            .iter()
            .map(|j| Hop {
                address: &j.address,
                port: j.port,
                user: &j.user,
            })
            .collect();
        hops.push(Hop {
            address: &target.address,
            port: target.port,
            user: &target.user,
        });

        let mut handles: Vec<(Arc<Handle<Client>>, bool)> = Vec::new();
        let mut cipher = Arc::new(Mutex::new(None));
        for (i, hop) in hops.iter().enumerate() {
            let is_target = i + 1 == hops.len();
            let prev = handles.last().map(|(h, _)| Arc::clone(h));
            let shared = match &target.share_jumps {
                Some(trust) if !is_target => Some(jump_key(trust, &hops[..=i])),
                _ => None,
            };
            let handle = if let Some(key) = shared {
                let cell = shared_jump(&key);
                let result = cell
                    .get_or_init(|| async {
                        connect_hop(&target, &config, hop, prev, false, Arc::default())
                            .await
                            .map(Arc::new)
                    })
                    .await;
                match result {
                    Ok(h) => (Arc::clone(h), true),
                    Err(e) => return Err(e.for_host(&target.name)),
                }
            } else {
                cipher = Arc::new(Mutex::new(None));
                let h = connect_hop(&target, &config, hop, prev, is_target, cipher.clone()).await?;
                (Arc::new(h), false)
            };
            handles.push(handle);
        }
        let (handle, _) = handles.pop().expect("the target's connection");
        let handle = Arc::try_unwrap(handle)
            .map_err(|_| ())
            .expect("the target's connection is never shared");
        Ok(SshTransport {
            name: target.name,
            address: format!("{}:{}", target.address, target.port),
            handle,
            jumps: handles,
            cipher,
            sessions: tokio::sync::Semaphore::new(MAX_CONCURRENT_COMMANDS),
        })
    }

    /// The cipher negotiated with the target (e.g. `aes256-gcm@openssh.com`).
    pub fn cipher(&self) -> Option<String> {
        self.cipher.lock().ok().and_then(|c| c.clone())
    }

    /// Whether the connection to the target is gone.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Disconnects from the target, then from the jump hosts (last first).
    pub async fn close(&self) -> Result<(), TransportError> {
        let result = self
            .handle
            .disconnect(Disconnect::ByApplication, "fleetup done", "en")
            .await;
        for (jump, shared) in self.jumps.iter().rev() {
            if !shared {
                let _ = jump
                    .disconnect(Disconnect::ByApplication, "fleetup done", "en")
                    .await;
            }
        }
        result.map_err(|e| TransportError::Lost {
            host: self.name.clone(),
            reason: format!("while disconnecting: {e}"),
        })
    }
}

/// A jump connection being made or made, shared by the hosts behind it (its error too: a
/// dead bastion fails every host behind it at once, not one timeout after another).
type SharedJump = Arc<tokio::sync::OnceCell<Result<Arc<Handle<Client>>, TransportError>>>;

/// The shared jump connections of this process, by [`jump_key`].
static SHARED_JUMPS: std::sync::LazyLock<Mutex<HashMap<String, SharedJump>>> =
    std::sync::LazyLock::new(Mutex::default);

/// Identifies a jump connection: the trust and credentials, and the chain up to that hop.
fn jump_key(trust: &str, chain: &[Hop<'_>]) -> String {
    let mut key = trust.to_owned();
    for hop in chain {
        key.push_str(&format!("\n{}@{}:{}", hop.user, hop.address, hop.port));
    }
    key
}

/// The cell of the jump connection `key`: a new one when there is none yet or the previous
/// connection has closed since.
fn shared_jump(key: &str) -> SharedJump {
    let mut map = SHARED_JUMPS.lock().unwrap_or_else(|e| e.into_inner());
    let stale = map
        .get(key)
        .and_then(|cell| cell.get())
        .is_some_and(|r| r.as_ref().is_ok_and(|h| h.is_closed()));
    if stale {
        map.remove(key);
    }
    Arc::clone(map.entry(key.to_owned()).or_default())
}

/// Connects to one hop (directly, or through `prev`'s TCP channel), checks its host key and
/// authenticates, within the target's connect timeout.
async fn connect_hop(
    target: &SshTarget,
    config: &Arc<client::Config>,
    hop: &Hop<'_>,
    prev: Option<Arc<Handle<Client>>>,
    is_target: bool,
    cipher: Arc<Mutex<Option<String>>>,
) -> Result<Handle<Client>, TransportError> {
    let what = if is_target {
        String::new()
    } else {
        format!("jump host {}:{}: ", hop.address, hop.port)
    };
    let handler = Client {
        address: hop.address.to_owned(),
        port: hop.port,
        verifier: target.verifier.clone(),
        cipher,
    };
    let address = format!("{}:{}", hop.address, hop.port);
    let connect_err = |reason: String| TransportError::Connect {
        host: target.name.clone(),
        address: address.clone(),
        reason: format!("{what}{reason}"),
    };
    let attempt = async {
        let mut handle = match prev {
            None => client::connect(config.clone(), (hop.address, hop.port), handler).await,
            Some(prev) => {
                let channel = prev
                    .channel_open_direct_tcpip(hop.address, u32::from(hop.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| {
                        connect_err(format!(
                            "the previous jump host cannot open a TCP channel to it: {e}"
                        ))
                    })?;
                client::connect_stream(config.clone(), channel.into_stream(), handler).await
            }
        }
        .map_err(|e| match e {
            HandlerError::HostKey(reason) => TransportError::HostKey {
                host: target.name.clone(),
                reason: format!("{what}{address}: {reason}"),
            },
            HandlerError::Ssh(e) => connect_err(e.to_string()),
        })?;
        auth::authenticate(&mut handle, hop.user, target)
            .await
            .map_err(|reason| TransportError::Auth {
                host: target.name.clone(),
                user: hop.user.to_owned(),
                reason: format!(
                    "{what}{reason}. {}",
                    auth::what_to_do(target, hop.user, hop.address, hop.port)
                ),
            })?;
        Ok::<_, TransportError>(handle)
    };
    tokio::time::timeout(target.connect_timeout, attempt)
        .await
        .map_err(|_| {
            connect_err(format!(
                "timed out after {:.1} s (TCP connect, SSH handshake and authentication)",
                target.connect_timeout.as_secs_f64()
            ))
        })?
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.name
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<bytes::Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        exec::run(self, cmd, stdin, None).await
    }

    async fn exec_counted(
        &self,
        cmd: &RemoteCommand,
        stdin: bytes::Bytes,
        sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<CommandOutput, TransportError> {
        exec::run(self, cmd, Some(stdin), Some(&sent)).await
    }
}
