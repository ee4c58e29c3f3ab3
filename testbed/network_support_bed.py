"""What the test bed keeps of an image's networking and metadata attributes, which stock moto
5.2.1 accepts and drops. Loaded by testbed/moto_ec2.py (import applies the patches).

Amazon EC2 API Reference:
- "ModifyInstanceAttribute": `EnaSupport` ("Set to true to enable enhanced networking with ENA
  for the instance") and `SriovNetSupport` (`simple`, Intel 82599 VF). moto answers 200 and keeps
  neither. The User Guide ("Enable enhanced networking with ENA") has the instance stopped first;
  EC2 answers `IncorrectInstanceState` otherwise.
- "CreateImage": the image takes the instance's `enaSupport` and `sriovNetSupport` (the "Image"
  data type shows both in DescribeImages). moto's images show neither.
- "ModifyImageAttribute": `ImdsSupport` = `v2.0` ("If you set the value to v2.0, make sure that
  your AMI software can support IMDSv2"; it cannot be undone), shown as `imdsSupport` in
  DescribeImages. moto answers 200 and keeps nothing.
"""
from moto.core.responses import EmptyResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import amis as moto_amis
from moto.ec2.responses import amis as moto_ami_responses
from moto.ec2.responses import instances as moto_instance_responses

_orig_modify_instance = moto_instance_responses.InstanceResponse.modify_instance_attribute
_orig_modify_image = moto_ami_responses.AmisResponse.modify_image_attribute
_orig_create_image = moto_amis.AmiBackend.create_image


def _modify_instance_attribute(self):
    ena = self._get_param("EnaSupport.Value")
    sriov = self._get_param("SriovNetSupport.Value")
    if ena is None and sriov is None:
        return _orig_modify_instance(self)
    instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    if instance._state.name != "stopped":
        raise EC2ClientError("IncorrectInstanceState",
                             f"The instance '{instance.id}' is not in the 'stopped' state.")
    if ena is not None:
        instance.golden_ena_support = str(ena).lower() == "true"
    if sriov is not None:
        if sriov != "simple":
            raise EC2ClientError("InvalidParameterValue",
                                 f"Invalid value '{sriov}' for SriovNetSupport")
        instance.golden_sriov_net_support = sriov
    return EmptyResult()


def _create_image(self, instance_id, *args, **kwargs):
    ami = _orig_create_image(self, instance_id, *args, **kwargs)
    instance = self.get_instance(instance_id)
    ami.ena_support = getattr(instance, "golden_ena_support", None)
    ami.sriov_net_support = getattr(instance, "golden_sriov_net_support", None)
    return ami


def _modify_image_attribute(self):
    imds = self._get_param("ImdsSupport.Value")
    if imds is None:
        return _orig_modify_image(self)
    if imds != "v2.0":
        raise EC2ClientError("InvalidParameterValue", f"Invalid value '{imds}' for ImdsSupport")
    ami = self.ec2_backend.describe_images(ami_ids=[self._get_param("ImageId")])[0]
    ami.imds_support = imds
    return EmptyResult()


moto_instance_responses.InstanceResponse.modify_instance_attribute = _modify_instance_attribute
moto_ami_responses.AmisResponse.modify_image_attribute = _modify_image_attribute
moto_amis.AmiBackend.create_image = _create_image
# Shown in DescribeImages only when set (moto renders the attributes by name).
moto_amis.Ami.ena_support = None
moto_amis.Ami.sriov_net_support = None
moto_amis.Ami.imds_support = None
