//! Waits for SSH on the build instance and logs in with the temporary key.

use super::{Step, StepFuture};
use crate::bake::spec::{HostKeyCheck, Interface};
use crate::bake::{BakeContext, BakeError};
use crate::ec2::wait::Poll;
use crate::ssh::keys::{PrivateKey, PublicKey};
use crate::ssh::{HostKeyPolicy, SshSession, SshTarget, Trust};

pub struct Connect;

/// The address to dial: the override, or the chosen interface of the instance.
fn address(cx: &BakeContext<'_>) -> Result<String, BakeError> {
    if let Some(h) = &cx.spec.ssh.host {
        return Ok(h.clone());
    }
    let i = cx
        .instance
        .as_ref()
        .ok_or_else(|| BakeError::Internal("no build instance".into()))?;
    let pick = match cx.spec.ssh.interface {
        Some(Interface::PublicIp) => i.public_ip.clone(),
        Some(Interface::PrivateIp) => i.private_ip.clone(),
        Some(Interface::PublicDns) => i.public_dns.clone(),
        Some(Interface::PrivateDns) => i.private_dns.clone(),
        // Behind a bastion the private address is the one that works.
        None if cx.spec.ssh.bastion.is_some() => i.private_ip.clone(),
        None => i.public_ip.clone().or_else(|| i.private_ip.clone()),
    };
    pick.ok_or_else(|| {
        BakeError::Invalid(format!(
            "build instance {} has no address for ssh.interface",
            i.id
        ))
    })
}

/// What to trust, per `ssh.host_key_check`. With `console` (the default
/// without `ssh.host_key`), the fingerprints cloud-init prints to the
/// instance's console, read through the EC2 API, as an operator would.
async fn trust(cx: &BakeContext<'_>) -> Result<Trust, BakeError> {
    match cx.spec.ssh.host_key_check {
        HostKeyCheck::None => Ok(Trust::FirstSeen),
        HostKeyCheck::Pinned => {
            let k = cx.spec.ssh.host_key.as_deref().unwrap_or_default();
            let key = PublicKey::parse(k)
                .map_err(|e| BakeError::Invalid(format!("ssh.host_key: {e}")))?;
            Ok(Trust::Key(key))
        }
        HostKeyCheck::Console => {
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default();
            let prints = cx
                .ec2
                .wait_console_output(
                    &id,
                    "the host key fingerprints on the instance console",
                    cx.spec.ssh.timeout,
                    &cx.cancel,
                    |text| match console_fingerprints(text) {
                        p if p.is_empty() => Poll::Pending("no fingerprint block yet".into()),
                        p => Poll::Ready(p),
                    },
                )
                .await?;
            tracing::info!(fingerprints = ?prints, "host key fingerprints from the console");
            Ok(Trust::Fingerprints(prints))
        }
    }
}

/// The SHA-256 fingerprints between cloud-init's
/// `-----BEGIN SSH HOST KEY FINGERPRINTS-----` and `-----END ...-----` lines.
pub fn console_fingerprints(console: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in console.lines() {
        if line.contains("-----BEGIN SSH HOST KEY FINGERPRINTS-----") {
            inside = true;
        } else if line.contains("-----END SSH HOST KEY FINGERPRINTS-----") {
            inside = false;
        } else if inside {
            out.extend(
                line.split_whitespace()
                    .filter(|w| w.starts_with("SHA256:"))
                    .map(str::to_string),
            );
        }
    }
    out
}

fn bastion(b: &crate::bake::BastionSpec) -> Result<crate::ssh::Bastion, BakeError> {
    let key = PrivateKey::parse(&b.private_key)
        .map_err(|e| BakeError::Key(format!("ssh.bastion.private_key: {e}")))?;
    let trust = match &b.host_key {
        Some(k) => Trust::Key(
            PublicKey::parse(k)
                .map_err(|e| BakeError::Invalid(format!("ssh.bastion.host_key: {e}")))?,
        ),
        None => Trust::FirstSeen,
    };
    Ok(crate::ssh::Bastion {
        host: b.host.clone(),
        port: b.port,
        username: b.username.clone(),
        key,
        host_key: HostKeyPolicy::new(trust),
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
                .ok_or_else(|| BakeError::Internal("no temporary key".into()))?;
            cx.host_key = HostKeyPolicy::new(trust(cx).await?);
            let target = SshTarget {
                host: address(cx)?,
                port: cx.spec.ssh.port,
                username: cx.spec.ssh.username.clone(),
                key,
                timeout: cx.spec.ssh.timeout,
                bastion: cx.spec.ssh.bastion.as_ref().map(bastion).transpose()?,
            };
            let session = SshSession::connect(&target, &cx.host_key, &cx.cancel).await?;
            cx.ssh = Some(session);
            cx.ssh_target = Some(target);
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

#[cfg(test)]
mod tests {
    use super::console_fingerprints;

    #[test]
    fn reads_cloud_init_fingerprint_block() {
        let console = "boot...\nec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n\
            ec2: 256 SHA256:AbCd root@ip-10-0-0-1 (ECDSA)\n\
            ec2: 256 SHA256:EfGh root@ip-10-0-0-1 (ED25519)\n\
            ec2: -----END SSH HOST KEY FINGERPRINTS-----\nSHA256:outside\n";
        assert_eq!(
            console_fingerprints(console),
            vec!["SHA256:AbCd", "SHA256:EfGh"]
        );
        assert!(console_fingerprints("no block").is_empty());
    }
}
