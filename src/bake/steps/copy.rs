//! Copies the finished image to every other region in `ami_regions`, all at
//! once, and waits for each copy. Every copy is tagged like the original
//! (build id and expiry included) and its snapshots carry the temporary
//! tags, so a killed process leaves only what the expiry sweep removes. The
//! original and the copies are kept together once all are available; a copy
//! failing anywhere removes the copies already made (and, through
//! `create_image`'s cleanup, the original): nothing half-copied stays.

use super::create_image::image_tags;
use super::{Step, StepFuture};
use crate::bake::context::Copy;
use crate::bake::{BakeContext, BakeError};
use crate::ec2::Ec2;
use crate::ec2::model::CopyRequest;
use crate::ec2::tags::BUILD_ID_TAG;
use tokio_util::sync::CancellationToken;

pub struct CopyImage;

/// What one region's copy came to: its id once CopyImage answered, and the
/// available image or why not.
type CopyResult = (
    String,
    Option<String>,
    Result<crate::ec2::images::ImageInfo, BakeError>,
);

async fn copy_one(
    ec2: Ec2,
    req: CopyRequest,
    instance_type: String,
    timeout: std::time::Duration,
    cancel: CancellationToken,
) -> CopyResult {
    let region = ec2.region.clone();
    // Awaited to the end, never raced with the cancellation: a copy that
    // completes unobserved would leak.
    let failed = |message: String| BakeError::Copy {
        region: region.clone(),
        message,
    };
    let id = match ec2.api.copy_image(&req).await {
        Ok(id) => id,
        Err(e) => return (region.clone(), None, Err(failed(e.to_string()))),
    };
    tracing::info!(%region, image = %id, "copy requested");
    let pace = ec2.pacer.pace(&region, &instance_type, "copy");
    let waited = ec2
        .wait_image_available(&id, pace, timeout, &cancel)
        .await
        .map_err(|e| match e {
            e if e.is_cancelled() => e.into(),
            e => failed(e.to_string()),
        });
    (region, Some(id), waited)
}

impl Step for CopyImage {
    fn name(&self) -> &'static str {
        "copy_image"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.spec.copy_regions.is_empty() {
                return Ok(());
            }
            let source = cx
                .image
                .as_ref()
                .ok_or_else(|| BakeError::Internal("no image to copy".into()))?
                .clone();
            let tags = image_tags(cx);
            let mut snapshot_tags = cx.spec.snapshot_tags.clone();
            snapshot_tags.extend(cx.temporary_tags());
            let mut tasks = tokio::task::JoinSet::new();
            for target in &cx.spec.copy_regions {
                let req = CopyRequest {
                    source_image_id: source.id.clone(),
                    source_region: cx.ec2.region.clone(),
                    name: cx.spec.image_name.clone(),
                    description: cx.spec.description.clone(),
                    encrypted: cx.spec.encrypt_boot || target.kms_key_id.is_some(),
                    kms_key_id: target.kms_key_id.clone(),
                    completion_minutes: cx.spec.snapshot_copy_minutes,
                    tags: tags.clone(),
                    snapshot_tags: snapshot_tags.clone(),
                };
                tasks.spawn(copy_one(
                    cx.ec2.in_region(&target.region),
                    req,
                    cx.spec.instance_type.clone(),
                    cx.spec.create_timeout,
                    cx.cancel.clone(),
                ));
            }
            let mut first_error = None;
            while let Some(joined) = tasks.join_next().await {
                let (region, id, result) = joined.map_err(|e| {
                    BakeError::Internal(format!("a copy task ended abnormally: {e}"))
                })?;
                if let Some(id) = id {
                    cx.copies.push(Copy {
                        region: region.clone(),
                        id,
                        image: None,
                    });
                }
                match result {
                    Ok(img) => {
                        if let Some(c) = cx.copies.iter_mut().find(|c| c.region == region) {
                            c.image = Some(img);
                        }
                    }
                    Err(e) => {
                        tracing::error!(%region, error = %e, "copy failed");
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            cx.check_cancel()?;
            // All there: keep every copy, then the original (see `keep_image`).
            for (ec2, id, snapshots) in cx.images_everywhere() {
                ec2.keep_image(&id, &snapshots).await?;
            }
            cx.image_kept = true;
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.image_kept || cx.spec.copy_regions.is_empty() {
                return Ok(());
            }
            let never = CancellationToken::new();
            let mut first_error = None;
            for target in &cx.spec.copy_regions {
                let ec2 = cx.ec2.in_region(&target.region);
                let recorded = cx.copies.iter().find(|c| c.region == target.region);
                let result = match recorded {
                    Some(c) => {
                        let snaps = c
                            .image
                            .as_ref()
                            .map(|i| i.snapshot_ids.clone())
                            .unwrap_or_default();
                        ec2.delete_new_image_and_snapshots(&c.id, &snaps, &never)
                            .await
                    }
                    // CopyImage failed, perhaps after EC2 acted on it: ours by the build id.
                    None => match ec2.images_tagged(BUILD_ID_TAG, &cx.spec.build_id).await {
                        Ok(found) => {
                            let mut r = Ok(());
                            for i in found {
                                if let Err(e) = ec2
                                    .delete_image_and_snapshots(&i.id, &i.snapshot_ids, &never)
                                    .await
                                {
                                    r = Err(e);
                                }
                            }
                            r
                        }
                        Err(e) => Err(e.into()),
                    },
                };
                match result {
                    Ok(()) => tracing::info!(region = %target.region, "removed unfinished copy"),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            cx.copies.clear();
            match first_error {
                Some(e) => Err(e.into()),
                None => Ok(()),
            }
        })
    }
}
