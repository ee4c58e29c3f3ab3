//! Launches the build instance and waits until it runs; cleanup terminates
//! it and waits until it is gone.

use super::{Step, StepFuture};
use crate::bake::BakeContext;
use crate::choices::Choice;
use crate::ec2::instances::LaunchSpec;
use crate::ec2::tags::BUILD_ID_TAG;
use std::time::Duration;

pub struct Launch;

/// User data that makes an abandoned build instance end itself: it powers
/// off (and, with shutdown behaviour `terminate`, is terminated) a little
/// after the create timeout, even if nothing is left to clean up after it.
/// The user's own user data runs beside it through cloud-init's multipart
/// format. The timer lives in /run, so it is not baked into the image.
pub fn with_self_destruct(user: Option<&str>, create_timeout: Duration) -> String {
    let minutes = create_timeout.as_secs().div_ceil(60) + 15;
    let timer = format!("#!/bin/sh\nshutdown -P +{minutes} 'golden_ami build abandoned'\n");
    let Some(user) = user.filter(|u| !u.trim().is_empty()) else {
        return timer;
    };
    if user
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("content-type: multipart")
    {
        tracing::warn!(
            "user_data is already multipart MIME; the build instance gets no self-destruct timer"
        );
        return user.to_string();
    }
    let kind = if user.trim_start().starts_with("#cloud-config") {
        "text/cloud-config"
    } else {
        "text/x-shellscript"
    };
    format!(
        "Content-Type: multipart/mixed; boundary=\"==golden==\"\nMIME-Version: 1.0\n\n\
         --==golden==\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n{timer}\n\
         --==golden==\nContent-Type: {kind}; charset=\"us-ascii\"\n\n{user}\n--==golden==--\n"
    )
}

impl Step for Launch {
    fn name(&self) -> &'static str {
        "launch"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let source = cx.source.as_ref().map(|s| s.id.clone()).unwrap_or_default();
            let launch = LaunchSpec {
                image_id: source,
                instance_type: cx.spec.instance_type.clone(),
                key_name: cx.launch_key_name.clone().unwrap_or_default(),
                security_group_ids: cx.security_group_id.iter().cloned().collect(),
                subnet_id: cx.spec.subnet_id.clone(),
                options: cx.spec.launch.clone(),
                user_data: Some(with_self_destruct(
                    cx.spec.user_data.as_deref(),
                    cx.spec.create_timeout,
                )),
                associate_public_ip: cx.spec.associate_public_ip,
                instance_tags: cx.run_tags("instance"),
                volume_tags: cx.run_tags("volume"),
                client_token: format!("golden-{}", cx.spec.build_id),
                http_tokens: cx.spec.metadata.http_tokens.as_str().to_string(),
                http_endpoint: cx.spec.metadata.http_endpoint.as_str().to_string(),
                http_put_response_hop_limit: cx.spec.metadata.http_put_response_hop_limit,
            };
            // The client token makes a retried launch return the same instance.
            let id = cx.ec2.run_instance(&launch).await?;
            tracing::info!(instance = %id, "build instance launched");
            cx.instance = Some(crate::ec2::instances::InstanceInfo {
                id: id.clone(),
                ..Default::default()
            });
            cx.check_cancel()?;
            let info = cx
                .ec2
                .wait_instance_running(&id, cx.pace("run"), cx.spec.create_timeout, &cx.cancel)
                .await?;
            cx.instance = Some(info);
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            // Not recorded means RunInstances failed, perhaps after EC2 acted on it
            // (a lost response): look for anything launched with our build id.
            let ids = match cx.instance.take() {
                Some(inst) => {
                    // Launched by this bake: a not-found may only mean "not visible yet".
                    let never = tokio_util::sync::CancellationToken::new();
                    cx.ec2
                        .terminate_new_instances(std::slice::from_ref(&inst.id), &never)
                        .await?;
                    vec![inst.id]
                }
                None => {
                    let found = cx
                        .ec2
                        .instances_tagged(BUILD_ID_TAG, &cx.spec.build_id)
                        .await?;
                    cx.ec2.terminate_instances(&found).await?;
                    found
                }
            };
            if cx.security_group_id.is_some() {
                // EC2 refuses to delete the temporary group while an instance still
                // holds it: that deletion is the cheapest wait for the end.
                cx.terminating = ids;
                return Ok(());
            }
            let pace = Some(cx.pace("terminate"));
            cx.ec2
                .wait_instances_terminated(&ids, pace, Duration::from_secs(540))
                .await?;
            for id in ids {
                tracing::info!(instance = %id, "build instance terminated");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_destruct_follows_the_create_timeout_and_keeps_user_data() {
        let plain = with_self_destruct(None, Duration::from_secs(3600));
        assert!(plain.starts_with("#!/bin/sh\nshutdown -P +75 "), "{plain}");
        let mixed = with_self_destruct(
            Some("#cloud-config\npackages: [nginx]"),
            Duration::from_secs(60),
        );
        assert!(mixed.contains("shutdown -P +16 "), "{mixed}");
        assert!(mixed.contains("Content-Type: text/cloud-config"), "{mixed}");
        assert!(mixed.contains("packages: [nginx]"), "{mixed}");
    }
}
