//! Creates the AMI from the stopped instance and waits until it is
//! available. Until then the image is a leftover to remove on failure;
//! after, it belongs to the user (and to Terraform's state).

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};
use crate::choices::Choice;
use crate::ec2::regions::COPY_REGIONS_TAG;
use crate::ec2::tags::{BUILD_ID_TAG, INPUT_DIGEST_TAG, SOURCE_AMI_TAG};

pub struct CreateImage;

/// The tags of every image of the bake (the original and its copies): the
/// user's, the digest, the source, the regions it is in, and the temporary
/// tags (build id, expiry) until it is kept.
pub(super) fn image_tags(cx: &BakeContext<'_>) -> std::collections::BTreeMap<String, String> {
    let mut tags = cx.spec.tags.clone();
    if let Some(d) = &cx.spec.input_digest {
        tags.insert(INPUT_DIGEST_TAG.into(), d.clone());
    }
    tags.extend(cx.temporary_tags());
    if let Some(s) = &cx.source {
        tags.insert(SOURCE_AMI_TAG.into(), s.id.clone());
    }
    tags.insert(COPY_REGIONS_TAG.into(), cx.copy_regions_tag());
    tags
}

impl Step for CreateImage {
    fn name(&self) -> &'static str {
        "create_image"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let instance = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .ok_or_else(|| BakeError::Internal("no build instance".into()))?;
            // On the stopped instance: CreateImage carries them to the image.
            if cx.spec.ena_support.is_some() || cx.spec.sriov_support {
                cx.ec2
                    .set_network_support(&instance, cx.spec.ena_support, cx.spec.sriov_support)
                    .await?;
            }
            let mut tags = image_tags(cx);
            tags.extend(cx.spec.hold_tags.clone());
            // Temporary until kept: build id and expiry on the image and its snapshots.
            let snapshot_tags = cx.temporary_tags();
            let name = &cx.spec.image_name;
            let id = match cx
                .ec2
                .create_image(
                    &instance,
                    name,
                    cx.spec.description.as_deref(),
                    &tags,
                    &snapshot_tags,
                    &cx.spec.ami_block_devices,
                )
                .await
            {
                Ok(id) => id,
                // A retried create whose first attempt succeeded unseen: ours if it carries our build id.
                Err(e) if e.has_code("InvalidAMIName.Duplicate") => {
                    match cx.ec2.own_image_named(name).await? {
                        Some(img) if img.tags.get(BUILD_ID_TAG) == Some(&cx.spec.build_id) => {
                            img.id
                        }
                        _ => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            tracing::info!(image = %id, "image requested");
            cx.image_id = Some(id.clone());
            cx.check_cancel()?;
            let image = cx
                .ec2
                .wait_image_available(&id, cx.pace("image"), cx.spec.create_timeout, &cx.cancel)
                .await?;
            if let Some(v) = cx.spec.imds_support {
                // Before the image is kept: a refusal removes it as unfinished.
                cx.ec2.set_imds_support(&id, v.as_str()).await?;
            }
            // Kept only once no sweep can take it: until then a failure
            // here removes it like any unfinished image (see `keep_image`).
            // With copies to make, the copy step keeps it with them: a copy
            // that fails takes the original too.
            if cx.spec.copy_regions.is_empty() {
                cx.ec2.keep_image(&id, &image.snapshot_ids).await?;
                cx.image_kept = true;
            }
            cx.image = Some(image);
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.image_kept {
                return Ok(());
            }
            if let Some((id, snapshots)) = cx.released_image.take() {
                // Deregistered by the release: its snapshots go once EC2 lets go.
                let never = tokio_util::sync::CancellationToken::new();
                for s in &snapshots {
                    cx.ec2.wait_snapshot_deleted(s, &id, &never).await?;
                }
                tracing::info!(image = %id, "removed unfinished image");
                return Ok(());
            }
            // Not recorded means CreateImage failed, perhaps after EC2 acted on it.
            // Recorded means created by this bake a moment ago (a not-found may
            // only mean "not visible yet"); found by its tag means seen.
            let fresh = cx.image_id.is_some();
            let images = match cx.image_id.take() {
                Some(id) => vec![(
                    id,
                    cx.image
                        .as_ref()
                        .map(|i| i.snapshot_ids.clone())
                        .unwrap_or_default(),
                )],
                None => cx
                    .ec2
                    .images_tagged(BUILD_ID_TAG, &cx.spec.build_id)
                    .await?
                    .into_iter()
                    .map(|i| (i.id, i.snapshot_ids))
                    .collect(),
            };
            let never = tokio_util::sync::CancellationToken::new();
            for (id, snapshots) in images {
                if fresh {
                    cx.ec2
                        .delete_new_image_and_snapshots(&id, &snapshots, &never)
                        .await?;
                } else {
                    cx.ec2
                        .delete_image_and_snapshots(&id, &snapshots, &never)
                        .await?;
                }
                tracing::info!(image = %id, "removed unfinished image");
            }
            Ok(())
        })
    }
}
