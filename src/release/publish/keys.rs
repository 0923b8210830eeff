//! Key pairs, signing and verifying, in minisign's formats (through the `minisign` crate; the
//! checks go through [`TrustedKeys`], the controller's gate).
//!
//! minisign quirk handled here: `minisign -G -W` (0.11) writes an unencrypted secret key whose
//! checksum field is all zeros, which the `minisign` crate's `from_unencrypted_box` rejects as
//! "Corrupted key". Unencrypted keys are therefore read with `SecretKey::from_bytes`, and a key
//! whose public half does not match its secret half is caught when signing: `minisign::sign`
//! checks the global signature against the public key derived from the secret key.

use std::fs::{DirBuilder, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox};

use super::fsutil::{Staged, parent_dir, sync_dir, write_atomic};
use super::{Passwords, PublishError, Result, file_error, io_error};
use crate::release::trust::{MAX_SIGNATURE_BYTES, TrustedKeys, Verified};

/// Longest secret key file accepted (a real one is 2 lines, about 260 bytes).
const MAX_SECRET_KEY_BYTES: u64 = 4096;
/// Longest trusted comment accepted when signing: the signature file must stay under the
/// verifier's [`MAX_SIGNATURE_BYTES`].
pub(super) const MAX_TRUSTED_COMMENT_BYTES: usize = 2048;
/// Untrusted comment of a signature when none is given (minisign's).
const DEFAULT_UNTRUSTED_COMMENT: &str = "signature from minisign secret key";
/// Length of a decoded minisign secret key.
const SECRET_KEY_BYTES: usize = 158;

/// What `keygen` is asked to do.
#[derive(Debug, Clone)]
pub struct KeygenRequest<'a> {
    pub public_key: &'a Path,
    pub secret_key: &'a Path,
    /// `-W`: store the secret key without a password.
    pub unencrypted: bool,
    /// Overwrite existing files.
    pub force: bool,
}

/// What `keygen` wrote.
#[derive(Debug, Clone)]
pub struct KeyPairWritten {
    pub public_key: PathBuf,
    pub secret_key: PathBuf,
    /// Key id as minisign prints it (16 upper-case hex digits).
    pub key_id: String,
    /// The public key as a base64 string (`RW…`), for `fleetup_public_keys` or `-P`.
    pub public_key_base64: String,
    pub encrypted: bool,
}

/// `~/.minisign/minisign.key`, or `$MINISIGN_CONFIG_DIR/minisign.key` like minisign.
pub fn default_secret_key() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MINISIGN_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("minisign.key"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".minisign").join("minisign.key")),
        None => Err(PublishError::Usage(
            "HOME is not set: name the secret key with -s SECKEY".into(),
        )),
    }
}

/// Makes a key pair and writes the secret key (mode 0600, its directory created 0700 when
/// missing) and then the public key, each atomically. Existing files are refused unless
/// `force`.
pub fn keygen(req: &KeygenRequest<'_>, passwords: &Passwords) -> Result<KeyPairWritten> {
    if same_file(req.public_key, req.secret_key) {
        return Err(PublishError::Usage(format!(
            "the public key and the secret key would both be written to {}",
            req.public_key.display()
        )));
    }
    for path in [req.secret_key, req.public_key] {
        if !req.force && std::fs::symlink_metadata(path).is_ok() {
            return Err(file_error(
                path,
                "already exists; pass --force to overwrite it",
            ));
        }
    }
    // Fail before anything is written when the public key cannot be written either.
    let pk_dir = parent_dir(req.public_key);
    if !pk_dir.is_dir() {
        return Err(file_error(
            req.public_key,
            format!("directory {} does not exist", pk_dir.display()),
        ));
    }
    let (pair, comment) = if req.unencrypted {
        let pair = KeyPair::generate_unencrypted_keypair()
            .map_err(|e| file_error(req.secret_key, format!("cannot make a key pair: {e}")))?;
        (pair, "minisign secret key (not encrypted)")
    } else {
        let password = passwords.get(req.secret_key, true)?;
        let pair = KeyPair::generate_encrypted_keypair(Some(password))
            .map_err(|e| file_error(req.secret_key, format!("cannot make a key pair: {e}")))?;
        (pair, "minisign encrypted secret key")
    };
    let secret_text = pair
        .sk
        .to_box(Some(comment))
        .map_err(|e| file_error(req.secret_key, e.to_string()))?
        .into_string();
    // minisign's exact format (the crate writes `public key: ID`, with a colon).
    let public_text = format!(
        "untrusted comment: minisign public key {}\n{}\n",
        key_id(&pair.pk),
        pair.pk.to_base64()
    );

    let sk_dir = parent_dir(req.secret_key);
    if !sk_dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&sk_dir)
            .map_err(io_error(&sk_dir))?;
    }
    write_atomic(req.secret_key, 0o600, secret_text.as_bytes())?;
    write_atomic(req.public_key, 0o644, public_text.as_bytes())?;
    Ok(KeyPairWritten {
        public_key: req.public_key.to_owned(),
        secret_key: req.secret_key.to_owned(),
        key_id: key_id(&pair.pk),
        public_key_base64: pair.pk.to_base64(),
        encrypted: !req.unencrypted,
    })
}

/// A decrypted secret key, ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    path: PathBuf,
    sk: SecretKey,
    pk: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("path", &self.path)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The secret key file it came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Key id as minisign prints it.
    pub fn key_id(&self) -> String {
        key_id(&self.pk)
    }

    /// The public key (`RW…`) that verifies this key's signatures.
    pub fn public_key_base64(&self) -> String {
        self.pk.to_base64()
    }

    /// The verification gate holding only this key's public half.
    pub fn trusted_keys(&self) -> Result<TrustedKeys> {
        Ok(TrustedKeys::from_entries(&[self.public_key_base64()])?)
    }

    /// Signs `data` (prehashed, `ED`) and returns the text of the `.minisig`.
    pub fn sign(
        &self,
        what: &Path,
        data: impl Read,
        trusted_comment: &str,
        untrusted_comment: Option<&str>,
    ) -> Result<String> {
        check_comment(what, "trusted", trusted_comment)?;
        if trusted_comment.len() > MAX_TRUSTED_COMMENT_BYTES {
            return Err(file_error(
                what,
                format!("trusted comment longer than {MAX_TRUSTED_COMMENT_BYTES} bytes"),
            ));
        }
        let untrusted = untrusted_comment.unwrap_or(DEFAULT_UNTRUSTED_COMMENT);
        check_comment(what, "untrusted", untrusted)?;
        let signature = minisign::sign(
            Some(&self.pk),
            &self.sk,
            data,
            Some(trusted_comment),
            Some(untrusted),
        )
        .map_err(|e| match e.kind() {
            minisign::ErrorKind::Io => file_error(what, format!("cannot read: {e}")),
            _ => file_error(
                &self.path,
                format!("cannot sign {} with this secret key: {e}", what.display()),
            ),
        })?;
        let text = signature.into_string();
        debug_assert!(text.len() <= MAX_SIGNATURE_BYTES);
        Ok(text)
    }
}

fn check_comment(what: &Path, kind: &str, comment: &str) -> Result<()> {
    if comment.contains(['\n', '\r']) {
        return Err(file_error(
            what,
            format!("the {kind} comment must be one line"),
        ));
    }
    Ok(())
}

/// Reads a minisign secret key file (made by fleetup or by `minisign -G`, with or without
/// `-W`), asking for its password only when it is encrypted.
pub fn load_secret_key(path: &Path, passwords: &Passwords) -> Result<SigningKey> {
    let bad = |reason: &str| file_error(path, format!("not a minisign secret key: {reason}"));
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            file_error(
                path,
                "no secret key here: make one with `fleetup release keygen`, or name it with -s SECKEY",
            )
        } else {
            io_error(path)(e)
        }
    })?;
    if meta.len() > MAX_SECRET_KEY_BYTES {
        return Err(bad("file too large"));
    }
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut lines = text.lines();
    if !lines
        .next()
        .is_some_and(|l| l.starts_with("untrusted comment:"))
    {
        return Err(bad("no `untrusted comment:` line"));
    }
    let encoded = lines.next().map(str::trim).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad("the key line is not base64"))?;
    if bytes.len() != SECRET_KEY_BYTES {
        return Err(bad("the key has the wrong length"));
    }
    if &bytes[0..2] != b"Ed" {
        return Err(bad("not an Ed25519 key"));
    }
    let sk = match &bytes[2..4] {
        [0, 0] => SecretKey::from_bytes(&bytes).map_err(|e| bad(&e.to_string()))?,
        b"Sc" => {
            let password = passwords.get(path, false)?;
            SecretKey::from_box(
                SecretKeyBox::from_string(&text).map_err(|e| bad(&e.to_string()))?,
                Some(password),
            )
            .map_err(|e| match e.kind() {
                minisign::ErrorKind::Verify => {
                    file_error(path, "wrong password for this secret key")
                }
                _ => file_error(path, format!("cannot decrypt the secret key: {e}")),
            })?
        }
        _ => {
            return Err(bad(
                "unknown key encryption (only scrypt and none are known)",
            ));
        }
    };
    let pk = PublicKey::from_secret_key(&sk).map_err(|e| bad(&e.to_string()))?;
    Ok(SigningKey {
        path: path.to_owned(),
        sk,
        pk,
    })
}

/// Signs `file`, writing `FILE.minisig` beside it atomically; returns the signature's path.
/// The default trusted comment is minisign's: `timestamp:<unix>\tfile:<name>\thashed`.
pub fn sign_file(
    key: &SigningKey,
    file: &Path,
    trusted_comment: Option<&str>,
    untrusted_comment: Option<&str>,
) -> Result<PathBuf> {
    let name = file
        .file_name()
        .ok_or_else(|| file_error(file, "not a file name"))?
        .to_string_lossy()
        .into_owned();
    let trusted = match trusted_comment {
        Some(t) => t.to_owned(),
        None => format!(
            "timestamp:{}\tfile:{name}\thashed",
            jiff::Timestamp::now().as_second()
        ),
    };
    let meta = std::fs::metadata(file).map_err(io_error(file))?;
    if !meta.is_file() {
        return Err(file_error(file, "not a regular file"));
    }
    let reader = BufReader::new(File::open(file).map_err(io_error(file))?);
    let text = key.sign(file, reader, &trusted, untrusted_comment)?;
    let sig_path = signature_path(file);
    let staged = Staged::bytes(&sig_path, 0o644, text.as_bytes())?;
    staged.commit()?;
    sync_dir(&sig_path);
    Ok(sig_path)
}

/// Verifies `file` against `signature` (default `FILE.minisig`) under the one key `key` (an
/// `RW…` string or a `.pub` file), through the controller's gate.
pub fn verify_file(
    key: &str,
    file: &Path,
    signature: Option<&Path>,
    allow_legacy: bool,
) -> Result<Verified> {
    let trusted = TrustedKeys::from_entries(&[key])?;
    let sig_path = signature.map_or_else(|| signature_path(file), Path::to_owned);
    // The whole file is read: the gate takes bytes (legacy signatures need them all anyway).
    let data = std::fs::read(file).map_err(io_error(file))?;
    let sig_text = read_capped(&sig_path, MAX_SIGNATURE_BYTES as u64)?;
    let sig_text = String::from_utf8(sig_text)
        .map_err(|_| file_error(&sig_path, "not a minisign signature (not UTF-8 text)"))?;
    Ok(trusted.verify(&file.display().to_string(), &data, &sig_text, allow_legacy)?)
}

/// Reads a file of at most `max` bytes (one more is read to tell "too large").
pub(super) fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut data = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(io_error(path))?;
    if data.len() as u64 > max {
        return Err(file_error(path, format!("larger than {max} bytes")));
    }
    Ok(data)
}

/// `FILE.minisig`.
pub(super) fn signature_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".minisig");
    PathBuf::from(s)
}

fn key_id(pk: &PublicKey) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(pk.keynum());
    format!("{:016X}", u64::from_le_bytes(id))
}

fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
