//! The tags every temporary resource carries, so leftovers can be found by
//! build id, and changing tags in place.

use super::Ec2;
use super::error::Ec2Error;
use std::collections::BTreeMap;

/// Tag key holding the build id on everything a bake creates.
pub const BUILD_ID_TAG: &str = "golden:build-id";
/// Tag key on the AMI naming the image it was baked from.
pub const SOURCE_AMI_TAG: &str = "golden:source-ami";
/// The image's input digest, so an import can tell whether a configuration made it.
pub const INPUT_DIGEST_TAG: &str = "golden:input-digest";
/// Tag key on every temporary resource: when (RFC 3339) any provider run may
/// remove it (`ec2::expiry`). A kept image and its snapshots lose it.
pub const EXPIRES_AT_TAG: &str = "golden:expires-at";

/// Whether `id` has the shape a build id has (12 lowercase hex digits):
/// anything else must never reach a tag filter, where `*` and `?` are
/// wildcards, nor make a resource look like a bake's.
pub fn valid_build_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The tags that mark a resource as a bake's temporary one: its build id and
/// when it expires. The one list every temporary resource carries.
pub fn temporary_tags(build_id: &str, expires_at: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (BUILD_ID_TAG.to_string(), build_id.to_string()),
        (EXPIRES_AT_TAG.to_string(), expires_at.to_string()),
    ])
}

impl Ec2 {
    pub async fn create_tags(
        &self,
        ids: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Ec2Error> {
        if ids.is_empty() || tags.is_empty() {
            return Ok(());
        }
        self.api.create_tags(ids, tags).await
    }

    pub async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), Ec2Error> {
        if ids.is_empty() || keys.is_empty() {
            return Ok(());
        }
        self.api.delete_tags(ids, keys).await
    }

    /// Makes `ids` carry exactly `new` where they carried `old`: deletes keys
    /// dropped from the map, writes the rest.
    pub async fn sync_tags(
        &self,
        ids: &[String],
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> Result<(), Ec2Error> {
        let removed: Vec<String> = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        self.delete_tags(ids, &removed).await?;
        let changed: BTreeMap<String, String> = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.create_tags(ids, &changed).await
    }
}
