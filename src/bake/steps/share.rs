//! Shares the finished image, schedules its deprecation and protects it from
//! deregistration, as asked. Protection comes last: nothing after it can
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
            let id = cx.image.as_ref().map(|i| i.id.clone()).unwrap_or_default();
            if !cx.spec.launch_principals.is_empty() {
                cx.cancellable(
                    cx.ec2
                        .set_launch_permissions(&id, &cx.spec.launch_principals, &[]),
                )
                .await?;
            }
            let snapshots = cx
                .image
                .as_ref()
                .map(|i| i.snapshot_ids.clone())
                .unwrap_or_default();
            cx.cancellable(cx.ec2.set_snapshot_permissions(
                &snapshots,
                &cx.spec.snapshot_principals,
                &[],
            ))
            .await?;
            if let Some(at) = &cx.spec.deprecate_at {
                cx.cancellable(cx.ec2.set_deprecation(&id, Some(at)))
                    .await?;
            }
            if let Some(cooldown) = cx.spec.deregistration_protection {
                cx.cancellable(cx.ec2.set_deregistration_protection(&id, Some(cooldown)))
                    .await?;
            }
            Ok(())
        })
    }
}
