//! What to bake, as plain data built from the resource's configuration.

use crate::ec2::model::{ImdsSupport, LaunchOptions, NetworkChoice};
use crate::ec2::volumes::BlockDevice;
use crate::provision::ProvisionStep;
use std::collections::BTreeMap;
use std::time::Duration;

crate::choices!(
    /// Which instance address the bake dials.
    pub enum Interface {
        PublicIp = "public_ip",
        PrivateIp = "private_ip",
        PublicDns = "public_dns",
        PrivateDns = "private_dns",
    }
);

crate::choices!(
    /// How the build instance's host key is verified; see the `ssh` block's docs.
    pub enum HostKeyCheck {
        Generated = "generated",
        Console = "console",
        Pinned = "pinned",
        None = "none",
    }
);

crate::choices!(
    /// The temporary key pair's algorithm.
    pub enum KeyPairType {
        Ed25519 = "ed25519",
        Rsa = "rsa",
    }
);

crate::choices!(
    /// IMDSv2 only (`required`) or v1 too.
    pub enum HttpTokens {
        Required = "required",
        Optional = "optional",
    }
);

crate::choices!(
    pub enum HttpEndpoint {
        Enabled = "enabled",
        Disabled = "disabled",
    }
);

crate::choices!(
    /// How EC2 picks among spot capacity pools (its `AllocationStrategy`).
    pub enum SpotAllocationStrategy {
        LowestPrice = "lowest-price",
        Diversified = "diversified",
        CapacityOptimized = "capacity-optimized",
        CapacityOptimizedPrioritized = "capacity-optimized-prioritized",
        PriceCapacityOptimized = "price-capacity-optimized",
    }
);

/// Launch the build instance as a spot instance.
#[derive(Debug, Clone, Default)]
pub struct SpotSpec {
    /// Highest hourly price (decimal string); None: `auto`, up to the on-demand price.
    pub max_price: Option<String>,
    /// The types to try, as written; empty: the bake's `instance_type`.
    pub instance_types: Vec<String>,
    pub strategy: Option<SpotAllocationStrategy>,
    /// Tags on the spot request, beside the temporary tags.
    pub tags: BTreeMap<String, String>,
    /// With no spot capacity for any type, launch `instance_type` on demand.
    pub fallback_on_demand: bool,
}

#[derive(Debug, Clone)]
pub enum SourceSpec {
    Id(String),
    Filter {
        filters: BTreeMap<String, String>,
        owners: Vec<String>,
        most_recent: bool,
    },
}

#[derive(Debug, Clone)]
pub struct SshSpec {
    pub username: String,
    /// Dial this instead of the instance's address (bastions, NAT, test beds).
    pub host: Option<String>,
    pub port: u16,
    pub timeout: Duration,
    /// Who may reach port 22 through the temporary group; empty means the VPC's CIDR.
    pub allowed_cidrs: Vec<String>,
    /// Which address to dial; None picks public, then private.
    pub interface: Option<Interface>,
    pub host_key: Option<String>,
    pub bastion: Option<BastionSpec>,
    /// Bring your own key: an existing EC2 key pair and its private key
    /// instead of the temporary pair.
    pub key_pair_name: Option<String>,
    pub private_key: Option<String>,
    pub host_key_check: HostKeyCheck,
}

#[derive(Debug, Clone)]
pub struct BakeSpec {
    /// Tags every temporary resource, so leftovers of a killed bake can be found.
    pub build_id: String,
    pub image_name: String,
    pub description: Option<String>,
    pub instance_type: String,
    pub source: SourceSpec,
    pub ssh: SshSpec,
    pub provision: Vec<ProvisionStep>,
    pub tags: BTreeMap<String, String>,
    /// Tags only on the image made in the build region, set at CreateImage
    /// (not on its copies nor its snapshots): the stack's hold on it, taken
    /// without a call of its own.
    pub hold_tags: BTreeMap<String, String>,
    pub snapshot_tags: BTreeMap<String, String>,
    pub run_tags: BTreeMap<String, String>,
    /// Where the build instance runs and which groups guard it.
    pub network: NetworkChoice,
    pub key_pair_type: KeyPairType,
    /// Tags on the build instance's volumes, over `run_tags`.
    pub run_volume_tags: BTreeMap<String, String>,
    /// ENA support and SR-IOV (`simple`) set on the stopped instance before CreateImage.
    pub ena_support: Option<bool>,
    pub sriov_support: bool,
    /// Set on the image right after CreateImage (`v2.0`).
    pub imds_support: Option<ImdsSupport>,
    /// Settings passed to RunInstances unchanged.
    pub launch: LaunchOptions,
    /// A spot build instance; None: on demand.
    pub spot: Option<SpotSpec>,
    /// The build instance's block devices, over the source AMI's.
    pub launch_block_devices: Vec<BlockDevice>,
    /// Launch the root volume encrypted (`encrypt_boot`), with this key if any.
    pub encrypt_boot: bool,
    pub kms_key_id: Option<String>,
    /// The image's own mapping, beyond the instance's volumes.
    pub ami_block_devices: Vec<BlockDevice>,
    pub user_data: Option<String>,
    pub associate_public_ip: Option<bool>,
    pub create_timeout: Duration,
    /// Bounds the cleanup after the bake: with `create_timeout`, when what
    /// the bake made expires (`golden:expires-at`).
    pub delete_timeout: Duration,
    /// Who may launch the image: account ids, `all`, Organizations ARNs.
    pub launch_principals: Vec<String>,
    /// Who may create volumes from its snapshots: account ids, `all`.
    pub snapshot_principals: Vec<String>,
    /// Where to learn this machine's public IP for the security group.
    pub public_ip_url: String,
    pub metadata: MetadataSpec,
    pub deprecate_at: Option<String>,
    /// An AMI of this account already named like the new one is deregistered
    /// (with its snapshots when `force_delete_snapshot`) before CreateImage.
    pub force_deregister: bool,
    pub force_delete_snapshot: bool,
    /// Deregistration protection to switch on last: `Some(with_cooldown)`.
    pub deregistration_protection: Option<bool>,
    /// The plan's input digest, recorded on the image (when known at plan time).
    pub input_digest: Option<String>,
    /// Other regions to copy the image to (never the build region), in parallel.
    pub copy_regions: Vec<RegionCopy>,
    /// CopyImage's time-based copy, in minutes (`SnapshotCopyCompletionDurationMinutes`).
    pub snapshot_copy_minutes: Option<i64>,
}

/// One region the finished image is copied to.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionCopy {
    pub region: String,
    /// The key the copy's snapshots are encrypted with there; None with
    /// `encrypt_boot` means the region's default EBS key.
    pub kms_key_id: Option<String>,
}

/// The build instance's metadata service settings.
#[derive(Debug, Clone)]
pub struct MetadataSpec {
    pub http_tokens: HttpTokens,
    pub http_endpoint: HttpEndpoint,
    pub http_put_response_hop_limit: Option<i32>,
}

/// A jump host for instances in private subnets.
#[derive(Debug, Clone)]
pub struct BastionSpec {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub private_key: String,
    /// Pinned host key; without it the first key seen is trusted.
    pub host_key: Option<String>,
}
