//! SSH key parsing, so no layer above `ssh/` needs russh's key types to
//! check or carry a key.

/// True when `pem` is an unencrypted OpenSSH or PEM private key.
pub fn is_private_key(pem: &str) -> bool {
    russh::keys::decode_secret_key(pem, None).is_ok()
}

/// True when `line` is a public key as in known_hosts or a `.pub` file.
pub fn is_public_key(line: &str) -> bool {
    russh::keys::PublicKey::from_openssh(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keys_and_rejects_junk() {
        let seed: [u8; 32] = rand::random();
        let key = russh::keys::PrivateKey::from(
            russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed),
        );
        let Ok(pem) = key.to_openssh(russh::keys::ssh_key::LineEnding::LF) else {
            panic!("cannot encode the key")
        };
        assert!(is_private_key(&pem));
        assert!(!is_private_key("not a key"));
        let Ok(public) = key.public_key().to_openssh() else {
            panic!("cannot encode the public key")
        };
        assert!(is_public_key(&public));
        assert!(!is_public_key("ssh-ed25519 AAAA"));
    }
}
