//! Stops the build instance so the image is consistent.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};

pub struct Stop;

/// Removes the bake's public key from the login user's authorized_keys, so
/// the image does not trust a key that only existed for the build (Packer
/// leaves it there). Matches the key's base64 body, whatever the comment;
/// rewrites in place to keep the file's owner and mode.
async fn forget_temporary_key(
    cx: &BakeContext<'_>,
    ssh: &crate::ssh::SshSession,
) -> Result<(), BakeError> {
    // The user's own key stays: it is theirs to keep or not.
    let (Some(key), Some(_)) = (&cx.key, &cx.key_pair_name) else {
        return Ok(());
    };
    let public = key
        .public_openssh()
        .map_err(|e| BakeError::Key(e.to_string()))?;
    let Some(blob) = public.split_whitespace().nth(1) else {
        return Ok(());
    };
    let script = format!(
        "f=\"$HOME/.ssh/authorized_keys\"; if [ -f \"$f\" ] && grep -qF '{blob}' \"$f\"; then \
         grep -vF '{blob}' \"$f\" > \"$f.golden\"; cat \"$f.golden\" > \"$f\"; rm -f \"$f.golden\"; fi"
    );
    let r = ssh.exec(&script, &cx.cancel, |_| {}).await?;
    if r.exit_status != Some(0) {
        tracing::warn!(status = ?r.exit_status, "could not remove the temporary key from authorized_keys");
    }
    Ok(())
}

impl Step for Stop {
    fn name(&self) -> &'static str {
        "stop"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            cx.ensure_connected().await?;
            if let Some(s) = cx.ssh.take() {
                forget_temporary_key(cx, &s).await?;
                s.close().await;
            }
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .ok_or_else(|| BakeError::Internal("no build instance".into()))?;
            cx.cancellable(cx.ec2.stop_instance(&id)).await?;
            cx.ec2
                .wait_instance_stopped(&id, cx.pace("stop"), cx.spec.create_timeout, &cx.cancel)
                .await?;
            Ok(())
        })
    }
}
