//! SDK types to ours and back: tags, images, instances, filters.

use crate::ec2::model::{Filters, ImageInfo, InstanceInfo};
use aws_sdk_ec2::types::{Filter, Image, Instance, ResourceType, Tag, TagSpecification};
use std::collections::BTreeMap;

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

/// One single-valued SDK filter per entry.
pub fn filters(f: &Filters) -> Vec<Filter> {
    f.iter()
        .map(|(k, v)| Filter::builder().name(k).values(v).build())
        .collect()
}

pub fn image(i: &Image) -> ImageInfo {
    ImageInfo {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        description: i.description().map(str::to_string),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        state_reason: i
            .state_reason()
            .and_then(|r| r.message())
            .map(str::to_string),
        creation_date: i.creation_date().unwrap_or_default().to_string(),
        snapshot_ids: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
            .map(str::to_string)
            .collect(),
        tags: from_sdk(i.tags()),
        deprecation_time: i.deprecation_time().map(str::to_string),
        deregistration_protection: i.deregistration_protection().map(str::to_string),
        root_device_name: i.root_device_name().map(str::to_string),
        imds_support: i.imds_support().map(|v| v.as_str().to_string()),
        ena_support: i.ena_support(),
        sriov_net_support: i.sriov_net_support().map(str::to_string),
    }
}

pub fn instance(i: &Instance) -> InstanceInfo {
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        public_ip: i.public_ip_address().map(str::to_string),
        private_ip: i.private_ip_address().map(str::to_string),
        public_dns: i
            .public_dns_name()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        private_dns: i
            .private_dns_name()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        tags: from_sdk(i.tags()),
        state_reason: i.state_reason().map(|r| {
            format!(
                "{}: {}",
                r.code().unwrap_or_default(),
                r.message().unwrap_or_default()
            )
        }),
        lifecycle: i.instance_lifecycle().map(|l| l.as_str().to_string()),
        spot_request_id: i.spot_instance_request_id().map(str::to_string),
    }
}
