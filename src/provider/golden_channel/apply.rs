//! Apply: write the parameter in every region of the image (a new version
//! where the value changes), delete it where the image no longer is, and
//! delete them all on destroy.

use super::copies::copies;
use super::schema::parameter_name;
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::{Configured, StateOutcome};
use crate::ssm::IMAGE_DATA_TYPE;
use std::collections::BTreeMap;

/// The regions of a state's parameters (the provider's region when none is recorded).
pub fn regions_of(c: &Configured, state: &Value) -> Vec<String> {
    let m = state.get("region_ami_ids").as_string_map();
    if m.is_empty() {
        vec![c.ec2.region.clone()]
    } else {
        m.into_keys().collect()
    }
}

/// Deletes `name` in `regions`; already gone is fine.
async fn delete_in(c: &Configured, name: &str, regions: &[String]) -> Result<(), Diagnostic> {
    for region in regions {
        let ssm = c.ssm_in(region)?;
        let existed = ssm.api.delete_parameter(name).await.map_err(|e| {
            Diagnostic::error(
                format!("Cannot delete the channel's parameter in {region}"),
                e.to_string(),
            )
        })?;
        tracing::info!(
            name,
            region = region.as_str(),
            existed,
            "channel parameter deleted"
        );
    }
    Ok(())
}

pub async fn apply(c: &Configured, prior: Value, planned: Value) -> StateOutcome {
    if planned.is_null() {
        let Some(name) = prior.get("parameter_name").as_str() else {
            return StateOutcome::err(
                Value::Null,
                Diagnostic::error(
                    "Nothing to delete",
                    "The channel's state has no parameter name.",
                ),
            );
        };
        return match delete_in(c, name, &regions_of(c, &prior)).await {
            Ok(()) => StateOutcome {
                state: Value::Null,
                private: vec![],
                diags: Diagnostics::default(),
            },
            Err(d) => StateOutcome::err(prior, d),
        };
    }
    let fail_with = |state: Value, d: Diagnostic| StateOutcome::err(state, d);
    let (Some(name), Some(ami)) = (planned.get("name").as_str(), planned.get("ami_id").as_str())
    else {
        return fail_with(
            prior,
            Diagnostic::error(
                "Incomplete channel",
                "`name` and `ami_id` must be known to apply.",
            ),
        );
    };
    let full = match parameter_name(&c.channel_path_prefix, name) {
        Ok(f) => f,
        Err(why) => return fail_with(prior, Diagnostic::error("Invalid channel name", why)),
    };
    // What the plan showed, when it knew; else looked up now (the AMI was made in this apply).
    let targets = match planned.get("region_ami_ids") {
        v @ Value::Map(_) if v.is_wholly_known() => v.as_string_map(),
        _ => match copies(c, ami).await {
            Ok(m) => m,
            Err(d) => return fail_with(prior, d),
        },
    };
    let mut state = planned.clone();
    state.set("id", Value::string(name));
    state.set("parameter_name", Value::string(&full));
    state.set("resolve_ssm", Value::string(format!("resolve:ssm:{full}")));
    let description =
        format!("golden_channel {name}: the AMI id in this region (terraform-provider-golden)");
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut versions: BTreeMap<String, Value> = BTreeMap::new();
    let mut problem = None;
    for (region, id) in &targets {
        match publish(c, region, &full, id, &description).await {
            Ok(v) => {
                written.insert(region.clone(), id.clone());
                versions.insert(region.clone(), Value::Number(v as f64));
            }
            Err(d) => {
                problem = Some(d);
                break;
            }
        }
    }
    if problem.is_none() {
        // Regions the image has left: their parameter would point at nothing.
        let gone: Vec<String> = prior
            .get("region_ami_ids")
            .as_string_map()
            .into_keys()
            .filter(|r| !targets.contains_key(r))
            .collect();
        if let Some(old) = prior.get("parameter_name").as_str()
            && let Err(d) = delete_in(c, old, &gone).await
        {
            problem = Some(d);
        }
    }
    state.set("region_ami_ids", Value::string_map(written));
    state.set("versions", Value::Map(versions));
    match problem {
        // What was written is recorded, so nothing is left untracked.
        Some(d) => StateOutcome::err(state, d),
        None => StateOutcome {
            state,
            private: vec![],
            diags: Diagnostics::default(),
        },
    }
}

/// Makes `full` in `region` point at `id`, adding a version only when it
/// points elsewhere (or is not an image parameter); the version it holds.
async fn publish(
    c: &Configured,
    region: &str,
    full: &str,
    id: &str,
    description: &str,
) -> Result<i64, Diagnostic> {
    let fail = |e: crate::ssm::SsmError| {
        Diagnostic::error(
            format!("Cannot publish the channel in {region}"),
            e.to_string(),
        )
    };
    let ssm = c.ssm_in(region)?;
    if let Some(p) = ssm.api.get_parameter(full).await.map_err(fail)?
        && p.value == id
        && p.data_type == IMAGE_DATA_TYPE
    {
        return Ok(p.version);
    }
    let v = ssm
        .api
        .put_image_parameter(full, id, description)
        .await
        .map_err(fail)?;
    tracing::info!(
        name = full,
        region,
        ami = id,
        version = v,
        "channel published"
    );
    Ok(v)
}
