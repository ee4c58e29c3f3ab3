"""What the test bed's RunInstances keeps of the launch settings stock moto 5.2.1 drops:
tenancy and placement group, capacity reservation preference and target, CPU credits, Nitro
Enclaves. Loaded by testbed/moto_ec2.py (import applies the patches).

Amazon EC2 API Reference, "RunInstances": `Placement` (a "Placement" object: `Tenancy`
default | dedicated | host, `GroupName`), `CapacityReservationSpecification` (preference
open | none, or a `CapacityReservationTarget`), `CreditSpecification.CpuCredits`
(standard | unlimited, "valid only for T instances"), `EnclaveOptions.Enabled`. The
"Instance" data type shows them back in DescribeInstances (`placement`,
`capacityReservationSpecification`, `enclaveOptions`); "DescribeInstanceCreditSpecifications"
shows the credit option (T2 launch as standard, T3/T3a/T4g as unlimited unless told; User
Guide, "Burstable performance instances"). Not modelled: the existence of the named placement
group and capacity reservation (moto has neither object); EC2 refuses unknown ones.
"""
import contextvars

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import instances as moto_instances
from moto.ec2.responses import instances as moto_instance_responses

# The request's extra launch settings, handed from the response handler to the backend
# call it makes in the same thread.
_EXTRA = contextvars.ContextVar("golden_launch_extra", default=None)

_orig_response = moto_instance_responses.InstanceResponse.run_instances


def _response_run_instances(self):
    itype = self._get_param("InstanceType", "m1.small")
    credits = self._get_param("CreditSpecification.CpuCredits")
    if credits is not None:
        if credits not in ("standard", "unlimited"):
            raise EC2ClientError("InvalidParameterValue",
                                 f"Invalid value '{credits}' for CpuCredits")
        if not itype.startswith("t"):
            raise EC2ClientError("InvalidParameterCombination", "The parameter "
                                 "CreditSpecification is not supported for the instance "
                                 f"type {itype}.")
    tenancy = self._get_param("Placement.Tenancy")
    if tenancy is not None and tenancy not in ("default", "dedicated", "host"):
        raise EC2ClientError("InvalidParameterValue", f"Invalid tenancy '{tenancy}'")
    pref = self._get_param("CapacityReservationSpecification.CapacityReservationPreference")
    target = self._get_param(
        "CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId")
    if pref is not None and target is not None:
        raise EC2ClientError("InvalidParameterCombination", "CapacityReservationPreference "
                             "and CapacityReservationTarget cannot both be specified")
    token = _EXTRA.set({
        "tenancy": tenancy,
        "group": self._get_param("Placement.GroupName"),
        "credits": credits or ("standard" if itype.startswith("t2.") else
                               "unlimited" if itype.startswith("t") else None),
        "enclave": str(self._get_param("EnclaveOptions.Enabled", False)).lower() == "true",
        "capacity": ({"CapacityReservationTarget": {"CapacityReservationId": target}}
                     if target else {"CapacityReservationPreference": pref or "open"}),
    })
    try:
        return _orig_response(self)
    finally:
        _EXTRA.reset(token)


_chained_backend = moto_instances.InstanceBackend.run_instances


def _backend_run_instances(self, *args, **kwargs):
    reservation = _chained_backend(self, *args, **kwargs)
    extra = _EXTRA.get()
    if extra is not None:
        for instance in reservation.instances:
            if extra["tenancy"]:
                instance._placement.tenancy = extra["tenancy"]
            if extra["group"]:
                instance._placement.group_name = extra["group"]
            instance.cpu_credits = extra["credits"]
            instance.enclave_options = {"Enabled": extra["enclave"]}
            instance.capacity_reservation_specification = extra["capacity"]
    return reservation


def _credit_specifications(self):
    ids = self._get_param("InstanceIds", [])
    from moto.core.responses import ActionResult

    return ActionResult({"InstanceCreditSpecifications": [
        {"InstanceId": i.id, "CpuCredits": getattr(i, "cpu_credits", None) or "standard"}
        for i in self.ec2_backend.describe_instance_credit_specifications(ids)]})


moto_instance_responses.InstanceResponse.run_instances = _response_run_instances
moto_instance_responses.InstanceResponse.describe_instance_credit_specifications = \
    _credit_specifications
moto_instances.InstanceBackend.run_instances = _backend_run_instances
moto_instances.Instance.enclave_options = None
moto_instances.Instance.capacity_reservation_specification = None
