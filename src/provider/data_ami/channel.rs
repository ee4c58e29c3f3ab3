//! Resolving a channel to the AMI id its SSM parameter holds in a region:
//! GetParameter of `<channel_path_prefix><channel>`, or
//! `<prefix><channel>:<version>` for an earlier promotion.

use crate::protocol::diag::{AttrPath, Diagnostic};
use crate::provider::Configured;

/// The parameter name to read for channel `name` at `version`.
pub fn parameter_name(prefix: &str, name: &str, version: Option<i64>) -> String {
    match version {
        Some(v) => format!("{prefix}{name}:{v}"),
        None => format!("{prefix}{name}"),
    }
}

/// The AMI id channel `name` holds in `region` (at `version`, else the latest).
pub async fn resolve(
    c: &Configured,
    region: &str,
    name: &str,
    version: Option<i64>,
) -> Result<String, Diagnostic> {
    let at = |attr: &str| AttrPath::root(attr);
    let ssm = c.ssm_in(region).map_err(|d| d.at(at("channel")))?;
    let param = parameter_name(&c.channel_path_prefix, name, version);
    let found = ssm.api.get_parameter(&param).await.map_err(|e| {
        Diagnostic::error("Cannot read the channel", format!("{param}: {e}")).at(at("channel"))
    })?;
    let Some(p) = found else {
        let (attr, what) = match version {
            Some(v) => (
                "channel_version",
                format!("version {v} of channel {name:?}"),
            ),
            None => ("channel", format!("channel {name:?}")),
        };
        return Err(Diagnostic::error(
            "No such channel",
            format!("There is no {what} in {region}: SSM has no parameter {param}."),
        )
        .at(at(attr)));
    };
    Ok(p.value)
}
