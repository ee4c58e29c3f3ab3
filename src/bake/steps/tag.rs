//! Tags the image's snapshots when `snapshot_tags` asks for it (EC2 cannot
//! tag them at CreateImage on every endpoint, and the image's own tags were
//! set at creation).

use super::{Step, StepFuture};
use crate::bake::BakeContext;
use crate::ec2::tags::BUILD_ID_TAG;

pub struct Tag;

impl Step for Tag {
    fn name(&self) -> &'static str {
        "tag"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.spec.snapshot_tags.is_empty() {
                // The image carries the build id; its snapshots go with it.
                return Ok(());
            }
            let snapshots = cx
                .image
                .as_ref()
                .map(|i| i.snapshot_ids.clone())
                .unwrap_or_default();
            let mut tags = cx.spec.snapshot_tags.clone();
            tags.insert(BUILD_ID_TAG.into(), cx.spec.build_id.clone());
            cx.cancellable(cx.ec2.create_tags(&snapshots, &tags))
                .await?;
            Ok(())
        })
    }
}
