//! Planning: the parameter's name, the regions the image is in (the AMI
//! must exist), and whether the plan promotes in place or replaces.

use super::copies::copies;
use super::schema::{parameter_name, schema};
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::{Configured, PlanOutcome};

/// The attributes' own checks; nothing here calls AWS.
pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    schema().block.check(cfg, None, &mut d);
    d
}

pub async fn plan(
    client: Option<&Configured>,
    prior: Value,
    proposed: Value,
    config: Value,
    private: Vec<u8>,
) -> PlanOutcome {
    let outcome = |planned, requires_replace, diags| PlanOutcome {
        planned,
        requires_replace,
        private: private.clone(),
        diags,
    };
    if proposed.is_null() {
        return outcome(Value::Null, vec![], Diagnostics::default());
    }
    let mut diags = validate(&config);
    if diags.has_errors() {
        return outcome(proposed, vec![], diags);
    }
    let mut planned = proposed.clone();
    let name = config.get("name").clone();
    planned.set("id", name.clone());
    // Unconfigured (provider settings not known yet): decided at apply.
    let full = match (client, name.as_str()) {
        (Some(c), Some(n)) => match parameter_name(&c.channel_path_prefix, n) {
            Ok(p) => Value::string(p),
            Err(why) => {
                diags.push(
                    Diagnostic::error("Invalid channel name", why).at(AttrPath::root("name")),
                );
                return outcome(proposed, vec![], diags);
            }
        },
        _ => Value::Unknown,
    };
    let resolve = full
        .as_str()
        .map(|p| Value::string(format!("resolve:ssm:{p}")))
        .unwrap_or(Value::Unknown);
    planned.set("parameter_name", full);
    planned.set("resolve_ssm", resolve);
    let regional = match (client, config.get("ami_id").as_str()) {
        (Some(c), Some(ami)) => match copies(c, ami).await {
            Ok(m) => Value::string_map(m),
            Err(d) => {
                diags.push(d);
                return outcome(proposed, vec![], diags);
            }
        },
        _ => Value::Unknown,
    };
    planned.set("region_ami_ids", regional);
    if prior.is_null() {
        planned.set("versions", Value::Unknown);
        return outcome(planned, vec![], diags);
    }
    // Another name, or another prefix: another parameter, so a new channel.
    let mut requires_replace = Vec::new();
    if prior.get("name") != planned.get("name") {
        requires_replace.push(AttrPath::root("name"));
    }
    let (was, now) = (prior.get("parameter_name"), planned.get("parameter_name"));
    if was.as_str().is_some() && now.as_str().is_some() && was != now {
        requires_replace.push(AttrPath::root("parameter_name"));
    }
    // Same parameter, same AMI in the same regions: nothing to write.
    let same = requires_replace.is_empty()
        && was == now
        && planned.get("region_ami_ids").is_wholly_known()
        && prior.get("region_ami_ids") == planned.get("region_ami_ids");
    if same {
        planned.set("versions", prior.get("versions").clone());
    } else {
        planned.set("versions", Value::Unknown);
    }
    outcome(planned, requires_replace, diags)
}
