//! What we know of EC2 objects, as plain data: what the EC2 seam (`api`)
//! hands in and out, free of SDK types so a fake can produce it too.

use std::collections::BTreeMap;

/// What we need to know of an AMI.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub creation_date: String,
    pub snapshot_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// When EC2 deprecates the image, as EC2 renders it (seconds rounded
    /// to the minute, often with milliseconds: `2030-01-01T00:00:00.000Z`).
    pub deprecation_time: Option<String>,
    /// Deregistration protection as EC2 shows it: `disabled`,
    /// `enabled-with-cooldown`, `enabled-without-cooldown` or
    /// `disabled-until TIME` while a cooldown runs; None if EC2 said nothing.
    pub deregistration_protection: Option<String>,
    /// The root device (`/dev/xvda`): where `encrypt_boot` applies.
    pub root_device_name: Option<String>,
    /// `v2.0` when instances launched from the image get IMDSv2 only.
    pub imds_support: Option<String>,
    /// Enhanced networking with ENA, as EC2 shows it.
    pub ena_support: Option<bool>,
    /// `simple` with Intel 82599 VF enhanced networking.
    pub sriov_net_support: Option<String>,
}

/// One CopyImage: the source image in `source_region` copied into the
/// client's region, tagged at creation like the original.
#[derive(Debug, Clone, Default)]
pub struct CopyRequest {
    pub source_image_id: String,
    pub source_region: String,
    pub name: String,
    pub description: Option<String>,
    /// Encrypt the copy's snapshots, with `kms_key_id` or the region's default key.
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// Time-based copy (`SnapshotCopyCompletionDurationMinutes`).
    pub completion_minutes: Option<i64>,
    pub tags: BTreeMap<String, String>,
    pub snapshot_tags: BTreeMap<String, String>,
}

/// An EBS snapshot: its id and tags.
#[derive(Debug, Clone, Default)]
pub struct SnapshotInfo {
    pub id: String,
    pub tags: BTreeMap<String, String>,
}

/// An instance as the bake sees it.
#[derive(Debug, Clone, Default)]
pub struct InstanceInfo {
    pub id: String,
    pub state: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Why EC2 moved it last (`Client.InvalidKMSKey.InvalidState: ...`).
    pub state_reason: Option<String>,
    /// `spot` for a spot instance (EC2's `InstanceLifecycle`); None on demand.
    pub lifecycle: Option<String>,
    /// The spot instance request that launched it, if any.
    pub spot_request_id: Option<String>,
}

/// A spot instance request: its id, state (`open`, `active`, `closed`,
/// `cancelled`, `failed`) and tags.
#[derive(Debug, Clone, Default)]
pub struct SpotRequestInfo {
    pub id: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
}

/// A spot launch: RunInstances with `InstanceMarketOptions` spot, which
/// makes a one-time spot request that ends with the instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpotMarket {
    /// Highest hourly price (a decimal string); None: up to the on-demand
    /// price, EC2's default (Packer's `spot_price = "auto"`).
    pub max_price: Option<String>,
    /// Tags on the spot request (TagSpecification `spot-instances-request`).
    pub request_tags: BTreeMap<String, String>,
}

/// An EBS volume: its id, state (`available` when attached to nothing) and tags.
#[derive(Debug, Clone, Default)]
pub struct VolumeInfo {
    pub id: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
}

/// A key pair: its name and tags.
#[derive(Debug, Clone, Default)]
pub struct KeyPairInfo {
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

/// One resource's tag, as DescribeTags lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// EC2's resource type: `instance`, `volume`, `key-pair`, `image`,
    /// `snapshot`, `security-group`, ...
    pub resource_type: String,
    pub resource_id: String,
    pub value: String,
}

/// A security group: its id and tags.
#[derive(Debug, Clone, Default)]
pub struct GroupInfo {
    pub id: String,
    /// The VPC the group belongs to.
    pub vpc_id: String,
    pub tags: BTreeMap<String, String>,
}

/// A subnet as choosing one needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    /// Free IPv4 addresses (`AvailableIpAddressCount`): what `most_free` compares.
    pub available_ips: i32,
}

/// How the subnet is picked among a filter's matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetPick {
    pub filters: Filters,
    /// The match with the most free addresses.
    pub most_free: bool,
    /// Any match.
    pub random: bool,
}

/// Where the build instance runs and which groups guard it, as configured:
/// ids, or filters resolved by [`crate::ec2::Ec2::choose_network`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkChoice {
    pub vpc_id: Option<String>,
    pub vpc_filter: Option<Filters>,
    pub subnet_id: Option<String>,
    pub subnet_filter: Option<SubnetPick>,
    pub availability_zone: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_group_filter: Option<Filters>,
}

impl NetworkChoice {
    /// The user brings the security groups: no temporary one is made.
    pub fn own_groups(&self) -> bool {
        !self.security_group_ids.is_empty() || self.security_group_filter.is_some()
    }
}

/// A resolved [`NetworkChoice`]: the subnet (None: the default VPC's, EC2's
/// pick) and the user's groups (empty: a temporary group is made).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_ids: Vec<String>,
}

/// Launch settings that go to RunInstances as the user wrote them: the
/// provider declares each one (docs, checks, digest) and decodes straight
/// into this struct; only the call below reads them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchOptions {
    pub iam_instance_profile: Option<String>,
    pub ebs_optimized: Option<bool>,
    pub availability_zone: Option<String>,
    pub tenancy: Option<Tenancy>,
    pub placement_group: Option<String>,
    pub capacity_reservation_preference: Option<CapacityPreference>,
    pub capacity_reservation_id: Option<String>,
    pub enable_unlimited_credits: Option<bool>,
    pub enable_nitro_enclave: Option<bool>,
}

crate::choices!(
    /// The instance metadata version an instance launched from the image gets.
    pub enum ImdsSupport {
        V2 = "v2.0",
    }
);

crate::choices!(
    /// Where the build instance runs: shared hardware, a dedicated instance, a dedicated host.
    pub enum Tenancy {
        Default = "default",
        Dedicated = "dedicated",
        Host = "host",
    }
);

crate::choices!(
    /// Whether the build instance may run in any open capacity reservation.
    pub enum CapacityPreference {
        Open = "open",
        None = "none",
    }
);

/// What the bake needs to launch the build instance.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    pub image_id: String,
    pub instance_type: String,
    pub key_name: String,
    pub security_group_ids: Vec<String>,
    pub subnet_id: Option<String>,
    pub options: LaunchOptions,
    /// The build instance's block devices (RunInstances' mapping).
    pub block_devices: Vec<crate::ec2::volumes::BlockDevice>,
    pub user_data: Option<String>,
    pub associate_public_ip: Option<bool>,
    pub instance_tags: BTreeMap<String, String>,
    pub volume_tags: BTreeMap<String, String>,
    /// Idempotency token: a retried launch never starts a second instance.
    pub client_token: String,
    /// IMDS: `required` tokens (IMDSv2) unless told otherwise.
    pub http_tokens: String,
    pub http_endpoint: String,
    pub http_put_response_hop_limit: Option<i32>,
    /// Launch as a spot instance; None: on demand.
    pub spot: Option<SpotMarket>,
}

/// A VPC and its primary CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcInfo {
    pub id: String,
    pub cidr: String,
}

/// Describe filters as EC2 takes them: name → one value (`tag:KEY`, `name`
/// with wildcards, `group-name`...).
pub type Filters = BTreeMap<String, String>;

/// Filters of one entry, built inline.
pub fn filters<const N: usize>(pairs: [(&str, &str); N]) -> Filters {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether `tags` has `key` with exactly `value`. EC2 reads `*` and `?` in a
/// filter value as wildcards, so what a tag filter returns is checked with this
/// before anything acts on it.
pub fn tagged_exactly(tags: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    tags.get(key).is_some_and(|v| v == value)
}

/// The filter for "carries tag `key` = `value`".
pub fn tag_filter(key: &str, value: &str) -> Filters {
    filters([(format!("tag:{key}").as_str(), value)])
}
