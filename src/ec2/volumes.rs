//! EBS volume types and their limits, as the EC2 API Reference gives them
//! (CreateVolume `Size`, `Iops`, `Throughput`; gp3 with its 2025 limits of
//! 64 TiB, 80,000 IOPS and 2,000 MiB/s). One table: plan-time checks and
//! docs read it, so a limit is never written twice.

use std::ops::RangeInclusive;

crate::choices!(
    /// An EBS volume type.
    pub enum VolumeType {
        Standard = "standard",
        Gp2 = "gp2",
        Gp3 = "gp3",
        Io1 = "io1",
        Io2 = "io2",
        St1 = "st1",
        Sc1 = "sc1",
    }
);

impl VolumeType {
    /// Sizes in GiB.
    pub fn sizes(self) -> RangeInclusive<i64> {
        match self {
            VolumeType::Standard => 1..=1024,
            VolumeType::Gp2 => 1..=16_384,
            VolumeType::Io1 => 4..=16_384,
            VolumeType::Gp3 => 1..=65_536,
            VolumeType::Io2 => 4..=65_536,
            VolumeType::St1 | VolumeType::Sc1 => 125..=16_384,
        }
    }

    /// Provisioned IOPS, for the types that take them.
    pub fn iops(self) -> Option<RangeInclusive<i64>> {
        match self {
            VolumeType::Gp3 => Some(3_000..=80_000),
            VolumeType::Io1 => Some(100..=64_000),
            VolumeType::Io2 => Some(100..=256_000),
            _ => None,
        }
    }

    /// Whether EC2 requires `iops` for this type.
    pub fn needs_iops(self) -> bool {
        matches!(self, VolumeType::Io1 | VolumeType::Io2)
    }

    /// Throughput in MiB/s, for the types that take it.
    pub fn throughput(self) -> Option<RangeInclusive<i64>> {
        match self {
            VolumeType::Gp3 => Some(125..=2_000),
            _ => None,
        }
    }
}

/// One entry of a block device mapping, for the build instance
/// (RunInstances) or for the image (CreateImage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockDevice {
    pub device_name: String,
    pub volume_size: Option<i32>,
    pub volume_type: Option<VolumeType>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub delete_on_termination: Option<bool>,
    pub snapshot_id: Option<String>,
    pub no_device: bool,
    pub virtual_name: Option<String>,
}
