//! Release what can be released at once, before any cleanup waits. A
//! cancelled bake may have seconds to live (go-plugin kills the plugin 2 s
//! after a second Ctrl-C), and on EC2 a group stays undeletable while its
//! instance terminates (30–90 s). So the instance is told to terminate, the
//! key pair deleted and an unfinished image deregistered together, first;
//! only then do the steps' cleanups wait (for the group, the snapshots).
//! Whatever is left when the process dies expires (`ec2::expiry`).

use super::context::BakeContext;
use tokio_util::sync::CancellationToken;

/// Runs the three releases at once and records what each achieved, so the
/// cleanups only wait; a release that fails is logged and left to them.
pub(super) async fn release_first(cx: &mut BakeContext<'_>) {
    let ec2 = cx.ec2;
    let never = CancellationToken::new();
    let instance = cx.instance.as_ref().map(|i| i.id.clone());
    let key = cx.key_pair_name.clone();
    let image = cx.image_id.clone().filter(|_| !cx.image_kept);
    let known_snapshots = cx
        .image
        .as_ref()
        .map(|i| i.snapshot_ids.clone())
        .unwrap_or_default();
    let terminate = async {
        let id = instance.as_deref()?;
        Some(ec2.terminate_new_instances(&[id.to_string()], &never).await)
    };
    let delete_key = async {
        let name = key.as_deref()?;
        Some(ec2.delete_new_key_pair(name, &never).await)
    };
    let deregister = async {
        let id = image.as_deref()?;
        // Its snapshots, known before it is gone from DescribeImages.
        let mut snapshots = known_snapshots;
        if let Ok(Some(img)) = ec2.describe_image(id).await {
            for s in img.snapshot_ids {
                if !snapshots.contains(&s) {
                    snapshots.push(s);
                }
            }
        }
        Some(
            ec2.deregister_new_image(id, &never)
                .await
                .map(|()| snapshots),
        )
    };
    let (terminated, deleted, deregistered) = tokio::join!(terminate, delete_key, deregister);
    match terminated {
        Some(Ok(())) => {
            cx.instance = None;
            cx.released_instance = instance;
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "terminating the build instance failed; its cleanup retries")
        }
        None => {}
    }
    match deleted {
        Some(Ok(())) => {
            if let Some(name) = cx.key_pair_name.take() {
                tracing::info!(key_pair = %name, "deleted temporary key pair");
            }
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "deleting the key pair failed; its cleanup retries")
        }
        None => {}
    }
    match (deregistered, image) {
        (Some(Ok(snapshots)), Some(id)) => {
            tracing::info!(image = %id, "deregistered unfinished image");
            cx.image_id = None;
            cx.released_image = Some((id, snapshots));
        }
        (Some(Err(e)), _) => {
            tracing::warn!(error = %e, "deregistering the unfinished image failed; its cleanup retries")
        }
        _ => {}
    }
}
