//! Shares the finished image, schedules its deprecation and protects it from
//! deregistration, as asked, in every region the image is in. Protection comes last: nothing after it can
//! fail, so the bake's own cleanup never meets a protected image.

use super::{Step, StepFuture};
use crate::bake::BakeContext;

pub struct Share;

impl Step for Share {
    fn name(&self) -> &'static str {
        "share"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            // In every region the image is in: the original, then its copies.
            for (ec2, id, snapshots) in cx.images_everywhere() {
                if !cx.spec.launch_principals.is_empty() {
                    cx.cancellable(ec2.set_launch_permissions(
                        &id,
                        &cx.spec.launch_principals,
                        &[],
                    ))
                    .await?;
                }
                cx.cancellable(ec2.set_snapshot_permissions(
                    &snapshots,
                    &cx.spec.snapshot_principals,
                    &[],
                ))
                .await?;
                if let Some(at) = &cx.spec.deprecate_at {
                    cx.cancellable(ec2.set_deprecation(&id, Some(at))).await?;
                }
            }
            // Protection last, everywhere: nothing after it can fail.
            if let Some(cooldown) = cx.spec.deregistration_protection {
                for (ec2, id, _) in cx.images_everywhere() {
                    cx.cancellable(ec2.set_deregistration_protection(&id, Some(cooldown)))
                        .await?;
                }
            }
            Ok(())
        })
    }
}
