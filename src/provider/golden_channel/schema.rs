//! The golden_channel resource, each attribute defined once.

use crate::define_block;
use crate::provider::schema::{BlockDef, Schema};
use std::collections::BTreeMap;

/// Bumped when the state layout changes; `upgrade_state` maps old versions.
pub const SCHEMA_VERSION: i64 = 0;

pub fn schema() -> Schema {
    Schema {
        version: SCHEMA_VERSION,
        block: GoldenChannel::block(),
    }
}

define_block! {
    /// A golden_channel object: configuration, plan or state.
    pub struct GoldenChannel: "Publishes an AMI under a channel name in SSM Parameter Store: one parameter `<channel_path_prefix><name>` (type `String`, data type `aws:ec2:image`, the regional AMI id as value) in each region where the image has a copy (the image's `golden:copy-regions` tag; the provider's region when it has none), each copy found by its `golden:build-id`. Changing `ami_id` promotes in place: SSM keeps the earlier ids as the parameter's versions. Other stacks read the channel with the `golden_ami` data source, or without this provider with `resolve:ssm:<parameter_name>` as a launch template's image id. Destroy deletes the parameters. Import with the channel's name: `terraform import golden_channel.web web/prod`." {
        pub id: Option<String> => computed("The channel's name, as `name`."),
        pub name: String => required("Channel name below `channel_path_prefix`, e.g. `web/prod`: path segments of letters, digits, `_`, `.` and `-`, separated by `/`. A new name makes a new channel (the old parameters are deleted).")
            .check(Check::SsmRelativeName),
        pub ami_id: String => required("The AMI to publish, in the provider's region (e.g. `golden_ami.web.id`). Changed in place: a promotion, kept by SSM as a new parameter version.")
            .check(Check::AmiId)
            .in_place(),
        pub parameter_name: Option<String> => computed("The SSM parameter's full name, `<channel_path_prefix><name>`, the same in every region."),
        pub resolve_ssm: Option<String> => computed("`resolve:ssm:<parameter_name>`: a launch template's or RunInstances' image id that follows the channel."),
        pub region_ami_ids: Option<BTreeMap<String, String>> => computed("Region → the AMI id published there (the image and its copies)."),
        pub versions: Option<BTreeMap<String, i64>> => computed("Region → the parameter version this resource wrote last; earlier versions hold earlier promotions (`<parameter_name>:<version>`)."),
    }
}

/// The full parameter name of channel `name` under `prefix`, or why SSM
/// would refuse it (each part alone is checked with its attribute; here
/// the limits on the whole).
pub fn parameter_name(prefix: &str, name: &str) -> Result<String, String> {
    use crate::provider::schema::check::{SSM_MAX_LEVELS, SSM_MAX_NAME, ssm_name_problem};
    if let Some(why) = ssm_name_problem(name) {
        return Err(format!("{name:?} {why}"));
    }
    let full = format!("{prefix}{name}");
    let levels = full.trim_start_matches('/').split('/').count();
    if levels > SSM_MAX_LEVELS {
        return Err(format!(
            "{full:?} has {levels} levels; SSM allows {SSM_MAX_LEVELS} (the provider's channel_path_prefix counts too)."
        ));
    }
    if full.len() > SSM_MAX_NAME {
        return Err(format!(
            "{full:?} is {} characters; SSM allows {SSM_MAX_NAME}.",
            full.len()
        ));
    }
    Ok(full)
}
