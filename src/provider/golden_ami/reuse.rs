//! `reuse_identical`: adopting an available image baked from the same
//! inputs (its `golden:input-digest` tag) instead of baking one.

use super::digest;
use super::keep::{self, Rebake};
use super::private::Private;
use crate::ec2::Ec2;
use crate::ec2::holders::adoptable;
use crate::ec2::images::ImageInfo;
use crate::ec2::tags::BUILD_ID_TAG;
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::{Configured, StateOutcome};
use std::collections::BTreeMap;
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// The planned object's input digest, made now if the plan could not.
async fn digest_of(planned: &Value) -> Option<String> {
    if let Some(d) = planned.get("input_digest").as_str() {
        return Some(d.to_string());
    }
    let mut v = planned.clone();
    digest::fill_content_digests(&mut v, true).await.ok()?;
    digest::input_digest(&v).as_str().map(str::to_string)
}

/// Finds an identical image and takes hold of it: the newest that may be
/// adopted, named `name` when one is configured (an AMI cannot be renamed),
/// never one of this resource's own rebake. The hold is taken before the
/// image is read again, so a last holder deregistering it meanwhile is seen
/// (then the hold is dropped and the next candidate tried). Any failure
/// means: bake.
pub async fn adopt(
    ec2: &Ec2,
    planned: &Value,
    name: Option<&str>,
    rebake: Option<&Rebake>,
    holder: &str,
) -> Option<ImageInfo> {
    let digest = digest_of(planned).await?;
    let found = match ec2.identical_images(&digest).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for an identical image; baking");
            return None;
        }
    };
    let ours = |id: &str| {
        rebake.is_some_and(|r| r.replaced == id || r.kept.iter().chain(&r.dropped).any(|k| k == id))
    };
    for img in found
        .into_iter()
        .filter(|i| name.is_none_or(|n| n == i.name) && !ours(&i.id))
    {
        if let Err(e) = ec2.take_hold(&img.id, holder).await {
            tracing::warn!(image = %img.id, error = %e, "cannot hold the identical image");
            continue;
        }
        match ec2.describe_image(&img.id).await {
            Ok(Some(now)) if adoptable(&now, SystemTime::now()) => {
                tracing::info!(image = %now.id, %digest, "identical image adopted instead of a bake");
                return Some(now);
            }
            _ => {
                let _ = ec2.drop_hold(&img.id, holder).await;
            }
        }
    }
    None
}

/// The new state for an adopted image.
pub async fn adopted(
    c: &Configured,
    stop: &CancellationToken,
    planned: Value,
    img: ImageInfo,
    holder: &str,
    rebake: Option<&Rebake>,
) -> StateOutcome {
    let mut diags = Diagnostics::default();
    if let Some(r) = rebake {
        diags.extend(keep::settle(&c.ec2, r, holder, stop).await);
    }
    let mut state = planned;
    state.set("id", Value::string(&img.id));
    state.set("name", Value::string(&img.name));
    state.set(
        "build_id",
        Value::opt_string(img.tags.get(BUILD_ID_TAG).cloned()),
    );
    state.set("region", Value::string(&c.ec2.region));
    state.set("creation_date", Value::string(&img.creation_date));
    state.set("snapshot_ids", Value::string_list(img.snapshot_ids.clone()));
    // The adopted image's copies: the same inputs (ami_regions among them)
    // made them, so they are this stack's image in those regions too.
    let copies = match c.ec2.copies_of(&img).await {
        Ok(m) => m,
        Err(e) => {
            diags.push(Diagnostic::warning(
                format!("Cannot look up the copies of {}", img.id),
                e.to_string(),
            ));
            BTreeMap::from([(c.ec2.region.clone(), img.id.clone())])
        }
    };
    state.set("region_ami_ids", Value::string_map(copies));
    let tags = state.get("tags").as_string_map();
    state.set("tags_all", Value::string_map(c.tags.merged(&tags)));
    state.set("reused", Value::Bool(true));
    state.set(
        "previous_ids",
        Value::string_list(rebake.map(|r| r.kept.clone()).unwrap_or_default()),
    );
    digest::finish_digests(&mut state, &mut diags).await;
    if diags.has_errors() {
        diags.push(Diagnostic::warning(
            format!("AMI {} was adopted", img.id),
            "It is recorded in the state; this stack holds it.",
        ));
    }
    let private = Private {
        holder: Some(holder.to_string()),
        ..Private::default()
    };
    StateOutcome {
        state,
        private: private.bytes(),
        diags,
    }
}
