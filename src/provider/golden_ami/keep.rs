//! `keep_previous`: a rebake that keeps the image it replaces.
//!
//! A Terraform replace cannot carry the old image over: its create and its
//! destroy are two ApplyResourceChange calls the protocol does not link (a
//! replace's destroy looks exactly like `terraform destroy`, and Terraform
//! plans the create again at apply with a null prior and no private state,
//! so nothing the plan learned reaches it), in either order. So with
//! `keep_previous > 0` a rebake is planned as an in-place update instead:
//! the object (a line of images) stays, `id` and the other bake results
//! become unknown, and the apply sees the prior object whole. It bakes (or
//! adopts, with `reuse_identical`) the new image first, then deprecates the
//! replaced one and tags it `golden:retained-by = <holder id>`, and releases
//! (`ec2::holders`: deregistered with its snapshots unless another stack
//! holds it) what falls beyond `keep_previous`. A failed bake keeps the prior
//! state: nothing is retired. With `keep_previous = 0` a rebake stays a
//! replace, as before. A destroy releases the current image and every
//! previous one.

use crate::ec2::Ec2;
use crate::ec2::holders::{RETAINED_BY_TAG, Released};
use crate::ec2::wait::WaitError;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use tokio_util::sync::CancellationToken;

/// What a rebake does with the images it replaces.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebake {
    /// The image being replaced.
    pub replaced: String,
    /// Kept launchable, deprecated: the new `previous_ids`, newest first.
    pub kept: Vec<String>,
    /// Deregistered with their snapshots (unless another stack holds them).
    pub dropped: Vec<String>,
}

/// What a rebake of `prior` does with keep_previous = `keep`; an image
/// refresh found gone is neither kept nor dropped again.
pub fn plan_rebake(prior: &Value, keep: u32, image_gone: bool) -> Option<Rebake> {
    let replaced = prior.get("id").as_str().map(str::to_string);
    let mut chain: Vec<String> = replaced.iter().filter(|_| !image_gone).cloned().collect();
    for p in prior.get("previous_ids").as_string_list() {
        if !chain.contains(&p) {
            chain.push(p);
        }
    }
    let dropped = chain.split_off((keep as usize).min(chain.len()));
    Some(Rebake {
        replaced: replaced?,
        kept: chain,
        dropped,
    })
}

/// The plan's plain word on what a rebake retires; None when it only
/// replaces the image as any rebake does (`keep_previous = 0`, nothing kept before).
pub fn retire_warning(r: &Rebake) -> Option<Diagnostic> {
    if r.kept.is_empty() && r.dropped.iter().all(|d| *d == r.replaced) {
        return None;
    }
    let mut lines = vec![];
    if r.kept.contains(&r.replaced) {
        lines.push(format!(
            "{} will be deprecated at once and kept launchable (previous_ids).",
            r.replaced
        ));
    }
    if !r.dropped.is_empty() {
        lines.push(format!(
            "Deregistered with their snapshots (unless another stack still holds them): {}.",
            r.dropped.join(", ")
        ));
    }
    lines.push(format!(
        "Kept after the rebake, newest first: [{}].",
        r.kept.join(", ")
    ));
    Some(
        Diagnostic::warning(
            format!("This rebake retires AMI {}", r.replaced),
            lines.join("\n"),
        )
        .at(AttrPath::root("keep_previous")),
    )
}

/// After the new image exists: keep what is kept, release the rest.
/// Failures are warnings: the new image is made and recorded.
pub async fn settle(ec2: &Ec2, r: &Rebake, holder: &str, stop: &CancellationToken) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for id in &r.kept {
        if let Err(e) = ec2.retain_image(id, holder).await
            && !e.is_not_found()
        {
            diags.push(Diagnostic::warning(
                format!("Cannot deprecate previous AMI {id}"),
                e.to_string(),
            ));
        }
    }
    for id in &r.dropped {
        if let Err(e) = ec2.release_image(id, &[], Some(holder), stop).await {
            diags.push(Diagnostic::warning(
                format!("Cannot deregister previous AMI {id}"),
                format!("{e}\nRemove it by hand; it carries the tag {RETAINED_BY_TAG} = {holder}."),
            ));
        }
    }
    diags
}

/// Releases each image; the first failure stops (the state is kept, the
/// next destroy goes on).
pub async fn release_all(
    ec2: &Ec2,
    ids: &[(String, Vec<String>)],
    holder: Option<&str>,
    stop: &CancellationToken,
) -> Result<(), WaitError> {
    for (id, snapshots) in ids {
        match ec2.release_image(id, snapshots, holder, stop).await? {
            Released::Removed => tracing::info!(image = %id, "AMI deregistered"),
            Released::HeldBy(h) => {
                tracing::info!(image = %id, holders = ?h, "AMI released; other stacks hold it")
            }
        }
    }
    Ok(())
}
