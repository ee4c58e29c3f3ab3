//! Tag helpers: the SDK's tag types from maps, and the tags every temporary
//! resource carries so leftovers can be found by build id.

use super::{Ec2, Ec2Error, api_err};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use std::collections::BTreeMap;

/// Tag key holding the build id on everything a bake creates.
pub const BUILD_ID_TAG: &str = "golden:build-id";
/// Tag key on the AMI naming the image it was baked from.
pub const SOURCE_AMI_TAG: &str = "golden:source-ami";

pub fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub fn spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(to_sdk(tags)))
        .build()
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
        self.client
            .create_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(to_sdk(tags)))
            .send()
            .await
            .map_err(api_err("CreateTags"))?;
        Ok(())
    }

    pub async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), Ec2Error> {
        if ids.is_empty() || keys.is_empty() {
            return Ok(());
        }
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        self.client
            .delete_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(api_err("DeleteTags"))?;
        Ok(())
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

/// Finding what a bake made, by its tag.
impl Ec2 {
    fn tag_filter(key: &str, value: &str) -> aws_sdk_ec2::types::Filter {
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{key}"))
            .values(value)
            .build()
    }

    /// Instances carrying the tag that are not terminated.
    pub async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, Ec2Error> {
        let out = self
            .client
            .describe_instances()
            .filters(Self::tag_filter(key, value))
            .send()
            .await
            .map_err(api_err("DescribeInstances"))?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect())
    }

    pub async fn groups_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, Ec2Error> {
        let out = self
            .client
            .describe_security_groups()
            .filters(Self::tag_filter(key, value))
            .send()
            .await
            .map_err(api_err("DescribeSecurityGroups"))?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }

    pub async fn images_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<super::images::ImageInfo>, Ec2Error> {
        let out = self
            .client
            .describe_images()
            .owners("self")
            .filters(Self::tag_filter(key, value))
            .send()
            .await
            .map_err(api_err("DescribeImages"))?;
        Ok(out
            .images()
            .iter()
            .map(super::images::ImageInfo::from)
            .collect())
    }

    pub async fn key_pair_exists(&self, name: &str) -> Result<bool, Ec2Error> {
        match self
            .client
            .describe_key_pairs()
            .key_names(name)
            .send()
            .await
            .map_err(api_err("DescribeKeyPairs"))
        {
            Ok(out) => Ok(!out.key_pairs().is_empty()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
