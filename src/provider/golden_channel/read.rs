//! Refresh (the parameters as SSM has them), import by channel name, and
//! state upgrades.

use super::apply::Held;
use super::schema::{SCHEMA_VERSION, parameter_name, schema};
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::{Configured, StateOutcome};
use std::collections::BTreeMap;

/// Reads the parameter in each region of the state. Gone in the provider's
/// region: the channel is gone (null state, so Terraform plans to make it
/// again). Elsewhere gone or changed by hand: the state says so, and the
/// plan writes it back. The value in the provider's region becomes
/// `ami_id`, so a hand-made promotion shows as drift.
pub async fn read(c: &Configured, state: Value, private: Vec<u8>) -> StateOutcome {
    if state.is_null() {
        return StateOutcome {
            state,
            private,
            diags: Diagnostics::default(),
        };
    }
    let held = match Held::of(&state) {
        Ok(h) => h,
        Err(d) => return StateOutcome::err(state, d),
    };
    let Some(full) = held.parameter_name.clone() else {
        return StateOutcome {
            state,
            private,
            diags: Diagnostics::default(),
        };
    };
    let mut values = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for region in held.regions(c) {
        let found = match c.ssm_in(&region) {
            Ok(ssm) => ssm.api.get_parameter(&full).await.map_err(|e| {
                Diagnostic::error(
                    format!("Cannot read the channel in {region}"),
                    e.to_string(),
                )
            }),
            Err(d) => Err(d),
        };
        match found {
            Ok(Some(p)) => {
                versions.insert(region.clone(), Value::Number(p.version as f64));
                values.insert(region, p.value);
            }
            Ok(None) => tracing::info!(name = full, region, "channel parameter gone"),
            Err(d) => return StateOutcome::err(state, d),
        }
    }
    let Some(home) = values.get(&c.ec2.region).cloned() else {
        return StateOutcome {
            state: Value::Null,
            private,
            diags: Diagnostics::default(),
        };
    };
    let mut state = state;
    state.set("ami_id", Value::string(home));
    state.set("region_ami_ids", Value::string_map(values));
    state.set("versions", Value::Map(versions));
    StateOutcome {
        state,
        private,
        diags: Diagnostics::default(),
    }
}

/// `terraform import golden_channel.x web/prod`: the parameter in the
/// provider's region; the next plan adds the image's other regions.
pub async fn import(c: &Configured, id: &str) -> StateOutcome {
    let fail =
        |detail: String| StateOutcome::err(Value::Null, Diagnostic::error("Cannot import", detail));
    let full = match parameter_name(&c.channel_path_prefix, id) {
        Ok(f) => f,
        Err(why) => return fail(why),
    };
    let p = match c.ssm.api.get_parameter(&full).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(format!(
                "No channel {id:?}: the parameter {full} does not exist in {}.",
                c.ssm.region
            ));
        }
        Err(e) => return fail(e.to_string()),
    };
    let region = c.ec2.region.clone();
    let mut state = schema().block.conform(&Value::Map(Default::default()));
    state.set("id", Value::string(id));
    state.set("name", Value::string(id));
    state.set("ami_id", Value::string(&p.value));
    state.set("parameter_name", Value::string(&full));
    state.set("resolve_ssm", Value::string(format!("resolve:ssm:{full}")));
    state.set(
        "region_ami_ids",
        Value::string_map([(region.clone(), p.value)]),
    );
    state.set(
        "versions",
        Value::Map(BTreeMap::from([(region, Value::Number(p.version as f64))])),
    );
    StateOutcome {
        state,
        private: vec![],
        diags: Diagnostics::default(),
    }
}

pub fn upgrade_state(version: i64, raw_json: &[u8]) -> (Value, Diagnostics) {
    match crate::provider::schema::stored_state(version, SCHEMA_VERSION, raw_json) {
        Ok(v) => (schema().block.conform(&v), Diagnostics::default()),
        Err(d) => (Value::Null, d.into()),
    }
}
