//! Planning: what is known before apply, and what forces a new bake.

use super::digest;
use super::keep;
use super::private::Private;
use super::schema::{DeregistrationProtection, SourceAmiFilter, schema};
use super::validate::validate;
use crate::ec2::images::ImageInfo;
use crate::ec2::placement::NetworkError;
use crate::ec2::tags::INPUT_DIGEST_TAG;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::schema::decode::{view, view_known};
use crate::provider::schema::{Mode, OnChange};
use crate::provider::{Configured, PlanOutcome};

/// Computed attributes only a bake can tell.
const BAKE_COMPUTED: [&str; 5] = [
    "id",
    "snapshot_ids",
    "creation_date",
    "build_id",
    "region_ami_ids",
];

pub async fn plan(
    client: Option<&Configured>,
    prior: Value,
    mut proposed: Value,
    config: Value,
    private: Vec<u8>,
    write_only_allowed: bool,
) -> PlanOutcome {
    // Terraform 1.11+ keeps write-only values out of plans and state (older
    // versions do not know the flag and expect them back); they never take
    // part in comparisons or digests either.
    if write_only_allowed {
        schema().block.null_write_only(&mut proposed);
    }
    if proposed.is_null() {
        let mut diags = Diagnostics::default();
        refuse_if_protected(&prior, "destroy", &mut diags);
        return PlanOutcome {
            planned: Value::Null,
            requires_replace: vec![],
            private,
            diags,
        };
    }
    let mut diags = validate(&config);
    if diags.has_errors() {
        return PlanOutcome {
            planned: proposed,
            requires_replace: vec![],
            private,
            diags,
        };
    }
    let mut planned = proposed.clone();
    if let Err(e) = digest::fill_user_data_digest(&mut planned, false).await {
        diags.push(
            Diagnostic::error("Cannot read user_data_file", e).at(AttrPath::root("user_data_file")),
        );
        return PlanOutcome {
            planned: proposed,
            requires_replace: vec![],
            private,
            diags,
        };
    }
    if let Err((i, e)) = digest::fill_content_digests(&mut planned, false).await {
        diags.push(
            Diagnostic::error("Cannot read a provisioning file", e)
                .at(AttrPath::root("provision").index(i)),
        );
        return PlanOutcome {
            planned: proposed,
            requires_replace: vec![],
            private,
            diags,
        };
    }

    if prior.is_null() {
        for a in BAKE_COMPUTED {
            planned.set(a, Value::Unknown);
        }
        if config.get("name").is_null() {
            planned.set("name", Value::Unknown);
        }
        planned.set(
            "region",
            client
                .map(|c| Value::string(&c.ec2.region))
                .unwrap_or(Value::Unknown),
        );
        let source_id = match client {
            Some(c) => resolve_source(c, &config, &mut diags).await,
            None => Value::Unknown,
        };
        planned.set("source_ami_id", source_id);
        set_tags_all(client, &mut planned);
        let d = digest::input_digest(&planned);
        planned.set("input_digest", d);
        // A new object has no previous images (a rebake that keeps them is an update: `keep`).
        planned.set("previous_ids", Value::List(vec![]));
        planned.set("reused", Value::Unknown);
        let reuse =
            view_known::<KeepSettings>(&schema().block, &config).is_ok_and(|k| k.reuse_identical);
        if let Some(c) = client {
            if reuse {
                announce_reuse(c, &planned, &config, &mut diags).await;
            }
            refuse_taken_name(c, &prior, &config, &planned, reuse, &mut diags).await;
            check_network(c, &config, &mut diags).await;
        }
        return PlanOutcome {
            planned,
            requires_replace: vec![],
            private,
            diags,
        };
    }

    // An update: a newer AMI behind the filter is a reason to rebake, unless opted out.
    // An unknown flag reads as its default.
    let follow = match view_known::<FollowSource>(&schema().block, &config) {
        Ok(f) => f.rebake_on_new_source && f.source_ami_filter.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read rebake_on_new_source; following the source");
            true
        }
    };
    if follow
        && !config.get("source_ami_filter").is_null()
        && let Some(c) = client
    {
        let now = resolve_source(c, &config, &mut diags).await;
        if now.as_str().is_some() && now != *prior.get("source_ami_id") {
            tracing::info!(from = ?prior.get("source_ami_id"), to = ?now, "source_ami_filter now selects a newer AMI");
            planned.set("source_ami_id", now);
        }
    }
    set_tags_all(client, &mut planned);
    let d = digest::input_digest(&planned);
    planned.set("input_digest", d);

    let kept = Private::read(&private);
    let mut requires_replace = if kept.imported {
        imported_replacements(&prior, &planned, &config)
    } else {
        replaced_paths(&prior, &proposed, &config)
    };
    if kept.image_gone {
        // Only a new bake brings the image back; the replacement's delete
        // removes the snapshots the old one left.
        for a in BAKE_COMPUTED {
            planned.set(a, Value::Unknown);
        }
        requires_replace.push(AttrPath::root("id"));
    }
    // Digests only count when the prior state has them (states older than them do not).
    for attr in ["source_ami_id", "input_digest"] {
        if !prior.get(attr).is_null()
            && prior.get(attr) != planned.get(attr)
            && !requires_replace.contains(&AttrPath::root(attr))
        {
            requires_replace.push(AttrPath::root(attr));
        }
    }
    let (old, new) = (
        prior.get("provision").as_list(),
        planned.get("provision").as_list(),
    );
    for (i, (o, n)) in old.iter().zip(new).enumerate() {
        if !o.get("content_digest").is_null() && o.get("content_digest") != n.get("content_digest")
        {
            requires_replace.push(AttrPath::root("provision").index(i).attr("content_digest"));
        }
    }
    if requires_replace.is_empty() {
        trim_in_place(&prior, &config, &mut planned, &mut diags);
    } else {
        let settings = view_known::<KeepSettings>(&schema().block, &config);
        let (keep, reuse) = settings
            .map(|k| (k.keep_previous, k.reuse_identical))
            .unwrap_or((0, false));
        if let Some(c) = client {
            refuse_taken_name(c, &prior, &config, &planned, reuse, &mut diags).await;
            check_network(c, &config, &mut diags).await;
        }
        // With keep_previous, a rebake is an update that keeps the old image (`keep`).
        if keep > 0
            && let Some(r) = keep::plan_rebake(&prior, keep, kept.image_gone)
        {
            tracing::info!(replacing = ?requires_replace, "rebake planned in place: keep_previous");
            requires_replace.clear();
            for a in BAKE_COMPUTED.iter().chain(&["reused"]) {
                planned.set(a, Value::Unknown);
            }
            if config.get("name").is_null() {
                planned.set("name", Value::Unknown);
            }
            if let Some(w) = keep::retire_warning(&r) {
                diags.push(w);
            }
            planned.set("previous_ids", Value::string_list(r.kept));
        } else {
            refuse_if_protected(&prior, "replace", &mut diags);
        }
    }
    PlanOutcome {
        planned,
        requires_replace,
        private,
        diags,
    }
}

/// A lower `keep_previous` applied in place drops the oldest kept images.
fn trim_in_place(prior: &Value, config: &Value, planned: &mut Value, diags: &mut Diagnostics) {
    let Ok(k) = view_known::<KeepSettings>(&schema().block, config) else {
        return;
    };
    let previous = prior.get("previous_ids").as_string_list();
    if previous.len() <= k.keep_previous as usize {
        return;
    }
    let (kept, dropped) = previous.split_at(k.keep_previous as usize);
    planned.set("previous_ids", Value::string_list(kept.to_vec()));
    diags.push(
        Diagnostic::warning(
            "Lowering keep_previous retires kept images",
            format!(
                "Deregistered with their snapshots (unless another stack still holds them): {}.",
                dropped.join(", ")
            ),
        )
        .at(AttrPath::root("keep_previous")),
    );
}

/// What `keep_previous` and `reuse_identical` read of the configuration.
#[derive(serde::Deserialize)]
struct KeepSettings {
    keep_previous: u32,
    reuse_identical: bool,
}

/// `reuse_identical` decides at apply; the plan says what it would adopt now.
async fn announce_reuse(c: &Configured, planned: &Value, config: &Value, diags: &mut Diagnostics) {
    let Some(digest) = planned.get("input_digest").as_str() else {
        return;
    };
    let name = config.get("name").as_str();
    match c.ec2.identical_images(digest).await {
        Ok(found) => {
            if let Some(img) = found.iter().find(|i| name.is_none_or(|n| n == i.name)) {
                diags.push(
                    Diagnostic::warning(
                        format!("An identical image exists: {}", img.id),
                        format!(
                            "{} ({}) was baked from the same inputs (input_digest {digest}). With reuse_identical, the apply adopts it instead of baking, if it is still available then; the id stays unknown until the apply.",
                            img.id, img.name
                        ),
                    )
                    .at(AttrPath::root("reuse_identical")),
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for an identical image"),
    }
}

/// A fixed `name` that another AMI of this account already has would make
/// CreateImage fail after the whole bake: say so now, naming that AMI, unless
/// `force_deregister` is to remove it. The image this resource holds is not
/// "another": a replacement removes it first.
async fn refuse_taken_name(
    c: &Configured,
    prior: &Value,
    config: &Value,
    planned: &Value,
    reuse: bool,
    diags: &mut Diagnostics,
) {
    // Not decodable means a value not known yet: nothing to decide now.
    let Ok(TakenName {
        name: Some(name),
        force_deregister: false,
    }) = view::<TakenName>(&schema().block, config)
    else {
        return;
    };
    let held = prior.get("id").as_str();
    match c.ec2.own_images_named(&name).await {
        Ok(found) => {
            // With reuse_identical, an identical image of that name is adopted, not a clash.
            let digest = planned.get("input_digest").as_str();
            let adopted = |i: &ImageInfo| {
                reuse
                    && digest.is_some()
                    && i.tags.get(INPUT_DIGEST_TAG).map(String::as_str) == digest
            };
            if let Some(other) = found
                .iter()
                .find(|i| Some(i.id.as_str()) != held && !adopted(i))
            {
                diags.push(
                    Diagnostic::error(
                        "AMI name already in use",
                        format!(
                            "{} in {} is already named {name:?}; EC2 allows one AMI per name. Choose another `name` (or use `name_prefix`), or set `force_deregister = true` to deregister {} right before the new image is created (with `force_delete_snapshot = true` to delete its snapshots too).",
                            other.id, c.ec2.region, other.id
                        ),
                    )
                    .at(AttrPath::root("name")),
                );
            }
        }
        Err(e) => diags.push(
            Diagnostic::error("Cannot check whether the AMI name is free", e.to_string())
                .at(AttrPath::root("name")),
        ),
    }
}

/// The attributes and blocks that place the build instance.
const NETWORK: [&str; 7] = [
    "vpc_id",
    "vpc_filter",
    "subnet_id",
    "subnet_filter",
    "availability_zone",
    "security_group_ids",
    "security_group_filter",
];

/// Looks the network settings up now (`ec2::placement`), so an id that does
/// not exist, a group outside the VPC or a filter matching nothing fails the
/// plan, naming the attribute, before anything is made. Skipped while any of
/// them is unknown (the bake checks again) or none is set.
async fn check_network(c: &Configured, config: &Value, diags: &mut Diagnostics) {
    if NETWORK.iter().all(|a| {
        let v = config.get(a);
        v.is_null() || v.as_list().is_empty() && matches!(v, Value::List(_))
    }) || NETWORK.iter().any(|a| !config.get(a).is_wholly_known())
    {
        return;
    }
    let v = match view_known::<super::model::NetworkView>(&schema().block, config) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the network settings; the bake checks them");
            return;
        }
    };
    match c.ec2.choose_network(&v.choice()).await {
        Ok(n) => {
            tracing::info!(subnet = ?n.subnet_id, vpc = ?n.vpc_id, groups = ?n.security_group_ids, "network resolved")
        }
        Err(NetworkError::Choice { attr, message }) => {
            let path = if attr.ends_with("_filter") {
                AttrPath::root(attr).attr("filters")
            } else {
                AttrPath::root(attr)
            };
            diags.push(
                Diagnostic::error(format!("Cannot place the build instance: {attr}"), message)
                    .at(path),
            );
        }
        Err(NetworkError::Ec2(e)) => diags.push(
            Diagnostic::error("Cannot look up the network settings", e.to_string())
                .at(AttrPath::root("subnet_id")),
        ),
    }
}

/// What checking the AMI name reads of the configuration.
#[derive(serde::Deserialize)]
struct TakenName {
    name: Option<String>,
    force_deregister: bool,
}

/// What checking deregistration protection reads of the state.
#[derive(serde::Deserialize)]
struct Protection {
    deregistration_protection: Option<DeregistrationProtection>,
}

/// Whether the stored image has deregistration protection on.
pub(super) fn protected(state: &Value) -> bool {
    view::<Protection>(&schema().block, state)
        .is_ok_and(|p| p.deregistration_protection.is_some_and(|d| d.enabled))
}

/// A protected image cannot be deregistered: say so at plan time, before a
/// replacement bakes for an hour only to fail at removing the old image.
pub(super) fn refuse_if_protected(prior: &Value, what: &str, diags: &mut Diagnostics) {
    if protected(prior) {
        let id = prior.get("id").as_str().unwrap_or("the AMI");
        diags.push(
            Diagnostic::error(
                format!("AMI {id} is protected from deregistration"),
                format!("Cannot {what} it while deregistration_protection is enabled. Set `enabled = false` in the deregistration_protection block and apply first (with `with_cooldown = true`, EC2 then keeps the protection 24 more hours)."),
            )
            .at(AttrPath::root("deregistration_protection").attr("enabled")),
        );
    }
}

/// `tags_all` as the apply will make it: the provider's default tags under
/// the resource's own; unknown while either is.
fn set_tags_all(client: Option<&Configured>, planned: &mut Value) {
    let tags = planned.get("tags");
    let all = match client {
        Some(c) if tags.is_wholly_known() => {
            Value::string_map(c.tags.merged(&tags.as_string_map()))
        }
        _ => Value::Unknown,
    };
    planned.set("tags_all", all);
}

/// What deciding to follow a newer source reads of the configuration.
#[derive(serde::Deserialize)]
struct FollowSource {
    rebake_on_new_source: bool,
    source_ami_filter: Option<serde_json::Value>,
}

/// The filter, as resolving the source reads it.
#[derive(serde::Deserialize)]
struct FilterOnly {
    source_ami_filter: Option<SourceAmiFilter>,
}

/// Resolves the source AMI now, so a bad filter fails the plan (creating
/// nothing) and the apply bakes exactly the image the plan showed.
async fn resolve_source(c: &Configured, config: &Value, diags: &mut Diagnostics) -> Value {
    if let Some(id) = config.get("source_ami").as_str() {
        return match c.ec2.source_image(id).await {
            Ok(Some(_)) => Value::string(id),
            Ok(None) => {
                diags.push(
                    Diagnostic::error(
                        "Source AMI not found",
                        format!(
                            "{id} does not exist or is not visible to this account in {}.",
                            c.ec2.region
                        ),
                    )
                    .at(AttrPath::root("source_ami")),
                );
                Value::Unknown
            }
            Err(e) => {
                diags.push(
                    Diagnostic::error("Cannot look up the source AMI", e.to_string())
                        .at(AttrPath::root("source_ami")),
                );
                Value::Unknown
            }
        };
    }
    let filter = config.get("source_ami_filter");
    if filter.is_null() || !filter.is_wholly_known() {
        return Value::Unknown;
    }
    // Wholly known: decoded with its definitions' defaults (`most_recent`).
    let f = match view_known::<FilterOnly>(&schema().block, config) {
        Ok(FilterOnly {
            source_ami_filter: Some(f),
        }) => f,
        Ok(_) => return Value::Unknown,
        Err(e) => {
            diags.push(
                Diagnostic::error("Internal error in the golden provider", e.to_string())
                    .at(AttrPath::root("source_ami_filter")),
            );
            return Value::Unknown;
        }
    };
    match c.ec2.find_image(&f.filters, &f.owners, f.most_recent).await {
        Ok(img) => {
            tracing::info!(source_ami = %img.id, name = %img.name, "source_ami_filter resolved");
            c.ec2.remember_source(&img).await;
            Value::string(img.id)
        }
        Err(e) => {
            diags.push(
                Diagnostic::error("source_ami_filter selects no single AMI", e.to_string())
                    .at(AttrPath::root("source_ami_filter").attr("filters")),
            );
            Value::Unknown
        }
    }
}

/// After an import the state knows the image, not the inputs that made it:
/// the configuration is adopted unless the image says it would bake
/// something else. An AMI cannot be renamed, so a configured `name` must be
/// the image's; then the digest tag decides, or, for images from before it,
/// the source AMI tag.
pub(super) fn imported_replacements(
    prior: &Value,
    planned: &Value,
    config: &Value,
) -> Vec<AttrPath> {
    let differs = |a: &Value, b: &Value| a.as_str().is_some() && b.as_str().is_some() && a != b;
    let mut out = Vec::new();
    if differs(config.get("name"), prior.get("name")) {
        out.push(AttrPath::root("name"));
    }
    if !prior.get("input_digest").is_null() {
        if differs(prior.get("input_digest"), planned.get("input_digest")) {
            out.push(AttrPath::root("input_digest"));
        }
    } else if differs(config.get("source_ami"), prior.get("source_ami_id")) {
        out.push(AttrPath::root("source_ami"));
    } else if differs(prior.get("source_ami_id"), planned.get("source_ami_id")) {
        out.push(AttrPath::root("source_ami_id"));
    }
    out
}

/// The configured attributes and blocks whose change means a new bake.
pub(super) fn replaced_paths(prior: &Value, proposed: &Value, config: &Value) -> Vec<AttrPath> {
    let s = schema();
    let mut out = Vec::new();
    for a in &s.block.attrs {
        if a.on_change != OnChange::Replace || a.mode == Mode::Computed {
            continue;
        }
        // A generated name is not a configured change.
        if a.name == "name" && config.get("name").is_null() {
            continue;
        }
        if prior.get(a.name) != proposed.get(a.name) {
            out.push(AttrPath::root(a.name));
        }
    }
    for b in &s.block.blocks {
        if b.on_change == OnChange::Replace && prior.get(b.name) != proposed.get(b.name) {
            out.push(AttrPath::root(b.name));
        }
    }
    out
}
