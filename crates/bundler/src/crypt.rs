//! age encryption of whole bundles: recipients (X25519, SSH public keys) or
//! a passphrase, interoperable with the `age` command-line tool.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr as _;
use std::sync::Arc;

use age::secrecy::SecretString;

use crate::error::{BundleError, Result};

/// Who can decrypt a bundle.
#[derive(Clone)]
pub enum Encryption {
    /// Public keys: `age1...` X25519 recipients or `ssh-ed25519`/`ssh-rsa`
    /// public key lines.
    Recipients(Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>),
    /// A passphrase (scrypt).
    Passphrase(Arc<SecretString>),
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recipients(r) => write!(f, "Encryption::Recipients({} keys)", r.len()),
            Self::Passphrase(_) => f.write_str("Encryption::Passphrase(..)"),
        }
    }
}

fn crypto(what: &'static str, message: impl std::fmt::Display) -> BundleError {
    BundleError::Crypto {
        what,
        message: message.to_string(),
    }
}

impl Encryption {
    /// Parse recipient strings: `age1...` or an SSH public key line.
    pub fn recipients<S: AsRef<str>>(keys: &[S]) -> Result<Self> {
        if keys.is_empty() {
            return Err(crypto("encrypt", "no recipient given"));
        }
        let mut out: Vec<Box<dyn age::Recipient + Send + Sync>> = Vec::new();
        for k in keys {
            let k = k.as_ref().trim();
            if k.starts_with("age1") {
                let r = age::x25519::Recipient::from_str(k)
                    .map_err(|e| crypto("encrypt", format!("bad recipient {k:?}: {e}")))?;
                out.push(Box::new(r));
            } else {
                let r = age::ssh::Recipient::from_str(k)
                    .map_err(|e| crypto("encrypt", format!("bad SSH recipient {k:?}: {e:?}")))?;
                out.push(Box::new(r));
            }
        }
        Ok(Self::Recipients(Arc::new(out)))
    }

    /// Encrypt with a passphrase.
    pub fn passphrase(p: &str) -> Self {
        Self::Passphrase(Arc::new(SecretString::from(p.to_owned())))
    }

    pub(crate) fn wrap<W: Write>(&self, sink: W) -> Result<age::stream::StreamWriter<W>> {
        let enc = match self {
            Self::Recipients(r) => {
                age::Encryptor::with_recipients(r.iter().map(|b| &**b as &dyn age::Recipient))
                    .map_err(|e| crypto("encrypt", e))?
            }
            Self::Passphrase(p) => age::Encryptor::with_user_passphrase((**p).clone()),
        };
        enc.wrap_output(sink).map_err(|source| BundleError::Sink {
            what: "age header",
            source,
        })
    }
}

/// How to decrypt an encrypted bundle.
#[derive(Clone)]
pub enum Decryption {
    /// Identities: X25519 (`AGE-SECRET-KEY-1...`) or unencrypted SSH
    /// private keys.
    Identities(Arc<Vec<Box<dyn age::Identity + Send + Sync>>>),
    /// A passphrase.
    Passphrase(Arc<SecretString>),
}

impl fmt::Debug for Decryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identities(r) => write!(f, "Decryption::Identities({} keys)", r.len()),
            Self::Passphrase(_) => f.write_str("Decryption::Passphrase(..)"),
        }
    }
}

impl Decryption {
    /// Parse an identity file: age X25519 secret keys (one per line, `#`
    /// comments) or one unencrypted OpenSSH private key.
    pub fn identity_file(text: &str) -> Result<Self> {
        let mut out: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        if text.contains("-----BEGIN") {
            let id = age::ssh::Identity::from_buffer(text.as_bytes(), None)
                .map_err(|e| crypto("decrypt", format!("bad SSH identity: {e}")))?;
            if !matches!(id, age::ssh::Identity::Unencrypted(_)) {
                return Err(crypto(
                    "decrypt",
                    "SSH identity is encrypted or unsupported; decrypt the key first",
                ));
            }
            out.push(Box::new(id));
        } else {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let id = age::x25519::Identity::from_str(line)
                    .map_err(|e| crypto("decrypt", format!("bad identity line: {e}")))?;
                out.push(Box::new(id));
            }
        }
        if out.is_empty() {
            return Err(crypto("decrypt", "no identity found"));
        }
        Ok(Self::Identities(Arc::new(out)))
    }

    /// Decrypt with a passphrase.
    pub fn passphrase(p: &str) -> Self {
        Self::Passphrase(Arc::new(SecretString::from(p.to_owned())))
    }

    pub(crate) fn decrypt<R: Read>(&self, input: R) -> Result<age::stream::StreamReader<R>> {
        let d = age::Decryptor::new(input).map_err(|e| crypto("decrypt", e))?;
        match self {
            Self::Identities(ids) => d
                .decrypt(ids.iter().map(|b| &**b as &dyn age::Identity))
                .map_err(|e| crypto("decrypt", e)),
            Self::Passphrase(p) => {
                let id = age::scrypt::Identity::new((**p).clone());
                d.decrypt(std::iter::once(&id as &dyn age::Identity))
                    .map_err(|e| crypto("decrypt", e))
            }
        }
    }
}

/// Generate a new X25519 key pair: (`AGE-SECRET-KEY-1...`, `age1...`).
pub fn generate_x25519() -> (String, String) {
    use age::secrecy::ExposeSecret as _;
    let id = age::x25519::Identity::generate();
    (
        id.to_string().expose_secret().to_owned(),
        id.to_public().to_string(),
    )
}
