//! `keep_previous` and `reuse_identical` across Terraform's replace.
//!
//! A rebake is a replace: two ApplyResourceChange calls (create and destroy,
//! in either order) that the protocol does not link, and a replace's destroy
//! looks exactly like `terraform destroy` (planned state null). The link is
//! made from what the plan records and what the image carries:
//!
//! 1. The plan of the replace (prior = the old object) works out a
//!    [`Rebake`]: the old image and the old `previous_ids`, newest first;
//!    the first `keep_previous` are kept, the rest dropped. It goes into the
//!    planned private state, with the stack's holder id. Terraform plans the
//!    new object again with a null prior and that private state, and hands
//!    the same private state to both halves of the replace
//!    (`ResourceInstanceChange.Simplify` keeps it on the destroy half).
//! 2. Destroy-then-create (the default): the destroy half finds a `Rebake`
//!    naming its image. Kept: it is deprecated and tagged
//!    `golden:retained-by = <holder>` instead of deregistered; dropped: it is
//!    released as in a destroy. The old `previous_ids` are left to the create.
//! 3. The create (either order) retains every kept image (again: idempotent),
//!    releases the dropped ones other than the replaced image (the destroy
//!    half's), and records `previous_ids` = kept.
//! 4. Create-before-destroy: the deposed object's destroy is planned from
//!    its own private state, so it has no `Rebake`; its image already
//!    carries `golden:retained-by` (step 3 ran first), which marks it kept:
//!    the destroy leaves it, and its old `previous_ids`, alone.
//! 5. A real destroy (no `Rebake`, image not retained) releases the current
//!    image and every previous one.
//!
//! Releasing is `ec2::holders`: the image goes only when no other stack
//! holds it. A destroy-then-create whose bake fails returns a tainted object
//! with no image but the kept `previous_ids`, so nothing kept is forgotten.

use super::private::Rebake;
use crate::ec2::Ec2;
use crate::ec2::holders::{RETAINED_BY_TAG, Released};
use crate::ec2::wait::WaitError;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use tokio_util::sync::CancellationToken;

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

/// Step 3: after the new image exists, keep what is kept and release the
/// rest. Failures are warnings: the new image is made and recorded.
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
    for id in r.dropped.iter().filter(|d| **d != r.replaced) {
        if let Err(e) = ec2.release_image(id, &[], Some(holder), stop).await {
            diags.push(Diagnostic::warning(
                format!("Cannot deregister previous AMI {id}"),
                format!("{e}\nRemove it by hand; it carries the tag {RETAINED_BY_TAG} = {holder}."),
            ));
        }
    }
    diags
}

/// What a destroy does with its image.
#[derive(Debug, PartialEq, Eq)]
pub enum Destroy {
    /// The destroy half of a rebake keeping this image (step 2).
    Retain,
    /// The destroy half of a rebake: release this image only.
    ReleaseCurrent,
    /// A deposed object whose image a rebake kept (step 4): nothing to do.
    AlreadyKept,
    /// A real destroy: the image and every previous one (step 5).
    Everything,
}

/// Which destroy this is, from the planned private state's rebake and
/// whether the image carries `golden:retained-by`.
pub fn destroy_kind(id: &str, rebake: Option<&Rebake>, retained: bool) -> Destroy {
    match rebake {
        Some(r) if r.replaced == id && r.kept.iter().any(|k| k == id) => Destroy::Retain,
        Some(r) if r.replaced == id => Destroy::ReleaseCurrent,
        _ if retained => Destroy::AlreadyKept,
        _ => Destroy::Everything,
    }
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
