//! Apply: create runs a bake; update changes tags and description in place;
//! delete deregisters the AMI and deletes its snapshots.

use super::digest;
use super::keep::{self, Rebake};
use super::model::{bake_spec, generated_name, launch_principals, snapshot_principals};
use super::plan::refuse_if_protected;
use super::private::Private;
use super::reuse;
use super::schema::{DeregistrationProtection, GoldenAmi, PublicGroup, Timeouts};
use crate::bake::{self, BakeError};
use crate::ec2::Ec2;
use crate::ec2::holders::{hold_tags, holder_tag, new_holder_id};
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::schema::decode::{decode, view};
use crate::provider::tag_policy::TagPolicy;
use crate::provider::{Configured, Lifecycle, StateOutcome};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// A fresh build id: 12 hex digits.
fn new_build_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

pub async fn apply(
    c: &Configured,
    life: Lifecycle<'_>,
    prior: Value,
    planned: Value,
    config: Value,
    private: Vec<u8>,
) -> StateOutcome {
    if planned.is_null() {
        return delete(&c.ec2, life.stop, prior, &private).await;
    }
    if prior.is_null() {
        return create(c, life, planned, &config, None, &private).await;
    }
    // An unknown id in an update: a rebake that keeps the old image (`keep`).
    if matches!(planned.get("id"), Value::Unknown) {
        return rebake(c, life, prior, planned, config, private).await;
    }
    update(&c.ec2, &c.tags, prior, planned, private).await
}

async fn create(
    c: &Configured,
    life: Lifecycle<'_>,
    planned: Value,
    config: &Value,
    rebake: Option<Rebake>,
    private: &[u8],
) -> StateOutcome {
    let holder = Private::read(private).holder.unwrap_or_else(new_holder_id);
    // Write-only values reach the provider in the configuration only.
    let mut inputs = planned.clone();
    super::schema().block.fill_write_only(&mut inputs, config);
    let mut inputs: GoldenAmi = match decode(&inputs) {
        Ok(v) => v,
        Err(e) => return StateOutcome::err(Value::Null, internal(e)),
    };
    if inputs.reuse_identical
        && let Some(found) = reuse::adopt(
            &c.ec2,
            &planned,
            inputs.name.as_deref(),
            rebake.as_ref(),
            &holder,
        )
        .await
    {
        return reuse::adopted(c, life.stop, planned, found, &holder, rebake.as_ref()).await;
    }
    if let Some(path) = &inputs.user_data_file {
        match tokio::fs::read_to_string(path).await {
            Ok(text) => inputs.user_data = Some(text),
            Err(e) => {
                return StateOutcome::err(
                    Value::Null,
                    Diagnostic::error("Cannot read user_data_file", format!("{path}: {e}"))
                        .at(AttrPath::root("user_data_file")),
                );
            }
        }
    }
    let name = match &inputs.name {
        Some(n) => n.clone(),
        None => generated_name(inputs.name_prefix.as_deref().unwrap_or("golden-")),
    };
    let build_id = new_build_id();
    let mut spec = match bake_spec(
        &inputs,
        name.clone(),
        build_id.clone(),
        &c.public_ip_url,
        &c.tags,
    ) {
        Ok(s) => s,
        Err(e) => return StateOutcome::err(Value::Null, internal(e)),
    };
    // The stack's hold rides on CreateImage (no call of its own).
    spec.hold_tags = hold_tags(&holder);
    // The image is made in the build region: no copy there.
    spec.copy_regions.retain(|r| r.region != c.ec2.region);
    let instance_type = spec.instance_type.clone();
    let spec_tags = spec.tags.clone();
    // The bake runs as its own task: if Terraform drops this request (a lost
    // connection), the bake still finishes its cleanup.
    let (ec2, stop, abandoned) = (c.ec2.clone(), life.stop.clone(), life.abandoned.clone());
    let task = life.tasks.spawn(async move {
        let mut outcome = bake::bake(&spec, &ec2, &stop).await;
        // Decided inside the task, which outlives this request: when Terraform
        // is gone, no state will ever record the image, so it goes too.
        if abandoned.load(std::sync::atomic::Ordering::SeqCst)
            && let Some(image) = outcome.image.take()
        {
            let never = CancellationToken::new();
            let mut images = everywhere(&ec2.region, &image, &outcome.copies);
            let snapshots = std::collections::BTreeMap::from([(ec2.region.clone(), image.snapshot_ids.clone())]);
            images.retain(|_, id| !id.is_empty());
            if let Err(e) = ec2.remove_everywhere(&images, &snapshots, Some(&spec.build_id), Default::default(), &never).await {
                tracing::error!(image = %image.id, error = %e, "cannot remove the image of an abandoned bake");
            }
        }
        outcome
    });
    let outcome = match task.await {
        Ok(o) => o,
        Err(e) => {
            return StateOutcome::err(
                Value::Null,
                Diagnostic::error(
                    "The bake task failed",
                    format!(
                        "{e}; resources tagged golden:build-id = {build_id} may be left behind"
                    ),
                ),
            );
        }
    };

    let mut diags = Diagnostics::default();
    if let Some(e) = &outcome.error {
        let mut d = Diagnostic::error(
            format!("golden_ami bake failed at step \"{}\"", e.step),
            e.error.to_string(),
        );
        if let BakeError::Provision { index, .. } = &e.error {
            d = d.at(AttrPath::root("provision").index(*index));
        }
        diags.push(d);
    }
    for e in &outcome.cleanup_errors {
        diags.push(Diagnostic::error(
            format!("Cleanup of step \"{}\" failed", e.step),
            format!("{}\nA temporary resource may be left behind; it carries the tag golden:build-id = {build_id}.", e.error),
        ));
    }
    let Some(image) = outcome.image else {
        return StateOutcome {
            state: Value::Null,
            private: vec![],
            diags,
        };
    };
    // A failed bake's image is saved tainted, and Terraform keeps no private
    // state for it: the hold it took at CreateImage could never be released
    // by its destroy, which would take it for another stack's and keep the
    // image. It is dropped now.
    if outcome.error.is_some()
        && let Err(e) = c.ec2.drop_hold(&image.id, &holder).await
    {
        diags.push(Diagnostic::warning(
            format!("Cannot drop this stack's hold on {}", image.id),
            format!(
                "{e}\nRemove the tag {} from the image, or its destroy keeps it.",
                holder_tag(&holder)
            ),
        ));
    }
    if let Some(r) = &rebake {
        diags.extend(keep::settle(&c.ec2, r, &holder, life.stop).await);
    }
    let mut state = planned;
    state.set("id", Value::string(&image.id));
    state.set("name", Value::string(&image.name));
    state.set("build_id", Value::string(&build_id));
    state.set("region", Value::string(&c.ec2.region));
    state.set("creation_date", Value::string(&image.creation_date));
    state.set(
        "snapshot_ids",
        Value::string_list(image.snapshot_ids.clone()),
    );
    state.set("source_ami_id", Value::opt_string(outcome.source_ami_id));
    state.set(
        "region_ami_ids",
        Value::string_map(everywhere(&c.ec2.region, &image, &outcome.copies)),
    );
    state.set("tags_all", Value::string_map(spec_tags));
    state.set("reused", Value::Bool(false));
    state.set(
        "previous_ids",
        Value::string_list(rebake.map(|r| r.kept).unwrap_or_default()),
    );
    digest::finish_digests(&mut state, &mut diags).await;
    tracing::info!(image = %image.id, name = %image.name, "golden_ami created");
    let private = Private {
        learned: c.ec2.pacer.learned_for(&c.ec2.region, &instance_type).await,
        facts: c.ec2.facts.learned_for(&c.ec2.region).await,
        holder: Some(holder),
        ..Private::default()
    };
    StateOutcome {
        state,
        private: private.bytes(),
        diags,
    }
}

/// The image's id in each region: the build region's and each copy's.
fn everywhere(
    region: &str,
    image: &crate::ec2::images::ImageInfo,
    copies: &BTreeMap<String, crate::ec2::images::ImageInfo>,
) -> BTreeMap<String, String> {
    let mut ids: BTreeMap<String, String> = copies
        .iter()
        .map(|(r, i)| (r.clone(), i.id.clone()))
        .collect();
    ids.insert(region.to_string(), image.id.clone());
    ids
}

/// A diagnostic for a broken invariant: a bug, not the user's input.
fn internal(e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error("Internal error in the golden provider", e.to_string())
}

/// What an in-place update reads of the prior and planned objects.
#[derive(serde::Deserialize)]
struct InPlace {
    id: Option<String>,
    snapshot_ids: Vec<String>,
    tags: BTreeMap<String, String>,
    /// Null in states from before it, and while unknown at plan time.
    tags_all: Option<BTreeMap<String, String>>,
    snapshot_tags: BTreeMap<String, String>,
    ami_users: Vec<String>,
    ami_groups: Vec<PublicGroup>,
    ami_org_arns: Vec<String>,
    ami_ou_arns: Vec<String>,
    snapshot_users: Vec<String>,
    snapshot_groups: Vec<PublicGroup>,
    deprecate_at: Option<String>,
    description: Option<String>,
    deregistration_protection: Option<DeregistrationProtection>,
    /// Null in states from before it.
    previous_ids: Option<Vec<String>>,
    /// The image in each region (the build region's too); empty in states from before it.
    #[serde(default)]
    region_ami_ids: Option<BTreeMap<String, String>>,
}

/// What to add and what to remove to go from `old` to `new`.
fn changes(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let add = new.iter().filter(|p| !old.contains(p)).cloned().collect();
    let remove = old.iter().filter(|p| !new.contains(p)).cloned().collect();
    (add, remove)
}

/// Protection as EC2 takes it: `Some(with_cooldown)` when enabled.
fn protection(p: &Option<DeregistrationProtection>) -> Option<bool> {
    p.as_ref().filter(|p| p.enabled).map(|p| p.with_cooldown)
}

/// What a destroy reads of the stored object.
#[derive(serde::Deserialize)]
struct Held {
    id: Option<String>,
    snapshot_ids: Vec<String>,
    previous_ids: Vec<String>,
    timeouts: Timeouts,
}

/// Every image of the resource with its region's seam and snapshots: the
/// build region's (snapshots from the state), then each copy (its snapshots
/// as EC2 shows them; a copy gone shows none).
async fn targets(
    ec2: &Ec2,
    id: &str,
    snapshots: &[String],
    regions: &Option<BTreeMap<String, String>>,
) -> Vec<(Ec2, String, Vec<String>)> {
    let mut all = vec![(ec2.clone(), id.to_string(), snapshots.to_vec())];
    for (region, copy) in regions.iter().flatten() {
        if region == &ec2.region {
            continue;
        }
        let there = ec2.in_region(region);
        let snaps = match there.describe_image(copy).await {
            Ok(Some(img)) => img.snapshot_ids,
            _ => vec![],
        };
        all.push((there, copy.clone(), snaps));
    }
    all
}

async fn update(
    ec2: &Ec2,
    policy: &TagPolicy,
    prior: Value,
    planned: Value,
    private: Vec<u8>,
) -> StateOutcome {
    let block = super::schema().block;
    let (old, new) = match (
        view::<InPlace>(&block, &prior),
        view::<InPlace>(&block, &planned),
    ) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return unchanged(prior, &private, internal(e)),
    };
    let id = old.id.clone().unwrap_or_default();
    let mut diags = Diagnostics::default();
    let all = |v: &InPlace| v.tags_all.clone().unwrap_or_else(|| policy.merged(&v.tags));
    let (old_all, new_all) = (all(&old), all(&new));
    // In every region the image is in, the same changes.
    for (ec2, id, snapshots) in targets(ec2, &id, &old.snapshot_ids, &old.region_ami_ids).await {
        let ec2 = &ec2;
        let image_ids = vec![id.clone()];
        let steps = [
            ("tags", ec2.sync_tags(&image_ids, &old_all, &new_all).await),
            (
                "snapshot_tags",
                ec2.sync_tags(
                    &snapshots,
                    &policy.merged(&old.snapshot_tags),
                    &policy.merged(&new.snapshot_tags),
                )
                .await,
            ),
        ];
        for (attr, r) in steps {
            if let Err(e) = r {
                diags.push(
                    Diagnostic::error(format!("Cannot update {attr}"), e.to_string())
                        .at(AttrPath::root(attr)),
                );
            }
        }
        let launchers = |v: &InPlace| {
            launch_principals(&v.ami_users, &v.ami_groups, &v.ami_org_arns, &v.ami_ou_arns)
        };
        let (add, remove) = changes(&launchers(&old), &launchers(&new));
        if (!add.is_empty() || !remove.is_empty())
            && let Err(e) = ec2.set_launch_permissions(&id, &add, &remove).await
        {
            diags.push(
                Diagnostic::error("Cannot update who may launch the AMI", e.to_string())
                    .at(AttrPath::root("ami_users")),
            );
        }
        let (add, remove) = changes(
            &snapshot_principals(&old.snapshot_users, &old.snapshot_groups),
            &snapshot_principals(&new.snapshot_users, &new.snapshot_groups),
        );
        if let Err(e) = ec2
            .set_snapshot_permissions(&snapshots, &add, &remove)
            .await
        {
            diags.push(
                Diagnostic::error("Cannot update who may use the snapshots", e.to_string())
                    .at(AttrPath::root("snapshot_users")),
            );
        }
        if old.deprecate_at != new.deprecate_at
            && let Err(e) = ec2.set_deprecation(&id, new.deprecate_at.as_deref()).await
        {
            diags.push(
                Diagnostic::error("Cannot update deprecate_at", e.to_string())
                    .at(AttrPath::root("deprecate_at")),
            );
        }
        let (was, now) = (
            protection(&old.deregistration_protection),
            protection(&new.deregistration_protection),
        );
        if was != now
            && let Err(e) = ec2.set_deregistration_protection(&id, now).await
        {
            diags.push(
                Diagnostic::error("Cannot update deregistration_protection", e.to_string())
                    .at(AttrPath::root("deregistration_protection")),
            );
        }
        if old.description != new.description {
            let desc = new.description.as_deref().unwrap_or_default();
            if let Err(e) = ec2.set_image_description(&id, desc).await {
                diags.push(
                    Diagnostic::error("Cannot update description", e.to_string())
                        .at(AttrPath::root("description")),
                );
            }
        }
    }
    // A lower keep_previous: the plan kept the newest, the rest go.
    let was = old.previous_ids.clone().unwrap_or_default();
    let now = new.previous_ids.clone().unwrap_or_default();
    let dropped: Vec<(String, Vec<String>)> = was
        .iter()
        .filter(|p| !now.contains(p))
        .map(|p| (p.clone(), vec![]))
        .collect();
    if !dropped.is_empty() {
        let holder = Private::read(&private).holder;
        let never = CancellationToken::new();
        if let Err(e) = keep::release_all(ec2, &dropped, holder.as_deref(), &never).await {
            diags.push(
                Diagnostic::error("Cannot deregister previous images", e.to_string())
                    .at(AttrPath::root("keep_previous")),
            );
        }
    }
    // On failure keep the prior values so the next plan retries the change.
    let (state, private) = if diags.has_errors() {
        (prior, private)
    } else if Private::read(&private).imported {
        // The configuration is adopted: from now on the state knows its inputs.
        let kept = Private {
            imported: false,
            ..Private::read(&private)
        };
        (planned, kept.bytes())
    } else {
        (planned, private)
    };
    let mut state = state;
    if !diags.has_errors() {
        state.set("tags_all", Value::string_map(new_all));
    }
    StateOutcome {
        state,
        private,
        diags,
    }
}

/// What a rebake reads of the planned object.
#[derive(serde::Deserialize)]
struct KeepCount {
    keep_previous: u32,
}

/// A rebake planned in place (`keep`): bakes (or adopts) the new image,
/// then keeps the replaced one and trims the rest. A failed bake keeps the
/// prior state, so nothing is retired.
async fn rebake(
    c: &Configured,
    life: Lifecycle<'_>,
    prior: Value,
    planned: Value,
    config: Value,
    private: Vec<u8>,
) -> StateOutcome {
    let keep = match view::<KeepCount>(&super::schema().block, &planned) {
        Ok(k) => k.keep_previous,
        Err(e) => return unchanged(prior, &private, internal(e)),
    };
    let r = keep::plan_rebake(&prior, keep, Private::read(&private).image_gone);
    let out = create(c, life, planned, &config, r, &private).await;
    if out.state.is_null() {
        return StateOutcome {
            state: prior,
            private,
            diags: out.diags,
        };
    }
    out
}

/// An apply that did not finish keeps the object as it was, private state
/// (this stack's holder id) included, so the next one releases the same hold.
fn unchanged(prior: Value, private: &[u8], d: Diagnostic) -> StateOutcome {
    StateOutcome {
        state: prior,
        private: private.to_vec(),
        diags: d.into(),
    }
}

fn gone() -> StateOutcome {
    StateOutcome {
        state: Value::Null,
        private: vec![],
        diags: Diagnostics::default(),
    }
}

/// Destroy: releases this stack's hold on the image and on every previous
/// one; each goes, with its snapshots, when no other stack holds it.
/// Terraform's stop (Ctrl-C) ends it at once, keeping the state so the next
/// destroy finishes the job.
async fn delete(ec2: &Ec2, stop: &CancellationToken, prior: Value, private: &[u8]) -> StateOutcome {
    let held = match view::<Held>(&super::schema().block, &prior) {
        Ok(h) => h,
        Err(e) => return unchanged(prior, private, internal(e)),
    };
    let images: Vec<(String, Vec<String>)> = held
        .id
        .iter()
        .map(|id| (id.clone(), held.snapshot_ids.clone()))
        .chain(held.previous_ids.iter().map(|p| (p.clone(), vec![])))
        .collect();
    if images.is_empty() {
        return gone();
    }
    // Terraform 1.0.x plans no destroy through the provider: refuse here too,
    // at once and without a call to EC2.
    let mut refused = Diagnostics::default();
    refuse_if_protected(&prior, "destroy", &mut refused);
    if refused.has_errors() {
        return StateOutcome {
            state: prior,
            private: private.to_vec(),
            diags: refused,
        };
    }
    let holder = Private::read(private).holder;
    let holder = holder.as_deref();
    let id = held.id.clone().unwrap_or_default();
    let limit = held.timeouts.delete.0;
    let r = tokio::select! {
        r = tokio::time::timeout(limit, keep::release_all(ec2, &images, holder, stop)) => Some(r),
        _ = stop.cancelled() => None,
    };
    let err = match r {
        Some(Ok(Ok(()))) => {
            tracing::info!(image = %id, "golden_ami deleted");
            return gone();
        }
        Some(Ok(Err(e))) if !e.is_cancelled() => e.to_string(),
        Some(Err(_)) => format!("timed out after {}s (timeouts.delete)", limit.as_secs()),
        Some(Ok(Err(_))) | None => {
            tracing::warn!(image = %id, "destroy stopped by Terraform");
            return unchanged(
                prior,
                private,
                Diagnostic::error(
                    format!("Destroy of AMI {id} interrupted"),
                    "Terraform asked the provider to stop before the AMI and its snapshots were all deleted. The AMI stays in the state; the next terraform destroy finishes the job.",
                ),
            );
        }
    };
    unchanged(
        prior,
        private,
        Diagnostic::error(format!("Cannot delete AMI {id}"), err),
    )
}
