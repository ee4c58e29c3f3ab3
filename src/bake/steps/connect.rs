//! Waits for SSH on the build instance and logs in with the temporary key.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};
use crate::ssh::{SshSession, SshTarget};

pub struct Connect;

/// The address to dial: the override, or the chosen interface of the instance.
fn address(cx: &BakeContext<'_>) -> Result<String, BakeError> {
    if let Some(h) = &cx.spec.ssh.host {
        return Ok(h.clone());
    }
    let i = cx
        .instance
        .as_ref()
        .ok_or_else(|| BakeError::Invalid("no build instance".into()))?;
    let pick = match cx.spec.ssh.interface.as_deref() {
        Some("public_ip") => i.public_ip.clone(),
        Some("private_ip") => i.private_ip.clone(),
        Some("public_dns") => i.public_dns.clone(),
        Some("private_dns") => i.private_dns.clone(),
        _ => i.public_ip.clone().or_else(|| i.private_ip.clone()),
    };
    pick.ok_or_else(|| {
        BakeError::Invalid(format!(
            "build instance {} has no address for ssh.interface",
            i.id
        ))
    })
}

impl Step for Connect {
    fn name(&self) -> &'static str {
        "connect"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let key = cx
                .key
                .clone()
                .ok_or_else(|| BakeError::Invalid("no temporary key".into()))?;
            if let Some(k) = &cx.spec.ssh.host_key {
                let pinned = russh::keys::PublicKey::from_openssh(k)
                    .map_err(|e| BakeError::Invalid(format!("ssh.host_key: {e}")))?;
                cx.host_key = crate::ssh::HostKeyPin::new(Some(pinned));
            }
            let target = SshTarget {
                host: address(cx)?,
                port: cx.spec.ssh.port,
                username: cx.spec.ssh.username.clone(),
                key,
                timeout: cx.spec.ssh.timeout,
            };
            let session = SshSession::connect(&target, &cx.host_key, &cx.cancel).await?;
            cx.ssh = Some(session);
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if let Some(s) = cx.ssh.take() {
                s.close().await;
            }
            Ok(())
        })
    }
}
