//! Where an image has copies: the regions its `golden:copy-regions` tag
//! names (the provider's region when there is none), and in each the copy
//! with the same `golden:build-id`.

use crate::ec2::Ec2;
use crate::ec2::tags::BUILD_ID_TAG;
use crate::protocol::diag::{AttrPath, Diagnostic};
use crate::provider::Configured;
use std::collections::BTreeMap;

/// Sorted, comma-separated regions where a bake's images exist (the regions
/// helper writes it on the original and on every copy).
pub const COPY_REGIONS_TAG: &str = "golden:copy-regions";

fn at_ami(summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttrPath::root("ami_id"))
}

/// Region → AMI id for `ami_id` (in the provider's region) and its copies.
pub async fn copies(c: &Configured, ami_id: &str) -> Result<BTreeMap<String, String>, Diagnostic> {
    copies_with(c, ami_id, &|region| Ok(c.ec2_in(region))).await
}

/// [`copies`], reaching other regions through `ec2_in`.
pub async fn copies_with(
    c: &Configured,
    ami_id: &str,
    ec2_in: &(dyn Fn(&str) -> Result<Ec2, Diagnostic> + Sync),
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let home = &c.ec2.region;
    let image = c
        .ec2
        .describe_image(ami_id)
        .await
        .map_err(|e| at_ami("Cannot look up the AMI", e.to_string()))?
        .ok_or_else(|| {
            at_ami(
                "AMI not found",
                format!("{ami_id} does not exist in {home} (the provider's region), or is not visible to this account."),
            )
        })?;
    let mut out = BTreeMap::from([(home.clone(), ami_id.to_string())]);
    let regions: Vec<&str> = image
        .tags
        .get(COPY_REGIONS_TAG)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let others: Vec<&str> = regions.into_iter().filter(|r| r != home).collect();
    if others.is_empty() {
        return Ok(out);
    }
    let Some(build) = image.tags.get(BUILD_ID_TAG) else {
        return Err(at_ami(
            "Cannot find the image's copies",
            format!(
                "{ami_id} names copies in {} but has no {BUILD_ID_TAG} tag to find them by.",
                others.join(", ")
            ),
        ));
    };
    for region in others {
        let ec2 = ec2_in(region)?;
        let found = ec2.images_tagged(BUILD_ID_TAG, build).await.map_err(|e| {
            at_ami(
                &format!("Cannot look up the copy in {region}"),
                e.to_string(),
            )
        })?;
        let copy = found
            .into_iter()
            .filter(|i| !matches!(i.state.as_str(), "deregistered" | "failed" | "invalid"))
            .map(|i| i.id)
            .min()
            .ok_or_else(|| {
                at_ami(
                    "Copy not found",
                    format!("{ami_id} names a copy in {region}, but no image there has {BUILD_ID_TAG} = {build}."),
                )
            })?;
        out.insert(region.to_string(), copy);
    }
    Ok(out)
}
