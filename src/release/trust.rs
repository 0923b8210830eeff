//! Trusted keys and minisign signature checks: the one gate every index passes.
//!
//! Keys are minisign public keys (`RW…`, or a `.pub` file holding one). Several may be
//! trusted at once so a publisher can rotate keys: a signature is accepted when it verifies
//! under the key whose id it names. Only prehashed (`ED`) signatures are accepted unless
//! legacy ones are explicitly allowed; the global signature over the trusted comment is always
//! checked (minisign-verify does both).

use std::path::Path;

use minisign_verify::{PublicKey, Signature};

use super::{ReleaseError, Result};

/// Longest `.minisig` accepted (a real one is about 300 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 4096;
/// Longest `.pub` file accepted.
const MAX_PUBLIC_KEY_FILE_BYTES: u64 = 4096;

/// The keys an operator trusts.
#[derive(Clone)]
pub struct TrustedKeys {
    keys: Vec<(String, PublicKey)>,
}

impl std::fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(id, _)| id))
            .finish()
    }
}

/// What a successful verification tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Id of the key that signed, as minisign prints it (16 hex digits, upper case).
    pub key_id: String,
    /// The signed trusted comment.
    pub trusted_comment: String,
}

impl TrustedKeys {
    /// Parses `fleetup_public_keys` entries: each a base64 key (`RW…`) or a path to a minisign
    /// `.pub` file (relative paths from the current directory). No entry is an error: there is
    /// no unsigned path.
    pub fn from_entries<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let (id, key) = parse_entry(entry)?;
            if !keys.iter().any(|(k, _)| *k == id) {
                keys.push((id, key));
            }
        }
        if keys.is_empty() {
            return Err(ReleaseError::NoTrustedKey);
        }
        Ok(Self { keys })
    }

    /// Ids of the trusted keys.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Verifies `data` against the text of its `.minisig`. `what` names the file in errors.
    pub fn verify(
        &self,
        what: &str,
        data: &[u8],
        signature: &str,
        allow_legacy: bool,
    ) -> Result<Verified> {
        let bad = |reason: String| ReleaseError::BadSignature {
            what: what.to_owned(),
            reason,
        };
        if signature.len() > MAX_SIGNATURE_BYTES {
            return Err(bad(format!(
                "signature file larger than {MAX_SIGNATURE_BYTES} bytes"
            )));
        }
        let sig = Signature::decode(signature)
            .map_err(|e| bad(format!("cannot read the signature: {e}")))?;
        let key_id =
            signature_key_id(signature).ok_or_else(|| bad("cannot read the key id".into()))?;
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == key_id) else {
            return Err(ReleaseError::UntrustedKey {
                what: what.to_owned(),
                key_id,
                trusted: self.ids().join(", "),
            });
        };
        key.verify(data, &sig, allow_legacy).map_err(|e| match e {
            minisign_verify::Error::UnexpectedAlgorithm => bad(
                "legacy (non-prehashed) signature, refused unless legacy signatures are allowed"
                    .into(),
            ),
            other => bad(other.to_string()),
        })?;
        Ok(Verified {
            key_id,
            trusted_comment: sig.trusted_comment().to_owned(),
        })
    }
}

/// A key and its id, from a key string or a `.pub` file.
fn parse_entry(entry: &str) -> Result<(String, PublicKey)> {
    let bad = |reason: String| ReleaseError::BadKey {
        entry: entry.to_owned(),
        reason,
    };
    if entry.is_empty() {
        return Err(bad("empty".into()));
    }
    // A base64 minisign key is 56 characters starting with `RW`; anything else is a file.
    // Base64 has `/` and `+` in its alphabet, so a key may contain `/`: only a string that
    // does not decode as a key and names an existing file is read as a path.
    let path = Path::new(entry);
    let looks_like_key = entry.len() == 56
        && entry.starts_with("RW")
        && entry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if looks_like_key && !(entry.contains('/') && path.is_file()) {
        return decode_key(entry).map_err(|e| bad(format!("not a minisign public key: {e}")));
    }
    let meta = std::fs::metadata(path)
        .map_err(|e| bad(format!("not a key and not a readable file: {e}")))?;
    if meta.len() > MAX_PUBLIC_KEY_FILE_BYTES {
        return Err(bad(format!(
            "file larger than {MAX_PUBLIC_KEY_FILE_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    // A .pub file is `untrusted comment: …` then the key; accept a bare key line too.
    let key_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .ok_or_else(|| bad("no key in the file".into()))?;
    decode_key(key_line).map_err(|e| bad(format!("not a minisign public key file: {e}")))
}

fn decode_key(b64: &str) -> std::result::Result<(String, PublicKey), String> {
    let key = PublicKey::from_base64(b64).map_err(|e| e.to_string())?;
    let id = id_from_b64(b64).ok_or("cannot read the key id")?;
    Ok((id, key))
}

fn signature_key_id(signature: &str) -> Option<String> {
    id_from_b64(signature.lines().nth(1)?.trim())
}

/// The key id as minisign prints it: bytes 2..10 of a key or signature line (after the
/// two algorithm bytes), little-endian, as upper-case hex.
fn id_from_b64(b64: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let id = bytes.get(2..10)?;
    Some(id.iter().rev().map(|b| format!("{b:02X}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64 uses `/`: a key string containing one is still a key, not a file path.
    #[test]
    fn key_with_a_slash_is_a_key() {
        let key = (0..200)
            .map(|_| {
                minisign::KeyPair::generate_unencrypted_keypair()
                    .unwrap()
                    .pk
                    .to_base64()
            })
            .find(|k| k.contains('/'))
            .expect("some key contains a slash");
        let keys = TrustedKeys::from_entries(&[key]).unwrap();
        assert_eq!(keys.ids().len(), 1);
    }
}
