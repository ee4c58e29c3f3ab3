//! Resolving a channel to the AMI id its SSM parameter holds.

use crate::protocol::diag::{AttrPath, Diagnostic};
use crate::provider::Configured;

/// The AMI id channel `name` holds in `region` (at `version`, else the latest).
pub async fn resolve(
    _c: &Configured,
    _region: &str,
    name: &str,
    _version: Option<i64>,
) -> Result<String, Diagnostic> {
    // TODO(issue 13): GetParameter through the SSM seam (branch `channel`).
    Err(Diagnostic::error(
        "Channels are not available yet",
        format!("This build cannot read channel {name:?}: it has no SSM client yet."),
    )
    .at(AttrPath::root("channel")))
}
