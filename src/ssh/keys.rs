//! SSH keys as the layers above `ssh/` see them: made, parsed, printed and
//! checked here, so no caller needs russh's key types.

use std::sync::Arc;

/// Why a key could not be made, read or printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// A private key to log in with; cheap to clone, never printed.
#[derive(Clone)]
pub struct PrivateKey(pub(super) Arc<russh::keys::PrivateKey>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// A fresh ed25519 key, made in memory.
    pub fn generate_ed25519() -> PrivateKey {
        let seed: [u8; 32] = rand::random();
        let key = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
        PrivateKey(Arc::new(russh::keys::PrivateKey::from(key)))
    }

    /// A fresh 3072-bit RSA key, made in memory (seconds of CPU: call it
    /// off the async runtime). russh signs with it using rsa-sha2-256/512,
    /// whichever the server names first (`best_supported_rsa_hash`).
    pub fn generate_rsa() -> Result<PrivateKey, KeyError> {
        let mut rng = russh::keys::key::safe_rng();
        russh::keys::ssh_key::private::RsaKeypair::random(&mut rng, 3072)
            .map(|k| PrivateKey(Arc::new(russh::keys::PrivateKey::from(k))))
            .map_err(|e| KeyError(e.to_string()))
    }

    /// An unencrypted OpenSSH or PEM private key.
    pub fn parse(pem: &str) -> Result<PrivateKey, KeyError> {
        russh::keys::decode_secret_key(pem, None)
            .map(|k| PrivateKey(Arc::new(k)))
            .map_err(|e| KeyError(e.to_string()))
    }

    /// The key in OpenSSH's private key format, unencrypted: a secret, for
    /// the one place it must go (a build instance's user data).
    pub fn private_openssh(&self) -> Result<String, KeyError> {
        self.0
            .to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .map(|k| k.to_string())
            .map_err(|e| KeyError(e.to_string()))
    }

    /// The public half, to pin as a host key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key().clone())
    }

    /// The public half as one OpenSSH line (`ssh-ed25519 AAAA...`).
    pub fn public_openssh(&self) -> Result<String, KeyError> {
        self.0
            .public_key()
            .to_openssh()
            .map_err(|e| KeyError(e.to_string()))
    }
}

/// A host key, as in known_hosts or a `.pub` file.
#[derive(Debug, Clone)]
pub struct PublicKey(pub(super) russh::keys::PublicKey);

impl PublicKey {
    pub fn parse(line: &str) -> Result<PublicKey, KeyError> {
        russh::keys::PublicKey::from_openssh(line)
            .map(PublicKey)
            .map_err(|e| KeyError(e.to_string()))
    }
}

/// True when `pem` is an unencrypted OpenSSH or PEM private key.
pub fn is_private_key(pem: &str) -> bool {
    PrivateKey::parse(pem).is_ok()
}

/// True when `line` is a public key as in known_hosts or a `.pub` file.
pub fn is_public_key(line: &str) -> bool {
    PublicKey::parse(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keys_and_rejects_junk() {
        let key = PrivateKey::generate_ed25519();
        let Ok(pem) = key.0.to_openssh(russh::keys::ssh_key::LineEnding::LF) else {
            panic!("cannot encode the key")
        };
        assert!(is_private_key(&pem));
        assert!(!is_private_key("not a key"));
        let Ok(public) = key.public_openssh() else {
            panic!("cannot encode the public key")
        };
        assert!(public.starts_with("ssh-ed25519 "), "{public}");
        assert!(is_public_key(&public));
        assert!(!is_public_key("ssh-ed25519 AAAA"));
        assert_eq!(format!("{key:?}"), "PrivateKey(..)");
    }

    #[test]
    fn an_rsa_key_is_made_and_printed_as_ssh_rsa() {
        let Ok(key) = PrivateKey::generate_rsa() else {
            panic!("cannot make an RSA key")
        };
        let Ok(public) = key.public_openssh() else {
            panic!("cannot encode the public key")
        };
        assert!(public.starts_with("ssh-rsa "), "{public}");
        let Ok(pem) = key.private_openssh() else {
            panic!("cannot encode the key")
        };
        assert!(is_private_key(&pem));
    }

    #[test]
    fn a_generated_key_round_trips_through_openssh_text() {
        let key = PrivateKey::generate_ed25519();
        let Ok(pem) = key.private_openssh() else {
            panic!("cannot encode the key")
        };
        assert!(
            pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "format"
        );
        let Ok(again) = PrivateKey::parse(&pem) else {
            panic!("cannot read the key back")
        };
        assert_eq!(
            again.public_key().0.key_data(),
            key.public_key().0.key_data()
        );
    }
}
