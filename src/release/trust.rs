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

    /// The key of a minisign `.pub` file, from its text, as [`TrustedKeys::from_entries`] reads
    /// a file entry (`entry` names the file in errors). For callers that read the file
    /// themselves, and for the fuzz targets.
    pub fn from_public_key_file_text(entry: &str, text: &str) -> Result<Self> {
        let key = key_from_file_text(entry, text)?;
        Ok(Self { keys: vec![key] })
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
    // A base64 minisign key is 56 characters starting with `RW` (and may contain `/`, a
    // base64 digit); anything that does not decode as one is a file.
    let looks_like_key = entry.len() == 56 && entry.starts_with("RW");
    if looks_like_key {
        match decode_key(entry) {
            Ok(key) => return Ok(key),
            Err(e) if !Path::new(entry).exists() => {
                return Err(bad(format!("not a minisign public key: {e}")));
            }
            Err(_) => {}
        }
    }
    let path = Path::new(entry);
    let meta = std::fs::metadata(path)
        .map_err(|e| bad(format!("not a key and not a readable file: {e}")))?;
    if meta.len() > MAX_PUBLIC_KEY_FILE_BYTES {
        return Err(bad(format!(
            "file larger than {MAX_PUBLIC_KEY_FILE_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    key_from_file_text(entry, &text)
}

/// The key of a `.pub` file's text: `untrusted comment: …` then the key; a bare key line is
/// accepted too. `entry` names the file in errors.
fn key_from_file_text(entry: &str, text: &str) -> Result<(String, PublicKey)> {
    let bad = |reason: String| ReleaseError::BadKey {
        entry: entry.to_owned(),
        reason,
    };
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

    /// A fresh key pair: (public key `RW…`, secret key).
    fn pair() -> (String, minisign::SecretKey) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        (kp.pk.to_base64(), kp.sk)
    }

    fn sign(sk: &minisign::SecretKey, data: &[u8], comment: &str) -> String {
        minisign::sign(None, sk, data, Some(comment), None)
            .unwrap()
            .into_string()
    }

    #[test]
    fn keys_with_a_slash_are_keys_not_paths() {
        // About half of all keys contain `/`, a base64 digit.
        let (pk, sk) = std::iter::repeat_with(pair)
            .find(|(pk, _)| pk.contains('/'))
            .unwrap();
        let keys = TrustedKeys::from_entries(&[&pk]).unwrap();
        let v = keys
            .verify("f", b"data", &sign(&sk, b"data", "c"), false)
            .unwrap();
        assert_eq!(v.trusted_comment, "c");
    }

    #[test]
    fn a_mistyped_key_says_so() {
        let (pk, _) = pair();
        let typo = format!("{}!", &pk[..55]);
        let err = TrustedKeys::from_entries(&[typo]).unwrap_err().to_string();
        assert!(err.contains("not a minisign public key"), "{err}");
        assert!(matches!(
            TrustedKeys::from_entries::<&str>(&[]),
            Err(ReleaseError::NoTrustedKey)
        ));
    }

    #[test]
    fn pub_files_rotation_and_untrusted_keys() {
        let (old_pk, old_sk) = pair();
        let (new_pk, new_sk) = pair();
        let (_, stranger) = pair();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("old.pub");
        std::fs::write(&file, format!("untrusted comment: k\n{old_pk}\n")).unwrap();
        let keys = TrustedKeys::from_entries(&[file.to_str().unwrap(), new_pk.as_str()]).unwrap();
        assert_eq!(keys.ids().len(), 2);
        for sk in [&old_sk, &new_sk] {
            keys.verify("f", b"x", &sign(sk, b"x", "c"), false).unwrap();
        }
        let err = keys
            .verify("idx.json", b"x", &sign(&stranger, b"x", "c"), false)
            .unwrap_err();
        let ReleaseError::UntrustedKey {
            key_id, trusted, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(key_id.len(), 16);
        assert_eq!(*trusted, keys.ids().join(", "));
        assert!(
            err.to_string().starts_with("idx.json: signed by key"),
            "{err}"
        );
    }

    #[test]
    fn changed_data_comment_or_truncation_fail() {
        let (pk, sk) = pair();
        let keys = TrustedKeys::from_entries(&[pk]).unwrap();
        let sig = sign(&sk, b"data", "timestamp:1");
        assert!(keys.verify("f", b"datA", &sig, false).is_err());
        let changed = sig.replace("timestamp:1", "timestamp:2");
        assert!(keys.verify("f", b"data", &changed, false).is_err());
        let truncated = &sig[..sig.len() - 20];
        assert!(keys.verify("f", b"data", truncated, false).is_err());
        assert!(keys.verify("f", b"data", &sig, false).is_ok());
    }
}
