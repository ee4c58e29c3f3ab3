//! `force_deregister`: an AMI of this account that already has the new
//! image's name goes right before CreateImage (EC2 refuses a second image of
//! the same name), with its snapshots when `force_delete_snapshot`. Late in
//! the bake, as Packer does it, so a bake that fails earlier leaves it alone.

use super::{Step, StepFuture};
use crate::bake::BakeContext;
use crate::ec2::tags::BUILD_ID_TAG;

pub struct DeregisterExisting;

impl Step for DeregisterExisting {
    fn name(&self) -> &'static str {
        "deregister_existing"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if !cx.spec.force_deregister {
                return Ok(());
            }
            let name = &cx.spec.image_name;
            for old in cx.ec2.own_images_named(name).await? {
                // A retried bake's own image is not "existing".
                if old.tags.get(BUILD_ID_TAG) == Some(&cx.spec.build_id) {
                    continue;
                }
                tracing::info!(image = %old.id, %name, delete_snapshots = cx.spec.force_delete_snapshot, "force_deregister: removing the AMI that has this name");
                if cx.spec.force_delete_snapshot {
                    let cancel = cx.cancel.clone();
                    cx.cancellable(cx.ec2.delete_image_and_snapshots(
                        &old.id,
                        &old.snapshot_ids,
                        &cancel,
                    ))
                    .await?;
                } else {
                    cx.cancellable(cx.ec2.deregister_image(&old.id)).await?;
                }
            }
            Ok(())
        })
    }
}
