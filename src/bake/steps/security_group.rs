//! A temporary security group that lets SSH in from the allowed CIDRs only
//! (the VPC's own range unless told otherwise; never 0.0.0.0/0 by default).

use super::{Step, StepFuture};
use crate::bake::spec::Interface;
use crate::bake::{BakeContext, BakeError};
use std::time::Duration;

pub struct SecurityGroup;

/// Who may reach SSH: `ssh.allowed_cidrs` when given; otherwise the VPC's
/// CIDR for private addresses (and when dialing through `ssh.host`), and
/// this machine's public address for public ones. Never 0.0.0.0/0 unless
/// written. The address a default `interface` dials is known only after
/// launch, so that case admits both.
async fn allowed_cidrs(cx: &BakeContext<'_>, vpc_cidr: String) -> Result<Vec<String>, BakeError> {
    let ssh = &cx.spec.ssh;
    if !ssh.allowed_cidrs.is_empty() {
        return Ok(ssh.allowed_cidrs.clone());
    }
    let public = match ssh.interface {
        Some(Interface::PublicIp | Interface::PublicDns) => true,
        Some(Interface::PrivateIp | Interface::PrivateDns) => false,
        // Through a bastion the instance is reached from inside the VPC.
        None => ssh.host.is_none() && ssh.bastion.is_none(),
    };
    if !public {
        return Ok(vec![vpc_cidr]);
    }
    match crate::public_ip::lookup(&cx.spec.public_ip_url).await {
        Ok(ip) => Ok(if ssh.interface.is_some() {
            vec![format!("{ip}/32")]
        } else {
            vec![format!("{ip}/32"), vpc_cidr]
        }),
        Err(e) if ssh.interface.is_some() => Err(BakeError::Invalid(format!(
            "{e}; set ssh.allowed_cidrs or public_ip_url"
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "SSH is admitted from the VPC only");
            Ok(vec![vpc_cidr])
        }
    }
}

impl Step for SecurityGroup {
    fn name(&self) -> &'static str {
        "security_group"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.spec.network.own_groups() {
                // The user's groups guard the instance; none of ours is made.
                return Ok(());
            }
            let subnet = cx.network.subnet_id.clone();
            let subnet = subnet.as_deref();
            let (mut vpc_id, mut vpc_cidr) = cx.cancellable(cx.ec2.vpc_for(subnet)).await?;
            let name = format!("golden-{}", cx.spec.build_id);
            let tags = cx.run_tags("security group");
            let mut created = cx.ec2.create_security_group(&name, &vpc_id, &tags).await;
            if matches!(&created, Err(e) if e.has_code("InvalidVpcID.NotFound")) {
                // The remembered VPC is gone (a default VPC recreated): ask again.
                cx.ec2.forget_vpc(subnet).await;
                (vpc_id, vpc_cidr) = cx.cancellable(cx.ec2.vpc_for(subnet)).await?;
                created = cx.ec2.create_security_group(&name, &vpc_id, &tags).await;
            }
            let id = match created {
                Ok(id) => id,
                // A retried create whose first attempt succeeded unseen: the group is ours.
                Err(e) if e.has_code("InvalidGroup.Duplicate") => {
                    cx.ec2.security_group_id(&name, &vpc_id).await?.ok_or(e)?
                }
                Err(e) => return Err(e.into()),
            };
            cx.security_group_id = Some(id.clone());
            cx.check_cancel()?;
            let cidrs = allowed_cidrs(cx, vpc_cidr).await?;
            // With a host override the port given is the proxy's; the instance listens on 22.
            let port = if cx.spec.ssh.host.is_some() {
                22
            } else {
                cx.spec.ssh.port
            };
            cx.cancellable(cx.ec2.allow_ssh(&id, port, &cidrs)).await?;
            tracing::info!(group = %id, ?cidrs, "temporary security group");
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.spec.network.own_groups() {
                // Nothing of ours to look for; the user's groups are never touched.
                return Ok(());
            }
            // Not recorded means the create failed, perhaps after EC2 acted on it.
            // Recorded means created by this bake a moment ago (a not-found may
            // only mean "not visible yet"); found by its tag means seen.
            let (ids, fresh) = match cx.security_group_id.take() {
                Some(id) => (vec![id], true),
                None => (
                    cx.ec2
                        .groups_tagged(crate::ec2::tags::BUILD_ID_TAG, &cx.spec.build_id)
                        .await?,
                    false,
                ),
            };
            // The first deletion waits out the build instance's termination.
            let mut pace = (!cx.terminating.is_empty()).then(|| cx.pace("terminate"));
            let limit = Duration::from_secs(300);
            for id in &ids {
                if fresh {
                    cx.ec2
                        .wait_new_security_group_deleted(id, pace.take(), limit)
                        .await?;
                } else {
                    cx.ec2
                        .wait_security_group_deleted(id, pace.take(), limit)
                        .await?;
                }
            }
            for instance in std::mem::take(&mut cx.terminating) {
                tracing::info!(%instance, "build instance terminated");
            }
            let id = ids.join(", ");
            tracing::info!(group = %id, "deleted temporary security group");
            Ok(())
        })
    }
}
