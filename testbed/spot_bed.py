"""What the test bed's EC2 does with spot launches: RunInstances with `InstanceMarketOptions`
spot makes a one-time spot request as EC2 does. Loaded by testbed/moto_ec2.py (import applies
the patches); the "no spot capacity" switch is ebs_bed.py's (`--no-spot-capacity`).

Stock moto 5.2.1 marks such an instance `InstanceLifecycle = spot` but makes no spot request:
DescribeInstances shows no `SpotInstanceRequestId`, DescribeSpotInstanceRequests shows nothing,
the `spot-instances-request` TagSpecification is dropped, and CancelSpotInstanceRequests
forgets a request (HTTP 500 for an unknown id). Here, following the Amazon EC2 API Reference:
  * "RunInstances": `InstanceMarketOptions` (`MarketType` spot, `SpotOptions.MaxPrice`,
    `SpotInstanceType` one-time | persistent, `InstanceInterruptionBehavior`); a spot launch
    makes a spot instance request, tagged by a TagSpecification of type
    `spot-instances-request`. `MaxPrice` is a decimal string ("InvalidParameterValue" else).
  * "Instance" data type: `instanceLifecycle` spot and `spotInstanceRequestId`.
  * "SpotInstanceRequest" data type: `state` active once fulfilled, `status.code`
    `fulfilled`; a one-time request whose instance terminates is `closed`
    (`instance-terminated-by-user`) (User Guide, "Spot request states" and "Spot request
    status codes").
  * "CancelSpotInstanceRequests": the request becomes `cancelled` (status
    `request-canceled-and-instance-running` while its instance runs) and stays visible to
    DescribeSpotInstanceRequests ("Spot Instance requests are deleted four hours after they
    are canceled and their instances are terminated"); an unknown id is
    `InvalidSpotInstanceRequestID.NotFound`. Cancelling does not terminate the instance.
  * "Error codes": no capacity is `InsufficientInstanceCapacity` (ebs_bed.py).
"""
import contextvars
import re

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import instances as moto_instances
from moto.ec2.models import spot_requests as moto_spot
from moto.ec2.responses import instances as moto_instance_responses
from moto.ec2.utils import random_spot_request_id

# The request's SpotOptions, handed from the response handler to the backend call.
_SPOT = contextvars.ContextVar("golden_spot_options", default=None)

_orig_response = moto_instance_responses.InstanceResponse.run_instances


def _response_run_instances(self):
    if self._get_param("InstanceMarketOptions.MarketType") != "spot":
        return _orig_response(self)
    price = self._get_param("InstanceMarketOptions.SpotOptions.MaxPrice")
    if price is not None and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", str(price)):
        raise EC2ClientError("InvalidParameterValue",
                             f"Invalid value '{price}' for MaxPrice")
    kind = self._get_param("InstanceMarketOptions.SpotOptions.SpotInstanceType") or "one-time"
    behaviour = self._get_param(
        "InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior") or "terminate"
    token = _SPOT.set({"price": price, "type": kind, "behaviour": behaviour})
    try:
        return _orig_response(self)
    finally:
        _SPOT.reset(token)


_chained_backend = moto_instances.InstanceBackend.run_instances


def _backend_run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    reservation = _chained_backend(self, image_id, count, user_data, security_group_names,
                                   **kwargs)
    spot = _SPOT.get()
    if spot is None or kwargs.get("instance_market_options") != "spot":
        return reservation
    tags = (kwargs.get("tags") or {}).get("spot-instances-request", {})
    for instance in reservation.instances:
        _request_for(self, instance, spot, tags)
    return reservation


def _request_for(backend, instance, spot, tags):
    """A fulfilled spot request for an instance RunInstances has just made."""
    launch = moto_spot.SpotInstanceRequest.launch_instance
    moto_spot.SpotInstanceRequest.launch_instance = lambda req: instance
    try:
        request = moto_spot.SpotInstanceRequest(
            backend, random_spot_request_id(), spot["price"], instance.image_id, spot["type"],
            None, None, None, None, instance.key_name, [], None, instance.instance_type,
            instance._placement.zone, None, None, False, instance.subnet_id,
            {"spot-instances-request": dict(tags)}, None, spot["behaviour"])
    finally:
        moto_spot.SpotInstanceRequest.launch_instance = launch
    backend.spot_instance_requests[request.id] = request
    instance.spot_instance_request_id = request.id


_chained_terminate = moto_instances.InstanceBackend.terminate_instances


def _terminate_instances(self, instance_ids):
    out = _chained_terminate(self, instance_ids)
    for request in self.spot_instance_requests.values():
        inst = getattr(request, "instance", None)
        if inst is not None and inst.id in instance_ids and request.type == "one-time" \
                and request.state in ("open", "active"):
            request.state = "closed"
            request._status_code = "instance-terminated-by-user"
            request.status_message = "Spot Instance terminated due to user-initiated termination."
    return out


def _cancel_spot_instance_requests(self, request_ids):
    missing = [r for r in request_ids if r not in self.spot_instance_requests]
    if missing:
        raise EC2ClientError("InvalidSpotInstanceRequestID.NotFound",
                             f"The spot instance request ID '{missing[0]}' does not exist")
    out = []
    for rid in request_ids:
        request = self.spot_instance_requests[rid]
        if request.state in ("open", "active"):
            running = getattr(request, "instance", None) is not None \
                and request.instance.state in ("pending", "running", "stopping", "stopped")
            request.state = "cancelled"
            request._status_code = ("request-canceled-and-instance-running" if running
                                    else "canceled-before-fulfillment")
        out.append(request)
    return out


moto_instance_responses.InstanceResponse.run_instances = _response_run_instances
moto_instances.InstanceBackend.run_instances = _backend_run_instances
moto_instances.InstanceBackend.terminate_instances = _terminate_instances
moto_instances.Instance.spot_instance_request_id = None
moto_spot.SpotRequestBackend.cancel_spot_instance_requests = _cancel_spot_instance_requests
