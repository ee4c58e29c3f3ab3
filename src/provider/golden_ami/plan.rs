//! Planning: what is known before apply, and what forces a new bake.

use super::schema::schema;
use super::validate::validate;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::schema::{Mode, OnChange};
use crate::protocol::value::Value;
use crate::provider::{Configured, PlanOutcome};

/// Computed attributes only a bake can tell.
const BAKE_COMPUTED: [&str; 4] = ["id", "snapshot_ids", "creation_date", "build_id"];

pub async fn plan(
    client: Option<&Configured>,
    prior: Value,
    proposed: Value,
    config: Value,
    private: Vec<u8>,
) -> PlanOutcome {
    if proposed.is_null() {
        return PlanOutcome {
            planned: Value::Null,
            requires_replace: vec![],
            private,
            diags: Diagnostics::default(),
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
    if !prior.is_null() {
        let requires_replace = replaced_paths(&prior, &proposed, &config);
        return PlanOutcome {
            planned: proposed,
            requires_replace,
            private,
            diags,
        };
    }

    let mut planned = proposed;
    for a in BAKE_COMPUTED {
        planned.set(a, Value::Unknown);
    }
    if config.get("name").is_null() {
        planned.set("name", Value::Unknown);
    }
    if let Some(c) = client {
        planned.set("region", Value::string(&c.ec2.region));
    } else {
        planned.set("region", Value::Unknown);
    }
    let source_id = match client {
        Some(c) => resolve_source(c, &config, &mut diags).await,
        None => Value::Unknown,
    };
    planned.set("source_ami_id", source_id);
    PlanOutcome {
        planned,
        requires_replace: vec![],
        private,
        diags,
    }
}

/// Resolves the source AMI now, so a bad filter fails the plan (creating
/// nothing) and the apply bakes exactly the image the plan showed.
async fn resolve_source(c: &Configured, config: &Value, diags: &mut Diagnostics) -> Value {
    if let Some(id) = config.get("source_ami").as_str() {
        return match c.ec2.describe_image(id).await {
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
    let filters = filter.get("filters").as_string_map();
    let owners = filter.get("owners").as_string_list();
    let most_recent = filter.get("most_recent").as_bool().unwrap_or(false);
    match c.ec2.find_image(&filters, &owners, most_recent).await {
        Ok(img) => {
            tracing::info!(source_ami = %img.id, name = %img.name, "source_ami_filter resolved");
            Value::string(img.id)
        }
        Err(e) => {
            diags.push(
                Diagnostic::error("source_ami_filter selects no single AMI", e.to_string())
                    .at(AttrPath::root("source_ami_filter")),
            );
            Value::Unknown
        }
    }
}

/// The configured attributes and blocks whose change means a new bake.
fn replaced_paths(prior: &Value, proposed: &Value, config: &Value) -> Vec<AttrPath> {
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
