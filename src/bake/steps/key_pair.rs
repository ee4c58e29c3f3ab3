//! The launch key: a temporary ed25519 (or RSA) key pair, made in memory, imported
//! and deleted after; or the user's own key pair and private key.

use super::{Step, StepFuture};
use crate::bake::spec::KeyPairType;
use crate::bake::{BakeContext, BakeError};
use crate::ssh::keys::PrivateKey;

pub struct KeyPair;

impl Step for KeyPair {
    fn name(&self) -> &'static str {
        "key_pair"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if let (Some(name), Some(pem)) = (&cx.spec.ssh.key_pair_name, &cx.spec.ssh.private_key)
            {
                let key = PrivateKey::parse(pem)
                    .map_err(|e| BakeError::Key(format!("ssh.private_key: {e}")))?;
                cx.launch_key_name = Some(name.clone());
                cx.key = Some(key);
                return Ok(());
            }
            let key = match cx.spec.key_pair_type {
                KeyPairType::Ed25519 => PrivateKey::generate_ed25519(),
                // Seconds of CPU: off the async runtime.
                KeyPairType::Rsa => tokio::task::spawn_blocking(PrivateKey::generate_rsa)
                    .await
                    .map_err(|e| BakeError::Key(e.to_string()))?
                    .map_err(|e| BakeError::Key(e.to_string()))?,
            };
            let public = key
                .public_openssh()
                .map_err(|e| BakeError::Key(e.to_string()))?;
            let name = format!("golden-{}", cx.spec.build_id);
            let tags = cx.run_tags("key pair");
            // Recorded first: the name is ours, and deleting a missing key pair is harmless.
            cx.key_pair_name = Some(name.clone());
            cx.launch_key_name = Some(name.clone());
            cx.ec2.import_key_pair(&name, &public, &tags).await?;
            cx.key = Some(key);
            cx.check_cancel()
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if let Some(name) = cx.key_pair_name.take() {
                // Imported by this bake: a not-found may only mean "not visible yet".
                let never = tokio_util::sync::CancellationToken::new();
                cx.ec2.delete_new_key_pair(&name, &never).await?;
                tracing::info!(key_pair = %name, "deleted temporary key pair");
            }
            Ok(())
        })
    }
}
