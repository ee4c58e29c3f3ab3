//! Apply: write the parameter in every region of the image (a new version
//! where the value changes), delete it where the image no longer is, and
//! delete them all on destroy.

use super::copies::copies;
use super::schema::{parameter_name, schema};
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::schema::decode::view_known;
use crate::provider::{Configured, StateOutcome};
use crate::ssm::IMAGE_DATA_TYPE;
use std::collections::BTreeMap;

/// What apply and refresh read of a channel object, decoded once. Fields
/// not known yet (a planned `region_ami_ids` of an AMI made in this apply)
/// read as absent.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Held {
    pub name: Option<String>,
    pub ami_id: Option<String>,
    pub parameter_name: Option<String>,
    pub region_ami_ids: Option<BTreeMap<String, String>>,
}

impl Held {
    pub fn of(v: &Value) -> Result<Held, Diagnostic> {
        if v.is_null() {
            return Ok(Held::default());
        }
        view_known(&schema().block, v)
            .map_err(|e| Diagnostic::error("Internal error in the golden provider", e.to_string()))
    }

    /// The regions of the parameters (the provider's region when none is recorded).
    pub fn regions(&self, c: &Configured) -> Vec<String> {
        match &self.region_ami_ids {
            Some(m) if !m.is_empty() => m.keys().cloned().collect(),
            _ => vec![c.ec2.region.clone()],
        }
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
    let (was, now) = match (Held::of(&prior), Held::of(&planned)) {
        (Ok(w), Ok(n)) => (w, n),
        (Err(d), _) | (_, Err(d)) => return StateOutcome::err(prior, d),
    };
    if planned.is_null() {
        let Some(name) = was.parameter_name.as_deref() else {
            return StateOutcome::err(
                Value::Null,
                Diagnostic::error(
                    "Nothing to delete",
                    "The channel's state has no parameter name.",
                ),
            );
        };
        return match delete_in(c, name, &was.regions(c)).await {
            Ok(()) => StateOutcome {
                state: Value::Null,
                private: vec![],
                diags: Diagnostics::default(),
            },
            Err(d) => StateOutcome::err(prior, d),
        };
    }
    let fail_with = |state: Value, d: Diagnostic| StateOutcome::err(state, d);
    let (Some(name), Some(ami)) = (now.name.as_deref(), now.ami_id.as_deref()) else {
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
    let targets = match now.region_ami_ids.clone() {
        Some(m) => m,
        None => match copies(c, ami).await {
            Ok(m) => m,
            Err(d) => return fail_with(prior, d),
        },
    };
    let mut state = planned.clone();
    state.set("id", Value::string(name));
    state.set("parameter_name", Value::string(&full));
    state.set("resolve_ssm", Value::string(format!("resolve:ssm:{full}")));
    // Fixed text: SSM takes 1024 characters of description, and a name may be longer.
    let description =
        "A golden_channel of terraform-provider-golden: the channel's AMI id in this region.";
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut versions: BTreeMap<String, Value> = BTreeMap::new();
    let mut problem = None;
    for (region, id) in &targets {
        match publish(c, region, &full, id, description).await {
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
        let gone: Vec<String> = was
            .region_ami_ids
            .iter()
            .flat_map(|m| m.keys())
            .filter(|r| !targets.contains_key(*r))
            .cloned()
            .collect();
        if let Some(old) = was.parameter_name.as_deref()
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
