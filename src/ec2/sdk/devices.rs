//! Block device mappings onto the SDK's type, for RunInstances and CreateImage.

use crate::choices::Choice;
use crate::ec2::volumes::BlockDevice;
use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice, VolumeType};

pub(super) fn mapping(d: &BlockDevice) -> BlockDeviceMapping {
    let b = BlockDeviceMapping::builder().device_name(&d.device_name);
    if d.no_device {
        return b.no_device("").build();
    }
    if let Some(v) = &d.virtual_name {
        return b.virtual_name(v).build();
    }
    b.ebs(
        EbsBlockDevice::builder()
            .set_volume_size(d.volume_size)
            .set_volume_type(d.volume_type.map(|t| VolumeType::from(t.as_str())))
            .set_iops(d.iops)
            .set_throughput(d.throughput)
            .set_encrypted(d.encrypted)
            .set_kms_key_id(d.kms_key_id.clone())
            .set_delete_on_termination(d.delete_on_termination)
            .set_snapshot_id(d.snapshot_id.clone())
            .build(),
    )
    .build()
}
